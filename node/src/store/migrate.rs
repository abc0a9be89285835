//! Moves a store of an older format into the current one when the node opens it, so an
//! upgrade keeps every event, its arrival position and its arrival time, and every consumer
//! cursor stays valid.
//!
//! - The first format (`events_v1`, keyed by id, with eight indexes): its arrival log is
//!   replayed through [`EventTables::put`], which writes every index; the topic fingerprints
//!   are rebuilt from the moved events (the first chunk clears them), so they describe
//!   exactly what the new tables hold.
//! - The second (`events_v2`: one row per entry, keyed by arrival): its rows move into the
//!   byte log as they are (the second format's row header starts with the third's), with the
//!   index by id; the indexes keyed by arrival (pairs, topics, fingerprints) stay as they are.
//!
//! Both walk the old events in arrival order and commit every [`CHUNK`] events together with
//! how far they got (`migrate_v1_after` / `migrate_v3_after` in META): a node stopped in the
//! middle (kill -9, power loss) continues from there on its next start and never stores an
//! event twice. Both rebuild the promotion index's artifacts by time (now keyed by arrival)
//! as they go; the rest of it, keyed by id, and links, consumers, pins, rosters and peers are
//! left as they are. Once every event is moved, the old tables are deleted in the same commit
//! that marks the store as the current format.

use super::StoreError;
use super::index::EventTables;
use super::row::HEADER;
use super::schema::*;
use fedci_proto::Event;
use fedci_proto::vocab::{KINDS, Kind};
use redb::{Database, ReadableDatabase, ReadableTable, TableHandle};

/// Events moved per commit: bounds the memory and the size of one transaction.
pub const CHUNK: usize = 10_000;

/// What [`run`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    /// Events moved by this run (a resumed run counts only its own).
    pub events: u64,
    /// Commits made.
    pub chunks: u64,
}

/// An older format a store may hold events in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Older {
    V1,
    V2,
}

impl Older {
    fn cursor(self) -> &'static str {
        match self {
            Older::V1 => "migrate_v1_after",
            Older::V2 => "migrate_v3_after",
        }
    }

    /// Tables deleted once every event is moved.
    fn dropped(self) -> &'static [&'static str] {
        match self {
            Older::V1 => &v1::DROPPED,
            Older::V2 => &v2::DROPPED,
        }
    }
}

/// Brings the store to the current format; nothing to do for a store already in it.
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
    // The first format before the second: a store the previous version left halfway from
    // the first to the second still has all its events in the first.
    while let Some(from) = older(db)? {
        let started = std::time::Instant::now();
        tracing::info!(
            ?from,
            "store: moving events to the third format (resumes if interrupted)"
        );
        loop {
            if moved.chunks >= max_chunks {
                return Ok(moved);
            }
            let (n, done) = step(db, from, chunk.max(1))?;
            moved.events += n;
            moved.chunks += 1;
            if done {
                tracing::info!(
                    moved = moved.events,
                    secs = started.elapsed().as_secs_f64(),
                    "store: in the third format"
                );
                break;
            }
            if moved.chunks % 10 == 0 {
                tracing::info!(moved = moved.events, "store: moving events");
            }
        }
    }
    Ok(moved)
}

/// The oldest format the store still holds events in.
fn older(db: &Database) -> Result<Option<Older>, StoreError> {
    let r = db.begin_read()?;
    let names: Vec<String> = r.list_tables()?.map(|t| t.name().to_string()).collect();
    let has = |name: &str| names.iter().any(|n| n == name);
    Ok(if has(v1::EVENTS.name()) {
        Some(Older::V1)
    } else if has(v2::EVENTS.name()) {
        Some(Older::V2)
    } else {
        None
    })
}

/// Moves the next chunk and commits it; true once the last one is moved and the old tables
/// are deleted.
fn step(db: &Database, from: Older, chunk: usize) -> Result<(u64, bool), StoreError> {
    let w = db.begin_write()?;
    let (n, done);
    {
        let mut meta = w.open_table(META)?;
        let cursor = meta.get(from.cursor())?.map(|g| g.value());
        if cursor.is_none() && from == Older::V1 {
            // First chunk: the fingerprints are recomputed from what is moved.
            w.delete_table(TOPIC_SUMS)?;
            w.delete_table(TOPIC_EPOCHS)?;
        }
        let after = cursor.unwrap_or(0);
        let mut t = EventTables::open(&w)?;
        let mut by_time = w.open_table(ARTIFACTS_BY_TIME)?;
        let c = Chunk {
            t: &mut t,
            by_time: &mut by_time,
            after,
            len: chunk,
        };
        let last;
        (n, last, done) = match from {
            Older::V1 => move_v1(&w, c)?,
            Older::V2 => move_v2(&w, c)?,
        };
        t.finish()?;
        drop((t, by_time));
        if done {
            meta.remove(from.cursor())?;
            // A cursor the previous version left when stopped moving the first format.
            meta.remove("migrate_v2_after")?;
            meta.insert("schema", SCHEMA_VERSION)?;
        } else {
            meta.insert(from.cursor(), last)?;
        }
    }
    if done {
        let names: Vec<_> = w
            .list_tables()?
            .filter(|t| from.dropped().contains(&t.name()))
            .collect();
        for t in names {
            w.delete_table(t)?;
        }
    }
    w.commit()?;
    Ok((n, done))
}

