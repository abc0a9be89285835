//! Federation helpers: several nodes gossiping over libp2p on loopback. Accessors for the
//! `network` object of `GET /v1/status`, config edits before the first run, trust between homes,
//! waits for connections and roster serials, and a warm-up that proves gossip flows before a
//! test publishes what it asserts on: gossip sent before a peer's subscription is known is lost
//! by design, and tests of live gossip must not depend on catch-up to repair that.

use crate::node::Node;
pub use crate::poll_until;
use crate::{is_id, wait_until};
use fedci_client::types::{NetworkStatus, PeerStatus, Pin};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// How long nodes may take to connect, or gossip to start flowing, on a busy 2-core machine.
pub const MESH_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one probe may take to reach every receiver before the next one is sent.
pub const PROBE_WAIT: Duration = Duration::from_millis(1500);

impl Node {
    /// Sets a top-level `key = value` (value in TOML syntax) in `config.toml`, before the node
    /// runs: replaces the line `init` wrote (`interests = []`) or appends one. A second line
    /// with the same key would be a TOML error, so appending blindly is not enough.
    pub fn set_config(&self, key: &str, value: &str) {
        let path = self.home().join("config.toml");
        let text = std::fs::read_to_string(&path).expect("reading config.toml");
        let is_key = |l: &str| {
            l.split_once('=')
                .is_some_and(|(k, _)| k.trim() == key && !l.trim_start().starts_with('#'))
        };
        let line = format!("{key} = {value}");
        let mut replaced = false;
        let mut lines: Vec<String> = text
            .lines()
            .map(|l| {
                if !replaced && is_key(l) {
                    replaced = true;
                    line.clone()
                } else {
                    l.to_owned()
                }
            })
            .collect();
        if !replaced {
            lines.push(line);
        }
        std::fs::write(&path, lines.join("\n") + "\n").expect("writing config.toml");
    }

    /// The `network` part of `GET /v1/status`; panics if the node runs without a network.
    pub fn net(&self) -> NetworkStatus {
        self.typed_status()
            .network
            .unwrap_or_else(|| panic!("status has no network: {}", self.status()))
    }

    /// The `network` object of `GET /v1/status`, as JSON (for messages and wire checks).
    pub fn network(&self) -> Value {
        serde_json::to_value(self.net()).expect("network status serialises")
    }

    /// This node's libp2p peer id.
    pub fn peer_id(&self) -> String {
        self.net().peer_id
    }

    /// This node's public node key (64 hex), as rosters name it.
    pub fn node_key(&self) -> String {
        let key = self.typed_status().node_key;
        assert!(is_id(&key), "status node_key is not 64 hex: {key}");
        key
    }

    /// The first listen address (with `/p2p/<peer id>`), once the swarm reports one.
    pub fn listen_addr(&self) -> String {
        let mut addr = None;
        wait_until(MESH_TIMEOUT, "the node to report a listen address", || {
            addr = self.net().listen.into_iter().next();
            addr.is_some()
        });
        let addr = addr.unwrap_or_default();
        let peer_id = self.peer_id();
        assert!(
            addr.ends_with(&format!("/p2p/{peer_id}")),
            "listen address {addr} does not end in /p2p/{peer_id}"
        );
        addr
    }

    /// Peer ids of the connected peers (`network.peers[].peer_id`).
    pub fn connected_peers(&self) -> Vec<String> {
        self.net().peers.into_iter().map(|p| p.peer_id).collect()
    }

    /// The `network.peers` entry of `peer_id` (`{peer_id, score, rejected, sync}`), if connected.
    pub fn peer(&self, peer_id: &str) -> Option<PeerStatus> {
        self.net().peers.into_iter().find(|p| p.peer_id == peer_id)
    }

    /// [`Node::peer`] as JSON.
    pub fn peer_info(&self, peer_id: &str) -> Option<Value> {
        self.peer(peer_id)
            .map(|p| serde_json::to_value(p).expect("peer status serialises"))
    }

    /// `trust add COMMUNITY @OTHER/root.pub`: pins `other`'s community root.
    pub fn trust(&self, other: &Node) -> String {
        let pub_file = format!("@{}", other.home().join("root.pub").display());
        self.cli_ok(&["trust", "add", other.community(), &pub_file])
    }

    /// `peer add MULTIADDR` (the node must be running).
    pub fn add_peer(&self, addr: &str) -> String {
        self.cli_ok(&["peer", "add", addr])
    }

    /// The serial of `community`'s roster in force here (status `pins`), if any.
    pub fn roster_serial(&self, community: &str) -> Option<u64> {
        self.pin_entry(community)?.roster.map(|r| r.serial)
    }

    /// The status `pins` entry of `community`, as JSON.
    pub fn pin(&self, community: &str) -> Option<Value> {
        self.pin_entry(community)
            .map(|p| serde_json::to_value(p).expect("pin serialises"))
    }

