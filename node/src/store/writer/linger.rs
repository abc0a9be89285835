//! Lingering: how a receiver's writer puts many gossip messages into one commit.
//!
//! A batch made only of gossip messages is announced (streamed, forwarded, its verdict given)
//! before its commit, so nobody waits on that commit. Yet each commit copies every tree it
//! touches (about nine) whatever the batch holds: at 1,000 events/s a receiver committed each
//! event alone and spent about 230 µs of CPU per event on it, which is what saturated a 2-core
//! machine running three nodes. So after announcing such a batch, the writer keeps the
//! transaction open for up to [`LINGER`], applying and announcing each gossip message that
//! comes meanwhile as a batch of its own, then commits them all at once.
//!
//! What ends a linger at once: a request that waits on a commit (a local publish, catch-up,
//! an ack, an admin change; it is applied and the commit follows, so it never waits for
//! LINGER), a trust change (a roster) so it is committed and in force promptly, a batch
//! whose positions cross the durable reservation (it is announced after the commit, as
//! always), and a full batch ([`MAX_BATCH_EVENTS`]). Every guarantee of the DESIGN NOTE in
//! [`super::announce`] holds per announced batch as before; a failed commit fails all the
//! lingered batches together, exactly like one larger batch.

use super::{Answer, MAX_BATCH_EVENTS, Request, Tables, Writer, announce};
use crate::store::StoreError;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Longest a commit of gossip messages waits for more to join it. Nobody waits on such a
/// commit (each message is announced as it is applied, and anything that waits on a commit
/// ends the linger), so the wait costs no latency; what it saves is per-commit work (opening
/// the tables, copying their roots, writing pages). In a 3-node fanout at 1,000 events/s a
/// receiver used about 10 % less CPU with 10 ms than with 2 ms, and no less again with 25 ms
/// (BENCHMARKS.md, session 11). It bounds how long a streamed event may be missing from a
/// query of the store.
pub const LINGER: Duration = Duration::from_millis(10);

/// The writer's queue, and the runtime to wait on it with a deadline.
pub(super) struct Queue<'a> {
    pub rx: &'a mut mpsc::Receiver<Request>,
    pub rt: &'a tokio::runtime::Runtime,
}

impl Queue<'_> {
    /// The next request, if one comes before `until`; none once `until` has passed, even
    /// with requests waiting (they start the next batch), so a linger never outlasts LINGER
    /// by more than one request's apply.
    fn next_before(&mut self, until: Instant) -> Option<Request> {
        let wait = until.saturating_duration_since(Instant::now());
        if wait.is_zero() {
            return None;
        }
        if let Ok(req) = self.rx.try_recv() {
            return Some(req);
        }
        let rx = &mut *self.rx;
        self.rt
            .block_on(async { tokio::time::timeout(wait, rx.recv()).await })
            .ok()
            .flatten()
    }
}

impl Request {
    /// A gossip message, answered at its announce: nobody waits on its commit.
    pub(super) fn lingers(&self) -> bool {
        matches!(self, Request::Ingest { early: Some(_), .. }) && !self.needs_fsync()
    }

    /// Whether applying it may change the trust in force: a roster among its events, or a
    /// pin. (Comparing whole trust stores after every request would cost more.)
    pub(super) fn may_change_trust(&self) -> bool {
        match self {
            Request::Ingest { events, .. } => events
                .iter()
                .any(|e| e.kind() == fedci_proto::Kind::TrustRoster.as_str()),
            Request::Pin { .. } => true,
            _ => false,
        }
    }
}

/// Where a linger left the transaction.
pub(super) struct Lingered {
    /// `batch[..announced]` was announced before the commit.
    pub announced: usize,
    /// Every position applied is still below the durable reservation.
    pub within_reservation: bool,
}

