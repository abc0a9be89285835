//! `GET /v1/status`: the node's state, its store's health and, when it runs one, its network.

use super::info::{Consumers, Pin};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub community: String,
    /// This node's public key, hex.
    pub node_key: String,
    /// The community's pinned root, hex.
    pub root_key: Option<String>,
    pub version: String,
    pub uptime_s: u64,
    /// Events held; None while the store cannot be read.
    pub events: Option<u64>,
    /// Stored events the trust of now no longer authorises: not served in lists or streams.
    pub untrusted_events: Option<u64>,
    pub last_arrival: u64,
    /// Link targets named by stored events but not held here.
    pub dangling_link_targets: Option<u64>,
    /// Events per gossip topic.
    pub topic_events: BTreeMap<String, u64>,
    pub consumers: Consumers,
    /// Pinned communities; each roster's `keys` is a count here.
    pub pins: Vec<Pin>,
    /// Rejected events by reason.
    pub rejected: BTreeMap<String, u64>,
    pub store: StoreHealth,
    /// Absent when the node runs without a network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkStatus>,
}

/// Whether the store can write; while failing, why, since when and how often it retried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreHealth {
    pub state: StoreState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreState {
    Ok,
    Failing,
}

/// The network's part of the status: a snapshot the swarm task refreshes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkStatus {
    pub peer_id: String,
    /// Listen addresses, each ending in `/p2p/<peer id>`: what other nodes pass to `--peer`.
    pub listen: Vec<String>,
    pub peers: Vec<PeerStatus>,
    pub topics: Vec<String>,
    pub blocked: Vec<String>,
    pub banned: Vec<Banned>,
    pub inbound_connections: usize,
    /// Event ids remembered as refused (their bad copies are not fetched again).
    pub refused_ids: usize,
    pub gossip: GossipCounters,
}

/// A connected peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerStatus {
    pub peer_id: String,
    /// Gossipsub's score of the peer (None when scoring is off).
    pub score: Option<f64>,
    /// Events from it that failed verification.
    pub rejected: u64,
    /// Catch-up with it, once a round ran.
    pub sync: Option<PeerSync>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerSync {
    pub rounds: u64,
    pub running: bool,
    pub last_round_at_ms: u64,
    pub last_round: Option<RoundSummary>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub events_stored: u64,
}

/// What one catch-up round with one peer did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundSummary {
    pub topics: usize,
    pub round_trips: u32,
    /// Ids the peer had and we lacked.
    pub need: usize,
    /// Ids we had and the peer lacked.
    pub have: usize,
    pub received: usize,
    pub stored: usize,
    pub offered: usize,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub millis: u64,
    pub error: Option<String>,
}

/// A peer banned for misbehaving, and for how long still.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Banned {
    pub peer_id: String,
    pub secs_left: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GossipCounters {
    pub accepted: u64,
    pub rejected: u64,
    pub ignored: u64,
    pub published: u64,
    pub published_without_peers: u64,
}
