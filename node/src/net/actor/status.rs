//! The network's part of `status`: a snapshot the swarm task refreshes, read by the API.

use super::*;

impl Actor {
    pub(super) fn update_snapshot(&mut self) {
        let gs = &self.swarm.behaviour().gossipsub;
        let peers: Vec<_> = self
            .swarm
            .connected_peers()
            .map(|p| {
                let sync = self.syncs.get(p).map(|st| {
                    json!({
                        "rounds": st.rounds,
                        "running": st.running,
                        "last_round_at_ms": st.last_at_ms,
                        "last_round": st.last,
                        "bytes_sent": st.bytes_sent,
                        "bytes_received": st.bytes_received,
                        "events_stored": st.stored,
                    })
                });
                json!({
                    "peer_id": p.to_string(),
                    "score": gs.peer_score(p),
                    "rejected": self.rejects.get(p).map_or(0, |r| r.total),
                    "sync": sync,
                })
            })
            .collect();
        let c = &self.counters;
        let snap = json!({
            "peer_id": self.local.to_string(),
            "listen": self.listen.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "peers": peers,
            "topics": self.subscribed.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "blocked": self.swarm.behaviour().blocked.blocked_peers().iter().map(ToString::to_string).collect::<Vec<_>>(),
            "banned": self.bans.list(std::time::Instant::now()).iter().map(|(p, left)| json!({"peer_id": p.to_string(), "secs_left": left.as_secs()})).collect::<Vec<_>>(),
            "inbound_connections": self.swarm.behaviour().limits.inbound(),
            "refused_ids": self.admission.refused_ids(),
            "gossip": {
                "accepted": c.accepted.load(Relaxed),
                "rejected": c.rejected.load(Relaxed),
                "ignored": c.ignored.load(Relaxed),
                "published": c.published.load(Relaxed),
                "published_without_peers": c.publish_no_peers.load(Relaxed),
            },
        });
        self.snapshot.send_replace(Arc::new(snap));
    }
}
