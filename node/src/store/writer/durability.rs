//! When the writer fsyncs. Events that came by gossip are committed without an fsync
//! (redb `Durability::None`) unless something in the batch needs one; the writer fsyncs once
//! idle for [`FLUSH_AFTER`], with the next batch past it, and at shutdown. The argument for
//! why no promise is lost is in the DESIGN NOTE of [`super::announce`].

use super::{Request, Writer};
use crate::store::StoreError;
use redb::Durability;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

/// Longest time events from peers stay committed without an fsync: the writer fsyncs when
/// it has been idle this long, or with the next batch past it.
pub const FLUSH_AFTER: std::time::Duration = std::time::Duration::from_millis(1000);

/// Ingest sources whose events came from peers one by one: nobody waits on their
/// durability, a peer still holds them for catch-up if a crash loses them here, and batches
/// of them are small, so an fsync each would cost most. Catch-up ("sync") batches are large:
/// they keep their fsync, which also lets redb reuse the pages they free at once (pages
/// freed by commits without an fsync wait for the next one that has it).
const REMOTE_SOURCES: [&str; 1] = ["gossip"];

impl Request {
    /// Whether its answer promises durability: a local publish's `201`, an ack, an admin
    /// change. Only events from peers may be committed without an fsync.
    pub(super) fn needs_fsync(&self) -> bool {
        !matches!(self, Request::Ingest { source, .. } if REMOTE_SOURCES.contains(source))
    }
}

impl Writer {
    /// Notes whether commits without an fsync wait for one (also in `/metrics`).
    pub(super) fn set_unsynced(&mut self, unsynced: bool) {
        self.unsynced = unsynced;
        self.metrics
            .store_unsynced
            .store(u64::from(unsynced), Relaxed);
    }

    /// Whether the batch just applied is committed with an fsync. A raised reservation
    /// (`early` false) must be on disk before anything below it is announced.
    pub(super) fn wants_fsync(&self, batch: &[Request], early: bool) -> bool {
        !early || batch.iter().any(Request::needs_fsync) || self.last_fsync.elapsed() >= FLUSH_AFTER
    }

    /// Notes a commit made with or without an fsync.
    pub(super) fn synced(&mut self, fsync: bool) {
        if fsync {
            self.last_fsync = Instant::now();
            self.set_unsynced(false);
            self.metrics.commits_durable.fetch_add(1, Relaxed);
        } else {
            self.set_unsynced(true);
        }
    }

    /// Makes every commit so far durable: an empty fsynced commit (redb writes what the
    /// commits without an fsync left in memory). A failure is handled as a failed commit.
    pub(super) fn fsync(&mut self) {
        let result = (|| -> Result<(), StoreError> {
            let mut txn = self.db.get()?.begin_write()?;
            txn.set_durability(Durability::Immediate)?;
            txn.commit()?;
            Ok(())
        })();
        match result {
            Ok(()) => {
                self.metrics.commits.fetch_add(1, Relaxed);
                self.synced(true);
            }
            Err(e) => {
                tracing::error!(error = %e, "store fsync failed");
                // What was committed without an fsync is lost with the handle: the writer
                // reloads from what is on disk, never reusing an announced position.
                self.feed.clear(self.state.next_seq.saturating_sub(1));
                self.set_unsynced(false);
                self.failed(Arc::new(e));
            }
        }
    }
}
