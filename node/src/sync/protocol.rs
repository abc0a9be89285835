//! The request-response protocol between nodes (`/fedci/sync/2`, CBOR frames).
//!
//! Every event that arrives this way goes through the same ingest path as gossip: decode,
//! verify, trust decision, store. Sizes are bounded by the codec limits set in `behaviour`
//! and by the counts below.

use libp2p::request_response::cbor::codec::Codec;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// Request and response frame limits of the sync protocol.
pub const MAX_REQUEST_BYTES: u64 = 8 << 20;
/// Reconcile answers are the largest: up to `MAX_TOPICS_PER_FRAME` negentropy frames.
pub const MAX_RESPONSE_BYTES: u64 = 8 << 20;
/// Most events in one `Offer` or `Events` frame.
pub const MAX_EVENTS_PER_FRAME: usize = 512;
/// Most topics reconciled in one request.
pub const MAX_TOPICS_PER_FRAME: usize = 24;

/// The frame codec of the sync protocol, with its limits: what every peer's bytes go through.
pub fn codec() -> Codec<Request, Response> {
    Codec::default()
        .set_request_size_maximum(MAX_REQUEST_BYTES)
        .set_response_size_maximum(MAX_RESPONSE_BYTES)
}

/// One negentropy message about the events of a topic whose author time is in `span`
/// (`[lo, hi)` ms; the whole topic when absent).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TopicMessage {
    pub topic: String,
    pub message: ByteBuf,
    #[serde(default)]
    pub span: Option<(u64, u64)>,
    /// In answers: the responder holds more than [`MAX_SPAN_ITEMS`] events in `span` and
    /// did not reconcile it; ask again in smaller spans. `message` is empty.
    #[serde(default)]
    pub too_large: bool,
}

/// Most events a span may hold for a responder to build its set (40 bytes each in memory):
/// what bounds the memory of catch-up on both sides, however large the topic.
pub const MAX_SPAN_ITEMS: usize = 1 << 16;

/// The epochs of one topic asked in an [`Request::Epochs`]: `[from, to)` ranges of epochs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochQuery {
    pub topic: String,
    pub ranges: Vec<(u64, u64)>,
}

/// One bucket of an [`Response::Epochs`] answer: epochs `[start, start + width)` hold `count`
/// events with this set fingerprint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochBucket {
    pub start: u64,
    pub count: u64,
    pub fingerprint: ByteBuf,
}

/// Most epoch ranges in one [`Request::Epochs`], over all its topics.
pub const MAX_EPOCH_RANGES: usize = 1024;
/// Most buckets in one [`Response::Epochs`], over all its topics.
pub const MAX_EPOCH_BUCKETS: usize = 1 << 15;

/// Most topics in one digest request.
pub const MAX_DIGEST_TOPICS: usize = 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// "Do we agree on these topics?": one fingerprint over all of them. The cheap first
    /// step of every catch-up round.
    Digest {
        topics: Vec<String>,
        combined: ByteBuf,
    },
    /// "Here are events you may lack" (rosters on connect, our side of a reconciliation).
    Offer { events: Vec<ByteBuf> },
    /// "How many events, with which fingerprint, in each bucket of `width` epochs of these
    /// ranges?": narrows a differing topic down to the epochs that differ.
    Epochs { width: u64, topics: Vec<EpochQuery> },
    /// One round of set reconciliation, for several topics (or spans of them) at once.
    Reconcile { topics: Vec<TopicMessage> },
    /// Fetch events by id.
    Fetch { ids: Vec<ByteBuf> },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Response {
    /// Digest answer: `same`, or else this side's fingerprint of each topic asked, in order.
    Digest {
        same: bool,
        fingerprints: Vec<ByteBuf>,
    },
    /// Offer taken: how many were new.
    Taken { stored: u32 },
    /// Per topic asked, in order: its non-empty buckets, in order.
    Epochs { topics: Vec<Vec<EpochBucket>> },
    /// Reconciliation replies, one per topic (or span) asked.
    Reconcile { topics: Vec<TopicMessage> },
    /// Requested events we hold (ids we do not hold are left out). `withheld`: ids we hold
    /// but no longer vouch for (revoked key, re-pinned root), so the asker does not take
    /// their absence for a lie. Absent in answers of older nodes.
    Events {
        events: Vec<ByteBuf>,
        #[serde(default)]
        withheld: Vec<ByteBuf>,
    },
    /// The request was refused.
    Error { message: String },
}
