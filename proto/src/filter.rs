//! Subscription filters: which events a consumer, a query or a node's interests select.
//!
//! Every field is optional; an empty field matches everything. A kind pattern is an exact kind
//! (`artifact.created`), a family (`artifact.*`) or `*`.

use crate::{Event, EventId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Kind patterns; empty = any kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    /// Communities; empty = any community.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<String>,
    /// Only events whose author time is at or after this (ms since epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
    /// Only events whose author time is before this (ms since epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<u64>,
    /// Only events that link to this event (any rel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_target: Option<EventId>,
}

impl Filter {
    pub fn matches(&self, event: &Event) -> bool {
        let body = event.body();
        self.matches_kind(&body.kind)
            && self.matches_community(&body.community)
            && self.since.is_none_or(|s| body.time >= s)
            && self.until.is_none_or(|u| body.time < u)
            && self
                .link_target
                .is_none_or(|t| body.links.iter().any(|l| l.target == t))
    }

    pub fn matches_kind(&self, kind: &str) -> bool {
        self.kinds.is_empty() || self.kinds.iter().any(|p| kind_matches(p, kind))
    }

    pub fn matches_community(&self, community: &str) -> bool {
        self.communities.is_empty() || self.communities.iter().any(|c| c == community)
    }
}

/// Matches a kind against `*`, `family.*` or an exact kind.
pub fn kind_matches(pattern: &str, kind: &str) -> bool {
    match pattern.strip_suffix(".*") {
        _ if pattern == "*" => true,
        Some(family) => crate::topic::family_of(kind) == family,
        None => pattern == kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_patterns() {
        assert!(kind_matches("*", "artifact.created"));
        assert!(kind_matches("artifact.*", "artifact.published"));
        assert!(!kind_matches("artifact.*", "activity.started"));
        assert!(kind_matches("artifact.created", "artifact.created"));
        assert!(!kind_matches("artifact.created", "artifact.published"));
        assert!(kind_matches("x-odl.*", "x-odl.nightly"));
    }
}
