//! Node homes for a background net: `init` each community, configure it for one host, and pin every
//! community's root everywhere (root keys exchanged as files, as real communities would). With
//! 50 nodes that is 2,450 `trust add` calls, so homes are pinned in parallel.

use super::ClusterError;
use crate::net::set_config;
use crate::node::Node;
use std::path::Path;

/// Worker threads for pinning (each runs one `fedci-node` at a time).
const WORKERS: usize = 4;

/// Creates one home per name under `dir`, configured for many nodes on one host; returns each
/// node's public node key (hex) as `init` printed it.
pub fn create(dir: &Path, names: &[String], bin: &Path) -> Result<Vec<String>, ClusterError> {
    let nodes: Vec<Node> = names
        .iter()
        .map(|n| Node::new(n, dir.join(n), bin))
        .collect();
    let mut keys = Vec::new();
    for node in &nodes {
        let out = node.cli(&["init", "--community", &node.name])?;
        let key = out
            .lines()
            .find_map(|l| l.strip_prefix("node key:"))
            .map(|k| k.trim().to_string())
            .ok_or_else(|| {
                ClusterError::Node(format!("{}: `init` printed no node key", node.name))
            })?;
        keys.push(key);
        set_config(&node.home, crate::net::ONE_HOST_CONFIG)?;
    }
    pin_all(&nodes)?;
    Ok(keys)
}

/// Every node pins every other node's root.
fn pin_all(nodes: &[Node]) -> Result<(), ClusterError> {
    let chunk = nodes.len().div_ceil(WORKERS).max(1);
    std::thread::scope(|s| {
        let workers: Vec<_> = nodes
            .chunks(chunk)
            .map(|mine| s.spawn(move || pin_from(mine, nodes)))
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .unwrap_or_else(|_| Err(ClusterError::Node("pinning thread panicked".into())))
        })
    })
}

fn pin_from(mine: &[Node], all: &[Node]) -> Result<(), ClusterError> {
    for a in mine {
        for b in all.iter().filter(|b| b.name != a.name) {
            let pubfile = format!("@{}", b.home.join("root.pub").display());
            a.cli(&["trust", "add", &b.name, &pubfile])?;
        }
    }
    Ok(())
}
