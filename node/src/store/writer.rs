//! The single writer: owns every redb write transaction and commits in batches.
//!
//! It takes one request off the bounded queue, then everything else already waiting (up to
//! [`MAX_BATCH_EVENTS`]), applies them all in one write transaction, announces what it stored
//! (to live streams and the network) before the fsync when the positions it used are durably
//! reserved, commits once, and only then answers each caller. A batch of gossip messages,
//! which nobody waits on, keeps its transaction open a moment for more to join it
//! ([`linger`]): receivers then commit many events at a time instead of one. The trust store
//! lives here too, so a roster and the events it authorises are decided in the order they
//! are committed.
//!
//! DESIGN NOTE (issue 16): events are forwarded and streamed on validation, not on commit;
//! the argument for why no durability guarantee is lost is in [`announce`].

mod announce;
mod consumers;
mod durability;
mod ingest;
mod linger;
mod promotion;
mod recover;
mod state;

pub use consumers::{Caller, ConsumerOutcome};
pub use durability::FLUSH_AFTER;
pub use promotion::MAX_REACH;
pub(crate) use state::State;

use super::StoreError;
use super::feed::Feed;
use super::health::Health;
use super::index::EventTables;
use super::schema::*;
use super::slot::DbSlot;
use crate::metrics::Metrics;
use fedci_keys::{PublicKey, RejectReason, TrustStore};
use fedci_proto::Event;
use fedci_proto::vocab::VocabError;
use redb::{Durability, WriteTransaction};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, watch};

/// Ingest sources that are this node's own publishes (strict link checks apply).
const LOCAL_SOURCES: [&str; 3] = ["api", "api_raw", "init"];

/// Most events written by one commit; more wait for the next one.
pub const MAX_BATCH_EVENTS: usize = 4096;

/// What became of one ingested event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Newly stored at this arrival seq.
    Stored { seq: u64 },
    /// Already held; nothing changed.
    Duplicate,
    /// Refused; nothing stored.
    Rejected(IngestError),
}

/// Why the store refused a verified event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error("not trusted: {0}")]
    Untrusted(#[from] RejectReason),
    #[error("{0}")]
    LinkTarget(#[from] VocabError),
}

impl IngestError {
    pub fn code(&self) -> &'static str {
        match self {
            IngestError::Untrusted(r) => r.code(),
            IngestError::LinkTarget(v) => v.code(),
        }
    }
}

