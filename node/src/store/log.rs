//! The byte log: every event's row back to back in arrival order, cut into chunks of
//! [`CHUNK`] bytes ([`LOG`]), and where each row starts ([`EVENTS`]: seq → offset, length).
//!
//! Why (issue 16): a table of one row per entry keeps whole rows in 4 KiB leaves, so what is
//! left of each page is lost: six 600-byte rows leave 470 bytes of a page empty, and a
//! 2,100-byte row takes a page alone. Here a chunk plus its key fills a leaf exactly, rows run
//! on from one chunk into the next, and the log costs its bytes whatever the rows' sizes.
//! Every chunk but the last is full and never written again; appending rewrites only the
//! last (redb copies a leaf on write anyway).

use super::StoreError;
use super::schema::{EVENTS, LOG};
use redb::ReadableTable;

/// Bytes in a full chunk: with its 8-byte key, 4-byte length and the leaf's 4-byte header, a
/// chunk fills one 4 KiB redb page.
pub const CHUNK: u64 = 4096 - 16;

/// Where a row is in the log: (offset, length).
pub type Span = (u64, u32);

/// The row bytes at `span`, read across as many chunks as it covers.
pub fn read(
    log: &impl ReadableTable<u64, &'static [u8]>,
    span: Span,
) -> Result<Vec<u8>, StoreError> {
    let (offset, len) = span;
    let corrupt = || StoreError::Corrupt(format!("log span ({offset}, {len}) is not all stored"));
    let end = offset.checked_add(u64::from(len)).ok_or_else(corrupt)?;
    let mut out = Vec::with_capacity(len as usize);
    let mut at = offset;
    while at < end {
        let chunk = log.get(at / CHUNK)?.ok_or_else(corrupt)?;
        let bytes = chunk.value();
        let start = (at % CHUNK) as usize;
        let want = usize::try_from(end - at).map_err(|_| corrupt())?;
        let piece = bytes
            .get(start..)
            .map(|rest| &rest[..rest.len().min(want)])
            .filter(|p| !p.is_empty())
            .ok_or_else(corrupt)?;
        out.extend_from_slice(piece);
        at += piece.len() as u64;
    }
    Ok(out)
}

/// The row of the event at arrival `seq`, if held.
pub fn row_bytes(
    events: &impl ReadableTable<u64, (u64, u32)>,
    log: &impl ReadableTable<u64, &'static [u8]>,
    seq: u64,
) -> Result<Option<Vec<u8>>, StoreError> {
    match events.get(seq)? {
        Some(span) => read(log, span.value()).map(Some),
        None => Ok(None),
    }
}

/// Appends rows within one write transaction. It keeps a copy of the last chunk, so an append
/// costs one copy of it rather than a read and a copy.
pub struct Appender<'t> {
    pub events: redb::Table<'t, u64, (u64, u32)>,
    log: redb::Table<'t, u64, &'static [u8]>,
    /// The last chunk's number and bytes, as in the table (loaded on first use).
    tail: Option<(u64, Vec<u8>)>,
}

impl<'t> Appender<'t> {
    pub fn open(txn: &'t redb::WriteTransaction) -> Result<Self, StoreError> {
        Ok(Appender {
            events: txn.open_table(EVENTS)?,
            log: txn.open_table(LOG)?,
            tail: None,
        })
    }

    /// The log, for reads within the transaction.
    pub fn log(&self) -> &redb::Table<'t, u64, &'static [u8]> {
        &self.log
    }

    /// The row of the event at `seq`, if held.
    pub fn row_bytes(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        row_bytes(&self.events, &self.log, seq)
    }

