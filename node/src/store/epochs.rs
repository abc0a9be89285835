//! Per-epoch set fingerprints of each topic, so catch-up can find which stretch of a topic
//! two nodes disagree on without either side building the topic's whole (time, id) set: a
//! set that grows with the store (40 bytes an event) was what kept a loaded node's memory
//! growing (issue 19).
//!
//! An epoch is 2^16 ms (about 65 s) of author time. The writer adds each stored event's id
//! to its epoch's (count, 256-bit wrapping sum), the construction of [`super::digest`]; sums
//! are additive, so any run of epochs has a fingerprint without listing its events, and
//! buckets of any width are summed at read time.

use super::index::Rows;
use super::schema::{BY_TOPIC, TOPIC_CODES, TOPIC_EPOCHS};
use super::{Store, StoreError};
use redb::ReadableTable;

/// log2 of an epoch's length in ms.
pub const EPOCH_SHIFT: u32 = 16;

/// The epoch holding author time `time` (ms).
pub fn epoch_of(time: u64) -> u64 {
    time >> EPOCH_SHIFT
}

/// The author times (ms) `[lo, hi)` that epochs `[from, to)` cover.
pub fn epoch_times(from: u64, to: u64) -> (u64, u64) {
    let ms = |e: u64| e.checked_shl(EPOCH_SHIFT).filter(|t| t >> EPOCH_SHIFT == e);
    (ms(from).unwrap_or(u64::MAX), ms(to).unwrap_or(u64::MAX))
}

/// One bucket of epochs `[start, start + width)` of a topic, as [`Store::epoch_buckets`]
/// reports it: only buckets holding events are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub start: u64,
    pub count: u64,
    pub fingerprint: [u8; 16],
}

/// Adds `n` events whose ids sum to `add` to `epoch` of `topic` (inside the writer's
/// transaction).
pub(crate) fn add_sum(
    table: &mut redb::Table<'_, (&'static str, u64), (u64, [u8; 32])>,
    topic: &str,
    epoch: u64,
    n: u64,
    add: &[u8; 32],
) -> Result<(), StoreError> {
    let key = (topic, epoch);
    let (count, mut sum) = table.get(key)?.map(|g| g.value()).unwrap_or((0, [0; 32]));
    super::digest::add(&mut sum, add);
    table.insert(key, (count + n, sum))?;
    Ok(())
}

impl Store {
    /// `topic`'s events in epochs `[from, to)` of each range, summed in buckets of `width`
    /// epochs aligned to multiples of `width`, in order; empty buckets are left out. `None`
    /// past `max` buckets.
    pub fn epoch_buckets(
        &self,
        topic: &str,
        ranges: &[(u64, u64)],
        width: u64,
        max: usize,
    ) -> Result<Option<Vec<Bucket>>, StoreError> {
        let width = width.max(1);
        let r = self.begin_read()?;
        let t = r.open_table(TOPIC_EPOCHS)?;
        let mut out: Vec<(u64, u64, [u8; 32])> = Vec::new();
        for &(from, to) in ranges {
            if from >= to {
                continue;
            }
            for row in t.range((topic, from)..(topic, to))? {
                let (k, v) = row?;
                let (_, epoch) = k.value();
                let (count, sum) = v.value();
                let start = epoch - epoch % width;
                match out.last_mut() {
                    Some(last) if last.0 == start => {
                        last.1 += count;
                        super::digest::add(&mut last.2, &sum);
                    }
                    _ => {
                        if out.len() == max {
                            return Ok(None);
                        }
                        out.push((start, count, sum));
                    }
                }
            }
        }
        Ok(Some(
            out.into_iter()
                .map(|(start, count, sum)| Bucket {
                    start,
                    count,
                    fingerprint: super::digest::fingerprint(count, &sum),
                })
                .collect(),
        ))
    }

    /// Calls `f` with each (time, id) of `topic` whose author time is in `[lo, hi)`, in
    /// order, and says how many; `None` past `max` items (`f` is never called more than `max`
    /// times) or past `max_bytes` of events read (callers pass [`MAX_SPAN_BYTES`]).
    pub fn each_topic_item_between(
        &self,
        topic: &str,
        (lo, hi): (u64, u64),
        (max, max_bytes): (usize, u64),
        mut f: impl FnMut(u64, [u8; 32]),
    ) -> Result<Option<usize>, StoreError> {
        if lo >= hi {
            return Ok(Some(0));
        }
        let r = self.begin_read()?;
        let Some(code) = r.open_table(TOPIC_CODES)?.get(topic)?.map(|g| g.value()) else {
            return Ok(Some(0));
        };
        let (t, rows) = (r.open_table(BY_TOPIC)?, Rows::open(&r)?);
        // Counting the keys first costs a fraction of reading and hashing each row, and a span
        // of too many events is refused before any of its rows is read (the read transaction
        // sees the same keys below, so `f` is called at most `max` times).
        let range = (code, lo, 0)..(code, hi, 0);
        if t.range(range.clone())?.take(max.saturating_add(1)).count() > max {
            return Ok(None);
        }
        let (mut n, mut bytes) = (0, 0u64);
        // Rows of one author time come in arrival order; the caller's set sorts by id.
        for item in t.range(range)? {
            let (k, _) = item?;
            let (_, time, seq) = k.value();
            let row = rows.indexed(seq)?;
            bytes += row.raw().len() as u64;
            if bytes > max_bytes {
                return Ok(None);
            }
            f(time, row.id()?);
            n += 1;
        }
        Ok(Some(n))
    }
}

/// Most bytes of events one item set reads: an event's id is the hash of its payload, read
/// from the log, so a set costs its events' bytes, and a span of large events is halved like a
/// span of many (65,536 events of 2 KiB fit).
pub const MAX_SPAN_BYTES: u64 = 128 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_cover_their_times_and_saturate() {
        assert_eq!(epoch_of(65_535), 0);
        assert_eq!(epoch_of(65_536), 1);
        assert_eq!(epoch_times(1, 3), (65_536, 196_608));
        assert_eq!(epoch_times(0, u64::MAX), (0, u64::MAX));
        let last = epoch_of(u64::MAX);
        assert_eq!(epoch_times(last, last + 1).1, u64::MAX);
    }
}