pub(crate) enum Request {
    Ingest {
        events: Vec<Event>,
        source: &'static str,
        /// Gets the events this batch stores once every check passed, at the announce point
        /// (the publisher's gossip: see [`announce`]).
        announce: Option<mpsc::Sender<Event>>,
        /// Gets the outcomes at the announce point, before the commit (a gossip verdict).
        early: Option<oneshot::Sender<Vec<Outcome>>>,
        reply: oneshot::Sender<Result<Vec<Outcome>, StoreError>>,
    },
    Ack {
        consumer: String,
        seq: u64,
        caller: Caller,
        reply: oneshot::Sender<Result<ConsumerOutcome, StoreError>>,
    },
    RemoveConsumer {
        consumer: String,
        caller: Caller,
        reply: oneshot::Sender<Result<ConsumerOutcome, StoreError>>,
    },
    Pin {
        community: String,
        key: PublicKey,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    AddPeer {
        addr: String,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    RemovePeer {
        addr: String,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
}

impl Request {
    fn weight(&self) -> usize {
        match self {
            Request::Ingest { events, .. } => events.len().max(1),
            _ => 1,
        }
    }
}

/// What the writer shares with the [`Store`](super::Store) handles.
pub(crate) struct Shared {
    pub db: Arc<DbSlot>,
    pub state: State,
    pub committed: watch::Sender<u64>,
    pub feed: Arc<Feed>,
    pub trust: watch::Sender<Arc<TrustStore>>,
    /// The API's counter for this node's own `seq`: raised when a reload finds more.
    pub own_seq: Arc<AtomicU64>,
    /// The durably committed `reserved_own_seq`, for the API's early gossip.
    pub reserved_own: Arc<AtomicU64>,
    pub health: Arc<Health>,
    pub metrics: Arc<Metrics>,
}

/// Starts the writer thread; the receiver gets why it stopped (a panic's message, or the
/// queue closing at shutdown). A panic also marks the store failing, so writes are refused
/// with the cause and `status` shows it.
pub(crate) fn spawn(
    shared: Shared,
    rx: mpsc::Receiver<Request>,
) -> Result<(std::thread::JoinHandle<()>, oneshot::Receiver<String>), StoreError> {
    // Only for waiting on the queue with a deadline while the store is failing.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(StoreError::Spawn)?;
    let Shared {
        db,
        state,
        committed,
        feed,
        trust,
        own_seq,
        reserved_own,
        health,
        metrics,
    } = shared;
    let mut writer = Writer {
        tally: Tally::default(),
        db,
        state,
        committed,
        feed,
        trust,
        metrics,
        own_seq,
        reserved_own,
        health,
        failing: None,
        last_fsync: Instant::now(),
        unsynced: false,
        #[cfg(feature = "test-hooks")]
        panic_on_ingest: std::env::var_os("FEDCI_TEST_WRITER_PANIC").is_some(),
        #[cfg(feature = "test-hooks")]
        commit_delay: std::env::var("FEDCI_TEST_COMMIT_DELAY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(std::time::Duration::from_millis),
        #[cfg(feature = "test-hooks")]
        commit_hold: std::env::var_os("FEDCI_TEST_COMMIT_HOLD").map(std::path::PathBuf::from),
    };
    let (stopped_tx, stopped) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("fedci-store-writer".into())
        .spawn(move || {
            let health = writer.health.clone();
            let run = std::panic::AssertUnwindSafe(|| writer.run(rx, &rt));
            let why = match std::panic::catch_unwind(run) {
                Ok(()) => "its queue closed".to_string(),
                Err(payload) => {
                    let why = crate::supervise::panic_message(payload.as_ref());
                    health.set_failing(Arc::new(StoreError::WriterStopped(why.clone())), 0);
                    why
                }
            };
            let _ = stopped_tx.send(why);
        })
        .map_err(StoreError::Spawn)?;
    Ok((thread, stopped))
}

/// What a batch will add to the metrics once it commits.
#[derive(Debug, Default)]
struct Tally {
    duplicates: u64,
    rejects: Vec<(&'static str, &'static str)>,
}

struct Writer {
    tally: Tally,
    db: Arc<DbSlot>,
    state: State,
    committed: watch::Sender<u64>,
    feed: Arc<Feed>,
    trust: watch::Sender<Arc<TrustStore>>,
    metrics: Arc<Metrics>,
    own_seq: Arc<AtomicU64>,
    reserved_own: Arc<AtomicU64>,
    health: Arc<Health>,
    /// Set while writes fail: how often recovery was tried and when to try next.
    failing: Option<Failing>,
    /// When the last fsynced commit was made, and whether commits without an fsync came
    /// after it.
    last_fsync: Instant,
    unsynced: bool,
    /// Test hook (`FEDCI_TEST_WRITER_PANIC` set): panic on the first batch that ingests.
    #[cfg(feature = "test-hooks")]
    panic_on_ingest: bool,
    /// Test hook (`FEDCI_TEST_COMMIT_DELAY_MS`): hold each commit of stored events this long
    /// after its announce point, so a test can see what travels before the fsync.
    #[cfg(feature = "test-hooks")]
    commit_delay: Option<std::time::Duration>,
    /// Test hook (`FEDCI_TEST_COMMIT_HOLD=PATH`): while PATH exists (a minute at most), hold
    /// each commit of stored events after its announce point.
    #[cfg(feature = "test-hooks")]
    commit_hold: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy)]
struct Failing {
    retries: u32,
    next_try: Instant,
}

/// Every table a batch writes, opened once per write transaction.
struct Tables<'t> {
    ev: EventTables<'t>,
    links_rev: redb::MultimapTable<'t, &'static Id, &'static Id>,
    missing: redb::Table<'t, &'static Id, u64>,
    consumers: redb::Table<'t, &'static str, u64>,
    consumer_owners: redb::Table<'t, &'static str, u32>,
    pins: redb::Table<'t, &'static str, &'static Id>,
    rosters: redb::Table<'t, &'static str, &'static Id>,
    peers: redb::Table<'t, &'static str, ()>,
    meta: redb::Table<'t, &'static str, u64>,
    promo: promotion::PromoTables<'t>,
}

impl<'t> Tables<'t> {
    fn open(txn: &'t WriteTransaction) -> Result<Self, StoreError> {
        Ok(Tables {
            ev: EventTables::open(txn)?,
            links_rev: txn.open_multimap_table(LINKS_REV)?,
            missing: txn.open_table(MISSING)?,
            consumers: txn.open_table(CONSUMERS)?,
            consumer_owners: txn.open_table(CONSUMER_OWNERS)?,
            pins: txn.open_table(PINS)?,
            rosters: txn.open_table(ROSTERS)?,
            peers: txn.open_table(PEERS)?,
            meta: txn.open_table(META)?,
            promo: promotion::PromoTables::open(txn)?,
        })
    }
}

/// A request's answer, held until the batch commits.
enum Answer {
    Outcomes(Vec<Outcome>),
    Consumer(ConsumerOutcome),
    Flag(bool),
}

impl Request {
    /// Sends this request's answer, or the batch's failure, to its caller.
    fn reply(self, answer: Result<Answer, StoreError>) {
        match (self, answer) {
            (Request::Ingest { reply, .. }, Ok(Answer::Outcomes(o))) => drop(reply.send(Ok(o))),
            (
                Request::Ack { reply, .. } | Request::RemoveConsumer { reply, .. },
                Ok(Answer::Consumer(c)),
            ) => drop(reply.send(Ok(c))),
            (
                Request::Pin { reply, .. }
                | Request::AddPeer { reply, .. }
                | Request::RemovePeer { reply, .. },
                Ok(Answer::Flag(b)),
            ) => drop(reply.send(Ok(b))),
            (Request::Ingest { reply, .. }, Err(why)) => drop(reply.send(Err(why))),
            (Request::Ack { reply, .. } | Request::RemoveConsumer { reply, .. }, Err(why)) => {
                drop(reply.send(Err(why)))
            }
            (
                Request::Pin { reply, .. }
                | Request::AddPeer { reply, .. }
                | Request::RemovePeer { reply, .. },
                Err(why),
            ) => drop(reply.send(Err(why))),
            (_, Ok(_)) => tracing::error!(
                "store writer: answer of the wrong shape; caller sees the writer as closed"
            ),
        }
    }
}

impl Writer {
    #[cfg(feature = "test-hooks")]
    fn hold_commit(&self) {
        if let Some(delay) = self.commit_delay {
            std::thread::sleep(delay);
        }
        if let Some(path) = &self.commit_hold {
            let until = Instant::now() + std::time::Duration::from_secs(60);
            while path.exists() && Instant::now() < until {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }

    fn run(&mut self, mut rx: mpsc::Receiver<Request>, rt: &tokio::runtime::Runtime) {
        loop {
            let first = match self.failing {
                // Events from peers committed without an fsync: fsync them once idle.
                None if self.unsynced => {
                    let wait =
                        (self.last_fsync + FLUSH_AFTER).saturating_duration_since(Instant::now());
                    match rt.block_on(async { tokio::time::timeout(wait, rx.recv()).await }) {
                        Ok(req) => req,
                        Err(_) => {
                            self.fsync();
                            continue;
                        }
                    }
                }
                None => rt.block_on(rx.recv()),
                // Due first, so a steady trickle of requests cannot put recovery off.
                Some(f) if f.next_try <= Instant::now() => {
                    self.try_recover();
                    continue;
                }
                Some(f) => {
                    let wait = f.next_try.saturating_duration_since(Instant::now());
                    // The timer must be made inside the runtime.
                    match rt.block_on(async { tokio::time::timeout(wait, rx.recv()).await }) {
                        Ok(req) => req,
                        Err(_) => {
                            self.try_recover();
                            continue;
                        }
                    }
                }
            };
            let Some(first) = first else {
                // Shutting down: what peers sent is kept too.
                if self.unsynced && self.failing.is_none() {
                    self.fsync();
                }
                break;
            };
            let mut batch = vec![first];
            let mut weight = batch[0].weight();
            while weight < MAX_BATCH_EVENTS {
                match rx.try_recv() {
                    Ok(req) => {
                        weight += req.weight();
                        batch.push(req);
                    }
                    Err(_) => break,
                }
            }
            match self.health.error() {
                // Queued before the store failed: refused at once, nothing is tried.
                Some(error) => {
                    for req in batch {
                        req.reply(Err(StoreError::Unavailable(error.clone())));
                    }
                }
                None => self.commit_batch(batch, &mut linger::Queue { rx: &mut rx, rt }),
            }
        }
        tracing::debug!("store writer stopped");
    }

    fn commit_batch(&mut self, mut batch: Vec<Request>, queue: &mut linger::Queue<'_>) {
        #[cfg(feature = "test-hooks")]
        if self.panic_on_ingest && batch.iter().any(|r| matches!(r, Request::Ingest { .. })) {
            panic!("test hook FEDCI_TEST_WRITER_PANIC: the writer panics on ingest");
        }
        let before = self.state.clone();
        let mut stored = 0u64;
        // `batch[..announced]` was announced before the commit.
        let mut announced = 0;
        let mut fsync = false;
        let result = (|| -> Result<(Vec<Answer>, bool), StoreError> {
            let mut txn = self.db.get()?.begin_write()?;
            let mut answers = Vec::with_capacity(batch.len());
            let mut t = Tables::open(&txn)?;
            for req in &batch {
                answers.push(self.apply(&mut t, req, &mut stored)?);
            }
            // A batch that stored nothing and holds no other write (every event refused or
            // a duplicate) changes nothing: no fsynced commit for it.
            let writes = stored > 0 || batch.iter().any(|r| !matches!(r, Request::Ingest { .. }));
            if !writes {
                drop(t);
                txn.abort()?;
                return Ok((answers, false));
            }
            // Announced now only if no position it used could be handed out again after a
            // crash; otherwise this commit raises the reservation and announces afterwards.
            let mut early = self.state.within_reservation();
            if early && stored > 0 {
                let lingers = batch.iter().all(|r| r.lingers() && !r.may_change_trust());
                announce::announce(&self.feed, &mut batch, &answers);
                announced = batch.len();
                if lingers {
                    let l = self.linger(&mut t, &mut batch, &mut answers, &mut stored, queue)?;
                    announced = l.announced;
                    early = l.within_reservation;
                }
            }
            t.ev.finish()?;
            if !early {
                self.state.raise_reservation();
                t.meta.insert("reserved_seq", self.state.reserved_seq)?;
                t.meta
                    .insert("reserved_own_seq", self.state.reserved_own_seq)?;
            }
            t.meta.insert("next_seq", self.state.next_seq)?;
            t.meta.insert("own_seq", self.state.own_seq)?;
            drop(t);
            fsync = self.wants_fsync(&batch, early);
            txn.set_durability(if fsync {
                Durability::Immediate
            } else {
                Durability::None
            })?;
            #[cfg(feature = "test-hooks")]
            if stored > 0 {
                self.hold_commit();
            }
            txn.commit()?;
            Ok((answers, true))
        })();
        match result {
            Ok((answers, committed)) => {
                // A batch of duplicates commits nothing, yet a local caller is told the
                // event is stored: it must be on disk, though it may have come by gossip.
                if !committed && self.unsynced && batch.iter().any(Request::needs_fsync) {
                    self.fsync();
                    if let Some(error) = self.health.error() {
                        for req in batch {
                            req.reply(Err(StoreError::Unavailable(error.clone())));
                        }
                        return;
                    }
                }
                // Counted only now: a batch that fails to commit changed nothing.
                let tally = std::mem::take(&mut self.tally);
                self.metrics
                    .events_duplicate
                    .fetch_add(tally.duplicates, Relaxed);
                for (source, code) in tally.rejects {
                    self.metrics.reject(source, code);
                }
                self.metrics
                    .commits
                    .fetch_add(u64::from(committed), Relaxed);
                if committed {
                    self.synced(fsync);
                    // Raised only in fsynced commits: what is in State is on disk now.
                    self.reserved_own
                        .store(self.state.reserved_own_seq, Relaxed);
                }
                self.metrics.commit_events.fetch_add(stored, Relaxed);
                self.metrics.events_stored.fetch_add(stored, Relaxed);
                if stored > 0 {
                    if announced < batch.len() {
                        announce::announce(
                            &self.feed,
                            &mut batch[announced..],
                            &answers[announced..],
                        );
                    }
                    self.committed.send_replace(self.state.last_seq);
                    self.feed.committed(self.state.last_seq);
                }
                if before.trust_changed(&self.state) {
                    self.trust.send_replace(Arc::new(self.state.trust.clone()));
                    // The feed's events were authorised under the trust of their announce; a
                    // re-pin or a revocation may withdraw that. Streams that have not read them
                    // yet go back to the store, whose reads check the trust now in force.
                    self.feed.clear(self.state.last_seq);
                }
                for (req, answer) in batch.into_iter().zip(answers) {
                    req.reply(Ok(answer));
                }
            }
            Err(e) => {
                // Nothing of the batch is acknowledged: roll back what we changed in memory and
                // tell every caller. No reply was sent yet, so nobody saw a false success. The
                // positions it used are not rolled back: they may have been announced.
                tracing::error!(error = %e, "store commit failed");
                let (next_seq, own_seq) = (self.state.next_seq, self.state.own_seq);
                self.state = State {
                    next_seq,
                    own_seq,
                    ..before
                };
                self.feed.clear(next_seq.saturating_sub(1));
                // Commits made without an fsync go with the failed handle: recovery reloads
                // what is on disk.
                self.set_unsynced(false);
                self.tally = Tally::default();
                let why = Arc::new(e);
                self.failed(why.clone());
                for req in batch {
                    req.reply(Err(StoreError::Unavailable(why.clone())));
                }
            }
        }
    }

    fn apply(
        &mut self,
        t: &mut Tables<'_>,
        req: &Request,
        stored: &mut u64,
    ) -> Result<Answer, StoreError> {
        Ok(match req {
            Request::Ingest { events, source, .. } => {
                let mut outcomes = Vec::with_capacity(events.len());
                for event in events {
                    let outcome = self.ingest_one(t, event, source)?;
                    match &outcome {
                        Outcome::Stored { .. } => *stored += 1,
                        Outcome::Duplicate => {
                            self.tally.duplicates += 1;
                        }
                        Outcome::Rejected(e) => self.tally.rejects.push((source, e.code())),
                    }
                    outcomes.push(outcome);
                }
                Answer::Outcomes(outcomes)
            }
            Request::Ack {
                consumer,
                seq,
                caller,
                ..
            } => consumers::ack(t, consumer, *seq, self.state.last_seq, *caller)?,
            Request::RemoveConsumer {
                consumer, caller, ..
            } => consumers::remove(t, consumer, *caller)?,
            Request::Pin { community, key, .. } => {
                let changed = self.state.trust.pin(community, *key);
                t.pins.insert(community.as_str(), &key.to_bytes())?;
                if changed {
                    t.rosters.remove(community.as_str())?;
                    self.reapply_stored_rosters(t, community)?;
                }
                Answer::Flag(changed)
            }
            Request::AddPeer { addr, .. } => {
                Answer::Flag(t.peers.insert(addr.as_str(), ())?.is_none())
            }
            Request::RemovePeer { addr, .. } => {
                Answer::Flag(t.peers.remove(addr.as_str())?.is_some())
            }
        })
    }
}

pub(crate) use crate::now_ms;
