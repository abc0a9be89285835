//! Harness for the workspace integration tests: runs real `fedci-node` processes in temporary
//! homes and talks to them the way a CI job would, through the CLI or HTTP/1.1 over the node's
//! Unix socket. Shared by `tests/integration/` and reusable by the testnet.

pub mod bin;
pub mod browser;
pub mod hostile;
pub mod http;
pub mod mesh;
pub mod net;
pub mod node;
pub mod process;
pub mod receiver;
pub mod relay;
pub mod root;

pub use bin::{node_bin, testnet_bin};
pub use http::{EventStream, Reply, ReplyExt};
pub use node::Node;
pub use process::Background;
pub use root::require_root;

use std::path::Path;
use std::time::{Duration, Instant};

/// How often [`wait_until`] re-checks its condition.
pub const POLL: Duration = Duration::from_millis(20);

/// Polls `cond` every 20 ms until it holds; panics naming `what` when `timeout` passes first.
/// Tests wait on a condition with a deadline, never on a bare sleep: this, or
/// [`mesh::poll_until`] where running out of time is not itself a failure.
pub fn wait_until(timeout: Duration, what: &str, cond: impl FnMut() -> bool) {
    if !poll_until(timeout, cond) {
        panic!("timed out after {timeout:?} waiting for {what}");
    }
}

/// Polls `cond` every [`POLL`] until it holds (true) or `timeout` passes (false); for waits
/// whose expiry is not itself a failure.
pub fn poll_until(timeout: Duration, cond: impl FnMut() -> bool) -> bool {
    poll_every(POLL, timeout, cond)
}

/// The one polling loop of the harness: checks `cond` every `every` until it holds (true) or
/// `timeout` passes (false).
pub fn poll_every(every: Duration, timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(every);
    }
}

/// True when `s` is an event id: 64 lowercase or uppercase hex digits.
pub fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The lines of a text file, or none if it does not exist yet.
pub fn read_lines(path: &Path) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(s) => s.lines().map(str::to_owned).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("reading {}: {e}", path.display()),
    }
}

/// Panics with a clear message unless `prog` can be run from PATH. Tests that need a tool
/// (curl, graphviz `dot`, `ip`, `tc`) fail without it rather than pass untested; `.ci/run`
/// installs every one of them.
pub fn require_program(prog: &str, package: &str) {
    let found = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {prog}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "this test needs `{prog}` on PATH (package {package}; .ci/run installs it)"
    );
}

/// The ids of NDJSON event lines (as printed by `query` and `watch`), blank lines skipped.
pub fn ndjson_ids(text: &str) -> Vec<String> {
    ndjson(text)
        .iter()
        .map(|v| {
            v.get("id")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_else(|| panic!("event line without an \"id\": {v}"))
                .to_owned()
        })
        .collect()
}

/// Parses NDJSON, skipping blank lines; panics naming the line that is not JSON.
pub fn ndjson(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}