/// (events moved, last arrival moved, whether none are left).
type Progress = (u64, u64, bool);

/// Where one chunk's events go, and which.
struct Chunk<'a, 't> {
    t: &'a mut EventTables<'t>,
    /// The promotion index's artifacts by time, rebuilt keyed by arrival.
    by_time: &'a mut redb::Table<'t, (u64, u64), ()>,
    /// Events at or below this arrival are moved already.
    after: u64,
    /// Most events to move.
    len: usize,
}

/// Feeds up to `len` of `items` to `each`, which moves one and says its arrival.
fn walk<T>(
    mut items: impl Iterator<Item = Result<T, redb::StorageError>>,
    after: u64,
    len: usize,
    mut each: impl FnMut(T) -> Result<u64, StoreError>,
) -> Result<Progress, StoreError> {
    let (mut n, mut last) = (0u64, after);
    while (n as usize) < len {
        let Some(item) = items.next() else {
            return Ok((n, last, true));
        };
        last = each(item?)?;
        n += 1;
    }
    Ok((n, last, items.next().is_none()))
}

/// Moves events of the first format.
fn move_v1(w: &redb::WriteTransaction, c: Chunk<'_, '_>) -> Result<Progress, StoreError> {
    let arrivals = w.open_table(v1::ARRIVALS)?;
    let old = w.open_table(v1::EVENTS)?;
    let arrived_at = w.open_table(v1::ARRIVED_AT)?;
    let items = arrivals.range(c.after.saturating_add(1)..)?;
    walk(items, c.after, c.len, |(seq, id)| {
        let (seq, id) = (seq.value(), *id.value());
        let Some(raw) = old.get(&id)? else {
            return Err(StoreError::Corrupt(format!(
                "arrival {seq} names event {} that is not stored",
                hex::encode(id)
            )));
        };
        let event = Event::from_trusted_bytes(raw.value())
            .map_err(|e| StoreError::Corrupt(format!("event {}: {e}", hex::encode(id))))?;
        let at = arrived_at.get(seq)?.map_or(0, |g| g.value());
        if c.t.seq_of(&id)?.is_none() {
            c.t.put(seq, at, &event)?;
            if event.kind() == Kind::ArtifactCreated.as_str() {
                c.by_time.insert((event.body().time, seq), ())?;
            }
        }
        Ok(seq)
    })
}

/// Moves rows of the second format.
fn move_v2(w: &redb::WriteTransaction, c: Chunk<'_, '_>) -> Result<Progress, StoreError> {
    let old = w.open_table(v2::EVENTS)?;
    let artifact = KINDS
        .iter()
        .position(|k| *k == Kind::ArtifactCreated)
        .and_then(|i| u8::try_from(i).ok());
    let items = old.range(c.after.saturating_add(1)..)?;
    walk(items, c.after, c.len, |(seq, bytes)| {
        let (seq, bytes) = (seq.value(), bytes.value());
        // Second format: arrived_at (8), time (8), kind tag (1), id (32), COSE bytes; the
        // first 17 bytes are the third format's header.
        let corrupt =
            || StoreError::Corrupt(format!("second-format row {seq} of {} bytes", bytes.len()));
        let header: &[u8; HEADER] = bytes
            .get(..HEADER)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(corrupt)?;
        let id: &Id = bytes
            .get(HEADER..v2::HEADER)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(corrupt)?;
        let raw = bytes.get(v2::HEADER..).ok_or_else(corrupt)?;
        if c.t.seq_of(id)?.is_none() {
            c.t.put_row(seq, header, id, raw)?;
            if Some(header[16]) == artifact {
                let time = u64::from_le_bytes(header[8..16].try_into().map_err(|_| corrupt())?);
                c.by_time.insert((time, seq), ())?;
            }
        }
        Ok(seq)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "migrate_tests.rs"]
mod tests;
