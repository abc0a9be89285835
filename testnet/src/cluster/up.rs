//! `up` and `down`: bring a background net to life (homes, fixed addresses, optional network
//! namespaces, processes that outlive the command) and take it away again, leaving nothing
//! behind — also when `up` fails halfway.

use super::state::{NetnsState, NodeState, State};
use super::{ClusterError, DirArgs, UpArgs, homes, netns, peer_id, process, show, spec};
use crate::bench::fanout::names;
use crate::net::{Topology, status};
use crate::node::Node;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Most nodes `up` starts (names and addresses have room for two digits).
const MAX_NODES: usize = 99;
/// Port every node listens on inside its own namespace.
const NETNS_PORT: u16 = 4001;
/// How long `down` waits for a clean exit before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);

pub fn up(args: UpArgs) -> Result<(), ClusterError> {
    let topology = spec::parse_topology(&args.topology)?;
    if !(2..=MAX_NODES).contains(&args.nodes) {
        return Err(ClusterError::Usage(format!(
            "--nodes must be between 2 and {MAX_NODES}"
        )));
    }
    if args.netns {
        netns::preflight()?;
    }
    let bin = crate::binary::fedci_node()?;
    let bin = std::fs::canonicalize(&bin).unwrap_or(bin);
    let dir = prepare_dir(&args.dir.dir)?;
    let mut state = State {
        bin,
        topology: args.topology.trim().to_string(),
        netns: None,
        nodes: Vec::new(),
        partition: Vec::new(),
    };
    match start(&dir, &args, topology, &mut state) {
        Ok(()) => {
            show::print_up(&dir, &state);
            Ok(())
        }
        Err(e) => {
            let left = remove(&dir, &state);
            if !left.is_empty() {
                eprintln!("cleaning up after the failure left: {}", left.join("; "));
            }
            Err(e)
        }
    }
}

pub fn down(args: DirArgs) -> Result<(), ClusterError> {
    let dir = args.dir;
    if !dir.exists() {
        println!("nothing running in {}", dir.display());
        return Ok(());
    }
    let state = match State::load(&dir) {
        Ok(s) => s,
        Err(ClusterError::NotUp(d)) => return Err(ClusterError::Foreign(d)),
        Err(e) => return Err(e),
    };
    let running = state.nodes.iter().filter(|n| process::alive(n)).count();
    let left = remove(&dir, &state);
    if !left.is_empty() {
        return Err(ClusterError::NotReady(format!(
            "could not remove everything: {}",
            left.join("; ")
        )));
    }
    println!(
        "stopped {running} of {} nodes; removed {}",
        state.nodes.len(),
        dir.display()
    );
    Ok(())
}

/// Creates `dir` (refusing one that holds a net or anything else) and returns its absolute
/// path, which node command lines carry so their processes can be recognised.
fn prepare_dir(dir: &Path) -> Result<PathBuf, ClusterError> {
    if State::path(dir).exists() {
        return Err(ClusterError::AlreadyUp(dir.to_path_buf()));
    }
    let occupied = std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some());
    if occupied {
        return Err(ClusterError::Foreign(dir.to_path_buf()));
    }
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::canonicalize(dir))
        .map_err(|e| ClusterError::io(format!("creating {}", dir.display()), e))
}

/// Everything `up` does after the checks. The state file is saved before each step that
/// creates something outside `dir`, so `down` can undo it even if this process dies.
fn start(
    dir: &Path,
    args: &UpArgs,
    topology: Topology,
    state: &mut State,
) -> Result<(), ClusterError> {
    state.save(dir)?;
    let names = names(args.nodes);
    let run_id = if args.netns {
        Some(netns::new_run_id()?)
    } else {
        None
    };
    let addrs: Vec<String> = match &run_id {
        Some(id) => (0..names.len()).map(|i| netns::node_addr(id, i)).collect(),
        None => vec!["127.0.0.1".to_string(); names.len()],
    };
    let ports = match run_id {
        Some(_) => vec![NETNS_PORT; names.len()],
        None => free_ports(names.len())?,
    };
    let keys = homes::create(dir, &names, &state.bin)?;
    for (i, name) in names.iter().enumerate() {
        let peer_id = peer_id::from_node_key(&keys[i]).ok_or_else(|| {
            ClusterError::Node(format!("{name}: `init` printed a malformed node key"))
        })?;
        let (netns, veth) = run_id.as_deref().map(|id| netns::node_names(id, i)).unzip();
        state.nodes.push(NodeState {
            name: name.clone(),
            home: dir.join(name),
            pid: None,
            listen: format!("/ip4/{}/tcp/{}/p2p/{peer_id}", addrs[i], ports[i]),
            peer_id,
            addr: addrs[i].clone(),
            netns,
            veth,
            run_args: Vec::new(),
        });
    }
    set_run_args(&mut state.nodes, topology);
    if let Some(id) = run_id {
        state.netns = Some(NetnsState {
            bridge: netns::bridge_name(&id),
            run_id: id,
            latency: args.latency.clone(),
            loss: args.loss.clone(),
        });
        state.save(dir)?;
        create_links(state)?;
    }
    state.save(dir)?;
    for i in 0..state.nodes.len() {
        let pid = process::spawn(&state.bin, &state.nodes[i])
            .map_err(|e| ClusterError::io(format!("starting {}", state.nodes[i].name), e))?;
        state.nodes[i].pid = Some(pid);
    }
    state.save(dir)?;
    wait_up(state, Duration::from_secs(30 + args.nodes as u64))
}

