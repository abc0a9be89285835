//! The swarm task: the only owner of the libp2p `Swarm`. It `select!`s over swarm events,
//! commands from the node, events to gossip, verdicts of validation tasks, trust changes and
//! a maintenance tick. Inside that loop it never waits on the store: reads and writes run in
//! tasks it spawns, which answer on its internal channel. (It reads the peers remembered
//! across restarts once, before the loop starts.)

mod bans;
mod catchup;
mod gossip;
mod requests;
mod status;

use super::behaviour::{self, FedBehaviour, FedBehaviourEvent, Mesh};
use super::limits::{ConnLimits, Limits};
use super::validate::{Verdict, validate};
use super::{Command, NetHandle};
use crate::admit::Admission;
use crate::interests::Interests;
use crate::store::Store;
use crate::sync::protocol::{Request, Response};
use crate::sync::{Requester, Responder, RoundStats, sync_with};
use fedci_client::types::NetworkStatus;
use fedci_keys::SecretKey;
use fedci_proto::{Event, Topic};
use libp2p::futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{
    InboundRequestId, OutboundFailure, OutboundRequestId, ResponseChannel,
};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm, SwarmBuilder, identity, noise, tcp, yamux};
use serde_bytes::ByteBuf;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

/// Gossip messages being validated at once; beyond this they are ignored (catch-up repairs).
const MAX_INFLIGHT_VALIDATIONS: usize = 1024;
/// Each rejected message lowers the peer's score (as `status` reports it) by this much; the
/// score is this times the decaying penalty weight, 0 for a peer that sent nothing invalid.
const REJECT_PENALTY: f64 = -20.0;
const TICK: Duration = Duration::from_secs(2);

/// Network settings, from the config and the `run` flags.
#[derive(Debug, Clone)]
pub struct NetConfig {
    pub listen: Vec<Multiaddr>,
    pub peers: Vec<Multiaddr>,
    pub interests: Interests,
    pub mesh: Mesh,
    /// Test fixture: re-publish a corrupted copy of every event we gossip.
    #[cfg(feature = "test-hooks")]
    pub tamper: bool,
    /// How often to run a catch-up round with a random peer.
    pub sync_interval: Duration,
    /// Inbound connection limits.
    pub limits: ConnLimits,
}

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("node key cannot be a libp2p identity: {0}")]
    Identity(String),
    #[error("building the swarm: {0}")]
    Build(String),
    #[error("cannot listen on {addr}: {message}")]
    Listen { addr: Multiaddr, message: String },
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    rejected: AtomicU64,
    ignored: AtomicU64,
    published: AtomicU64,
    publish_no_peers: AtomicU64,
}

/// Everything the swarm task listens to besides the swarm itself. All bounded.
struct Inboxes {
    /// From the node (dial, block).
    commands: mpsc::Receiver<Command>,
    /// Events stored from the API, to gossip.
    gossip: mpsc::Receiver<Event>,
    /// Answers of helper tasks (verdicts, responses, finished rounds).
    internal: mpsc::Receiver<Internal>,
    /// Requests of catch-up rounds to send to peers.
    requests: mpsc::Receiver<crate::sync::Outbound>,
}

/// Internal messages from helper tasks back to the swarm task.
enum Internal {
    Verdict(Verdict),
    Offer {
        peer: PeerId,
        events: Vec<ByteBuf>,
    },
    Respond {
        peer: PeerId,
        request_id: InboundRequestId,
        channel: ResponseChannel<Response>,
        response: Response,
        /// Held until the answer is written (or fails), so answers in memory stay bounded.
        permit: OwnedSemaphorePermit,
        /// The request (an offer) carried what fails verification.
        misbehaved: bool,
    },
    SyncDone {
        peer: PeerId,
        stats: RoundStats,
    },
    /// The round that follows a peer's first one (see [`FOLLOW_UP_AFTER`]).
    FollowUp {
        peer: PeerId,
    },
}

/// After the first completed round with a newly connected peer, another this much later. A responder
/// may answer from a topic set up to [`crate::sync::SET_MAX_AGE`] old (sets are shared so that
/// concurrent rounds do not each copy a topic: issue 19), so the first round after a restart
/// or a heal can miss what arrived in the last moments before it; the follow-up sees it
/// rather than the periodic round, which may be `sync_interval_secs` away.
const FOLLOW_UP_AFTER: Duration = crate::sync::SET_MAX_AGE.saturating_add(Duration::from_secs(1));

