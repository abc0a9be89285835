//! The responder's cache of sealed (time, id) sets, so the round trips of one catch-up do not
//! rebuild a topic's set each time. A set is only valid for the store version it was built at,
//! so sets of older versions are dropped at once; what is kept is bounded in bytes and in
//! topics, and a set larger than the whole budget is never kept (it is rebuilt per request:
//! CPU instead of memory that grows with the topic).

use negentropy::{NegentropyStorageBase, NegentropyStorageVector};
use std::collections::HashMap;
use std::sync::Arc;

/// Bytes of sealed sets kept at most (an item is a u64 time and a 32-byte id).
pub const MAX_CACHE_BYTES: usize = 4 << 20;
/// Topics whose sets are kept at most.
pub const MAX_CACHE_TOPICS: usize = 64;
/// Memory one item of a sealed set costs.
pub const BYTES_PER_ITEM: usize = 40;

#[derive(Debug, Default)]
pub struct SetCache {
    /// topic → (store's last arrival seq when built, sealed set, its bytes).
    sets: HashMap<String, (u64, Arc<NegentropyStorageVector>, usize)>,
    bytes: usize,
}

impl SetCache {
    /// The set of `topic` built at `version`, if kept.
    pub fn get(&self, topic: &str, version: u64) -> Option<Arc<NegentropyStorageVector>> {
        self.sets
            .get(topic)
            .filter(|(v, _, _)| *v == version)
            .map(|(_, s, _)| s.clone())
    }

    /// Keeps `set`, built at `version`, if it fits the budget; sets of other versions go.
    pub fn insert(&mut self, topic: &str, version: u64, set: Arc<NegentropyStorageVector>) {
        self.sets.retain(|_, (v, _, _)| *v == version);
        self.sets.remove(topic);
        let size = set.size().unwrap_or(0).saturating_mul(BYTES_PER_ITEM);
        self.bytes = self.sets.values().map(|(_, _, b)| b).sum();
        if size > MAX_CACHE_BYTES
            || self.bytes + size > MAX_CACHE_BYTES
            || self.sets.len() >= MAX_CACHE_TOPICS
        {
            return;
        }
        self.bytes += size;
        self.sets.insert(topic.to_string(), (version, set, size));
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
        let per_set = 20_000; // 800 KB each: five fit in 4 MiB, not six
        for t in 0..20 {
            c.insert(&format!("fedci/1/c{t}/artifact"), 7, set(per_set));
            assert!(c.bytes() <= MAX_CACHE_BYTES, "{} bytes", c.bytes());
        }
        assert_eq!(c.topics(), MAX_CACHE_BYTES / (per_set * BYTES_PER_ITEM));
        assert!(c.get("fedci/1/c0/artifact", 7).is_some());
        assert!(c.get("fedci/1/c19/artifact", 7).is_none());
    }

    #[test]
    fn a_set_larger_than_the_budget_is_never_kept() {
        let mut c = SetCache::default();
        let big = MAX_CACHE_BYTES / BYTES_PER_ITEM + 1;
        c.insert("fedci/1/odl/artifact", 1, set(big));
        assert_eq!((c.bytes(), c.topics()), (0, 0));
        assert!(c.get("fedci/1/odl/artifact", 1).is_none());
    }

    #[test]
    fn a_newer_store_version_drops_every_older_set() {
        let mut c = SetCache::default();
        c.insert("a", 1, set(100));
        c.insert("b", 1, set(100));
        assert_eq!(c.topics(), 2);
        c.insert("a", 2, set(100));
        assert_eq!((c.topics(), c.bytes()), (1, 100 * BYTES_PER_ITEM));
        assert!(c.get("a", 1).is_none() && c.get("b", 1).is_none());
        assert!(c.get("a", 2).is_some());
    }

    #[test]
    fn at_most_max_topics_small_sets() {
        let mut c = SetCache::default();
        for t in 0..MAX_CACHE_TOPICS + 10 {
            c.insert(&format!("t{t}"), 3, set(1));
        }
        assert_eq!(c.topics(), MAX_CACHE_TOPICS);
    }
}
