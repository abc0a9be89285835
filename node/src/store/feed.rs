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

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.announced.subscribe()
    }

    /// (events, bytes) held.
    pub fn size(&self) -> (usize, usize) {
        let f = self.lock();
        (f.events.len(), f.bytes)
    }
}
