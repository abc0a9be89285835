//! Catch-up: range-based set reconciliation (negentropy) over request-response, so that a
//! node that was down, joined late or was partitioned ends with every event of its interests.
//!
//! A round with one peer compares topic fingerprints (one small round trip when already in
//! sync), narrows the topics that differ down to the minutes of author time that differ
//! ([`narrow`]: per-epoch fingerprints summed in ever finer buckets), reconciles the (time,
//! id) sets of those spans only, so neither side ever builds a set of more than
//! [`protocol::MAX_SPAN_ITEMS`] events however large the store; then fetches what we lack in bounded
//! pages, offers back what the peer lacks, then fetches missing link targets. Everything
//! fetched or offered takes the one admission path ([`crate::admit`]). A peer that serves
//! forged events, or announces ids it then does not serve, ends the round and is reported as
//! misbehaving. Answers are short when their byte budget is reached: the rest is asked again.

mod cache;
mod narrow;
pub mod protocol;
mod round;
mod serve;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

pub use cache::MAX_AGE as SET_MAX_AGE;
pub use round::sync_with;
pub use serve::{Responder, take_offer};

use crate::store::StoreError;
use crate::sync::protocol::{Request, Response};
use libp2p::PeerId;
use libp2p::request_response::OutboundFailure;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// negentropy frame limit per topic message (it needs at least 4096).
pub const FRAME_LIMIT: u64 = 256 * 1024;
/// Ids per fetch request.
pub const FETCH_PAGE: usize = 512;
/// Fetch requests in flight per round.
pub const FETCH_CONCURRENCY: usize = 8;
/// Most ids one round fetches or offers per topic batch; the rest waits for the next round.
/// Bounds what a peer announcing millions of (possibly fake) ids can make us hold.
pub const MAX_IDS_PER_ROUND: usize = 500_000;
/// Reconciliation round trips before a round gives up.
pub const MAX_ROUND_TRIPS: u32 = 256;
/// Most bytes of events one fetch answer carries (events are at most 64 KiB, so an answer
/// always holds at least one). Small, because up to `MAX_INBOUND_REQUESTS` answers are held
/// at once; the requester fetches what did not fit with its next page.
pub const MAX_RESPONSE_EVENT_BYTES: usize = 1 << 20;

