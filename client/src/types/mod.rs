//! The bodies of every endpoint, as the node writes them and clients read them. Field names
//! and shapes are the wire format documented in the README: change them only together with it.

mod events;
mod info;
pub mod promotion;
mod status;
mod trace;

pub use events::{
    EventItem, Format, FormatItem, LinkRequest, Page, PublishRequest, PublishStatus, Published,
    UntrustedReason,
};
pub use info::{
    AckRequest, BlockRequest, Blocked, ConsumerAck, ConsumerRemoved, Consumers, EndHow, Ended,
    PeerAdded, PeerList, PeerRemoved, PeerRequest, PeerView, Pin, PinAnswer, PinRequest, RosterKey,
    RosterKeys, RosterSummary, Trust,
};
pub use status::{
    Banned, GossipCounters, NetworkStatus, PeerStatus, PeerSync, RoundSummary, Status, StoreHealth,
    StoreState,
};
pub use trace::{Direction, GraphEdge, GraphNode, TraceGraph};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn roster_keys_are_a_count_or_entries() {
        let count: Pin = serde_json::from_value(json!({"community": "odl", "root": "ab",
            "roster": {"serial": 2, "id": "00".repeat(32), "keys": 3}}))
        .expect("status pin");
        assert_eq!(count.roster.map(|r| r.keys), Some(RosterKeys::Count(3)));
        let pin = json!({"community": "odl", "root": "ab", "roster": {"serial": 2,
            "id": "00".repeat(32), "keys": [{"key": "cd", "kinds": ["*"], "not_before": null,
            "not_after": null}], "ended": [{"key": "ef", "how": "revoked", "at": 5}]}});
        let typed: Pin = serde_json::from_value(pin.clone()).expect("trust pin");
        assert_eq!(serde_json::to_value(&typed).expect("serialise"), pin);
    }

    #[test]
    fn store_health_keeps_its_flat_shape() {
        let failing =
            json!({"state": "failing", "error": "disk full", "since_ms": 1, "retries": 2});
        let h: StoreHealth = serde_json::from_value(failing.clone()).expect("failing");
        assert_eq!(h.state, StoreState::Failing);
        assert_eq!(serde_json::to_value(&h).expect("serialise"), failing);
        let ok: StoreHealth = serde_json::from_value(json!({"state": "ok"})).expect("ok");
        assert_eq!(
            serde_json::to_value(&ok).expect("serialise"),
            json!({"state": "ok"})
        );
    }
}