impl Writer {
    /// Applies and announces what comes within [`LINGER`] into the open transaction; the
    /// batch so far (`batch`, `answers`) was applied and announced.
    pub(super) fn linger(
        &mut self,
        t: &mut Tables<'_>,
        batch: &mut Vec<Request>,
        answers: &mut Vec<Answer>,
        stored: &mut u64,
        queue: &mut Queue<'_>,
    ) -> Result<Lingered, StoreError> {
        let until = Instant::now() + LINGER;
        let mut weight: usize = batch.iter().map(Request::weight).sum();
        let mut announced = batch.len();
        while weight < MAX_BATCH_EVENTS {
            let Some(req) = queue.next_before(until) else {
                break;
            };
            let last = !req.lingers() || req.may_change_trust();
            weight += req.weight();
            // In the batch before it is applied: if applying fails, the failed commit's
            // error reaches this caller too.
            batch.push(req);
            let req = &batch[batch.len() - 1];
            answers.push(self.apply(t, req, stored)?);
            if !self.state.within_reservation() {
                return Ok(Lingered {
                    announced,
                    within_reservation: false,
                });
            }
            announce::announce(&self.feed, &mut batch[announced..], &answers[announced..]);
            announced = batch.len();
            if last {
                break;
            }
        }
        Ok(Lingered {
            announced,
            within_reservation: true,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::metrics::Metrics;
    use crate::store::tests::{own_event, trust_odl};
    use crate::store::{Outcome, Store};
    use fedci_keys::SecretKey;
    use std::sync::Arc;
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::{Duration, Instant};

    /// A store of `node`'s, trusting odl's `node` and `peer`.
    async fn store(
        dir: &std::path::Path,
    ) -> (
        Store,
        crate::store::WriterThread,
        SecretKey,
        SecretKey,
        Arc<Metrics>,
    ) {
        let (root, node, peer) = (
            SecretKey::from_seed(&[1; 32]),
            SecretKey::from_seed(&[2; 32]),
            SecretKey::from_seed(&[3; 32]),
        );
        let metrics = Arc::new(Metrics::default());
        let own = Some(node.public().to_bytes());
        let (store, writer) = Store::open(&dir.join("s.redb"), own, metrics.clone()).unwrap();
        trust_odl(&store, &root, &[&node, &peer], crate::now_ms() - 60_000).await;
        (store, writer, node, peer, metrics)
    }

    /// Waits until the store has committed `n` events in all.
    async fn stored(metrics: &Metrics, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while metrics.events_stored.load(Relaxed) < n {
            assert!(Instant::now() < deadline, "the writer never committed");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Gossip message A is announced (its verdict given) before its commit; then message B
    /// is sent. Without lingering B can never be in A's commit. The window is LINGER, so on
    /// a loaded machine one attempt may miss it: many are allowed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_gossip_message_sent_after_the_announce_joins_the_open_commit() {
        let dir = tempfile::tempdir().unwrap();
        let (store, writer, _node, peer, metrics) = store(dir.path()).await;
        let now = crate::now_ms();
        let mut shared = false;
        for attempt in 0..50u64 {
            let (e0, c0) = (
                metrics.events_stored.load(Relaxed),
                metrics.commits.load(Relaxed),
            );
            let a = own_event(&peer, 2 * attempt, now);
            let b = own_event(&peer, 2 * attempt + 1, now);
            let out = store.ingest_early(vec![a], "gossip").await.unwrap();
            assert!(matches!(out[..], [Outcome::Stored { .. }]), "{out:?}");
            let out = store.ingest_early(vec![b], "gossip").await.unwrap();
            assert!(matches!(out[..], [Outcome::Stored { .. }]), "{out:?}");
            stored(&metrics, e0 + 2).await;
            if metrics.commits.load(Relaxed) - c0 == 1 {
                shared = true;
                break;
            }
        }
        assert!(shared, "no gossip message ever joined an open commit");
        drop(store);
        writer.join();
    }

    /// A gossip message is streamed before its commit, which lingers: a job triggered by the
    /// stream reads the event at once, and finds it committed (so any other read finds it
    /// too). `Store::get` alone misses it; some reads here must come before their commit,
    /// or the test proves nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_event_announced_before_its_commit_can_be_read_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let (store, writer, _node, peer, metrics) = store(dir.path()).await;
        let now = crate::now_ms();
        let e0 = metrics.events_stored.load(Relaxed);
        let mut before_commit = 0;
        for attempt in 0..20u64 {
            let e = own_event(&peer, 200 + attempt, now);
            let out = store.ingest_early(vec![e.clone()], "gossip").await.unwrap();
            assert!(matches!(out[..], [Outcome::Stored { .. }]), "{out:?}");
            // Counted at the commit: below this one, the read comes before it.
            if metrics.events_stored.load(Relaxed) < e0 + attempt + 1 {
                before_commit += 1;
            }
            let id = e.id();
            let got = store.read_settled(id, move |s| s.get(&id)).await.unwrap();
            assert_eq!(got.map(|s| s.event.id()), Some(e.id()), "attempt {attempt}");
            assert!(
                store.get(&e.id()).unwrap().is_some(),
                "found, yet not committed"
            );
        }
        assert!(before_commit > 0, "no read came before its event's commit");
        drop(store);
        writer.join();
    }

    /// A local publish that comes while a commit of gossip lingers ends the linger, and the
    /// commit it shares is fsynced: its `201` promises durability.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_local_publish_during_a_linger_is_fsynced_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let (store, writer, node, peer, metrics) = store(dir.path()).await;
        let now = crate::now_ms();
        let mut shared = false;
        for attempt in 0..50u64 {
            let (e0, c0, d0) = (
                metrics.events_stored.load(Relaxed),
                metrics.commits.load(Relaxed),
                metrics.commits_durable.load(Relaxed),
            );
            let out = store
                .ingest_early(vec![own_event(&peer, 100 + attempt, now)], "gossip")
                .await
                .unwrap();
            assert!(matches!(out[..], [Outcome::Stored { .. }]), "{out:?}");
            let seq = store.next_own_seq();
            let out = store
                .ingest(vec![own_event(&node, seq, now)], "api")
                .await
                .unwrap();
            assert!(matches!(out[..], [Outcome::Stored { .. }]), "{out:?}");
            // Answered after its commit, which was fsynced, whether or not it was shared.
            assert!(metrics.commits_durable.load(Relaxed) > d0);
            assert_eq!(metrics.events_stored.load(Relaxed), e0 + 2);
            if metrics.commits.load(Relaxed) - c0 == 1 {
                shared = true;
                break;
            }
        }
        assert!(shared, "no local publish ever joined a lingering commit");
        drop(store);
        writer.join();
    }
}
