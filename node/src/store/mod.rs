//! The redb store: events, indexes, consumers, pins and rosters.
//!
//! One thread owns every write transaction ([`writer`]) and commits in batches (group commit):
//! an ingest is answered only after the commit that holds it, though the events it stores are
//! announced to live streams ([`feed`]) and the network just before that commit, under a
//! durable reservation of positions (the DESIGN NOTE is in `writer/announce.rs`). Reads run on redb snapshots from
//! any thread (callers on the async runtime use `spawn_blocking`). The open database file also
//! serves as the home's lock: redb refuses a second open of the same file.
//!
//! A failed commit (disk full, I/O error) leaves redb's handle failed for good, so the writer
//! reopens the file, reloads its counters and trust from what is committed, and probes with
//! backoff until writes work again ([`health`]); meanwhile every write is refused at once.

pub mod digest;
pub mod epochs;
mod evidence;
pub(crate) mod feed;
mod health;
mod index;
mod log;
pub mod migrate;
mod promotion;
mod read;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod reserve_tests;
mod row;
mod schema;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod size_tests;
mod slot;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
mod trace;
mod writer;

pub use evidence::BundleError;
pub use health::{Failure, Health, HealthView};
pub use promotion::{ArtifactFilter, ManifestLookup};
pub use read::{PageLimit, QueryPage, SCAN_BUDGET, StoredEvent};
pub use trace::{Direction, GraphEdge, Reached, Trace};
pub use writer::{Caller, ConsumerOutcome, IngestError, Outcome};

use crate::metrics::Metrics;
use fedci_keys::{PublicKey, TrustStore};
use fedci_proto::Event;
use slot::{DbSlot, Snapshot};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot, watch};

/// Requests waiting for the writer. Bounded: a full queue makes publishers wait (backpressure).
const WRITER_QUEUE: usize = 4096;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("another fedci-node already has this home's store open")]
    AlreadyOpen,
    #[error("store: {0}")]
    Db(Box<redb::Error>),
    #[error("the store's writer has stopped")]
    Closed,
    #[error("cannot start the store's writer thread")]
    Spawn(#[source] std::io::Error),
    #[error("store holds an unreadable record: {0}")]
    Corrupt(String),
    #[error(
        "refusing to re-pin {0}: it is this node's own community; its root changes only with a new home"
    )]
    OwnRoot(String),
    /// A commit failed: every write is refused with its cause (shared by all callers) until
    /// the writer has recovered.
    #[error("the store cannot write ({0}); it retries by itself, nothing was stored")]
    Unavailable(#[source] Arc<StoreError>),
    /// The writer thread panicked: nothing can be written until the node restarts.
    #[error("the store's writer stopped: {0}")]
    WriterStopped(String),
    #[error(
        "this store is in format {0}, written by a newer fedci-node; this one reads format {v} and older",
        v = schema::SCHEMA_VERSION
    )]
    NewerFormat(u64),
    #[error("the store is being reopened")]
    Reopening,
    #[error("the store's handle lock is poisoned")]
    Poisoned,
    #[error("probe write in the home: {0}")]
    ProbeWrite(#[source] std::io::Error),
}

impl<E: Into<redb::Error>> From<E> for StoreError {
    fn from(e: E) -> Self {
        match e.into() {
            redb::Error::DatabaseAlreadyOpen => StoreError::AlreadyOpen,
            other => StoreError::Db(Box::new(other)),
        }
    }
}

/// A cloneable handle on the store.
#[derive(Clone, Debug)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Arc<DbSlot>,
    tx: mpsc::Sender<writer::Request>,
    committed: watch::Receiver<u64>,
    feed: Arc<feed::Feed>,
    trust: watch::Receiver<Arc<TrustStore>>,
    own_seq: Arc<AtomicU64>,
    /// This node's own seqs below this are durably reserved (see `writer/announce.rs`): an
    /// event of one of them may be announced before its commit.
    reserved_own: Arc<AtomicU64>,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    /// Stored events the trust of that version does not authorise (see `evidence.rs`).
    untrusted: std::sync::Mutex<Option<(Arc<TrustStore>, u64)>>,
}

/// The writer thread: tells when it stops, and is joined at shutdown after every handle is
/// dropped.
#[derive(Debug)]
pub struct WriterThread {
    thread: std::thread::JoinHandle<()>,
    stopped: oneshot::Receiver<String>,
}

impl WriterThread {
    /// Resolves when the writer stops, with why (its panic message). While the node holds a
    /// store handle, that is a failure the daemon reports (see [`crate::supervise`]). Await it
    /// once.
    pub async fn stopped(&mut self) -> String {
        (&mut self.stopped)
            .await
            .unwrap_or_else(|_| "it ended without saying why".into())
    }

