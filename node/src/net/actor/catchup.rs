//! The swarm task's share of catch-up and peer discipline: starting rounds with peers (the
//! periodic ones preferably with peers that have answered before), the decaying penalties
//! behind a misbehaving peer's score, and bans past a threshold.

use super::*;

impl Actor {
    /// Starts a catch-up round with `peer`, or marks one to follow the round in progress.
    pub(super) fn schedule_sync(&mut self, peer: PeerId, offer: bool) {
        let st = self.syncs.entry(peer).or_default();
        st.offer |= offer;
        if st.running {
            st.again = true;
            return;
        }
        st.running = true;
        let offer = std::mem::take(&mut st.offer);
        let topics: Vec<String> = self.subscribed.iter().map(ToString::to_string).collect();
        let (requester, admission) = (self.requester.clone(), self.admission.clone());
        let (slots, tx) = (self.sync_slots.clone(), self.internal_tx.clone());
        tokio::spawn(async move {
            let _slot = slots.acquire_owned().await;
            let round = sync_with(peer, &requester, &admission, topics, offer);
            let stats = match tokio::time::timeout(MAX_ROUND_TIME, round).await {
                Ok(stats) => stats,
                Err(_) => RoundStats {
                    error: Some(format!(
                        "round took longer than {MAX_ROUND_TIME:?}; abandoned"
                    )),
                    ..RoundStats::default()
                },
            };
            let _ = tx.send(Internal::SyncDone { peer, stats }).await;
        });
    }

    /// The peer for a periodic round: one that has answered sync before when there is one
    /// (sybils that never speak the protocol must not dilute repair), else any; now and then
    /// any peer, so one whose round once failed gets another chance. A peer in a round of its
    /// own with us is left out of either pool: it takes what it lacks itself, and a round of
    /// ours would rebuild both sides' sets (a whole store's worth for a late joiner) each
    /// period. What we lack from it waits until it goes quiet
    /// ([`crate::sync::CATCHING_UP_WINDOW`]); when every proven peer is busy so, this tick
    /// passes rather than fall back to unproven ones.
    pub(super) fn catch_up_peer(&self) -> Option<PeerId> {
        let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        let proven: Vec<PeerId> = peers
            .iter()
            .filter(|p| self.syncs.get(p).is_some_and(|st| st.answered))
            .copied()
            .collect();
        let pool = if proven.is_empty() || rand::random::<u8>() < 16 {
            peers
        } else {
            proven
        };
        let pool: Vec<PeerId> = pool
            .into_iter()
            .filter(|p| !self.requester.peer_is_catching_up(p))
            .collect();
        (!pool.is_empty()).then(|| pool[rand::random::<usize>() % pool.len()])
    }

    /// Raises a peer's penalty for each invalid thing it sent us (a gossip message, an offer
    /// or a fetch answer); past [`BAN_WEIGHT`] it is disconnected and banned.
    pub(super) fn penalise(&mut self, peer: PeerId) {
        let p = self.rejects.entry(peer).or_default();
        p.total += 1;
        p.weight += 1.0;
        let (total, weight) = (p.total, p.weight);
        tracing::warn!(%peer, rejected = total, "peer sent an invalid event; penalised");
        if weight >= BAN_WEIGHT && !self.bans.contains(&peer) {
            let now = std::time::Instant::now();
            if let Some(lifted) = self.bans.ban(peer, now) {
                self.swarm.behaviour_mut().banned.unblock_peer(lifted);
            }
            // Blocking also closes its connections.
            self.swarm.behaviour_mut().banned.block_peer(peer);
            self.store.metrics().peers_banned.fetch_add(1, Relaxed);
            tracing::warn!(%peer, rejected = total, secs = bans::BAN_TIME.as_secs(), "peer keeps sending invalid events; disconnected and banned");
        }
    }

    /// Lifts bans that have run out.
    pub(super) fn expire_bans(&mut self) {
        for peer in self.bans.expire(std::time::Instant::now()) {
            self.swarm.behaviour_mut().banned.unblock_peer(peer);
            tracing::info!(%peer, "ban lifted");
        }
    }

    /// Lets penalties wear off; forgets peers that are gone and have recovered.
    pub(super) fn decay_penalties(&mut self) {
        let connected: std::collections::HashSet<PeerId> =
            self.swarm.connected_peers().copied().collect();
        self.rejects.retain(|peer, p| {
            p.weight *= PENALTY_DECAY;
            p.weight > 0.05 || connected.contains(peer)
        });
        // Catch-up state of peers no longer connected is not needed either.
        self.syncs
            .retain(|peer, st| st.running || connected.contains(peer));
    }
}
