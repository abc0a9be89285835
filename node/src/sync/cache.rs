//! The responder's cache of sealed (time, id) sets of topic spans, so the round trips of
//! catch-ups do not each rebuild a span's set. A set is served while the store has not changed, or for
//! [`MAX_AGE`] after it was built even if it has: under steady load every commit changes the
//! store, and rebuilding a set per request let concurrent requests hold many copies of a set
//! that grows with the topic (issue 19). A set a little behind the store is safe: whatever it
//! lacks, the next round reconciles. What is kept is bounded in age, bytes and topics; a set
//! larger than the whole budget is never kept.

use negentropy::{NegentropyStorageBase, NegentropyStorageVector};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes of sealed sets kept at most (an item is a u64 time and a 32-byte id): six spans of
/// the most events a responder reconciles at once.
pub const MAX_CACHE_BYTES: usize = 16 << 20;
/// How long a set is served after the store changed.
pub const MAX_AGE: Duration = Duration::from_secs(2);
/// Spans whose sets are kept at most.
pub const MAX_CACHE_TOPICS: usize = 64;
/// Memory one item of a sealed set costs.
pub const BYTES_PER_ITEM: usize = 40;

#[derive(Debug, Default)]
pub struct SetCache {
    sets: HashMap<String, Entry>,
    bytes: usize,
}

#[derive(Debug)]
struct Entry {
    /// The store's last arrival seq when built.
    version: u64,
    built: Instant,
    set: Arc<NegentropyStorageVector>,
    bytes: usize,
}

impl Entry {
    fn fresh(&self, version: u64, now: Instant) -> bool {
        self.version == version || now.saturating_duration_since(self.built) < MAX_AGE
    }
}

impl SetCache {
    /// A kept set of `topic` still fresh for `version` at `now`.
    pub fn get(
        &self,
        topic: &str,
        version: u64,
        now: Instant,
    ) -> Option<Arc<NegentropyStorageVector>> {
        self.sets
            .get(topic)
            .filter(|e| e.fresh(version, now))
            .map(|e| e.set.clone())
    }

    /// Keeps `set`, built at `version` at `now`, if it fits the budget; stale sets go.
    pub fn insert(
        &mut self,
        topic: &str,
        version: u64,
        now: Instant,
        set: Arc<NegentropyStorageVector>,
    ) {
        self.sets.retain(|_, e| e.fresh(version, now));
        self.sets.remove(topic);
        let size = set.size().unwrap_or(0).saturating_mul(BYTES_PER_ITEM);
        self.bytes = self.sets.values().map(|e| e.bytes).sum();
        if size > MAX_CACHE_BYTES
            || self.bytes + size > MAX_CACHE_BYTES
            || self.sets.len() >= MAX_CACHE_TOPICS
        {
            return;
        }
        self.bytes += size;
        let entry = Entry {
            version,
            built: now,
            set,
            bytes: size,
        };
        self.sets.insert(topic.to_string(), entry);
    }

    /// Bytes of sets kept now (for `/metrics`).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    #[cfg(test)]
    pub fn topics(&self) -> usize {
        self.sets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use negentropy::Id;

    fn set(items: usize) -> Arc<NegentropyStorageVector> {
        let mut s = NegentropyStorageVector::with_capacity(items);
        for i in 0..items {
            let mut id = [0u8; 32];
            id[..8].copy_from_slice(&(i as u64).to_be_bytes());
            s.insert(i as u64, Id::from_byte_array(id)).unwrap();
        }
        s.seal().unwrap();
        Arc::new(s)
    }

    #[test]
    fn filled_past_its_budget_it_keeps_at_most_the_budget() {
        let mut c = SetCache::default();
        let now = Instant::now();
        let per_set = 100_000; // 4 MB each: four fit in 16 MiB, not five
        for t in 0..8 {
            c.insert(&format!("fedci/1/c{t}/artifact"), 7, now, set(per_set));
            assert!(c.bytes() <= MAX_CACHE_BYTES, "{} bytes", c.bytes());
        }
        assert_eq!(c.topics(), MAX_CACHE_BYTES / (per_set * BYTES_PER_ITEM));
        assert!(c.get("fedci/1/c0/artifact", 7, now).is_some());
        assert!(c.get("fedci/1/c7/artifact", 7, now).is_none());
    }

    #[test]
    fn a_set_larger_than_the_budget_is_never_kept() {
        let mut c = SetCache::default();
        let big = MAX_CACHE_BYTES / BYTES_PER_ITEM + 1;
        let now = Instant::now();
        c.insert("fedci/1/odl/artifact", 1, now, set(big));
        assert_eq!((c.bytes(), c.topics()), (0, 0));
        assert!(c.get("fedci/1/odl/artifact", 1, now).is_none());
    }

    #[test]
    fn a_set_serves_newer_store_versions_only_within_its_age() {
        let mut c = SetCache::default();
        let t0 = Instant::now();
        c.insert("a", 1, t0, set(100));
        c.insert("b", 1, t0, set(100));
        // Within MAX_AGE the store moved on, and the sets still serve: one copy for everyone.
        let soon = t0 + MAX_AGE / 2;
        assert!(c.get("a", 5, soon).is_some() && c.get("b", 5, soon).is_some());
        // Past it they serve only their own version, and the next insert drops them.
        let late = t0 + MAX_AGE * 2;
        assert!(c.get("a", 5, late).is_none());
        assert!(c.get("a", 1, late).is_some());
        c.insert("a", 6, late, set(100));
        assert_eq!((c.topics(), c.bytes()), (1, 100 * BYTES_PER_ITEM));
        assert!(c.get("b", 6, late).is_none());
        assert!(c.get("a", 6, late).is_some());
    }

    #[test]
    fn at_most_max_topics_small_sets() {
        let mut c = SetCache::default();
        let now = Instant::now();
        for t in 0..MAX_CACHE_TOPICS + 10 {
            c.insert(&format!("t{t}"), 3, now, set(1));
        }
        assert_eq!(c.topics(), MAX_CACHE_TOPICS);
    }
}
