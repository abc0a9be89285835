//! The background-net commands of the real `fedci-testnet` binary: `up` leaves nodes running
//! after it returns, `partition`/`heal`, `kill`/`restart` act on them from later processes, and
//! `down` leaves nothing behind. Nodes are checked as a user would: `fedci-testnet status`, and
//! `fedci-node --home DIR/<name> publish | query` on the homes the net created.
//!
//! The network-namespace variant needs root, `ip`, `tc` and working namespaces, and fails
//! saying so without them (`.ci/run` installs iproute2); it adds netem latency only where
//! the kernel has the netem qdisc.

use fedci_tests::net::{set_diff, wait_for};
use fedci_tests::{is_id, ndjson_ids, node_bin, require_program, require_root, testnet_bin};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long an event may take to reach every node (gossip or catch-up), on 2 shared cores.
const CONVERGE: Duration = Duration::from_secs(25);
/// How long a partition must keep an event on its own side to count as holding.
const HOLDS: Duration = Duration::from_secs(2);

/// A background net in a temporary directory; `down` on drop, so a failing test leaves no
/// processes or namespaces behind.
struct Net {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Net {
    fn up(args: &[&str]) -> Net {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("net");
        let net = Net { _tmp: tmp, dir };
        let mut full = vec!["up"];
        full.extend_from_slice(args);
        let out = net.ok(&full);
        assert!(
            out.contains("odl") && out.contains("/p2p/"),
            "up printed: {out}"
        );
        net
    }

    /// Runs `fedci-testnet ARGS… --dir DIR`.
    fn run(&self, args: &[&str]) -> Output {
        testnet(args, &self.dir)
    }

