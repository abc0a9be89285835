//! What the user sees of a net: the table `up` prints and `status`.

use super::state::{NodeState, State};
use super::{ClusterError, DirArgs, process, spec};
use crate::node::Node;
use std::path::Path;

pub fn status(args: DirArgs) -> Result<(), ClusterError> {
    let state = State::load(&args.dir)?;
    println!("{}", describe(&args.dir, &state));
    if !state.partition.is_empty() {
        println!("partition: {}", spec::show_groups(&state.partition));
    }
    let w = name_width(&state);
    println!(
        "{:<w$}  {:>7}  {:<5}  {:>7}  {:>5}  BLOCKED",
        "NAME", "PID", "STATE", "EVENTS", "PEERS"
    );
    for n in &state.nodes {
        let pid = n.pid.map_or("-".to_string(), |p| p.to_string());
        if !process::alive(n) {
            println!(
                "{:<w$}  {pid:>7}  {:<5}  {:>7}  {:>5}  -",
                n.name, "dead", "-", "-"
            );
            continue;
        }
        let cli = Node::new(&n.name, n.home.clone(), &state.bin);
        let Some(s) = crate::net::status(&cli) else {
            println!(
                "{:<w$}  {pid:>7}  {:<5}  (no answer on its socket)",
                n.name, "up"
            );
            continue;
        };
        let net = s.network.unwrap_or_default();
        let peers = net.peers.len();
        let blocked: Vec<&str> = net
            .blocked
            .iter()
            .map(|p| state.name_of_peer(p).unwrap_or(p))
            .collect();
        let blocked = if blocked.is_empty() {
            "-".to_string()
        } else {
            blocked.join(",")
        };
        println!(
            "{:<w$}  {pid:>7}  {:<5}  {:>7}  {peers:>5}  {blocked}",
            n.name,
            "up",
            s.events.map_or("?".to_string(), |e| e.to_string())
        );
    }
    Ok(())
}

/// The table `up` prints once the net is connected.
pub fn print_up(dir: &Path, state: &State) {
    println!("{}", describe(dir, state));
    let w = name_width(state);
    println!("{:<w$}  {:>7}  {:<60}  DIALS", "NAME", "PID", "LISTEN");
    for n in &state.nodes {
        let pid = n.pid.map_or("-".to_string(), |p| p.to_string());
        println!(
            "{:<w$}  {pid:>7}  {:<60}  {}",
            n.name,
            n.listen,
            dials(state, n).join(",")
        );
    }
    println!(
        "see `fedci-testnet status --dir {0}`; stop with `fedci-testnet down --dir {0}`",
        dir.display()
    );
}

/// One line: where, how many, how connected.
fn describe(dir: &Path, state: &State) -> String {
    let links = match &state.netns {
        None => "loopback".to_string(),
        Some(ns) => {
            let mut s = format!("network namespaces on bridge {}", ns.bridge);
            if let Some(l) = &ns.latency {
                s.push_str(&format!(", delay {l}"));
            }
            if let Some(l) = &ns.loss {
                s.push_str(&format!(", loss {l}"));
            }
            s
        }
    };
    format!(
        "net in {}: {} nodes, topology {}, {links}",
        dir.display(),
        state.nodes.len(),
        state.topology
    )
}

/// Names of the nodes `n` dials at start-up (its `--peer` arguments).
fn dials<'a>(state: &'a State, n: &NodeState) -> Vec<&'a str> {
    n.run_args
        .windows(2)
        .filter(|w| w[0] == "--peer")
        .filter_map(|w| state.nodes.iter().find(|m| m.listen == w[1]))
        .map(|m| m.name.as_str())
        .collect()
}

fn name_width(state: &State) -> usize {
    state
        .nodes
        .iter()
        .map(|n| n.name.len())
        .max()
        .unwrap_or(4)
        .max(4)
}
