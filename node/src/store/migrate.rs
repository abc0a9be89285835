//! Moves a store of the first format (`events_v1`, keyed by id, with eight indexes) into the
//! second (see [`super::index`]) when the node opens it, so an upgrade keeps every event,
//! its arrival position and its arrival time, and every consumer cursor stays valid.
//!
//! The move walks the old arrival log in order and commits every [`CHUNK`] events together
//! with how far it got (`migrate_v2_after` in META): a node stopped in the middle (kill -9,
//! power loss) continues from there on its next start and never stores an event twice. The
//! topic fingerprints are rebuilt from the moved events (the first chunk clears them), so
//! they always describe exactly what the new tables hold. Tables keyed by id that did not
//! change format (links, promotion, consumers, pins, rosters, peers) are left as they are.
//! Once every event is moved, the old tables are deleted in the same commit that marks the
//! store as the second format.

use super::StoreError;
use super::index::EventTables;
use super::schema::*;
use fedci_proto::Event;
use redb::{Database, ReadableDatabase, ReadableTable, TableHandle};

/// Events moved per commit: bounds the memory and the size of one transaction.
pub const CHUNK: usize = 10_000;

const CURSOR: &str = "migrate_v2_after";

/// What [`run`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    /// Events moved by this run (a resumed run counts only its own).
    pub events: u64,
    /// Commits made.
    pub chunks: u64,
}

/// Brings the store to the second format; nothing to do for a store already in it.
pub fn run(db: &Database) -> Result<Moved, StoreError> {
    run_chunks(db, CHUNK, u64::MAX)
}

/// [`run`] in chunks of `chunk` events, stopping after `max_chunks` commits (tests stop it
/// midway, as a crash would).
pub(crate) fn run_chunks(
    db: &Database,
    chunk: usize,
    max_chunks: u64,
) -> Result<Moved, StoreError> {
    let mut moved = Moved::default();
    if !has_v1(db)? {
        return Ok(moved);
    }
    let started = std::time::Instant::now();
    tracing::info!("store: moving events to the second format (resumes if interrupted)");
    while moved.chunks < max_chunks {
        let (n, done) = step(db, chunk.max(1))?;
        moved.events += n;
        moved.chunks += 1;
        if done {
            tracing::info!(
                moved = moved.events,
                secs = started.elapsed().as_secs_f64(),
                "store: in the second format"
            );
            break;
        }
        if moved.chunks % 10 == 0 {
            tracing::info!(moved = moved.events, "store: moving events");
        }
    }
    Ok(moved)
}

fn has_v1(db: &Database) -> Result<bool, StoreError> {
    let r = db.begin_read()?;
    for t in r.list_tables()? {
        if t.name() == v1::EVENTS.name() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Moves the next chunk and commits it; true once the last one is moved and the old tables
/// are deleted.
fn step(db: &Database, chunk: usize) -> Result<(u64, bool), StoreError> {
    let w = db.begin_write()?;
    let mut n = 0u64;
    let done;
    {
        let mut meta = w.open_table(META)?;
        let cursor = meta.get(CURSOR)?.map(|g| g.value());
        if cursor.is_none() {
            // First chunk: the fingerprints are recomputed from what is moved.
            w.delete_table(TOPIC_SUMS)?;
            w.delete_table(TOPIC_EPOCHS)?;
        }
        let after = cursor.unwrap_or(0);
        let arrivals = w.open_table(v1::ARRIVALS)?;
        let old = w.open_table(v1::EVENTS)?;
        let arrived_at = w.open_table(v1::ARRIVED_AT)?;
        let mut t = EventTables::open(&w)?;
        let mut last = after;
        let mut range = arrivals.range(after.saturating_add(1)..)?;
        while (n as usize) < chunk {
            let Some(item) = range.next() else { break };
            let (seq, id) = item?;
            let (seq, id) = (seq.value(), *id.value());
            last = seq;
            let Some(raw) = old.get(&id)? else {
                return Err(StoreError::Corrupt(format!(
                    "arrival {seq} names event {} that is not stored",
                    hex::encode(id)
                )));
            };
            let event = Event::from_trusted_bytes(raw.value())
                .map_err(|e| StoreError::Corrupt(format!("event {}: {e}", hex::encode(id))))?;
            let at = arrived_at.get(seq)?.map_or(0, |g| g.value());
            if t.seq_of(&id)?.is_none() {
                t.put(seq, at, &event)?;
            }
            n += 1;
        }
        done = range.next().is_none();
        drop(range);
        t.finish()?;
        drop(t);
        drop((arrivals, old, arrived_at));
        if done {
            meta.remove(CURSOR)?;
            meta.insert("schema", SCHEMA_VERSION)?;
        } else {
            meta.insert(CURSOR, last)?;
        }
    }
    if done {
        let names: Vec<_> = w
            .list_tables()?
            .filter(|t| v1::DROPPED.contains(&t.name()))
            .collect();
        for t in names {
            w.delete_table(t)?;
        }
    }
    w.commit()?;
    Ok((n, done))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "migrate_tests.rs"]
mod tests;
