//! Ids of events refused for what their payload says, so that catch-up does not fetch and
//! verify them again every round.
//!
//! Only refusals that are a property of the payload are remembered: an untrusted author or
//! kind, a body that is not canonical or breaks the vocabulary, or an event outside our
//! interests. An event id is the hash of the payload only, so a copy with a broken signature
//! has the same id as the genuine event: remembering envelope or signature failures by id would
//! let a forger block genuine events (the gossip censorship bug all over again). Trust refusals
//! depend on pins and rosters, so the memory is cleared whenever trust changes. Bounded in
//! count (oldest forgotten first), hence in bytes.

use fedci_keys::TrustStore;
use fedci_proto::EventId;
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

/// Most ids remembered.
pub const MAX_REFUSED_IDS: usize = 65_536;
/// Memory one remembered id costs: the id in the set and in the eviction queue, plus the set's
/// own overhead (an estimate, for `/metrics`).
pub const BYTES_PER_ID: usize = 80;

#[derive(Debug, Default)]
pub struct RefusedIds {
    set: HashSet<EventId>,
    order: VecDeque<EventId>,
    /// The trust store the memory was built under; a different one clears it.
    trust: Option<Arc<TrustStore>>,
}

impl RefusedIds {
    /// Clears the memory if trust changed since it was filled.
    pub fn sync_trust(&mut self, trust: &Arc<TrustStore>) {
        if !self.trust.as_ref().is_some_and(|t| Arc::ptr_eq(t, trust)) {
            self.set.clear();
            self.order.clear();
            self.trust = Some(trust.clone());
        }
    }

    /// True when the memory holds refusals decided under `trust` (so one more may join).
    pub fn is_under(&self, trust: &Arc<TrustStore>) -> bool {
        self.trust.as_ref().is_some_and(|t| Arc::ptr_eq(t, trust))
    }

    pub fn contains(&self, id: &EventId) -> bool {
        self.set.contains(id)
    }

    pub fn insert(&mut self, id: EventId) {
        if !self.set.insert(id) {
            return;
        }
        self.order.push_back(id);
        while self.order.len() > MAX_REFUSED_IDS {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> EventId {
        let mut b = [0u8; 32];
        b[..4].copy_from_slice(&n.to_be_bytes());
        EventId(b)
    }

    #[test]
    fn bounded_oldest_first_and_cleared_when_trust_changes() {
        let mut r = RefusedIds::default();
        let trust = Arc::new(TrustStore::new());
        r.sync_trust(&trust);
        for n in 0..(MAX_REFUSED_IDS as u32 + 10) {
            r.insert(id(n));
        }
        assert_eq!(r.len(), MAX_REFUSED_IDS);
        assert!(!r.contains(&id(0)) && r.contains(&id(MAX_REFUSED_IDS as u32 + 9)));
        r.sync_trust(&trust);
        assert_eq!(r.len(), MAX_REFUSED_IDS, "same trust keeps the memory");
        r.sync_trust(&Arc::new(TrustStore::new()));
        assert!(r.is_empty(), "new trust clears it");
    }
}
