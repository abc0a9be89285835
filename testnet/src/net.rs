//! A federation of nodes on this machine: homes under one directory, every community pinning
//! every other (root keys exchanged as files, as real communities would), started and
//! connected in a chosen topology.

use crate::node::{Node, NodeError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How nodes connect.
/// Config every testnet node gets: all nodes of a net may connect from one address (loopback),
/// up to the largest net `up` starts, beyond the per-IP default meant for the internet.
pub const ONE_HOST_CONFIG: &str = "max_connections_per_ip = 256\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    /// Every node dials every earlier node.
    Full,
    /// Node i dials node i-1; the last also dials the first.
    Ring,
    /// Node i dials `d` earlier nodes picked at random (at least node 0 for i > 0).
    Random(usize),
}

impl Topology {
    /// The earlier nodes (indexes below `i`) that node `i` dials. The ring's closing link (the
    /// last node to the first) is not included: the first node starts before the last exists.
    pub fn targets(self, i: usize) -> Vec<usize> {
        match self {
            Topology::Full => (0..i).collect(),
            Topology::Ring => {
                if i > 0 {
                    vec![i - 1]
                } else {
                    vec![]
                }
            }
            Topology::Random(d) => {
                let mut t: Vec<usize> = if i > 0 { vec![0] } else { vec![] };
                let mut seed = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                while t.len() < d.min(i) {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let j = (seed % i as u64) as usize;
                    if !t.contains(&j) {
                        t.push(j);
                    }
                }
                t
            }
        }
    }
}

#[derive(Debug)]
pub struct Testnet {
    pub dir: PathBuf,
    pub nodes: Vec<Node>,
}

impl Testnet {
    /// Creates and inits one home per community under `dir`, and pins every root everywhere.
    pub fn create(
        dir: &Path,
        communities: &[&str],
        bin: &Path,
        extra_config: &str,
    ) -> Result<Testnet, NodeError> {
        let mut nodes = Vec::new();
        for c in communities {
            let node = Node::new(c, dir.join(c), bin);
            node.init(c)?;
            set_config(&node.home, ONE_HOST_CONFIG)?;
            if !extra_config.is_empty() {
                set_config(&node.home, extra_config)?;
            }
            nodes.push(node);
        }
        for a in &nodes {
            for b in &nodes {
                if a.name != b.name {
                    let pubfile = format!("@{}", b.home.join("root.pub").display());
                    a.cli(&["trust", "add", &b.name, &pubfile])?;
                }
            }
        }
        Ok(Testnet {
            dir: dir.to_path_buf(),
            nodes,
        })
    }

    /// Starts every node, each dialling the earlier ones the topology names.
    pub fn start(&mut self, topology: Topology) -> Result<(), NodeError> {
        let mut addrs: Vec<String> = Vec::new();
        for i in 0..self.nodes.len() {
            let targets = topology.targets(i);
            let node = &mut self.nodes[i];
            node.run_args = targets
                .iter()
                .flat_map(|&j| ["--peer".to_string(), addrs[j].clone()])
                .collect();
            node.start()?;
            addrs.push(listen_addr(node)?);
        }
        if topology == Topology::Ring && self.nodes.len() > 2 {
            let first = addrs[0].clone();
            if let Some(last) = self.nodes.last() {
                last.cli(&["peer", "add", &first])?;
            }
        }
        Ok(())
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Waits until every node has at least `min_peers` connected peers.
    pub fn wait_connected(&self, min_peers: usize, limit: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            let lagging: Vec<&str> = self
                .nodes
                .iter()
                .filter(|n| {
                    status(n)
                        .and_then(|s| s.network)
                        .map(|n| n.peers.len())
                        .unwrap_or(0)
                        < min_peers
                })
                .map(|n| n.name.as_str())
                .collect();
            if lagging.is_empty() {
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(format!(
                    "not connected after {limit:?}: {}",
                    lagging.join(", ")
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn stop_all(&mut self) {
        for n in &mut self.nodes {
            n.stop();
        }
    }
}

/// A node's `status --json`, as a CI script would read it.
pub fn status(node: &Node) -> Option<fedci_client::types::Status> {
    serde_json::from_str(&node.cli(&["status", "--json"]).ok()?).ok()
}

/// The node's first listen address with /p2p/<peer id>.
pub fn listen_addr(node: &Node) -> Result<String, NodeError> {
    let start = Instant::now();
    loop {
        if let Some(a) = status(node).and_then(|s| s.network?.listen.into_iter().next()) {
            return Ok(a);
        }
        if start.elapsed() > Duration::from_secs(10) {
            return Err(NodeError::NotReady {
                node: node.name.clone(),
                waited: start.elapsed(),
                log: node.log_tail(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sets keys in a node's config.toml (given as TOML text), replacing existing values.
pub fn set_config(home: &Path, keys: &str) -> Result<(), NodeError> {
    let path = home.join("config.toml");
    let bad = |message: String| NodeError::Cli {
        node: home.display().to_string(),
        args: "config".into(),
        stderr: message,
    };
    let mut table: toml::Table = std::fs::read_to_string(&path)
        .map_err(|e| bad(e.to_string()))?
        .parse()
        .map_err(|e: toml::de::Error| bad(e.to_string()))?;
    let extra: toml::Table = keys
        .parse()
        .map_err(|e: toml::de::Error| bad(e.to_string()))?;
    table.extend(extra);
    std::fs::write(&path, table.to_string()).map_err(|e| bad(e.to_string()))
}

/// Follows a node's `/v1/stream` and sends every event, with the instant it arrived, to `tx`
/// until the stream ends or `tx` is closed. A line that is not an event is skipped.
pub async fn follow(
    socket: std::path::PathBuf,
    query: fedci_client::EventQuery,
    tx: tokio::sync::mpsc::Sender<(fedci_client::types::EventItem, Instant)>,
) -> Result<(), fedci_client::ClientError> {
    let mut stream = fedci_client::Client::new(socket).stream(&query).await?;
    while let Some(next) = stream.next_item().await {
        let ev = match next {
            Ok((_, ev)) => ev,
            Err(fedci_client::ClientError::BadLine { .. }) => continue,
            Err(e) => return Err(e),
        };
        if tx.send((ev, Instant::now())).await.is_err() {
            break;
        }
    }
    Ok(())
}
