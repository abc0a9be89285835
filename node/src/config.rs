//! The node's configuration: `config.toml` in the home. Every field has a default, so a
//! file holding only `community = "odl"` is complete.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The community this node speaks for, e.g. `odl`.
    pub community: String,
    /// The CI socket (mode 0660: the home's group); relative paths are inside the home.
    pub socket: PathBuf,
    /// The owner-only admin socket (mode 0600) for trust, peers and anyone's consumers.
    pub admin_socket: PathBuf,
    /// Largest request body the API accepts, in bytes (a raw event is at most 64 KiB).
    pub max_request_bytes: usize,
    /// Largest page a query returns, in events.
    pub max_page: usize,
    /// Largest page a query returns, in bytes of its JSON answer; a page that reaches it ends
    /// early with `complete: false` and a `next_after` to continue from.
    pub max_page_bytes: usize,
    /// Bytes of query answers being built or written at once, over all clients; a query
    /// that cannot get its share within a few seconds is answered 503 `busy`.
    pub api_buffer_bytes: usize,
    /// `/v1/stream` responses open at once; one more is answered 503 `too_many_streams`.
    pub max_streams: usize,
    /// Socket connections open at once; more are closed at accept (and counted).
    pub max_connections: usize,
    /// Socket connections one client process (by its pid) may hold open.
    pub max_connections_per_client: usize,
    /// Seconds a client has to send a request's headers; also how long an idle keep-alive
    /// connection stays open.
    pub header_timeout_secs: u64,
    /// Seconds without a byte moving either way after which a connection is closed. An open
    /// stream sends a keepalive line every 15 s, so only a client that stops reading hits it.
    pub idle_timeout_secs: u64,
    /// libp2p listen addresses (multiaddrs).
    pub listen: Vec<String>,
    /// Peers to dial at start-up (multiaddrs with `/p2p/<peer id>`).
    pub peers: Vec<String>,
    /// What this node stores from others: community × kind patterns. Empty means every kind
    /// of every pinned community.
    pub interests: Vec<Interest>,
    /// Ignored: fedci no longer uses gossipsub's peer scoring (and so has no IP-colocation
    /// penalty to exempt addresses from). Accepted so that older files still load; `run`
    /// warns when it is set. Never written back out.
    #[serde(skip_serializing)]
    pub score_ip_whitelist: Vec<std::net::IpAddr>,
    /// Seconds between catch-up rounds with a random peer (rounds also run when a peer
    /// connects or subscribes).
    pub sync_interval_secs: u64,
    /// Inbound libp2p connections established at once.
    pub max_inbound_connections: usize,
    /// Inbound libp2p connections in their handshake at once.
    pub max_pending_connections: usize,
    /// Inbound libp2p connections from one IP address (raise it for many nodes on one host).
    pub max_connections_per_ip: usize,
}

/// One interest: a community (or `*`) and the kind patterns wanted from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interest {
    pub community: String,
    #[serde(default = "all_kinds")]
    pub kinds: Vec<String>,
}

fn all_kinds() -> Vec<String> {
    vec!["*".into()]
}

impl Default for Config {
    fn default() -> Self {
        Config {
            community: String::new(),
            socket: PathBuf::from("fedci.sock"),
            admin_socket: PathBuf::from("admin.sock"),
            max_request_bytes: 1 << 20,
            max_page: 1000,
            max_page_bytes: 4 << 20,
            api_buffer_bytes: 64 << 20,
            max_streams: 64,
            max_connections: 256,
            max_connections_per_client: 32,
            header_timeout_secs: 10,
            idle_timeout_secs: 120,
            listen: vec!["/ip4/127.0.0.1/tcp/0".into()],
            peers: Vec::new(),
            interests: Vec::new(),
            score_ip_whitelist: Vec::new(),
            sync_interval_secs: 30,
            max_inbound_connections: 256,
            max_pending_connections: 64,
            max_connections_per_ip: 32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_file_is_complete_and_unknown_fields_are_refused() {
        let c: Config = toml::from_str("community = \"odl\"").unwrap();
        assert_eq!(c.community, "odl");
        assert_eq!(c.socket, PathBuf::from("fedci.sock"));
        assert!(toml::from_str::<Config>("comunity = \"odl\"").is_err());
        let round: Config = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(round, c);
        // Files written for versions that used gossipsub's peer scoring still load.
        let old: Config =
            toml::from_str("community = \"odl\"\nscore_ip_whitelist = [\"127.0.0.1\"]").unwrap();
        assert_eq!(old.community, "odl");
    }

    /// contrib/config.toml, the commented example operators copy, loads with the node's own
    /// loader and names every key the node reads.
    #[test]
    fn contrib_example_loads_and_is_complete() {
        let example = include_str!("../../contrib/config.toml");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), example).unwrap();
        let home = crate::home::Home::resolve(Some(dir.path().to_path_buf())).unwrap();
        let c = home.load_config().expect("contrib/config.toml must load");
        assert_eq!(c.community, "odl");
        let defaults = Config {
            community: c.community.clone(),
            listen: c.listen.clone(),
            ..Config::default()
        };
        assert_eq!(c, defaults, "the example shows the defaults");
        let keys = toml::Table::try_from(Config::default()).unwrap();
        for key in keys.keys() {
            assert!(
                example.lines().any(|l| l.starts_with(&format!("{key} = "))),
                "contrib/config.toml does not set {key}"
            );
        }
    }
}
