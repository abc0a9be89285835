//! Gossip topic names: `fedci/1/<community>/<family>`, family = first segment of the kind.

use std::fmt;

/// A gossip topic: one community's events of one family (`artifact`, `trust`, `x-odl`, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Topic {
    pub community: String,
    pub family: String,
}

impl Topic {
    pub fn new(community: impl Into<String>, family: impl Into<String>) -> Self {
        Topic {
            community: community.into(),
            family: family.into(),
        }
    }

    /// The topic an event of `kind` from `community` is published on.
    pub fn for_event(community: &str, kind: &str) -> Self {
        Topic::new(community, family_of(kind))
    }

    /// The topic that carries a community's rosters.
    pub fn trust(community: &str) -> Self {
        Topic::new(community, "trust")
    }

    /// Parses `fedci/1/<community>/<family>`.
    pub fn parse(s: &str) -> Option<Topic> {
        let mut parts = s.split('/');
        match (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) {
            (Some("fedci"), Some("1"), Some(c), Some(f), None)
                if !c.is_empty() && !f.is_empty() =>
            {
                Some(Topic::new(c, f))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fedci/1/{}/{}", self.community, self.family)
    }
}

/// The family of a kind: the part before the first dot (`artifact.created` → `artifact`).
pub fn family_of(kind: &str) -> &str {
    kind.split_once('.').map_or(kind, |(family, _)| family)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let t = Topic::for_event("odl", "artifact.created");
        assert_eq!(t.to_string(), "fedci/1/odl/artifact");
        assert_eq!(Topic::parse("fedci/1/odl/artifact"), Some(t));
        assert_eq!(Topic::for_event("odl", "x-odl.nightly").family, "x-odl");
        assert_eq!(Topic::trust("opnfv").to_string(), "fedci/1/opnfv/trust");
        assert_eq!(Topic::parse("fedci/2/odl/artifact"), None);
        assert_eq!(Topic::parse("fedci/1/odl/artifact/x"), None);
    }
}