/// Catch-up state with one peer.
#[derive(Debug, Default)]
struct PeerSync {
    running: bool,
    /// The next round also offers what the peer lacks (periodic rounds).
    offer: bool,
    /// Something changed while a round ran: run another when it ends.
    again: bool,
    rounds: u64,
    last_at_ms: u64,
    last: Option<RoundStats>,
    bytes_sent: u64,
    bytes_received: u64,
    stored: u64,
    /// The peer has completed a catch-up round with us: it speaks the protocol.
    answered: bool,
    /// The follow-up of the first completed round is scheduled (see [`FOLLOW_UP_AFTER`]).
    followed_up: bool,
}

/// A peer's record of invalid things it sent us.
#[derive(Debug, Default, Clone, Copy)]
struct Penalty {
    total: u32,
    /// Decays every tick, so a peer that stops misbehaving recovers.
    weight: f64,
}

/// Fraction of a penalty left after one tick (2 s): a half-life of about 4.6 minutes.
const PENALTY_DECAY: f64 = 0.995;

/// Penalty weight (about that many recent invalid gossip messages, offers or fetch answers)
/// at which a peer is disconnected and banned for [`bans::BAN_TIME`].
const BAN_WEIGHT: f64 = 10.0;

/// Longest a catch-up round may run; a stalling peer then frees its slot.
const MAX_ROUND_TIME: Duration = Duration::from_secs(600);

/// Sync requests from peers answered at once; more get a "busy" answer.
const MAX_INBOUND_REQUESTS: usize = 32;

/// Catch-up rounds running at once, over all peers.
const MAX_CONCURRENT_SYNCS: usize = 4;

/// Starts the swarm task. Returns the handle the API uses and the sender of events to gossip.
pub fn start(
    config: NetConfig,
    store: Store,
    node_key: &SecretKey,
    shutdown: CancellationToken,
) -> Result<(NetHandle, mpsc::Sender<Event>, tokio::task::JoinHandle<()>), NetError> {
    let mut seed = *node_key.seed();
    let keypair = identity::Keypair::ed25519_from_bytes(&mut seed)
        .map_err(|e| NetError::Identity(e.to_string()))?;
    let mesh = config.mesh;
    let limits = Limits::new(config.limits, store.metrics().clone());
    let mut swarm = SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| NetError::Build(e.to_string()))?
        .with_behaviour(|key| {
            let mut b = behaviour::build(key, mesh)?;
            b.limits = limits;
            Ok(b)
        })
        .map_err(|e| NetError::Build(e.to_string()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    for addr in &config.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| NetError::Listen {
                addr: addr.clone(),
                message: e.to_string(),
            })?;
    }
    let (cmd_tx, cmd_rx) = mpsc::channel(256);
    let (out_tx, out_rx) = mpsc::channel(4096);
    let (internal_tx, internal_rx) = mpsc::channel(4096);
    let (snap_tx, snap_rx) = watch::channel(Arc::new(NetworkStatus::default()));
    let (req_tx, req_rx) = mpsc::channel(256);
    let requester = Requester::new(req_tx);
    let admission = Admission::new(store.clone(), config.interests.clone());
    let mut actor = Actor {
        admission,
        answering: HashMap::new(),
        bans: bans::Bans::default(),
        requester,
        pending: HashMap::new(),
        syncs: HashMap::new(),
        sync_slots: Arc::new(Semaphore::new(MAX_CONCURRENT_SYNCS)),
        inbound: Arc::new(Semaphore::new(MAX_INBOUND_REQUESTS)),
        responder: Responder::default(),
        local: *swarm.local_peer_id(),
        swarm,
        trust_rx: store.subscribe_trust(),
        store,
        config,
        internal_tx,
        subscribed: BTreeSet::new(),
        listen: Vec::new(),
        rejects: HashMap::new(),
        inflight: Arc::new(Semaphore::new(MAX_INFLIGHT_VALIDATIONS)),
        counters: Arc::new(Counters::default()),
        snapshot: snap_tx,
    };
    #[cfg(feature = "test-hooks")]
    {
        actor.responder.tamper = actor.config.tamper;
    }
    actor.resubscribe();
    let inboxes = Inboxes {
        commands: cmd_rx,
        gossip: out_rx,
        internal: internal_rx,
        requests: req_rx,
    };
    let task = tokio::spawn(async move { actor.run(inboxes, shutdown).await });
    Ok((
        NetHandle {
            commands: cmd_tx,
            snapshot: snap_rx,
        },
        out_tx,
        task,
    ))
}

