//! fedci-node: the daemon behind a community's CI. It stores signed events in redb, serves
//! them on a local Unix socket (HTTP/1.1, JSON), and gossips them with other communities'
//! nodes over libp2p. `main.rs` is a thin CLI over this library.

pub mod admit;
pub mod api;
pub mod cli;
pub mod config;
pub mod daemon;
#[doc(hidden)]
pub mod fuzzing;
pub mod home;
pub mod interests;
pub mod interop;
pub mod metrics;
pub mod net;
pub mod store;
pub mod supervise;
pub mod sync;
pub mod web;

/// What the API needs from the network actor, when one runs.
pub trait Network: Send + Sync + 'static {
    /// Peers, topics and sync state, for `status`: a snapshot, not built on demand.
    fn status(&self) -> fedci_client::types::NetworkStatus;
    /// Dials a peer now (the address is remembered by the caller).
    fn dial(&self, addr: &str) -> Result<(), String>;
    /// Blocks (disconnects and refuses) or unblocks a peer by peer id.
    fn block(&self, peer: &str, blocked: bool) -> Result<(), String>;
    /// Peer ids connected now.
    fn connected(&self) -> Vec<String>;
    /// Stops re-dialling these addresses and disconnects their peers (`peer remove`).
    fn forget(&self, addrs: &[String]) -> Result<(), String>;
}

/// Milliseconds since the Unix epoch by this machine's clock.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