    /// Waits for the writer to finish its last commit.
    pub fn join(self) {
        let _ = self.thread.join();
    }
}

impl Store {
    /// Opens (or creates) the store, loads pins and rosters, starts the writer thread.
    /// `own_author` is this node's key, whose `seq` counter the store keeps.
    pub fn open(
        path: &Path,
        own_author: Option<[u8; 32]>,
        metrics: Arc<Metrics>,
    ) -> Result<(Store, WriterThread), StoreError> {
        let db = Arc::new(DbSlot::open(path)?);
        let state = writer::State::load(&*db.get()?, own_author)?;
        let last = state.last_seq;
        let feed = Arc::new(feed::Feed::new(last));
        let own_seq = Arc::new(AtomicU64::new(state.own_seq));
        let reserved_own = Arc::new(AtomicU64::new(state.reserved_own_seq));
        let health = Arc::new(Health::new(metrics.clone()));
        let (committed_tx, committed) = watch::channel(last);
        let (trust_tx, trust) = watch::channel(Arc::new(state.trust.clone()));
        let (tx, rx) = mpsc::channel(WRITER_QUEUE);
        let thread = writer::spawn(
            writer::Shared {
                db: db.clone(),
                state,
                committed: committed_tx,
                feed: feed.clone(),
                trust: trust_tx,
                own_seq: own_seq.clone(),
                reserved_own: reserved_own.clone(),
                health: health.clone(),
                metrics: metrics.clone(),
            },
            rx,
        )?;
        let store = Store {
            inner: Arc::new(Inner {
                db,
                tx,
                committed,
                feed,
                trust,
                own_seq,
                reserved_own,
                health,
                metrics,
                untrusted: std::sync::Mutex::new(None),
            }),
        };
        let (thread, stopped) = thread;
        Ok((store, WriterThread { thread, stopped }))
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// Whether the store can write, and why not.
    pub fn health(&self) -> &Health {
        &self.inner.health
    }

    /// Bytes held by the database's page cache, and its bound.
    pub fn cache_bytes(&self) -> (u64, u64) {
        (self.inner.db.cache_used() as u64, slot::CACHE_BYTES as u64)
    }

    /// The arrival seq of the newest committed event (0 when empty). Arrival positions have
    /// gaps (see `writer/announce.rs`): this is no count.
    pub fn last_seq(&self) -> u64 {
        *self.inner.committed.borrow()
    }

    /// Changes whenever events are announced (before their commit) or committed: what live
    /// streams wait on.
    pub fn subscribe_announced(&self) -> watch::Receiver<u64> {
        self.inner.feed.subscribe()
    }

    /// Up to `max` announced events after `after` (stored, perhaps not yet committed), in
    /// arrival order; `None` when the live feed no longer reaches back to `after` (read the
    /// store instead).
    pub fn feed_after(&self, after: u64, max: usize) -> Option<Vec<Arc<StoredEvent>>> {
        self.inner.feed.after(after, max).map(|p| p.events)
    }

    /// (events, bytes) held by the live feed.
    pub fn feed_size(&self) -> (usize, usize) {
        self.inner.feed.size()
    }

    /// The trust store as of the last commit.
    pub fn trust(&self) -> Arc<TrustStore> {
        self.inner.trust.borrow().clone()
    }

    pub fn subscribe_trust(&self) -> watch::Receiver<Arc<TrustStore>> {
        self.inner.trust.clone()
    }

    /// Whether an event this node signed with `seq` may be announced before its commit: its
    /// seq is below the durably committed reservation, so a crash cannot hand it out again.
    pub fn own_seq_reserved(&self, seq: u64) -> bool {
        seq < self.inner.reserved_own.load(Ordering::Relaxed)
    }

    /// Allocates the seq for the next event this node signs. Gaps after a crash are fine:
    /// seq exists to let consumers notice gaps, never to reject.
    pub fn next_own_seq(&self) -> u64 {
        // Saturating, like the writer's own-seq tracking: u64::MAX stays u64::MAX.
        let prev = self
            .inner
            .own_seq
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                Some(s.saturating_add(1))
            });
        prev.unwrap_or_else(|s| s)
    }

    /// Stores verified events (trust decision, dedupe, indexes) and waits for the commit.
    pub async fn ingest(
        &self,
        events: Vec<Event>,
        source: &'static str,
    ) -> Result<Vec<Outcome>, StoreError> {
        self.ingest_announcing(events, source, None).await
    }

    /// [`Store::ingest`], and the events it stores go to `announce` (if any) at the writer's
    /// announce point: before the commit, unless the batch raises the position reservation
    /// (a publisher's gossip overlaps its fsync).
    pub async fn ingest_announcing(
        &self,
        events: Vec<Event>,
        source: &'static str,
        announce: Option<mpsc::Sender<Event>>,
    ) -> Result<Vec<Outcome>, StoreError> {
        self.call(|reply| writer::Request::Ingest {
            events,
            source,
            announce,
            early: None,
            reply,
        })
        .await?
    }

    /// Queues `events` for the writer without waiting for its answer: once this returns the
    /// writer will decide them whatever becomes of the caller (a dropped HTTP request). The
    /// answer comes on the returned receiver after the commit.
    pub async fn submit_ingest(
        &self,
        events: Vec<Event>,
        source: &'static str,
    ) -> Result<oneshot::Receiver<Result<Vec<Outcome>, StoreError>>, StoreError> {
        self.submit(|reply| writer::Request::Ingest {
            events,
            source,
            announce: None,
            early: None,
            reply,
        })
        .await
    }

    /// [`Store::ingest`], answered at the announce point: the outcomes are final (the writer
    /// decided them in order) but the commit may still be on its way, and may fail (the
    /// events then come back through catch-up). For gossip verdicts only: nothing that
    /// promises durability may wait on this.
    pub async fn ingest_early(
        &self,
        events: Vec<Event>,
        source: &'static str,
    ) -> Result<Vec<Outcome>, StoreError> {
        let (early, early_rx) = oneshot::channel();
        let reply = self.call(|reply| writer::Request::Ingest {
            events,
            source,
            announce: None,
            early: Some(early),
            reply,
        });
        tokio::pin!(reply);
        tokio::select! {
            biased;
            outcomes = early_rx => match outcomes {
                Ok(o) => Ok(o),
                // Not announced early (nothing stored, or a batch that raised the reservation).
                Err(_) => reply.await?,
            },
            done = &mut reply => done?,
        }
    }

    /// Moves a durable consumer's cursor forward to `seq` (never backwards), if `caller`
    /// may (see [`Caller`]).
    pub async fn ack(
        &self,
        consumer: String,
        seq: u64,
        caller: Caller,
    ) -> Result<ConsumerOutcome, StoreError> {
        self.call(|reply| writer::Request::Ack {
            consumer,
            seq,
            caller,
            reply,
        })
        .await?
    }

    /// Forgets a durable consumer, if `caller` may: it starts from the beginning next time.
    pub async fn remove_consumer(
        &self,
        consumer: String,
        caller: Caller,
    ) -> Result<ConsumerOutcome, StoreError> {
        self.call(|reply| writer::Request::RemoveConsumer {
            consumer,
            caller,
            reply,
        })
        .await?
    }

    /// Pins a community's root key. Returns true if it changed anything. The root of
    /// `own_community` is never replaced: re-pinning it to another key would make this node
    /// refuse its own events (a new root means a new home).
    pub async fn pin(
        &self,
        community: String,
        key: PublicKey,
        own_community: &str,
    ) -> Result<bool, StoreError> {
        if community == own_community
            && let Some(current) = self.trust().pinned(&community)
            && *current != key
        {
            return Err(StoreError::OwnRoot(community));
        }
        self.call(|reply| writer::Request::Pin {
            community,
            key,
            reply,
        })
        .await?
    }

    /// Remembers a peer address across restarts.
    pub async fn add_peer(&self, addr: String) -> Result<bool, StoreError> {
        self.call(|reply| writer::Request::AddPeer { addr, reply })
            .await?
    }

    /// Forgets a remembered peer address; false if it was not remembered.
    pub async fn remove_peer(&self, addr: String) -> Result<bool, StoreError> {
        self.call(|reply| writer::Request::RemovePeer { addr, reply })
            .await?
    }

    async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> writer::Request,
    ) -> Result<T, StoreError> {
        self.submit(make)
            .await?
            .await
            .map_err(|_| StoreError::Closed)
    }

    /// Queues a request for the writer; its answer comes on the returned receiver.
    async fn submit<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> writer::Request,
    ) -> Result<oneshot::Receiver<T>, StoreError> {
        // A failing store refuses at once rather than queueing writes behind its retries.
        if let Some(error) = self.inner.health.error() {
            return Err(StoreError::Unavailable(error));
        }
        let (reply, rx) = oneshot::channel();
        self.inner
            .tx
            .send(make(reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        Ok(rx)
    }

    /// Runs a blocking read on a redb snapshot off the async runtime.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|_| StoreError::Closed)?
    }

    pub(crate) fn begin_read(&self) -> Result<Snapshot, StoreError> {
        self.inner.db.begin_read()
    }
}