    /// Runs the command, asserts exit 0, returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "fedci-testnet {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `fedci-node --home DIR/<node> ARGS…`, asserting success; stdout.
    fn node(&self, node: &str, args: &[&str]) -> String {
        let out = Command::new(node_bin())
            .env_remove("FEDCI_HOME")
            .arg("--home")
            .arg(self.dir.join(node))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("running fedci-node");
        assert!(
            out.status.success(),
            "fedci-node {args:?} on {node} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Publishes an artifact on `node`; its id.
    fn publish(&self, node: &str, tag: &str) -> String {
        let data = format!(r#"{{"identity":"pkg:generic/{tag}@1"}}"#);
        let id = self
            .node(
                node,
                &["publish", "--kind", "artifact.created", "--data", &data],
            )
            .trim()
            .to_string();
        assert!(is_id(&id), "publish printed {id:?}");
        id
    }

    fn ids(&self, node: &str) -> BTreeSet<String> {
        ndjson_ids(&self.node(node, &["query", "--limit", "100000"]))
            .into_iter()
            .collect()
    }

    /// Waits until every node in `nodes` holds `id`.
    fn wait_everywhere(&self, id: &str, nodes: &[&str]) {
        wait_for(CONVERGE, &format!("{id} on {nodes:?}"), || {
            let missing: Vec<&str> = nodes
                .iter()
                .copied()
                .filter(|n| !self.ids(n).contains(id))
                .collect();
            (!missing.is_empty()).then(|| format!("missing on {missing:?}"))
        });
    }

    /// Waits until all `nodes` hold the same ids, including `want`.
    fn wait_same(&self, nodes: &[&str], want: &[&str]) {
        wait_for(CONVERGE, &format!("{nodes:?} to hold the same ids"), || {
            let first = self.ids(nodes[0]);
            if let Some(w) = want.iter().find(|w| !first.contains(**w)) {
                return Some(format!("{} lacks {w}", nodes[0]));
            }
            nodes[1..].iter().find_map(|n| {
                let d = set_diff(nodes[0], &first, n, &self.ids(n));
                (!d.is_empty()).then_some(d)
            })
        });
    }

    /// Asserts, for [`HOLDS`], that none of `nodes` gets any of `ids`.
    fn stays_away(&self, ids: &[&str], nodes: &[&str]) {
        let until = Instant::now() + HOLDS;
        while Instant::now() < until {
            for n in nodes {
                let got = self.ids(n);
                for id in ids {
                    assert!(!got.contains(*id), "{id} crossed the partition to {n}");
                }
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The `status` line of `node`.
    fn status_line(&self, node: &str) -> String {
        let out = self.ok(&["status"]);
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(node))
            .unwrap_or_else(|| panic!("no {node} in status:\n{out}"))
            .to_string()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = self.run(&["down"]);
    }
}

fn testnet(args: &[&str], dir: &Path) -> Output {
    Command::new(testnet_bin())
        .args(args)
        .arg("--dir")
        .arg(dir)
        .env("FEDCI_NODE_BIN", node_bin())
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .stdin(Stdio::null())
        .output()
        .expect("running fedci-testnet")
}

const FOUR: [&str; 4] = ["odl", "opnfv", "openstack", "fdio"];

#[test]
fn background_net_partition_heal_kill_restart_down() {
    let net = Net::up(&["--nodes", "4", "--topology", "ring"]);
    for n in FOUR {
        let line = net.status_line(n);
        assert!(line.contains(" up "), "{line}");
    }
    let first = net.publish("odl", "first");
    net.wait_everywhere(&first, &FOUR);

    let out = net.ok(&["partition", "odl,opnfv", "/", "openstack,fdio"]);
    assert!(out.contains("4 links cut"), "{out}");
    let blocked = net.status_line("odl");
    assert!(
        blocked.contains("openstack") && blocked.contains("fdio"),
        "{blocked}"
    );
    let left = net.publish("odl", "left");
    let right = net.publish("fdio", "right");
    net.wait_everywhere(&left, &["odl", "opnfv"]);
    net.wait_everywhere(&right, &["openstack", "fdio"]);
    net.stays_away(&[&left], &["openstack", "fdio"]);
    net.stays_away(&[&right], &["odl", "opnfv"]);

    net.ok(&["heal"]);
    net.wait_same(&FOUR, &[&first, &left, &right]);

    let out = net.ok(&["kill", "opnfv"]);
    assert!(out.contains("killed opnfv"), "{out}");
    assert!(net.status_line("opnfv").contains(" dead "));
    let while_down = net.publish("odl", "while-down");
    net.wait_everywhere(&while_down, &["odl", "openstack", "fdio"]);
    net.ok(&["restart", "opnfv"]);
    net.wait_same(&FOUR, &[&while_down]);

    let out = net.ok(&["down"]);
    assert!(out.contains("stopped 4 of 4"), "{out}");
    assert!(!net.dir.exists(), "down left {}", net.dir.display());
    assert!(net.ok(&["down"]).contains("nothing running"));
}

#[test]
fn commands_without_a_net_fail_in_one_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("none");
    for args in [
        vec!["status"],
        vec!["kill", "odl"],
        vec!["heal"],
        vec!["partition", "a/b"],
    ] {
        let out = testnet(&args, &dir);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("nothing running"), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
    let out = testnet(&["up", "--topology", "star"], &dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("unknown topology"), "{err}");
    assert!(!dir.exists(), "a refused `up` created {}", dir.display());
    let down = testnet(&["down"], &dir);
    assert!(down.status.success());
    assert!(String::from_utf8_lossy(&down.stdout).contains("nothing running"));
}

/// Panics with a clear message unless this test can make network namespaces: root, `ip`
/// and `tc` (iproute2), and a kernel that creates a namespace.
fn require_netns() {
    require_root("`fedci-testnet up --netns` creates network namespaces");
    require_program("ip", "iproute2");
    require_program("tc", "iproute2");
    let probe = format!("fciprobe{}", std::process::id() % 100_000);
    assert!(
        ip(&["netns", "add", &probe]),
        "`ip netns add` fails here: this test needs a kernel (container) that allows \
         network namespaces"
    );
    ip(&["netns", "del", &probe]);
}

/// The kernel has netem (some VMs and containers lack sch_netem).
fn netem_usable() -> bool {
    let probe = format!("fcinetem{}", std::process::id() % 100_000);
    if !ip(&["netns", "add", &probe]) {
        return false;
    }
    let ok = ip(&[
        "netns", "exec", &probe, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms",
    ]);
    ip(&["netns", "del", &probe]);
    ok
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn netns_net_cuts_links_for_real() {
    require_netns();
    let mut args = vec!["--nodes", "3", "--netns"];
    if netem_usable() {
        args.extend(["--latency", "5ms"]);
    } else {
        eprintln!("note: this kernel has no netem; running without --latency");
    }
    let net = Net::up(&args);
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(net.dir.join("testnet.json")).expect("reading testnet.json"),
    )
    .expect("testnet.json is JSON");
    let run = state["netns"]["run_id"]
        .as_str()
        .expect("run_id in testnet.json")
        .to_string();
    let ours = |list: &str| -> Vec<String> {
        list.split_whitespace()
            .filter(|w| {
                ["fci", "fcv", "fcb"]
                    .iter()
                    .any(|p| w.starts_with(&format!("{p}{run}")))
            })
            .map(String::from)
            .collect()
    };
    let three = ["odl", "opnfv", "openstack"];
    let first = net.publish("odl", "first");
    net.wait_everywhere(&first, &three);

    let out = net.ok(&["partition", "odl", "/", "opnfv,openstack"]);
    assert!(out.contains("2 links cut"), "{out}");
    let alone = net.publish("odl", "alone");
    let pair = net.publish("opnfv", "pair");
    net.wait_everywhere(&pair, &["opnfv", "openstack"]);
    net.stays_away(&[&alone], &["opnfv", "openstack"]);
    net.stays_away(&[&pair], &["odl"]);
    net.ok(&["heal"]);
    net.wait_same(&three, &[&first, &alone, &pair]);

    assert_eq!(ours(&list("netns")).len(), 3, "namespaces of run {run}");
    net.ok(&["down"]);
    assert!(!net.dir.exists());
    assert_eq!(
        ours(&list("netns")),
        Vec::<String>::new(),
        "left after down"
    );
    assert_eq!(ours(&list("link")), Vec::<String>::new(), "left after down");
}

/// `ip netns list` or `ip -o link show`, as text.
fn list(what: &str) -> String {
    let args: &[&str] = match what {
        "netns" => &["netns", "list"],
        _ => &["-o", "link", "show"],
    };
    let out = Command::new("ip").args(args).output().expect("running ip");
    String::from_utf8_lossy(&out.stdout).replace(['@', ':'], " ")
}

/// Errors are one line on stderr even with RUST_BACKTRACE=1, exit 1; usage errors exit 2.
#[test]
fn errors_are_one_line_and_usage_errors_exit_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("no-net-here");
    let out = Command::new(testnet_bin())
        .args(["status", "--dir"])
        .arg(&missing)
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LIB_BACKTRACE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("running fedci-testnet");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "status of a missing net: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line:\n{err}");
    assert!(err.starts_with("fedci-testnet: "), "{err}");
    assert!(!err.contains("backtrace"), "{err}");

    for args in [
        &["bench", "fanout", "--nodes", "1"][..],
        &["no-such-command"],
        &["status", "--no-such-flag"],
    ] {
        let out = Command::new(testnet_bin())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("running fedci-testnet");
        assert_eq!(
            out.status.code(),
            Some(2),
            "fedci-testnet {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
