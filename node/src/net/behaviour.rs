//! The libp2p behaviour: gossipsub (live path), identify, and request-response (sync).
//!
//! Gossipsub runs anonymous (events carry their own signatures) with message id = SHA-256 of
//! the whole envelope (signature included; the store dedupes by event id), validation deferred
//! to the node, and mesh sizes for small federations. What it holds per peer is bounded in
//! count by the queue and gossip limits below.
//!
//! Gossipsub's peer scoring is off: the node keeps its own penalties and bans
//! (`actor::catchup`, `actor::bans`). Scoring keeps a delivery record of every message for
//! two minutes, a fixed time libp2p does not let us change; at 300 events/s that table
//! (~120 bytes a record) doubled at minute 12 of a soak and made up most of what a node
//! still grew after its caches had levelled (issue 19). What scoring gave us, ignoring a peer
//! after a few invalid messages, the node's own ban does after [`super::actor`]'s
//! `BAN_WEIGHT` of them, and it also disconnects.

use crate::sync::protocol::{Request, Response};
use fedci_proto::MAX_EVENT_BYTES;
use libp2p::gossipsub::{
    self, AllowAllSubscriptionFilter, IdentityTransform, MessageAuthenticity, MessageId,
    ValidationMode,
};
use libp2p::request_response::{self, ProtocolSupport, cbor};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{StreamProtocol, identify, identity};
use sha2::{Digest, Sha256};
use std::time::Duration;

pub const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/fedci/sync/2");
/// Messages waiting to go to one peer, at most (gossipsub's default is 5,000): forwards of
/// events for a peer that reads slower than we write. A forward waits at most a second anyway
/// (gossipsub drops it after `forward_queue_duration`), and catch-up covers what a full queue
/// drops.
const PEER_QUEUE_LEN: usize = 1024;
/// Heartbeats (500 ms each) whose message ids an IHAVE would advertise (gossipsub's default:
/// 3); see [`EMIT_IHAVE`].
const HISTORY_GOSSIP: usize = 2;
/// Most IWANT ids we ask of a peer per heartbeat, and ids in an IHAVE (default 5,000).
const MAX_GOSSIP_IDS: usize = 1000;
/// How long a message id is remembered, so a copy arriving later is not processed again.
/// Copies of one message arrive within a few heartbeats; catch-up (which dedupes by event
/// id in the store) covers anything later. Gossipsub's default is 60 s too; we had 120 s,
/// which doubled the table at 300 events/s.
const DUPLICATE_CACHE_TIME: Duration = Duration::from_secs(60);
/// Whether this node sends IHAVE gossip to peers outside its mesh. It does not: heaptrack on
/// a 5-node soak at 300 events/s showed queues full of IHAVEs (up to 1,024 per peer of up to
/// 1,000 ids, 15-25 MB) on the nodes whose memory kept growing, for peers that did not drain
/// them (issue 19). Events reach every subscriber by flood publishing from their author and
/// by mesh forwarding; what a peer misses either way, catch-up reconciles within a round.
/// IHAVEs received from other implementations are still answered.
const EMIT_IHAVE: bool = false;

pub type Gossipsub = gossipsub::Behaviour<IdentityTransform, AllowAllSubscriptionFilter>;

#[derive(NetworkBehaviour)]
#[allow(missing_debug_implementations)] // libp2p behaviours have no Debug
pub struct FedBehaviour {
    /// Inbound connection limits (first, so a refused connection costs no other behaviour).
    pub limits: super::limits::Limits,
    /// Peers we refuse (operator's `peer block`, the testnet's process-level partitions).
    pub blocked: libp2p::allow_block_list::Behaviour<libp2p::allow_block_list::BlockedPeers>,
    /// Peers banned for a while for misbehaving; kept apart from the operator's list.
    pub banned: libp2p::allow_block_list::Behaviour<libp2p::allow_block_list::BlockedPeers>,
    pub gossipsub: Gossipsub,
    pub identify: identify::Behaviour,
    pub sync: cbor::Behaviour<Request, Response>,
}

/// Mesh degree settings, checked together (gossipsub's `build()` no longer checks them).
#[derive(Debug, Clone, Copy)]
pub struct Mesh {
    pub n: usize,
    pub n_low: usize,
    pub n_high: usize,
    pub outbound_min: usize,
}

impl Default for Mesh {
    /// Sized for federations of a handful to a few dozen nodes.
    fn default() -> Self {
        Mesh {
            n: 4,
            n_low: 2,
            n_high: 8,
            outbound_min: 1,
        }
    }
}

impl Mesh {
    fn check(&self) -> Result<(), String> {
        let ok = self.outbound_min <= self.n_low
            && self.n_low <= self.n
            && self.n <= self.n_high
            && self.outbound_min * 2 <= self.n;
        if ok {
            Ok(())
        } else {
            Err(format!("inconsistent gossipsub mesh sizes {self:?}"))
        }
    }
}

pub fn build(
    key: &identity::Keypair,
    mesh: Mesh,
) -> Result<FedBehaviour, Box<dyn std::error::Error + Send + Sync>> {
    mesh.check()?;
    let config = gossipsub::ConfigBuilder::default()
        .validation_mode(ValidationMode::Anonymous)
        .validate_messages()
        .message_id_fn(message_id)
        .mesh_n(mesh.n)
        .mesh_n_low(mesh.n_low)
        .mesh_n_high(mesh.n_high)
        .mesh_outbound_min(mesh.outbound_min)
        .heartbeat_interval(Duration::from_millis(500))
        .max_transmit_size(MAX_EVENT_BYTES + 1024)
        .duplicate_cache_time(DUPLICATE_CACHE_TIME)
        .connection_handler_queue_len(PEER_QUEUE_LEN)
        .history_gossip(HISTORY_GOSSIP)
        .max_control_messages_sent(MAX_GOSSIP_IDS)
        .gossip_lazy(if EMIT_IHAVE { 6 } else { 0 })
        .gossip_factor(if EMIT_IHAVE { 0.25 } else { 0.0 })
        .flood_publish(true)
        .build()?;
    let gossipsub = Gossipsub::new_with_subscription_filter(
        MessageAuthenticity::Anonymous,
        config,
        AllowAllSubscriptionFilter {},
    )?;

    let identify = identify::Behaviour::new(
        identify::Config::new("/fedci/1".to_string(), key.public())
            .with_agent_version(format!("fedci-node/{}", env!("CARGO_PKG_VERSION"))),
    );
    let sync = cbor::Behaviour::with_codec(
        crate::sync::protocol::codec(),
        [(SYNC_PROTOCOL, ProtocolSupport::Full)],
        request_response::Config::default()
            .with_request_timeout(Duration::from_secs(30))
            .with_max_concurrent_streams(64),
    );
    Ok(FedBehaviour {
        limits: Default::default(),
        blocked: Default::default(),
        banned: Default::default(),
        gossipsub,
        identify,
        sync,
    })
}

/// Message id = SHA-256 of the whole envelope bytes, signature included. The event id (hash of
/// the payload only) would let anyone censor an event: a copy with a broken signature has the
/// same event id, is rejected, and its id then blocks the genuine copy in gossipsub's duplicate
/// cache. The store still dedupes by event id.
pub fn message_id(m: &gossipsub::Message) -> MessageId {
    MessageId::new(&Sha256::digest(&m.data))
}