/// Each node listens on its fixed address and dials the nodes the topology names by theirs.
fn set_run_args(nodes: &mut [NodeState], topology: Topology) {
    let plan = spec::dial_plan(topology, nodes.len());
    let listens: Vec<String> = nodes.iter().map(|n| n.listen.clone()).collect();
    for (node, targets) in nodes.iter_mut().zip(&plan) {
        let bind = node.listen.split("/p2p/").next().unwrap_or_default();
        node.run_args = vec!["--listen".to_string(), bind.to_string()];
        for &j in targets {
            node.run_args
                .extend(["--peer".to_string(), listens[j].clone()]);
        }
    }
}

/// The bridge, and a namespace with a veth on it for every node.
fn create_links(state: &State) -> Result<(), ClusterError> {
    let Some(ns) = &state.netns else {
        return Ok(());
    };
    netns::create_bridge(&ns.bridge)?;
    for n in &state.nodes {
        if let (Some(space), Some(veth)) = (&n.netns, &n.veth) {
            netns::add_node(
                &ns.bridge,
                space,
                veth,
                &n.addr,
                ns.latency.as_deref(),
                ns.loss.as_deref(),
            )?;
        }
    }
    Ok(())
}

/// Waits until every node answers on its socket, reports the peer id we computed, and has at
/// least one peer.
fn wait_up(state: &State, limit: Duration) -> Result<(), ClusterError> {
    let deadline = Instant::now() + limit;
    for n in &state.nodes {
        process::wait_socket(n, deadline).map_err(ClusterError::NotReady)?;
    }
    let mut lagging: Vec<&str>;
    loop {
        lagging = Vec::new();
        for n in &state.nodes {
            let cli = Node::new(&n.name, n.home.clone(), &state.bin);
            let net = status(&cli).and_then(|s| s.network).unwrap_or_default();
            let reported = net.peer_id.as_str();
            if !reported.is_empty() && reported != n.peer_id {
                return Err(ClusterError::NotReady(format!(
                    "{}: peer id is {reported}, expected {} from its node key",
                    n.name, n.peer_id
                )));
            }
            if !process::alive(n) {
                return Err(ClusterError::NotReady(format!(
                    "{} exited: {}",
                    n.name,
                    process::last_log_line(n)
                )));
            }
            if net.peers.is_empty() {
                lagging.push(&n.name);
            }
        }
        if lagging.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let log = state
                .nodes
                .iter()
                .find(|n| n.name == lagging[0])
                .map(process::last_log_line)
                .unwrap_or_default();
            return Err(ClusterError::NotReady(format!(
                "no peers after {limit:?}: {} ({}'s log ends: {log})",
                lagging.join(", "),
                lagging[0]
            )));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `n` distinct free TCP ports on 127.0.0.1 (all held open until every one is chosen).
fn free_ports(n: usize) -> Result<Vec<u16>, ClusterError> {
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ClusterError::io("picking free ports", e))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ClusterError::io("picking free ports", e))
}

/// Stops every node, removes the namespaces and bridge, and deletes `dir`. Returns what could
/// not be removed.
fn remove(dir: &Path, state: &State) -> Vec<String> {
    let nodes: Vec<&NodeState> = state.nodes.iter().collect();
    let mut left: Vec<String> = process::stop(&nodes, STOP_GRACE)
        .into_iter()
        .map(|n| format!("{n} still running"))
        .collect();
    if let Some(ns) = &state.netns {
        let links: Vec<(String, String)> = state
            .nodes
            .iter()
            .filter_map(|n| Some((n.netns.clone()?, n.veth.clone()?)))
            .collect();
        left.extend(netns::teardown(&ns.bridge, &links));
    }
    if let Err(e) = std::fs::remove_dir_all(dir) {
        left.push(format!("removing {}: {e}", dir.display()));
    }
    left
}
