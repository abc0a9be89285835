//! The network: a libp2p swarm owned by one task ([`actor`]), reached through bounded
//! channels. The rest of the node hands it events to gossip and asks it for status.

mod actor;
pub mod behaviour;
pub mod limits;
mod validate;

pub use actor::{NetConfig, NetError, start};

use libp2p::Multiaddr;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// What the node asks of the swarm task.
#[derive(Debug)]
pub enum Command {
    Dial(Multiaddr),
    /// Disconnect a peer and refuse it until unblocked (true) or allow it again (false).
    Block(libp2p::PeerId, bool),
    /// Stop re-dialling these addresses, and disconnect their peers unless another address
    /// still wanted names the same peer (`peer remove`).
    Forget(Vec<Multiaddr>),
}

/// The node's handle on the network actor.
#[derive(Debug, Clone)]
pub struct NetHandle {
    commands: mpsc::Sender<Command>,
    snapshot: watch::Receiver<Arc<fedci_client::types::NetworkStatus>>,
}

impl crate::Network for NetHandle {
    fn block(&self, peer: &str, blocked: bool) -> Result<(), String> {
        let peer: libp2p::PeerId = peer
            .parse()
            .map_err(|e| format!("not a peer id {peer:?}: {e}"))?;
        self.commands
            .try_send(Command::Block(peer, blocked))
            .map_err(|_| "the network is busy or stopped; try again".to_string())
    }

    fn status(&self) -> fedci_client::types::NetworkStatus {
        (**self.snapshot.borrow()).clone()
    }

    fn connected(&self) -> Vec<String> {
        let snap = self.snapshot.borrow().clone();
        snap.peers.iter().map(|p| p.peer_id.clone()).collect()
    }

    fn forget(&self, addrs: &[String]) -> Result<(), String> {
        let addrs = addrs
            .iter()
            .map(|a| a.parse::<Multiaddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("not a multiaddr: {e}"))?;
        self.commands
            .try_send(Command::Forget(addrs))
            .map_err(|_| "the network is busy or stopped; try again".to_string())
    }

    fn dial(&self, addr: &str) -> Result<(), String> {
        let addr: Multiaddr = addr
            .parse()
            .map_err(|e| format!("not a multiaddr {addr:?}: {e}"))?;
        self.commands
            .try_send(Command::Dial(addr))
            .map_err(|_| "the network is busy or stopped; try again".to_string())
    }
}
