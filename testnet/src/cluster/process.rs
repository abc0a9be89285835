//! Node processes that outlive the command that started them: spawned in their own process
//! group with output to a log file, found again by pid (checked against `/proc` so a reused pid
//! is not mistaken for a node), signalled with kill(1), waited for with deadlines.

use super::state::NodeState;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(50);

/// Starts `fedci-node --home HOME run ARGS…` (inside `netns` if given) in the background and
/// returns its pid. Output goes to `HOME/node.log`.
pub fn spawn(bin: &Path, node: &NodeState) -> std::io::Result<u32> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(node))?;
    let mut cmd = match &node.netns {
        // `ip netns exec` execs the command, so the pid is the node's.
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    cmd.arg("--home")
        .arg(&node.home)
        .arg("run")
        .args(&node.run_args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0);
    let child = cmd.spawn()?;
    // Not waited for on purpose: the node must outlive this command; init reaps it.
    let pid = child.id();
    drop(child);
    Ok(pid)
}

pub fn log_path(node: &NodeState) -> PathBuf {
    node.home.join("node.log")
}

/// The last line of the node's log, for one-line errors.
pub fn last_log_line(node: &NodeState) -> String {
    std::fs::read_to_string(log_path(node))
        .ok()
        .and_then(|t| {
            t.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(String::from)
        })
        .unwrap_or_default()
}

/// True when `node` has a live (not zombie) process whose command line names its home.
pub fn alive(node: &NodeState) -> bool {
    node.pid.is_some_and(|pid| pid_runs_home(pid, &node.home))
}

fn pid_runs_home(pid: u32, home: &Path) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    if !matches!(state, Some(s) if s != 'Z' && s != 'X') {
        return false;
    }
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    // Empty while the process is inside execve: the node re-executes itself once at start-up
    // (glibc's arena limit, node/src/main.rs), and a live process mid-exec is still ours.
    if cmdline.is_empty() {
        return true;
    }
    let home = home.as_os_str().as_bytes();
    cmdline.split(|&b| b == 0).any(|arg| arg == home)
}

/// Sends `signal` (TERM, KILL) to the node's process if it is alive.
pub fn signal(node: &NodeState, signal: &str) {
    if let Some(pid) = node.pid.filter(|_| alive(node)) {
        let _ = Command::new("kill")
            .args(["-s", signal, &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Waits until none of `nodes` is alive; returns the names of those still alive at `limit`.
pub fn wait_dead(nodes: &[&NodeState], limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    loop {
        let living: Vec<String> = nodes
            .iter()
            .filter(|n| alive(n))
            .map(|n| n.name.clone())
            .collect();
        if living.is_empty() || Instant::now() >= deadline {
            return living;
        }
        std::thread::sleep(POLL);
    }
}

/// SIGTERM, up to `grace` for a clean exit, then SIGKILL. Returns the names that survived even
/// that (should be none).
pub fn stop(nodes: &[&NodeState], grace: Duration) -> Vec<String> {
    for n in nodes {
        signal(n, "TERM");
    }
    if wait_dead(nodes, grace).is_empty() {
        return Vec::new();
    }
    for n in nodes {
        signal(n, "KILL");
    }
    wait_dead(nodes, Duration::from_secs(5))
}

/// Waits until the node's API socket accepts connections. Fails early, with the last log line,
/// if the process dies. (No log path in the error: a failed `up` removes its directory.)
pub fn wait_socket(node: &NodeState, deadline: Instant) -> Result<(), String> {
    let socket = node.home.join("fedci.sock");
    loop {
        if !alive(node) {
            return Err(format!(
                "{} exited during start-up: {}",
                node.name,
                last_log_line(node)
            ));
        }
        if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("{}: API socket not up in time", node.name));
        }
        std::thread::sleep(POLL);
    }
}
