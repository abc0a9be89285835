//! Recovery after a failed commit. redb latches an I/O error: every later transaction on that
//! handle fails even once the disk has room again. So the writer reopens the file, reloads its
//! in-memory state (last arrival, reservations, trust) from what is committed, and proves it can
//! write with a probe commit; until that works it tries again with backoff, and the store
//! reports itself failing.

use super::{Failing, State, Writer};
use crate::store::StoreError;
use crate::store::schema::PROBE;
use redb::{Database, Durability};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

/// What the probe writes: a batch of typical size must fit before writes are let through.
const PROBE_BYTES: usize = 1 << 20;
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(5);

fn backoff(retries: u32) -> Duration {
    FIRST_RETRY
        .saturating_mul(1u32 << retries.min(16))
        .min(MAX_RETRY)
}

impl Writer {
    /// A commit failed: writes are refused until a recovery works; the first one starts now.
    pub(super) fn failed(&mut self, error: Arc<StoreError>) {
        self.metrics.store_write_failures.fetch_add(1, Relaxed);
        let retries = self.failing.map_or(0, |f| f.retries);
        self.health.set_failing(error, u64::from(retries));
        self.failing = Some(Failing {
            retries,
            next_try: Instant::now(),
        });
    }

    pub(super) fn try_recover(&mut self) {
        let Some(f) = self.failing else { return };
        match self.recover() {
            Ok(()) => {
                tracing::info!(retries = f.retries, "store writable again");
                self.failing = None;
                self.health.set_ok();
            }
            Err(e) => {
                let retries = f.retries.saturating_add(1);
                let wait = backoff(retries);
                self.metrics.store_write_failures.fetch_add(1, Relaxed);
                tracing::warn!(error = %e, retries, next_in = ?wait, "store still cannot write");
                self.health.set_failing(Arc::new(e), u64::from(retries));
                self.failing = Some(Failing {
                    retries,
                    next_try: Instant::now() + wait,
                });
            }
        }
    }

    fn recover(&mut self) -> Result<(), StoreError> {
        // Reopening after a failure makes redb repair the file (a walk of the whole store):
        // first check, cheaply, that the disk takes writes at all.
        disk_takes_writes(self.db.dir()).map_err(StoreError::ProbeWrite)?;
        let db = self.db.reopen()?;
        self.metrics.store_reopens.fetch_add(1, Relaxed);
        let state = State::load(&db, self.state.own_author)?;
        probe(&db)?;
        // What is committed is the truth: a commit reported failed may still have landed.
        let before = std::mem::replace(&mut self.state, state);
        // Positions handed out before the failure stay used (see `announce.rs`).
        self.state.next_seq = self.state.next_seq.max(before.next_seq);
        self.state.own_seq = self.state.own_seq.max(before.own_seq);
        if self.state.last_seq != before.last_seq {
            self.committed.send_replace(self.state.last_seq);
            self.feed.committed(self.state.last_seq);
        }
        if before.trust_changed(&self.state) {
            self.trust.send_replace(Arc::new(self.state.trust.clone()));
        }
        self.own_seq.fetch_max(self.state.own_seq, Relaxed);
        self.reserved_own
            .store(self.state.reserved_own_seq, Relaxed);
        Ok(())
    }
}

/// Writes [`PROBE_BYTES`] to a scratch file beside the store, syncs it, and removes it.
fn disk_takes_writes(dir: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let path = dir.join(".store-probe");
    let result = std::fs::File::create(&path).and_then(|mut f| {
        f.write_all(&vec![0u8; PROBE_BYTES])?;
        f.sync_all()
    });
    let _ = std::fs::remove_file(&path);
    result
}

/// Writes [`PROBE_BYTES`] durably into the store and removes them again.
fn probe(db: &Database) -> Result<(), StoreError> {
    let fill = vec![0u8; PROBE_BYTES];
    for write in [true, false] {
        let mut w = db.begin_write()?;
        w.set_durability(Durability::Immediate)?;
        {
            let mut t = w.open_table(PROBE)?;
            if write {
                t.insert(0, fill.as_slice())?;
            } else {
                t.remove(0)?;
            }
        }
        w.commit()?;
    }
    Ok(())
}