    /// Appends a row made of `parts` and records it as the event at `seq`.
    pub fn append(&mut self, seq: u64, parts: &[&[u8]]) -> Result<(), StoreError> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let len =
            u32::try_from(len).map_err(|_| StoreError::Corrupt(format!("a row of {len} bytes")))?;
        let (mut no, mut tail) = match self.tail.take() {
            Some(t) => t,
            None => match self.log.last()? {
                Some((k, v)) => (k.value(), v.value().to_vec()),
                None => (0, Vec::new()),
            },
        };
        let offset = no * CHUNK + tail.len() as u64;
        for part in parts {
            let mut rest = *part;
            while !rest.is_empty() {
                if tail.len() as u64 == CHUNK {
                    no += 1;
                    tail.clear();
                }
                let room = (CHUNK as usize - tail.len()).min(rest.len());
                let (now, later) = rest.split_at(room);
                tail.extend_from_slice(now);
                rest = later;
                // Written piece by piece, so the table and `tail` agree even if a later piece
                // fails (the bytes before it are then unreferenced, never misread).
                if rest.is_empty() || tail.len() as u64 == CHUNK {
                    self.log.insert(no, tail.as_slice())?;
                }
            }
        }
        self.tail = Some((no, tail));
        self.events.insert(seq, (offset, len))?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use redb::{Database, ReadableDatabase, ReadableTableMetadata};

    fn rows() -> Vec<Vec<u8>> {
        // Sizes from a few bytes to several chunks, so rows start and end anywhere.
        let mut x = 7u32;
        (0..600u32)
            .map(|i| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let n = match i % 50 {
                    0 => 9_000 + (x % 3_000) as usize,
                    _ => 1 + (x % 2_400) as usize,
                };
                (0..n).map(|j| (i as usize + j) as u8).collect()
            })
            .collect()
    }

    #[test]
    fn rows_read_back_across_chunks_and_transactions() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("s.redb")).unwrap();
        let rows = rows();
        // Several transactions, so the tail is picked up again from the table.
        for (t, batch) in rows.chunks(70).enumerate() {
            let w = db.begin_write().unwrap();
            {
                let mut a = Appender::open(&w).unwrap();
                for (i, row) in batch.iter().enumerate() {
                    let seq = (t * 70 + i) as u64 * 3 + 1;
                    let (head, body) = row.split_at(row.len() / 3);
                    a.append(seq, &[head, body]).unwrap();
                    assert_eq!(a.row_bytes(seq).unwrap().as_ref(), Some(row));
                }
            }
            w.commit().unwrap();
        }
        let r = db.begin_read().unwrap();
        let (events, log) = (r.open_table(EVENTS).unwrap(), r.open_table(LOG).unwrap());
        for (i, row) in rows.iter().enumerate() {
            let seq = i as u64 * 3 + 1;
            assert_eq!(row_bytes(&events, &log, seq).unwrap().as_ref(), Some(row));
        }
        assert_eq!(row_bytes(&events, &log, 2).unwrap(), None);
        let total: usize = rows.iter().map(Vec::len).sum();
        let chunks = log.len().unwrap();
        assert_eq!(
            chunks,
            (total as u64).div_ceil(CHUNK),
            "every chunk but the last is full"
        );
    }

    #[test]
    fn the_log_costs_its_bytes_in_pages_whatever_the_row_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("s.redb")).unwrap();
        let rows = rows();
        let w = db.begin_write().unwrap();
        {
            let mut a = Appender::open(&w).unwrap();
            for (i, row) in rows.iter().enumerate() {
                a.append(i as u64, &[row]).unwrap();
            }
        }
        w.commit().unwrap();
        let total: u64 = rows.iter().map(|r| r.len() as u64).sum();
        let w = db.begin_write().unwrap();
        let stats = w.open_table(LOG).unwrap().stats().unwrap();
        let pages = (stats.leaf_pages() + stats.branch_pages()) * 4096;
        assert!(
            pages as f64 <= total as f64 * 1.02 + 8192.0,
            "{pages} bytes of pages for {total} bytes of rows"
        );
    }

    #[test]
    fn a_span_past_the_log_is_corruption_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::create(dir.path().join("s.redb")).unwrap();
        let w = db.begin_write().unwrap();
        {
            let mut a = Appender::open(&w).unwrap();
            a.append(1, &[b"short row"]).unwrap();
            for span in [(0, 100), (5000, 1), (u64::MAX, 2)] {
                assert!(matches!(read(a.log(), span), Err(StoreError::Corrupt(_))));
            }
        }
        w.abort().unwrap();
    }
}
