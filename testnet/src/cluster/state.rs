//! `DIR/testnet.json`: what `up` started, so that later commands (separate processes) can act
//! on the net. Written atomically (temporary file, then rename).

use super::ClusterError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const FILE: &str = "testnet.json";

/// The whole net.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// The `fedci-node` binary every node runs (restarts use the same one).
    pub bin: PathBuf,
    /// As given to `up`: full, ring or random:D.
    pub topology: String,
    /// Set when the nodes run in network namespaces.
    pub netns: Option<NetnsState>,
    pub nodes: Vec<NodeState>,
    /// The partition in force: groups of node names (empty: none).
    #[serde(default)]
    pub partition: Vec<Vec<String>>,
}

/// The namespaces' shared bridge and link conditions.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetnsState {
    /// Short id that makes this net's interface and namespace names unique.
    pub run_id: String,
    pub bridge: String,
    pub latency: Option<String>,
    pub loss: Option<String>,
}

/// One node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeState {
    pub name: String,
    pub home: PathBuf,
    /// Process id of the last start (the process may have died since).
    pub pid: Option<u32>,
    /// Full listen multiaddr with `/p2p/<peer id>`: what the other nodes dial.
    pub listen: String,
    pub peer_id: String,
    /// The IP address the node listens on.
    pub addr: String,
    /// Network namespace and its root-side veth, with --netns.
    pub netns: Option<String>,
    pub veth: Option<String>,
    /// Arguments after `fedci-node --home HOME run`.
    pub run_args: Vec<String>,
}

impl State {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(FILE)
    }

    /// The net in `dir`; `NotUp` when there is none.
    pub fn load(dir: &Path) -> Result<State, ClusterError> {
        let path = State::path(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ClusterError::NotUp(dir.to_path_buf()));
            }
            Err(e) => return Err(ClusterError::io(format!("reading {}", path.display()), e)),
        };
        serde_json::from_str(&text)
            .map_err(|e| ClusterError::io(format!("parsing {}", path.display()), e))
    }

    pub fn save(&self, dir: &Path) -> Result<(), ClusterError> {
        let path = State::path(dir);
        let tmp = dir.join(format!("{FILE}.tmp"));
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| ClusterError::io("encoding the state", e))?;
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| ClusterError::io(format!("writing {}", path.display()), e))
    }

    /// The node called `name`, or an error listing the names there are.
    pub fn index_of(&self, name: &str) -> Result<usize, ClusterError> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .ok_or_else(|| ClusterError::UnknownNode {
                name: name.to_string(),
                known: self
                    .nodes
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    pub fn node(&self, name: &str) -> Result<&NodeState, ClusterError> {
        Ok(&self.nodes[self.index_of(name)?])
    }

    /// The name of the node with this peer id, if it is one of ours.
    pub fn name_of_peer(&self, peer_id: &str) -> Option<&str> {
        self.nodes
            .iter()
            .find(|n| n.peer_id == peer_id)
            .map(|n| n.name.as_str())
    }
}