/// Why a catch-up round (or one request of it) failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("request failed: {0}")]
    Request(#[from] RequestError),
    #[error("peer answered with an error: {0}")]
    Refused(#[source] Refusal),
    #[error("peer misbehaved: {0}")]
    Misbehaved(#[from] Misbehaviour),
    #[error("reconciliation: {0}")]
    Negentropy(#[from] negentropy::Error),
    #[error("reconciliation: no agreement after {0} round trips")]
    NoAgreement(u32),
    #[error("this store holds more than {0} epoch buckets in one answer")]
    TooManyEpochs(usize),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// Why a request got no answer from the peer.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("network stopped")]
    NetworkStopped,
    #[error(transparent)]
    Outbound(#[from] OutboundFailure),
}

/// The error a peer answered with (`Response::Error`): its own words.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// What a peer did that an honest peer does not.
#[derive(Debug, thiserror::Error)]
pub enum Misbehaviour {
    #[error("answered a {0} with something else")]
    WrongAnswer(&'static str),
    #[error("digest answer of the wrong length")]
    DigestLength,
    #[error("answered topic {0:?} it was not asked")]
    UnaskedTopic(String),
    #[error("answered topic {0:?}, span {1:?}, it was not asked")]
    UnaskedSpan(String, Option<(u64, u64)>),
    #[error("epochs answer of the wrong length")]
    EpochsLength,
    #[error("epoch bucket {1} of {0:?} was not asked, is out of order or malformed")]
    EpochBucket(String, u64),
    #[error("bad reconciliation message: {0}")]
    Reconciliation(#[source] negentropy::Error),
    #[error("left topics unanswered")]
    Unanswered,
    #[error("served {0} forged or unrequested event(s)")]
    Forged(usize),
    #[error("announced {0} id(s) it did not serve")]
    NotServed(usize),
}

/// A request for the swarm task to send, with where to put the answer.
#[derive(Debug)]
pub struct Outbound {
    pub peer: PeerId,
    pub request: Request,
    pub reply: oneshot::Sender<Result<Response, OutboundFailure>>,
}

/// How long after a peer's last reconcile or fetch request it counts as catching up from us
/// in a round of its own.
pub const CATCHING_UP_WINDOW: Duration = Duration::from_secs(3);

/// Sends a request through the swarm task and waits for the answer.
#[derive(Debug, Clone)]
pub struct Requester {
    pub(crate) tx: mpsc::Sender<Outbound>,
    /// Ids some round is fetching right now: after a partition heals, several peers offer
    /// the same missing events at once, and each should be fetched and verified once.
    pub(crate) in_flight: Arc<Mutex<HashSet<fedci_proto::EventId>>>,
    /// When each peer last sent us a reconcile or fetch request (the swarm task notes it).
    catching_up: Arc<Mutex<HashMap<PeerId, Instant>>>,
}

impl Requester {
    pub fn new(tx: mpsc::Sender<Outbound>) -> Self {
        Requester {
            tx,
            in_flight: Arc::default(),
            catching_up: Arc::default(),
        }
    }

    /// Notes that `peer` sent us a reconcile or fetch request now. Entries older than
    /// [`CATCHING_UP_WINDOW`] are dropped here, so the map holds only peers that got an
    /// answer slot from us lately (at most a few seconds' worth of connected peers).
    pub fn note_round_request(&self, peer: PeerId) {
        let now = Instant::now();
        if let Ok(mut m) = self.catching_up.lock() {
            m.retain(|_, at| now.duration_since(*at) < CATCHING_UP_WINDOW);
            m.insert(peer, now);
        }
    }

    /// Whether `peer` reconciled or fetched with us within [`CATCHING_UP_WINDOW`]: it is
    /// running a round of its own with us and takes what it lacks itself, so offering it the
    /// same events would only have it verify each twice (a late joiner's round and our
    /// periodic one used to overlap so: 189,000 of a million events verified twice).
    pub fn peer_is_catching_up(&self, peer: &PeerId) -> bool {
        self.catching_up
            .lock()
            .ok()
            .and_then(|m| m.get(peer).map(|at| at.elapsed() < CATCHING_UP_WINDOW))
            .unwrap_or(false)
    }

    pub async fn call(&self, peer: PeerId, request: Request) -> Result<Response, SyncError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Outbound {
                peer,
                request,
                reply,
            })
            .await
            .map_err(|_| RequestError::NetworkStopped)?;
        match rx.await.map_err(|_| RequestError::NetworkStopped)? {
            Ok(Response::Error { message }) => Err(SyncError::Refused(Refusal(message))),
            Ok(r) => Ok(r),
            Err(e) => Err(RequestError::Outbound(e).into()),
        }
    }
}

/// What one round with one peer did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RoundStats {
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
    /// Most events of one item set this side built (the spans that differed, not the topic).
    pub largest_set: usize,
    pub millis: u64,
    pub error: Option<String>,
    #[serde(skip)]
    pub misbehaved: bool,
}

impl RoundStats {
    /// Adds what part of a round did (run beside another part, with its own stats).
    pub(crate) fn absorb(&mut self, part: RoundStats) {
        self.round_trips += part.round_trips;
        self.need += part.need;
        self.have += part.have;
        self.received += part.received;
        self.stored += part.stored;
        self.offered += part.offered;
        self.bytes_sent += part.bytes_sent;
        self.bytes_received += part.bytes_received;
        self.largest_set = self.largest_set.max(part.largest_set);
    }
}
