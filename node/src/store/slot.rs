//! The open redb handle, behind a slot the writer can swap: after an I/O error redb marks a
//! handle failed for good ("re-open the database"), so the writer closes it and opens the file
//! again. Readers take the handle from the slot for each snapshot and keep it while they read.

use super::StoreError;
use redb::{Database, ReadTransaction, ReadableDatabase};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// redb's page cache (read cache and write buffer together). The hot set of a node is the
/// recent events its streams and catch-up read; older pages come from the OS page cache. At
/// 64 MiB this one cache was half of a loaded node's memory (issue 19).
pub(crate) const CACHE_BYTES: usize = 16 << 20;
/// How long a reopen waits for readers still holding the old handle before giving up (the
/// writer tries again after its backoff).
const READERS_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub(crate) struct DbSlot {
    path: PathBuf,
    db: RwLock<Option<Arc<Database>>>,
}

/// A read transaction that keeps its handle open until it ends, so a reopen waits for it
/// instead of pulling the file from under it.
pub(crate) struct Snapshot {
    txn: ReadTransaction,
    _db: Arc<Database>,
}

impl std::ops::Deref for Snapshot {
    type Target = ReadTransaction;
    fn deref(&self) -> &ReadTransaction {
        &self.txn
    }
}

impl DbSlot {
    /// Opens (or creates) the file. A second open of the same file fails with
    /// [`StoreError::AlreadyOpen`]: the store doubles as the home's lock.
    pub fn open(path: &Path) -> Result<DbSlot, StoreError> {
        let db = open_file(path)?;
        Ok(DbSlot {
            path: path.to_path_buf(),
            db: RwLock::new(Some(Arc::new(db))),
        })
    }

    /// The store file's directory (the home).
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// The current handle, or `Reopening` while a reopen has not succeeded yet.
    pub fn get(&self) -> Result<Arc<Database>, StoreError> {
        self.db
            .read()
            .map_err(|_| StoreError::Poisoned)?
            .clone()
            .ok_or_else(|| StoreError::Reopening)
    }

    /// Bytes redb's page cache holds now (at most [`CACHE_BYTES`]; 0 while reopening).
    pub fn cache_used(&self) -> usize {
        self.get().map_or(0, |db| db.cache_stats().used_bytes())
    }

    pub fn begin_read(&self) -> Result<Snapshot, StoreError> {
        let db = self.get()?;
        Ok(Snapshot {
            txn: db.begin_read()?,
            _db: db,
        })
    }

    /// Closes the current handle and opens the file again. Readers still on the old handle
    /// keep the file locked until they finish; this waits [`READERS_GRACE`] for them.
    pub fn reopen(&self) -> Result<Arc<Database>, StoreError> {
        let old = self.db.write().map_err(|_| StoreError::Poisoned)?.take();
        drop(old);
        let deadline = Instant::now() + READERS_GRACE;
        let db = loop {
            match open_file(&self.path) {
                Err(StoreError::AlreadyOpen) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                other => break Arc::new(other?),
            }
        };
        *self.db.write().map_err(|_| StoreError::Poisoned)? = Some(db.clone());
        Ok(db)
    }
}

fn open_file(path: &Path) -> Result<Database, StoreError> {
    Ok(Database::builder()
        .set_cache_size(CACHE_BYTES)
        .create(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopen_waits_for_readers_and_serves_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let slot = Arc::new(DbSlot::open(&dir.path().join("s.redb")).unwrap());
        let snapshot = slot.begin_read().unwrap();
        let reopening = {
            let slot = slot.clone();
            std::thread::spawn(move || slot.reopen().map(|_| ()))
        };
        // While the reopen waits for our snapshot, new readers are told to come back later.
        let deadline = Instant::now() + Duration::from_secs(5);
        while slot.get().is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(matches!(slot.get(), Err(StoreError::Reopening)));
        drop(snapshot);
        reopening.join().unwrap().unwrap();
        assert!(slot.begin_read().is_ok(), "readable after the reopen");
    }
}