struct Actor {
    /// The one door from peers to the store (gossip, offers, fetch answers).
    admission: Admission,
    /// Sync answers handed to libp2p and not yet written, with their permits.
    answering: HashMap<InboundRequestId, (OwnedSemaphorePermit, tokio::time::Instant)>,
    bans: bans::Bans,
    requester: Requester,
    pending: HashMap<OutboundRequestId, oneshot::Sender<Result<Response, OutboundFailure>>>,
    syncs: HashMap<PeerId, PeerSync>,
    sync_slots: Arc<Semaphore>,
    inbound: Arc<Semaphore>,
    responder: Responder,
    local: PeerId,
    swarm: Swarm<FedBehaviour>,
    store: Store,
    trust_rx: watch::Receiver<Arc<fedci_keys::TrustStore>>,
    config: NetConfig,
    internal_tx: mpsc::Sender<Internal>,
    subscribed: BTreeSet<Topic>,
    listen: Vec<Multiaddr>,
    /// Per peer: invalid things it sent us (total) and the decaying penalty behind its score.
    rejects: HashMap<PeerId, Penalty>,
    inflight: Arc<Semaphore>,
    counters: Arc<Counters>,
    snapshot: watch::Sender<Arc<NetworkStatus>>,
}

impl Actor {
    async fn run(&mut self, inboxes: Inboxes, shutdown: CancellationToken) {
        let Inboxes {
            commands: mut cmd_rx,
            gossip: mut out_rx,
            internal: mut internal_rx,
            requests: mut req_rx,
        } = inboxes;
        let mut wanted = self.config.peers.clone();
        if let Ok(stored) = self.store.read(|s| s.peers()).await {
            wanted.extend(stored.iter().filter_map(|a| a.parse().ok()));
        }
        for addr in &wanted {
            self.dial(addr.clone());
        }
        // The first tick waits a full period: start-up dials are already under way.
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + TICK, TICK);
        let period = self.config.sync_interval.max(Duration::from_millis(100));
        let mut sync_tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tokio::select! {
                ev = self.swarm.select_next_some() => self.on_swarm(ev),
                Some(cmd) = cmd_rx.recv() => match cmd {
                    Command::Dial(addr) => {
                        if !wanted.contains(&addr) {
                            wanted.push(addr.clone());
                        }
                        self.dial(addr);
                    }
                    Command::Block(peer, true) => {
                        self.swarm.behaviour_mut().blocked.block_peer(peer);
                        tracing::info!(%peer, "peer blocked");
                    }
                    Command::Block(peer, false) => {
                        self.swarm.behaviour_mut().blocked.unblock_peer(peer);
                        tracing::info!(%peer, "peer unblocked");
                    }
                    Command::Forget(addrs) => self.forget(&mut wanted, &addrs),
                },
                Some(out) = req_rx.recv() => {
                    let id = self.swarm.behaviour_mut().sync.send_request(&out.peer, out.request);
                    self.pending.insert(id, out.reply);
                }
                _ = sync_tick.tick() => {
                    if let Some(peer) = self.catch_up_peer() {
                        self.schedule_sync(peer, true);
                    }
                }
                Some(event) = out_rx.recv() => self.publish(&event),
                Some(msg) = internal_rx.recv() => self.on_internal(msg),
                Ok(()) = self.trust_rx.changed() => self.resubscribe(),
                _ = tick.tick() => {
                    for addr in &wanted {
                        if let Some(peer) = peer_of(addr)
                            && !self.swarm.is_connected(&peer)
                            && !self.swarm.behaviour().blocked.blocked_peers().contains(&peer)
                        {
                            self.dial(addr.clone());
                        }
                    }
                    self.decay_penalties();
                    self.expire_bans();
                    self.forget_stale_answers();
                    self.update_snapshot();
                }
                _ = shutdown.cancelled() => break,
            }
        }
        tracing::debug!("network stopped");
    }

    /// `peer remove`: the addresses leave the re-dial list; a peer none of the remaining
    /// addresses names is disconnected (it may still dial us).
    fn forget(&mut self, wanted: &mut Vec<Multiaddr>, addrs: &[Multiaddr]) {
        wanted.retain(|a| !addrs.contains(a));
        for peer in addrs.iter().filter_map(peer_of) {
            if !wanted.iter().any(|a| peer_of(a) == Some(peer)) {
                let _ = self.swarm.disconnect_peer_id(peer);
                tracing::info!(%peer, "peer forgotten");
            }
        }
    }

    fn dial(&mut self, addr: Multiaddr) {
        if let Err(e) = self.swarm.dial(addr.clone()) {
            tracing::debug!(%addr, error = %e, "dial failed");
        }
    }

    fn on_swarm(&mut self, ev: SwarmEvent<FedBehaviourEvent>) {
        match ev {
            SwarmEvent::NewListenAddr { address, .. } => {
                let full = address.with(Protocol::P2p(self.local));
                tracing::info!(addr = %full, "listening");
                self.listen.push(full);
                self.update_snapshot();
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } => {
                tracing::info!(peer = %peer_id, addr = %endpoint.get_remote_address(), "connected");
                if num_established.get() == 1 {
                    self.offer_rosters(peer_id);
                    self.schedule_sync(peer_id, false);
                }
                self.update_snapshot();
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                cause,
                ..
            } => {
                if num_established == 0 {
                    tracing::info!(peer = %peer_id, cause = ?cause, "disconnected");
                }
                self.update_snapshot();
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(peer = ?peer_id, error = %error, "outgoing connection failed");
            }
            SwarmEvent::Behaviour(FedBehaviourEvent::Gossipsub(ev)) => self.on_gossip(ev),
            SwarmEvent::Behaviour(FedBehaviourEvent::Identify(
                libp2p::identify::Event::Received { peer_id, info, .. },
            )) => {
                for addr in info.listen_addrs {
                    self.swarm.add_peer_address(peer_id, addr);
                }
            }
            SwarmEvent::Behaviour(FedBehaviourEvent::Sync(ev)) => self.on_sync(ev),
            _ => {}
        }
    }

    fn on_internal(&mut self, msg: Internal) {
        match msg {
            Internal::Verdict(v) => {
                let counter = match v.acceptance {
                    MessageAcceptance::Accept => &self.counters.accepted,
                    MessageAcceptance::Reject => &self.counters.rejected,
                    MessageAcceptance::Ignore => &self.counters.ignored,
                };
                counter.fetch_add(1, Relaxed);
                if matches!(v.acceptance, MessageAcceptance::Reject) {
                    self.penalise(v.source);
                }
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&v.message_id, &v.source, v.acceptance);
                #[cfg(feature = "test-hooks")]
                if self.config.tamper
                    && let Some(event) = v.stored
                {
                    self.publish(&event);
                }
            }
            Internal::Offer { peer, events } => {
                if !events.is_empty() {
                    self.swarm
                        .behaviour_mut()
                        .sync
                        .send_request(&peer, Request::Offer { events });
                }
            }
            Internal::Respond {
                peer,
                request_id,
                channel,
                response,
                permit,
                misbehaved,
            } => {
                if misbehaved {
                    self.penalise(peer);
                }
                self.respond(request_id, channel, response, permit);
            }
            Internal::FollowUp { peer } => {
                if self.swarm.is_connected(&peer) {
                    self.schedule_sync(peer, false);
                }
            }
            Internal::SyncDone { peer, stats } => {
                if stats.misbehaved {
                    self.penalise(peer);
                }
                if let Some(e) = &stats.error {
                    tracing::info!(%peer, error = %e, "catch-up round ended early");
                } else if stats.stored > 0 || stats.offered > 0 {
                    tracing::info!(%peer, stored = stats.stored, offered = stats.offered, ms = stats.millis, "catch-up round");
                }
                let (again, follow_up) = {
                    let st = self.syncs.entry(peer).or_default();
                    st.running = false;
                    st.rounds += 1;
                    st.last_at_ms = crate::now_ms();
                    st.bytes_sent += stats.bytes_sent;
                    st.bytes_received += stats.bytes_received;
                    st.stored += stats.stored as u64;
                    st.answered |= stats.error.is_none();
                    let follow_up = !st.followed_up && stats.error.is_none();
                    st.followed_up |= follow_up;
                    st.last = Some(stats);
                    (std::mem::take(&mut st.again), follow_up)
                };
                if again {
                    self.schedule_sync(peer, false);
                }
                if follow_up {
                    let tx = self.internal_tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(FOLLOW_UP_AFTER).await;
                        let _ = tx.send(Internal::FollowUp { peer }).await;
                    });
                }
                self.update_snapshot();
            }
        }
    }

    /// On a new connection, offer the rosters in force of every community we trust, so the
    /// peer can believe our events before any catch-up ran.
    fn offer_rosters(&self, peer: PeerId) {
        let store = self.store.clone();
        let tx = self.internal_tx.clone();
        tokio::spawn(async move {
            let trust = store.trust();
            let ids: Vec<_> = trust
                .pins()
                .filter_map(|(c, _)| trust.roster(c).map(|(_, id)| id))
                .collect();
            let raws = store
                .read(move |s| {
                    let mut out = Vec::new();
                    for id in ids {
                        if let Some(raw) = s.get_raw(&id)? {
                            out.push(ByteBuf::from(raw));
                        }
                    }
                    Ok(out)
                })
                .await
                .unwrap_or_default();
            let _ = tx.send(Internal::Offer { peer, events: raws }).await;
        });
    }
}

fn peer_of(addr: &Multiaddr) -> Option<PeerId> {
    addr.iter().find_map(|p| match p {
        Protocol::P2p(id) => Some(id),
        _ => None,
    })
}
