//! The network's part of `status`: a typed snapshot the swarm task refreshes, read by the API.

use super::*;
use fedci_client::types::{Banned, GossipCounters, PeerStatus, PeerSync, RoundSummary};

impl Actor {
    pub(super) fn update_snapshot(&mut self) {
        let peers = self
            .swarm
            .connected_peers()
            .map(|p| {
                let penalty = self.rejects.get(p).copied().unwrap_or_default();
                PeerStatus {
                    peer_id: p.to_string(),
                    score: Some(REJECT_PENALTY * penalty.weight),
                    rejected: u64::from(penalty.total),
                    sync: self.syncs.get(p).map(|st| PeerSync {
                        rounds: st.rounds,
                        running: st.running,
                        last_round_at_ms: st.last_at_ms,
                        last_round: st.last.as_ref().map(round_summary),
                        bytes_sent: st.bytes_sent,
                        bytes_received: st.bytes_received,
                        events_stored: st.stored,
                    }),
                }
            })
            .collect();
        let c = &self.counters;
        let behaviour = self.swarm.behaviour();
        let snap = NetworkStatus {
            peer_id: self.local.to_string(),
            listen: self.listen.iter().map(ToString::to_string).collect(),
            peers,
            topics: self.subscribed.iter().map(ToString::to_string).collect(),
            blocked: behaviour
                .blocked
                .blocked_peers()
                .iter()
                .map(ToString::to_string)
                .collect(),
            banned: self
                .bans
                .list(std::time::Instant::now())
                .iter()
                .map(|(p, left)| Banned {
                    peer_id: p.to_string(),
                    secs_left: left.as_secs(),
                })
                .collect(),
            inbound_connections: behaviour.limits.inbound(),
            refused_ids: self.admission.refused_ids(),
            gossip: GossipCounters {
                accepted: c.accepted.load(Relaxed),
                rejected: c.rejected.load(Relaxed),
                ignored: c.ignored.load(Relaxed),
                published: c.published.load(Relaxed),
                published_without_peers: c.publish_no_peers.load(Relaxed),
            },
        };
        self.snapshot.send_replace(Arc::new(snap));
    }
}

fn round_summary(r: &crate::sync::RoundStats) -> RoundSummary {
    RoundSummary {
        topics: r.topics,
        round_trips: r.round_trips,
        need: r.need,
        have: r.have,
        received: r.received,
        stored: r.stored,
        offered: r.offered,
        bytes_sent: r.bytes_sent,
        bytes_received: r.bytes_received,
        millis: r.millis,
        error: r.error.clone(),
    }
}
