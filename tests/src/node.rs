//! One `fedci-node` in a temporary home, as the tests use it: the process is run by the one
//! node harness (`fedci_testnet::node`); this adds the temporary home, panics that carry the
//! node's log, and the CLI and socket calls the tests make against it.

use crate::http::{self, EventStream, Reply, ReplyExt};
use crate::process::Background;
use crate::{is_id, node_bin, wait_until};
use fedci_client::types::{Page, PublishStatus, Published, Status};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::Duration;
use tempfile::TempDir;

pub use fedci_testnet::node::{START_TIMEOUT, STOP_TIMEOUT};

/// A node home (a temporary directory) plus, while running, its `fedci-node run` process, run
/// by the one node harness ([`fedci_testnet::node::Node`]). Dropping it kills the process; if
/// the test is failing, the node's log is printed first.
#[derive(Debug)]
pub struct Node {
    // Declared first: dropped (the process killed) before the home is removed.
    node: fedci_testnet::node::Node,
    dir: TempDir,
    community: Option<String>,
}

impl Default for Node {
    fn default() -> Self {
        Node::new()
    }
}

impl Node {
    /// A fresh, empty home; nothing runs yet.
    pub fn new() -> Node {
        Node::new_in(&std::env::temp_dir())
    }

    /// A fresh, empty home inside `parent` (e.g. a small tmpfs).
    pub fn new_in(parent: &Path) -> Node {
        let dir = tempfile::Builder::new()
            .prefix("fedci-")
            .tempdir_in(parent)
            .expect("creating a temporary node home");
        let node = fedci_testnet::node::Node::new("node", dir.path().to_path_buf(), node_bin());
        Node {
            node,
            dir,
            community: None,
        }
    }

    /// A home initialised for `community` with its daemon running.
    pub fn started(community: &str) -> Node {
        let mut n = Node::new();
        n.init(community);
        n.start();
        n
    }

    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    /// The CI socket: what a CI job uses.
    pub fn socket(&self) -> PathBuf {
        self.node.socket()
    }

    /// The owner-only admin socket: trust, peers, rosters, anyone's consumers.
    pub fn admin_socket(&self) -> PathBuf {
        self.home().join("admin.sock")
    }

    /// Where the daemon's stdout and stderr go (appended across restarts).
    pub fn log_path(&self) -> PathBuf {
        self.node.log_path()
    }

    pub fn log(&self) -> String {
        self.node.log()
    }

    pub fn community(&self) -> &str {
        self.community.as_deref().expect("node not initialised")
    }

    /// A `fedci-node --home H` command, ready for more arguments.
    pub fn command(&self) -> Command {
        self.node.command()
    }

