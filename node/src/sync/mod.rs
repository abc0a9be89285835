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

use crate::sync::protocol::{Request, Response};
use libp2p::PeerId;
use serde::Serialize;
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

/// Why a request to a peer failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SyncError {
    #[error("request failed: {0}")]
    Request(String),
    #[error("peer answered with an error: {0}")]
    Refused(String),
    #[error("peer misbehaved: {0}")]
    Misbehaved(String),
    #[error("reconciliation: {0}")]
    Negentropy(String),
    #[error("store: {0}")]
    Store(String),
}

/// A request for the swarm task to send, with where to put the answer.
#[derive(Debug)]
pub struct Outbound {
    pub peer: PeerId,
    pub request: Request,
    pub reply: oneshot::Sender<Result<Response, String>>,
}

/// Sends a request through the swarm task and waits for the answer.
#[derive(Debug, Clone)]
pub struct Requester {
    pub(crate) tx: mpsc::Sender<Outbound>,
    /// Ids some round is fetching right now: after a partition heals, several peers offer
    /// the same missing events at once, and each should be fetched and verified once.
    pub(crate) in_flight:
        std::sync::Arc<std::sync::Mutex<std::collections::HashSet<fedci_proto::EventId>>>,
}

impl Requester {
    pub async fn call(&self, peer: PeerId, request: Request) -> Result<Response, SyncError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Outbound {
                peer,
                request,
                reply,
            })
            .await
            .map_err(|_| SyncError::Request("network stopped".into()))?;
        match rx
            .await
            .map_err(|_| SyncError::Request("network stopped".into()))?
        {
            Ok(Response::Error { message }) => Err(SyncError::Refused(message)),
            Ok(r) => Ok(r),
            Err(e) => Err(SyncError::Request(e)),
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
