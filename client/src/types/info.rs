//! Consumers, trust and peers: `GET /v1/consumers`, `POST /v1/consumers/{name}/ack`,
//! `DELETE /v1/consumers/{name}`, `GET /v1/trust`, `POST /v1/trust/pins`, `/v1/peers…`.

use fedci_proto::EventId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `GET /v1/consumers` (and `status.consumers`): consumer name → cursor (an arrival).
pub type Consumers = BTreeMap<String, u64>;

/// `POST /v1/consumers/{name}/ack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    pub arrival: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerAck {
    pub consumer: String,
    pub cursor: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerRemoved {
    pub consumer: String,
    pub removed: bool,
}

/// `GET /v1/trust`: every pinned community with the roster in force, keys listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trust {
    pub pins: Vec<Pin>,
}

/// A pinned community. In `status` the roster's `keys` is a count, in `trust` the entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    pub community: String,
    /// The pinned root key, hex.
    pub root: String,
    /// None until a roster signed by that root arrived.
    pub roster: Option<RosterSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterSummary {
    pub serial: u64,
    /// The id of the roster event.
    pub id: EventId,
    pub keys: RosterKeys,
    /// Retired and revoked keys (only with the detailed keys, and only when there are any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Vec<Ended>>,
}

/// A roster's keys: how many (`status`) or which (`trust`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RosterKeys {
    Count(usize),
    Entries(Vec<RosterKey>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RosterKey {
    /// Node public key, hex.
    pub key: String,
    /// Kind patterns it may publish.
    pub kinds: Vec<String>,
    pub not_before: Option<u64>,
    pub not_after: Option<u64>,
}

/// A key that left the roster for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ended {
    pub key: String,
    pub how: EndHow,
    /// ms since epoch: retired after, or revoked since.
    pub at: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndHow {
    Retired,
    Revoked,
}

/// `POST /v1/trust/pins` (admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinRequest {
    pub community: String,
    /// 64 hex.
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinAnswer {
    pub community: String,
    pub root: String,
    /// False when that root was pinned already.
    pub changed: bool,
}

/// `POST /v1/peers` (admin): dial and remember.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerRequest {
    /// Multiaddr with `/p2p/<peer id>`.
    pub addr: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerAdded {
    pub addr: String,
    /// False when the address was remembered already.
    pub new: bool,
}

/// `GET /v1/peers` (admin): configured and remembered peers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerList {
    pub peers: Vec<PeerView>,
}

/// One row of `GET /v1/peers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerView {
    pub addr: String,
    /// The `/p2p/` part of the address, if it has one.
    pub peer_id: Option<String>,
    /// Kept in the store: added by `peer add` or `run --peer`; `peer remove` forgets it.
    pub remembered: bool,
    /// Named in `config.toml`'s `peers`.
    pub configured: bool,
    /// Connected now; null when the node runs without a network.
    pub connected: Option<bool>,
}

/// `DELETE /v1/peers/{addr-or-id}` (admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRemoved {
    /// The remembered addresses forgotten.
    pub removed: Vec<String>,
    /// Matching addresses `config.toml` still names (they keep being dialled).
    pub still_configured: Vec<String>,
}

/// `POST /v1/peers/block` and `/v1/peers/unblock` (admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockRequest {
    pub peer_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocked {
    pub peer_id: String,
    pub blocked: bool,
}
