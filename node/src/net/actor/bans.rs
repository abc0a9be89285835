//! Peers cut off for a while for sending what fails verification: a bounded table of bans
//! that expire. Separate from the operator's `peer block` list, which never expires and which
//! a ban must not undo.

use libp2p::PeerId;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a ban lasts.
pub const BAN_TIME: Duration = Duration::from_secs(600);
/// Most peers banned at once; when full, the ban closest to expiry makes room.
pub const MAX_BANS: usize = 4096;

#[derive(Debug, Default)]
pub struct Bans {
    until: HashMap<PeerId, Instant>,
}

impl Bans {
    /// Bans `peer` until `now + BAN_TIME`. Returns the peer whose ban was dropped to make
    /// room, if any (the caller lifts it).
    pub fn ban(&mut self, peer: PeerId, now: Instant) -> Option<PeerId> {
        let mut evicted = None;
        if !self.until.contains_key(&peer) && self.until.len() >= MAX_BANS {
            evicted = self.until.iter().min_by_key(|(_, t)| **t).map(|(p, _)| *p);
            if let Some(p) = evicted {
                self.until.remove(&p);
            }
        }
        self.until.insert(peer, now + BAN_TIME);
        evicted
    }

    pub fn contains(&self, peer: &PeerId) -> bool {
        self.until.contains_key(peer)
    }

    /// Removes and returns the bans that have run out.
    pub fn expire(&mut self, now: Instant) -> Vec<PeerId> {
        let done: Vec<PeerId> = self
            .until
            .iter()
            .filter(|(_, t)| **t <= now)
            .map(|(p, _)| *p)
            .collect();
        for p in &done {
            self.until.remove(p);
        }
        done
    }

    /// (peer, time left) of every ban.
    pub fn list(&self, now: Instant) -> Vec<(PeerId, Duration)> {
        self.until
            .iter()
            .map(|(p, t)| (*p, t.saturating_duration_since(now)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bans_expire_and_the_table_is_bounded() {
        let mut b = Bans::default();
        let t0 = Instant::now();
        let first = PeerId::random();
        assert_eq!(b.ban(first, t0), None);
        for i in 1..MAX_BANS {
            assert_eq!(
                b.ban(PeerId::random(), t0 + Duration::from_millis(i as u64)),
                None
            );
        }
        let late = PeerId::random();
        assert_eq!(
            b.ban(late, t0 + BAN_TIME),
            Some(first),
            "the oldest ban makes room"
        );
        assert!(b.contains(&late) && !b.contains(&first));
        let expired = b.expire(t0 + BAN_TIME + Duration::from_secs(5));
        assert_eq!(expired.len(), MAX_BANS - 1);
        assert!(b.contains(&late));
        assert_eq!(b.expire(t0 + 3 * BAN_TIME), vec![late]);
    }
}