    /// The status `pins` entry of `community`.
    pub fn pin_entry(&self, community: &str) -> Option<Pin> {
        self.typed_status()
            .pins
            .into_iter()
            .find(|p| p.community == community)
    }

    /// Waits until `community`'s roster in force here has serial `serial`.
    pub fn wait_for_roster_serial(&self, community: &str, serial: u64, timeout: Duration) {
        let what = format!(
            "{}'s node to have {community}'s roster serial {serial} in force",
            self.community()
        );
        wait_until(timeout, &what, || {
            self.roster_serial(community) == Some(serial)
        });
    }

    /// True when the node holds event `id`.
    pub fn has_event(&self, id: &str) -> bool {
        let r = self.get(&format!("/v1/events/{id}"));
        assert!(matches!(r.status, 200 | 404), "GET /v1/events/{id}: {r:?}");
        r.status == 200
    }

    /// Status `rejected[reason]` (0 if absent).
    pub fn rejected_count(&self, reason: &str) -> u64 {
        self.typed_status()
            .rejected
            .get(reason)
            .copied()
            .unwrap_or(0)
    }

    /// `network.gossip[counter]` (`accepted`, `rejected`, `ignored`, `published`, …).
    pub fn gossip_counter(&self, counter: &str) -> u64 {
        let g = self.net().gossip;
        match counter {
            "accepted" => g.accepted,
            "rejected" => g.rejected,
            "ignored" => g.ignored,
            "published" => g.published,
            "published_without_peers" => g.published_without_peers,
            other => panic!("network.gossip has no counter {other:?}: {g:?}"),
        }
    }

    /// Subscribed gossip topics (`network.topics`).
    pub fn topics(&self) -> Vec<String> {
        self.net().topics
    }

    /// The ids of every event the node holds, in arrival order.
    pub fn stored_ids(&self) -> Vec<String> {
        self.query_all("").iter().map(event_id).collect()
    }
}

/// Waits until `node` lists every one of `others` among its connected peers.
pub fn wait_connected(node: &Node, others: &[&Node], timeout: Duration) {
    let want: Vec<(String, String)> = others
        .iter()
        .map(|o| (o.community().to_owned(), o.peer_id()))
        .collect();
    let mut peers = Vec::new();
    let ok = poll_until(timeout, || {
        peers = node.connected_peers();
        want.iter().all(|(_, id)| peers.contains(id))
    });
    assert!(
        ok,
        "{}'s node did not connect to {want:?} within {timeout:?}; connected: {peers:?}",
        node.community()
    );
}

/// A probe event: its kind and data, unique per call.
pub type Probe = fn(u64) -> (&'static str, Value);

fn nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `x-test.probe` with unique data. Only reaches nodes whose `interests` name `x-test.*`:
/// default interests cover the v1 families only.
pub fn custom_probe(n: u64) -> (&'static str, Value) {
    ("x-test.probe", json!({"probe": n, "nonce": nonce()}))
}

/// `artifact.created` of a unique probe package: reaches every node interested in the
/// publisher's artifacts, with default interests too.
pub fn artifact_probe(n: u64) -> (&'static str, Value) {
    (
        "artifact.created",
        json!({"identity": format!("pkg:generic/fedci-probe@{n}"), "name": format!("probe {}", nonce())}),
    )
}

/// Publishes probes on `publisher` until one of them has reached every receiver, each probe
/// given [`PROBE_WAIT`] before the next is sent; panics after `timeout`. Returns the ids of
/// every probe published (the last one reached all receivers; earlier ones may have been lost
/// or may still arrive), so tests can account for every event a node stores.
pub fn warm_up(
    publisher: &Node,
    receivers: &[&Node],
    probe: Probe,
    timeout: Duration,
) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    let mut ids = Vec::new();
    let mut n = 0;
    loop {
        let (kind, data) = probe(n);
        n += 1;
        let id = publisher.publish(kind, data, &[]);
        ids.push(id.clone());
        let wait = PROBE_WAIT.min(deadline.saturating_duration_since(Instant::now()));
        if poll_until(wait, || receivers.iter().all(|r| r.has_event(&id))) {
            return ids;
        }
        if Instant::now() >= deadline {
            let missing: Vec<String> = receivers
                .iter()
                .filter(|r| !r.has_event(&id))
                .map(|r| format!("{} (network: {})", r.community(), r.network()))
                .collect();
            panic!(
                "no probe from {} reached every receiver within {timeout:?} ({} probes); \
                 last probe {id} missing on: {missing:?}; publisher network: {}",
                publisher.community(),
                ids.len(),
                publisher.network()
            );
        }
    }
}

/// The `id` of an event's JSON (a query item or a stream line).
pub fn event_id(e: &Value) -> String {
    e.get("id")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("event without id: {e}"))
        .to_owned()
}
