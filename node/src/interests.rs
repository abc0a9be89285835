//! What this node subscribes to and stores from others: its own community, its configured
//! interests (community × kind patterns), and the trust topics of every pinned community.

use crate::config::Interest;
use fedci_keys::TrustStore;
use fedci_proto::filter::kind_matches;
use fedci_proto::topic::family_of;
use fedci_proto::{Event, Topic};
use std::collections::BTreeSet;

/// Families of the v1 vocabulary; custom `x-<org>` families need an explicit interest.
pub const FAMILIES: [&str; 5] = ["artifact", "composition", "confidence", "activity", "trust"];

#[derive(Debug, Clone)]
pub struct Interests {
    own: String,
    /// Empty = every kind of every pinned community.
    configured: Vec<Interest>,
}

impl Interests {
    pub fn new(own: &str, configured: Vec<Interest>) -> Self {
        Interests {
            own: own.to_string(),
            configured,
        }
    }

    /// The (community, kind pattern) pairs in force, given the pins.
    fn pairs(&self, trust: &TrustStore) -> Vec<(String, String)> {
        let mut out = vec![(self.own.clone(), "*".to_string())];
        if self.configured.is_empty() {
            out.extend(trust.pins().map(|(c, _)| (c.to_string(), "*".to_string())));
        } else {
            for i in &self.configured {
                let communities: Vec<String> = if i.community == "*" {
                    trust.pins().map(|(c, _)| c.to_string()).collect()
                } else {
                    vec![i.community.clone()]
                };
                for c in communities {
                    out.extend(i.kinds.iter().map(|k| (c.clone(), k.clone())));
                }
            }
        }
        out
    }

    /// Topics to subscribe to.
    pub fn topics(&self, trust: &TrustStore) -> BTreeSet<Topic> {
        let mut topics = BTreeSet::new();
        for (community, pattern) in self.pairs(trust) {
            let families: Vec<&str> = match pattern.strip_suffix(".*") {
                _ if pattern == "*" => FAMILIES.to_vec(),
                Some(family) => vec![family],
                None => vec![family_of(&pattern)],
            };
            topics.extend(
                families
                    .into_iter()
                    .map(|f| Topic::new(community.clone(), f)),
            );
        }
        // Rosters of every pinned community, so trust stays current whatever we store.
        topics.extend(trust.pins().map(|(c, _)| Topic::trust(c)));
        topics
    }

    /// Whether an event is one this node keeps.
    pub fn wants(&self, event: &Event, trust: &TrustStore) -> bool {
        if event.kind() == "trust.roster" && trust.pinned(event.community()).is_some() {
            return true;
        }
        self.pairs(trust)
            .iter()
            .any(|(c, k)| c == event.community() && kind_matches(k, event.kind()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fedci_keys::SecretKey;

    #[test]
    fn default_interests_cover_pinned_communities() {
        let mut trust = TrustStore::new();
        trust.pin("odl", SecretKey::from_seed(&[1; 32]).public());
        trust.pin("opnfv", SecretKey::from_seed(&[2; 32]).public());
        let topics = Interests::new("opnfv", vec![]).topics(&trust);
        assert!(topics.contains(&Topic::new("odl", "artifact")));
        assert!(topics.contains(&Topic::new("opnfv", "confidence")));
        assert_eq!(topics.len(), 10);
    }

    #[test]
    fn configured_interests_narrow_what_is_subscribed() {
        let mut trust = TrustStore::new();
        trust.pin("odl", SecretKey::from_seed(&[1; 32]).public());
        trust.pin("opnfv", SecretKey::from_seed(&[2; 32]).public());
        let i = Interests::new(
            "openstack",
            vec![Interest {
                community: "odl".into(),
                kinds: vec!["artifact.created".into()],
            }],
        );
        let topics = i.topics(&trust);
        assert!(topics.contains(&Topic::new("odl", "artifact")));
        assert!(!topics.contains(&Topic::new("odl", "composition")));
        assert!(!topics.contains(&Topic::new("opnfv", "artifact")));
        assert!(
            topics.contains(&Topic::trust("opnfv")),
            "trust topics of pinned communities"
        );
    }
}
