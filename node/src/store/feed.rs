//! The live feed: events the writer has announced (stored by a batch whose positions are
//! durably reserved), held in memory so live streams serve them before their commit lands.
//!
//! Bounded in events and in bytes ([`FEED_EVENTS`], [`FEED_BYTES`]): the oldest go first. The
//! feed knows its `floor`: every event announced with an arrival seq above it is held. A
//! stream whose cursor is below the floor reads the store instead (the events it lacks are
//! committed, or were lost with a failed commit and come back through catch-up). See the
//! DESIGN NOTE in `writer/announce.rs`.

use super::StoredEvent;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::watch;

/// Most events the feed holds.
pub const FEED_EVENTS: usize = 4096;
/// Most bytes (of COSE events) the feed holds.
pub const FEED_BYTES: usize = 8 << 20;

#[derive(Debug)]
pub(crate) struct Feed {
    inner: Mutex<Inner>,
    /// The highest position announced (or committed): what live streams wait on.
    announced: watch::Sender<u64>,
}

#[derive(Debug, Default)]
struct Inner {
    events: VecDeque<Arc<StoredEvent>>,
    bytes: usize,
    /// Every event announced above this seq is in `events`.
    floor: u64,
}

/// What a stream gets from the feed after its cursor.
#[derive(Debug)]
pub struct FeedPage {
    /// Events after the cursor, in arrival order (the caller filters them).
    pub events: Vec<Arc<StoredEvent>>,
}

impl Feed {
    /// An empty feed whose history (up to `last`, committed) is in the store.
    pub fn new(last: u64) -> Feed {
        Feed {
            inner: Mutex::new(Inner {
                floor: last,
                ..Inner::default()
            }),
            announced: watch::channel(last).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every change below keeps the feed consistent before it can panic.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds newly stored events (in arrival order) and wakes live streams.
    pub fn push(&self, events: impl IntoIterator<Item = StoredEvent>) {
        let mut top = None;
        {
            let mut f = self.lock();
            for ev in events {
                top = Some(ev.seq);
                f.bytes = f.bytes.saturating_add(ev.event.raw().len());
                f.events.push_back(Arc::new(ev));
                while f.events.len() > FEED_EVENTS || (f.bytes > FEED_BYTES && f.events.len() > 1) {
                    if let Some(old) = f.events.pop_front() {
                        f.bytes = f.bytes.saturating_sub(old.event.raw().len());
                        f.floor = f.floor.max(old.seq);
                    }
                }
            }
        }
        if let Some(top) = top {
            self.announced.send_if_modified(|a| {
                let raised = top > *a;
                *a = (*a).max(top);
                raised
            });
        }
    }

    /// Forgets everything (a commit failed: what was held may come back at new positions);
    /// streams below `floor` go back to the store.
    pub fn clear(&self, floor: u64) {
        let mut f = self.lock();
        f.events.clear();
        f.bytes = 0;
        f.floor = f.floor.max(floor);
    }

    /// Wakes live streams after a commit (the store may now hold what the feed no longer
    /// reaches).
    pub fn committed(&self, last: u64) {
        self.announced.send_modify(|a| *a = (*a).max(last));
    }

    /// Up to `max` events announced after `after`; `None` when the feed no longer reaches
    /// back to `after`.
    pub fn after(&self, after: u64, max: usize) -> Option<FeedPage> {
        let f = self.lock();
        if after < f.floor {
            return None;
        }
        let start = f.events.partition_point(|e| e.seq <= after);
        Some(FeedPage {
            events: f.events.iter().skip(start).take(max).cloned().collect(),
        })
    }

    /// The announced event with this id among those at positions above `after`, newest
    /// first. The caller passes what was committed before its store read missed, so the scan
    /// covers only events not committed yet (a linger's worth), not the whole feed: a client
    /// asking for ids the node never held costs the feed's lock, which the writer takes to
    /// announce, no more than that.
    pub fn find_after(&self, id: &fedci_proto::EventId, after: u64) -> Option<Arc<StoredEvent>> {
        let f = self.lock();
        f.events
            .iter()
            .rev()
            .take_while(|e| e.seq > after)
            .find(|e| e.event.id() == *id)
            .cloned()
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.announced.subscribe()
    }

    /// (events, bytes) held.
    pub fn size(&self) -> (usize, usize) {
        let f = self.lock();
        (f.events.len(), f.bytes)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::tests::padded_event;
    use fedci_keys::SecretKey;

    fn at(event: &fedci_proto::Event, seqs: std::ops::RangeInclusive<u64>) -> Vec<StoredEvent> {
        seqs.map(|seq| StoredEvent {
            seq,
            event: event.clone(),
        })
        .collect()
    }

    #[test]
    fn bounded_in_events_and_bytes_and_knows_how_far_back_it_reaches() {
        let node = SecretKey::from_seed(&[2; 32]);
        let small = padded_event(&node, 1, 1, 10);
        let feed = Feed::new(10);
        let mut seen = feed.subscribe();
        seen.borrow_and_update();
        // Positions have gaps: 11..=5000 then 6000.
        feed.push(at(&small, 11..=5000));
        feed.push(at(&small, 6000..=6000));
        assert!(seen.has_changed().unwrap(), "an announce wakes streams");
        assert_eq!(*seen.borrow_and_update(), 6000);
        let (events, _) = feed.size();
        assert_eq!(events, FEED_EVENTS, "held at most {FEED_EVENTS} events");
        // The oldest went: a cursor below them must read the store.
        assert!(feed.after(10, 10).is_none());
        // 4,991 pushed, the oldest 895 (11..=905) evicted.
        let floor = 10 + (4991 - FEED_EVENTS as u64);
        assert_eq!(floor, 905);
        assert!(feed.after(floor - 1, 10).is_none());
        let page = feed.after(floor, 3).unwrap().events;
        let seqs: Vec<u64> = page.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [floor + 1, floor + 2, floor + 3]);
        let tail: Vec<u64> = feed
            .after(4999, 10)
            .unwrap()
            .events
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(tail, [5000, 6000], "a gap is skipped, nothing invented");

        // Bytes: events of ~16 KiB cannot fill the count before the byte bound.
        let big = padded_event(&node, 2, 2, 16 << 10);
        feed.push(at(&big, 7000..=8000));
        let (events, bytes) = feed.size();
        assert!(bytes <= FEED_BYTES, "{bytes} bytes held");
        assert!(events < 1000, "{events} events of 16 KiB held");

        // By id, only above the position given: what was committed is not scanned.
        let newest = padded_event(&node, 3, 3, 10);
        feed.push(at(&newest, 8001..=8001));
        assert_eq!(
            feed.find_after(&newest.id(), 8000).map(|e| e.seq),
            Some(8001)
        );
        assert!(feed.find_after(&newest.id(), 8001).is_none());
        assert_eq!(feed.find_after(&big.id(), 7990).map(|e| e.seq), Some(8000));
        assert!(
            feed.find_after(&big.id(), 8000).is_none(),
            "held, but not above 8000"
        );

        // A failed commit: everything goes, and streams below the last position handed out
        // read the store.
        feed.clear(8001);
        assert_eq!(feed.size(), (0, 0));
        assert!(feed.after(8000, 10).is_none());
        assert!(feed.after(8001, 10).unwrap().events.is_empty());
    }
}