    /// Runs `fedci-node --home H ARGS…` to completion.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running fedci-node {args:?}: {e}"))
    }

    /// Like [`Node::cli`] with `input` on stdin.
    pub fn cli_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .command()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("running fedci-node {args:?}: {e}"));
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(input).expect("writing stdin");
        drop(stdin);
        child.wait_with_output().expect("waiting for fedci-node")
    }

    /// Runs the CLI, asserts exit 0, returns stdout.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "fedci-node {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("CLI stdout is not UTF-8")
    }

    /// `init --community C`; returns the root public key (the last line of stdout).
    pub fn init(&mut self, community: &str) -> String {
        self.init_with(community, &[])
    }

    /// `init --community C --root @OTHER/root.pub`: another node of `other`'s community,
    /// pinning its root (the root's holder must still `roster add` this node's key).
    pub fn init_joining(&mut self, other: &Node) -> String {
        let root = format!("@{}", other.home().join("root.pub").display());
        self.init_with(other.community(), &["--root", &root])
    }

    fn init_with(&mut self, community: &str, extra: &[&str]) -> String {
        let mut args = vec!["init", "--community", community];
        args.extend_from_slice(extra);
        let out = self.cli_ok(&args);
        let key = last_line(&out);
        assert!(
            is_id(&key),
            "init: last line of stdout is not a 64-hex root key: {out:?}"
        );
        self.community = Some(community.to_owned());
        self.node.name = community.to_owned();
        key
    }

    /// The root key as written in `root.pub` (hex after a `#` comment line).
    pub fn root_pub(&self) -> String {
        let text = std::fs::read_to_string(self.home().join("root.pub")).expect("reading root.pub");
        text.lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .expect("root.pub holds no key line")
            .to_owned()
    }

    /// Spawns `fedci-node run` without waiting for it (the caller owns the process).
    pub fn spawn_run(&self, log: &Path, label: &str) -> Background {
        let mut cmd = self.command();
        cmd.arg("run");
        Background::spawn(cmd, log, label)
    }

    /// Starts the daemon and waits until `GET /v1/status` answers 200.
    pub fn start(&mut self) {
        self.start_with(&[]);
    }

    /// Like [`Node::start`] with extra `run` arguments (`--peer`, `--listen`, `--tamper-relay`).
    pub fn start_with(&mut self, run_args: &[&str]) {
        self.start_with_env(run_args, &[]);
    }

    /// Like [`Node::start_with`] with extra environment variables for the daemon (test hooks
    /// such as `FEDCI_TEST_WRITER_PANIC`).
    pub fn start_with_env(&mut self, run_args: &[&str], env: &[(&str, &str)]) {
        assert!(!self.node.is_running(), "node already started");
        self.node.run_args = run_args.iter().map(|a| a.to_string()).collect();
        self.node.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Err(e) = self.node.start() {
            panic!("{e}");
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.node.is_running()
    }

    pub fn pid(&self) -> u32 {
        self.node.pid().expect("node not running")
    }

    /// SIGKILL: the crash case, nothing flushed on the way out.
    pub fn kill9(&mut self) {
        assert!(self.node.pid().is_some(), "node not running");
        self.node.kill9();
    }

    /// Waits for the daemon to exit by itself; panics if it still runs after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        assert!(self.node.pid().is_some(), "node not running");
        self.node.wait_exit(timeout).unwrap_or_else(|| {
            panic!(
                "fedci-node still runs after {timeout:?}; log:\n{}",
                self.log()
            )
        })
    }

    /// SIGTERM and wait for the exit; panics if it takes longer than [`STOP_TIMEOUT`].
    pub fn stop(&mut self) -> ExitStatus {
        assert!(self.node.pid().is_some(), "node not running");
        self.node.stop().unwrap_or_else(|| {
            panic!(
                "fedci-node did not exit within {STOP_TIMEOUT:?} of SIGTERM; log:\n{}",
                self.log()
            )
        })
    }

    /// One HTTP request over the node's socket; panics if the connection fails.
    pub fn http(&self, method: &str, path: &str, body: &[u8], headers: &[(&str, &str)]) -> Reply {
        http::request(&self.socket(), method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// One HTTP request over the node's admin socket; panics if the connection fails.
    pub fn admin_http(&self, method: &str, path: &str, body: &[u8]) -> Reply {
        http::request(&self.admin_socket(), method, path, &[], body)
            .unwrap_or_else(|e| panic!("admin {method} {path}: {e}"))
    }

    pub fn admin_post_json(&self, path: &str, body: &Value) -> Reply {
        self.admin_http("POST", path, body.to_string().as_bytes())
    }

    pub fn get(&self, path: &str) -> Reply {
        self.http("GET", path, &[], &[])
    }

    /// GET that must answer 200 with JSON.
    pub fn get_json(&self, path: &str) -> Value {
        let r = self.get(path);
        assert_eq!(r.status, 200, "GET {path}: {r:?}");
        r.json()
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Reply {
        self.http("POST", path, body.to_string().as_bytes(), &[])
    }

    /// `GET /v1/status` as the JSON on the wire.
    pub fn status(&self) -> Value {
        self.get_json("/v1/status")
    }

    /// `GET /v1/status` as the API's type.
    pub fn typed_status(&self) -> Status {
        let r = self.get("/v1/status");
        assert_eq!(r.status, 200, "GET /v1/status: {r:?}");
        r.typed()
    }

    /// Number of events held (`GET /v1/status` "events").
    pub fn event_count(&self) -> u64 {
        self.typed_status()
            .events
            .expect("status has no event count (store unreadable?)")
    }

    /// Publishes through the socket; asserts 201 and returns the id.
    pub fn publish(&self, kind: &str, data: Value, links: &[(&str, &str)]) -> String {
        let r = self.post_json("/v1/events", &event_body(kind, data, links));
        assert_eq!(r.status, 201, "POST /v1/events {kind}: {r:?}");
        let published: Published = r.typed();
        assert_eq!(
            published.status,
            PublishStatus::Stored,
            "POST /v1/events {kind}: {r:?}"
        );
        published.id.to_string()
    }

    /// Publishes with `fedci-node publish`; returns the id it printed.
    pub fn publish_cli(&self, kind: &str, data: &Value, links: &[(&str, &str)]) -> String {
        let data = data.to_string();
        let mut args = vec!["publish", "--kind", kind, "--data", data.as_str()];
        let links: Vec<String> = links.iter().map(|(r, t)| format!("{r}={t}")).collect();
        for l in &links {
            args.extend(["--link", l.as_str()]);
        }
        let out = self.cli_ok(&args);
        let id = last_line(&out);
        assert!(is_id(&id), "publish printed no id: {out:?}");
        id
    }

    /// `GET /v1/events/{id}` as JSON (must exist).
    pub fn event(&self, id: &str) -> Value {
        self.get_json(&format!("/v1/events/{id}"))
    }

    /// The event's COSE bytes (`Accept: application/cose`).
    pub fn raw(&self, id: &str) -> Vec<u8> {
        let r = self.http(
            "GET",
            &format!("/v1/events/{id}"),
            &[],
            &[("Accept", "application/cose")],
        );
        assert_eq!(r.status, 200, "GET raw {id}: {r:?}");
        r.body.to_vec()
    }

    pub fn post_raw(&self, bytes: &[u8]) -> Reply {
        self.http(
            "POST",
            "/v1/events/raw",
            bytes,
            &[("Content-Type", "application/cose")],
        )
    }

    /// Every event matching `filter` (a query string without `after`/`limit`), all pages.
    pub fn query_all(&self, filter: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut after = 0u64;
        for _ in 0..10_000 {
            let sep = if filter.is_empty() { "" } else { "&" };
            let path = format!("/v1/events?{filter}{sep}after={after}&limit=500");
            let r = self.get(&path);
            assert_eq!(r.status, 200, "GET {path}: {r:?}");
            // Items stay JSON: tests check the exact fields on the wire.
            let page: Page<Value> = r.typed();
            let empty = page.events.is_empty();
            out.extend(page.events);
            if page.complete {
                return out;
            }
            assert!(
                page.next_after > after || !empty,
                "query paging does not advance: {r:?}"
            );
            after = page.next_after;
        }
        panic!("query {filter:?} never completed");
    }

    /// Opens `GET /v1/stream?…`; asserts 200.
    pub fn stream(&self, path: &str) -> EventStream {
        let s =
            EventStream::open(&self.socket(), path).unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(s.status, 200, "GET {path} status");
        s
    }

    /// Starts `fedci-node watch ARGS…` in the background, output to `H/<name>.log`.
    pub fn watch(&self, name: &str, args: &[&str]) -> Background {
        let mut cmd = self.command();
        cmd.arg("watch").args(args);
        Background::spawn(cmd, &self.home().join(format!("{name}.log")), name)
    }

    /// The value of an unlabelled sample `name` on `GET /metrics`; panics if absent.
    pub fn metric(&self, name: &str) -> u64 {
        let r = self.get("/metrics");
        assert_eq!(r.status, 200, "GET /metrics: {r:?}");
        let text = String::from_utf8_lossy(&r.body).into_owned();
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("/metrics has no sample {name}:\n{text}"))
    }

    /// Resident memory of the running daemon in KiB (`VmRSS` of /proc/PID/status).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("reading /proc/PID/status of the node");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmRSS in /proc status:\n{status}"))
    }

    /// Waits until the node holds event `id`.
    pub fn wait_for_event(&self, id: &str, timeout: Duration) {
        wait_until(timeout, &format!("event {id}"), || {
            self.get(&format!("/v1/events/{id}")).status == 200
        });
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "----- fedci-node log ({}) -----\n{}\n----- end of node log -----",
                self.log_path().display(),
                self.log()
            );
        }
    }
}

/// The JSON body of `POST /v1/events`.
pub fn event_body(kind: &str, data: Value, links: &[(&str, &str)]) -> Value {
    let links: Vec<Value> = links
        .iter()
        .map(|(rel, target)| json!({"rel": rel, "target": target}))
        .collect();
    json!({"kind": kind, "data": data, "links": links})
}

/// The last non-empty line of `s`, trimmed.
pub fn last_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or_default()
        .to_owned()
}
