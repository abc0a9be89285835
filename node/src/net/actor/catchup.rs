//! The swarm task's share of catch-up and peer discipline: starting rounds with peers, and the
//! decaying penalties behind a misbehaving peer's score.

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
        let (requester, store, interests) = (
            self.requester.clone(),
            self.store.clone(),
            self.config.interests.clone(),
        );
        let (slots, tx) = (self.sync_slots.clone(), self.internal_tx.clone());
        tokio::spawn(async move {
            let _slot = slots.acquire_owned().await;
            let round = sync_with(peer, &requester, &store, &interests, topics, offer);
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

    /// Lowers a peer's gossipsub application score for each invalid thing it sent us.
    pub(super) fn penalise(&mut self, peer: PeerId) {
        let p = self.rejects.entry(peer).or_default();
        p.total += 1;
        p.weight += 1.0;
        let (total, score) = (p.total, REJECT_PENALTY * p.weight);
        self.swarm
            .behaviour_mut()
            .gossipsub
            .set_application_score(&peer, score);
        tracing::warn!(%peer, rejected = total, "peer sent an invalid event; penalised");
    }

    /// Lets penalties wear off; forgets peers that are gone and have recovered.
    pub(super) fn decay_penalties(&mut self) {
        let connected: std::collections::HashSet<PeerId> =
            self.swarm.connected_peers().copied().collect();
        self.rejects.retain(|peer, p| {
            p.weight *= PENALTY_DECAY;
            p.weight > 0.05 || connected.contains(peer)
        });
        for (peer, p) in &self.rejects {
            self.swarm
                .behaviour_mut()
                .gossipsub
                .set_application_score(peer, REJECT_PENALTY * p.weight);
        }
        // Catch-up state of peers no longer connected is not needed either.
        self.syncs
            .retain(|peer, st| st.running || connected.contains(peer));
    }
}
