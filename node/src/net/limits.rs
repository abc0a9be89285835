//! Inbound connection limits: connections still handshaking, established in total, and
//! established per remote IP. Anyone can open connections under fresh identities for free;
//! past these limits they are refused (logged and counted) before they cost a handler.
//! Outbound connections (peers we chose to dial) are not limited.

use crate::metrics::Metrics;
use libp2p::core::Endpoint;
use libp2p::core::transport::PortUse;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::{
    ConnectionClosed, ConnectionDenied, ConnectionId, FromSwarm, ListenFailure, NetworkBehaviour,
    THandler, THandlerInEvent, THandlerOutEvent, ToSwarm, dummy,
};
use libp2p::{Multiaddr, PeerId};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll};

/// The limits, from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Inbound connections established at once.
    pub inbound: usize,
    /// Inbound connections still in their handshake.
    pub pending: usize,
    /// Inbound connections established from one IP address.
    pub per_ip: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("inbound connection limit reached: {0}")]
struct Refused(&'static str);

/// The behaviour enforcing [`ConnLimits`]; it has no protocol of its own.
#[derive(Debug)]
pub struct Limits {
    limits: Option<ConnLimits>,
    metrics: Option<Arc<Metrics>>,
    pending: HashSet<ConnectionId>,
    inbound: HashMap<ConnectionId, Option<IpAddr>>,
    per_ip: HashMap<IpAddr, usize>,
}

impl Default for Limits {
    /// No limits (a tool's swarm); the node sets them with [`Limits::new`].
    fn default() -> Self {
        Limits {
            limits: None,
            metrics: None,
            pending: HashSet::new(),
            inbound: HashMap::new(),
            per_ip: HashMap::new(),
        }
    }
}

impl Limits {
    pub fn new(limits: ConnLimits, metrics: Arc<Metrics>) -> Self {
        Limits {
            limits: Some(limits),
            metrics: Some(metrics),
            ..Limits::default()
        }
    }

    /// Established inbound connections counted now.
    pub fn inbound(&self) -> usize {
        self.inbound.len()
    }

    fn check(&self, ip: Option<IpAddr>, pending: bool) -> Result<(), Refused> {
        let Some(l) = self.limits else {
            return Ok(());
        };
        if pending && self.pending.len() >= l.pending {
            return Err(Refused("pending"));
        }
        if self.inbound.len() >= l.inbound {
            return Err(Refused("total"));
        }
        if let Some(ip) = ip
            && self.per_ip.get(&ip).copied().unwrap_or(0) >= l.per_ip
        {
            return Err(Refused("per_ip"));
        }
        Ok(())
    }

    fn deny(&self, remote: &Multiaddr, why: Refused) -> ConnectionDenied {
        if let Some(m) = &self.metrics {
            m.connections_refused.fetch_add(1, Relaxed);
        }
        tracing::info!(%remote, limit = why.0, "inbound connection refused");
        ConnectionDenied::new(why)
    }

    fn forget(&mut self, id: ConnectionId) {
        self.pending.remove(&id);
        if let Some(Some(ip)) = self.inbound.remove(&id)
            && let Some(n) = self.per_ip.get_mut(&ip)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
    }
}

fn ip_of(addr: &Multiaddr) -> Option<IpAddr> {
    addr.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    })
}

impl NetworkBehaviour for Limits {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = std::convert::Infallible;

    fn handle_pending_inbound_connection(
        &mut self,
        id: ConnectionId,
        _local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<(), ConnectionDenied> {
        self.check(ip_of(remote), true)
            .map_err(|why| self.deny(remote, why))?;
        self.pending.insert(id);
        Ok(())
    }

    fn handle_established_inbound_connection(
        &mut self,
        id: ConnectionId,
        _peer: PeerId,
        _local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.pending.remove(&id);
        let ip = ip_of(remote);
        self.check(ip, false)
            .map_err(|why| self.deny(remote, why))?;
        self.inbound.insert(id, ip);
        if let Some(ip) = ip {
            *self.per_ip.entry(ip).or_default() += 1;
        }
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _id: ConnectionId,
        _peer: PeerId,
        _addr: &Multiaddr,
        _role: Endpoint,
        _port_use: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionClosed(ConnectionClosed { connection_id, .. }) => {
                self.forget(connection_id)
            }
            // A handshake that failed, or a connection another behaviour refused after we
            // counted it.
            FromSwarm::ListenFailure(ListenFailure { connection_id, .. }) => {
                self.forget(connection_id)
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _peer: PeerId,
        _id: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(ip: &str) -> Multiaddr {
        format!("/ip4/{ip}/tcp/4001").parse().unwrap()
    }

    /// Runs one inbound connection through both checks; true if it was let in.
    fn connect(l: &mut Limits, id: usize, ip: &str) -> bool {
        let (id, local, remote) = (ConnectionId::new_unchecked(id), addr("10.0.0.1"), addr(ip));
        l.handle_pending_inbound_connection(id, &local, &remote)
            .is_ok()
            && l.handle_established_inbound_connection(id, PeerId::random(), &local, &remote)
                .is_ok()
    }

    #[test]
    fn per_ip_total_and_pending_limits_hold_and_refusals_are_counted() {
        let metrics = Arc::new(Metrics::default());
        let limits = ConnLimits {
            inbound: 4,
            pending: 2,
            per_ip: 2,
        };
        let mut l = Limits::new(limits, metrics.clone());
        assert!(connect(&mut l, 1, "192.0.2.1") && connect(&mut l, 2, "192.0.2.1"));
        assert!(!connect(&mut l, 3, "192.0.2.1"), "a third from one IP");
        assert!(connect(&mut l, 4, "192.0.2.2") && connect(&mut l, 5, "192.0.2.3"));
        assert!(!connect(&mut l, 6, "192.0.2.4"), "a fifth in total");
        assert_eq!(l.inbound(), 4);
        l.forget(ConnectionId::new_unchecked(1));
        assert!(connect(&mut l, 7, "192.0.2.1"), "room again after a close");

        let mut l = Limits::new(limits, metrics.clone());
        let (local, remote) = (addr("10.0.0.1"), addr("192.0.2.9"));
        for id in 0..2 {
            let id = ConnectionId::new_unchecked(id);
            assert!(
                l.handle_pending_inbound_connection(id, &local, &remote)
                    .is_ok()
            );
        }
        let third = ConnectionId::new_unchecked(2);
        assert!(
            l.handle_pending_inbound_connection(third, &local, &remote)
                .is_err()
        );
        assert_eq!(metrics.connections_refused.load(Relaxed), 3);
    }
}
