//! Fault injection on a running net: crash a node (`kill`), bring it back with the same home
//! and address (`restart`), split the net (`partition`) and join it again (`heal`).
//!
//! Without namespaces a partition is enforced by the nodes themselves (`peer block`: the node
//! disconnects and refuses the peer); blocks live in memory, so a restarted node gets its
//! blocks again. With namespaces it is enforced by the kernel (blackhole routes), and the
//! nodes see what a real network split looks like: silence.

use super::state::{NodeState, State};
use super::{ClusterError, DirArgs, NodeArgs, PartitionArgs, netns, process, spec};
use crate::node::Node;
use std::time::{Duration, Instant};

/// How long a stopped node gets to exit cleanly, and a restarted one to open its socket.
const STOP_GRACE: Duration = Duration::from_secs(10);
const START_LIMIT: Duration = Duration::from_secs(30);

pub fn kill(args: NodeArgs) -> Result<(), ClusterError> {
    let state = State::load(&args.dir.dir)?;
    let node = state.node(&args.node)?;
    if !process::alive(node) {
        println!("{} is not running", node.name);
        return Ok(());
    }
    process::signal(node, "KILL");
    if !process::wait_dead(&[node], Duration::from_secs(5)).is_empty() {
        return Err(ClusterError::NotReady(format!(
            "{} survived SIGKILL",
            node.name
        )));
    }
    println!(
        "killed {} (pid {})",
        node.name,
        node.pid.unwrap_or_default()
    );
    Ok(())
}

pub fn restart(args: NodeArgs) -> Result<(), ClusterError> {
    let dir = args.dir.dir;
    let mut state = State::load(&dir)?;
    let i = state.index_of(&args.node)?;
    let node = &state.nodes[i];
    if process::alive(node) && !process::stop(&[node], STOP_GRACE).is_empty() {
        return Err(ClusterError::NotReady(format!(
            "{} did not stop",
            node.name
        )));
    }
    let pid = process::spawn(&state.bin, node)
        .map_err(|e| ClusterError::io(format!("starting {}", node.name), e))?;
    state.nodes[i].pid = Some(pid);
    state.save(&dir)?;
    let node = &state.nodes[i];
    process::wait_socket(node, Instant::now() + START_LIMIT).map_err(|e| {
        ClusterError::NotReady(format!("{e} (log {})", process::log_path(node).display()))
    })?;
    if state.netns.is_none() {
        let cli = Node::new(&node.name, node.home.clone(), &state.bin);
        for peer in blocked_by(&state, &node.name) {
            cli.cli(&["peer", "block", &peer.peer_id])?;
        }
    }
    println!(
        "restarted {} (pid {pid}) at {}; it re-dials its peers every 2 s",
        node.name, node.listen
    );
    Ok(())
}

pub fn partition(args: PartitionArgs) -> Result<(), ClusterError> {
    let dir = args.dir.dir;
    let mut state = State::load(&dir)?;
    let groups = spec::parse_groups(&args.groups)?;
    for name in groups.iter().flatten() {
        state.index_of(name)?;
    }
    let mut notes = Vec::new();
    if !state.partition.is_empty() {
        let old = std::mem::take(&mut state.partition);
        apply(&state, &old, false, &mut notes)?;
        state.save(&dir)?;
        println!(
            "healed the partition in force ({})",
            spec::show_groups(&old)
        );
    }
    // Recorded before it is applied, so `heal` can undo a partition that failed halfway.
    state.partition = groups;
    state.save(&dir)?;
    let cut = apply(&state, &state.partition, true, &mut notes)?;
    for note in notes {
        println!("note: {note}");
    }
    println!(
        "partitioned: {} ({cut} links cut)",
        spec::show_groups(&state.partition)
    );
    Ok(())
}

pub fn heal(args: DirArgs) -> Result<(), ClusterError> {
    let dir = args.dir;
    let mut state = State::load(&dir)?;
    if state.partition.is_empty() {
        println!("no partition in force");
        return Ok(());
    }
    let old = std::mem::take(&mut state.partition);
    let mut notes = Vec::new();
    let mended = apply(&state, &old, false, &mut notes)?;
    state.save(&dir)?;
    for note in notes {
        println!("note: {note}");
    }
    println!(
        "healed: {} ({mended} links restored)",
        spec::show_groups(&old)
    );
    Ok(())
}

/// Cuts (or mends) every link between nodes of different groups; returns how many. Failures
/// to cut are errors; failures to mend, and nodes that are down, are notes.
fn apply(
    state: &State,
    groups: &[Vec<String>],
    cut: bool,
    notes: &mut Vec<String>,
) -> Result<usize, ClusterError> {
    let pairs = spec::cross_pairs(groups);
    let mut down_noted: Vec<&str> = Vec::new();
    for (x, y) in &pairs {
        let (x, y) = (state.node(x)?, state.node(y)?);
        for (a, b) in [(x, y), (y, x)] {
            let done = match &a.netns {
                Some(ns) if cut => netns::cut(ns, &b.addr).map_err(ClusterError::from),
                Some(ns) => netns::mend(ns, &b.addr).map_err(ClusterError::from),
                None if !process::alive(a) => {
                    if !down_noted.contains(&a.name.as_str()) {
                        down_noted.push(&a.name);
                        notes.push(format!(
                            "{} is not running{}",
                            a.name,
                            if cut {
                                "; `restart` gives it its blocks"
                            } else {
                                ""
                            }
                        ));
                    }
                    Ok(())
                }
                None => block(state, a, b, cut),
            };
            match done {
                Err(e) if cut => return Err(e),
                Err(e) => notes.push(e.to_string()),
                Ok(()) => {}
            }
        }
    }
    Ok(pairs.len())
}

/// `a` blocks (or unblocks) `b`'s peer id.
fn block(state: &State, a: &NodeState, b: &NodeState, cut: bool) -> Result<(), ClusterError> {
    let cli = Node::new(&a.name, a.home.clone(), &state.bin);
    let verb = if cut { "block" } else { "unblock" };
    cli.cli(&["peer", verb, &b.peer_id])?;
    Ok(())
}

/// The nodes `name` must refuse under the partition in force.
fn blocked_by<'a>(state: &'a State, name: &str) -> Vec<&'a NodeState> {
    spec::cross_pairs(&state.partition)
        .iter()
        .filter_map(|(x, y)| {
            let other = if x == name {
                y
            } else if y == name {
                x
            } else {
                return None;
            };
            state.node(other).ok()
        })
        .collect()
}
