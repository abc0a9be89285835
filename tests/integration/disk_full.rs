//! A full disk wedges nothing: with the node's home on a small tmpfs, filling it makes
//! publishes fail fast with a JSON 503 while `status` and `/metrics` say the store is failing;
//! freeing the space lets publishing resume without a restart, and no acknowledged event is lost.
//! A live stream open throughout may see an event whose commit then failed (it is announced
//! before its fsync), but never two events at one arrival position.

use fedci_tests::ReplyExt as _;
use fedci_tests::node::event_body;
use fedci_tests::root::Tmpfs;
use fedci_tests::{Node, wait_until};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Big enough for a node's home and a few hundred small events, small enough to fill quickly.
const TMPFS_BYTES: u64 = 24 << 20;
/// Each event's padding: a few publishes grow the store file past any free page inside it.
const PAD: usize = 16 * 1024;
/// A publish on a failing store must answer at least this fast (no hang until a timeout).
const FAST: Duration = Duration::from_secs(5);
/// How long the node may take to notice the space is back (its retries back off to a few s).
const RECOVERY: Duration = Duration::from_secs(60);

fn body(n: usize) -> Value {
    event_body("x-test.fill", json!({"n": n, "pad": "x".repeat(PAD)}), &[])
}

fn store_state(node: &Node) -> Value {
    node.status()["store"].clone()
}

#[test]
fn disk_full_then_freed_publishing_resumes_without_restart() {
    // Declared first, so it is dropped (unmounted) after the node has been killed.
    let fs = Tmpfs::mount(TMPFS_BYTES);
    let mut node = Node::new_in(fs.path());
    node.init("odl");
    node.start();
    assert_eq!(
        store_state(&node)["state"],
        "ok",
        "a fresh node's store is ok"
    );

    let mut acked: Vec<String> = Vec::new();
    let mut publish = |node: &Node, n: usize| -> fedci_tests::Reply {
        let r = node.post_json("/v1/events", &body(n));
        if r.status == 201 {
            acked.push(r.json()["id"].as_str().expect("id").to_owned());
        }
        r
    };
    for n in 0..20 {
        let r = publish(&node, n);
        assert_eq!(r.status, 201, "publish {n} before the disk is full: {r:?}");
    }

    // A live stream from here on: it gets events at their announce point, before the fsync.
    let last = node.typed_status().last_arrival;
    let mut stream = node.stream(&format!("/v1/stream?kind=x-test.fill&after={last}"));

    // Fill the disk, then publish until the store runs out of room.
    let filler = fs.fill("filler");
    let mut first_error = None;
    for n in 20..2000 {
        let r = publish(&node, n);
        if r.status != 201 {
            first_error = Some(r);
            break;
        }
    }
    let r = first_error.expect("2000 publishes of 16 KiB fitted on a full 24 MiB tmpfs");
    assert_eq!(r.status, 503, "a publish the store cannot commit: {r:?}");
    let v = r.json();
    assert_eq!(v["error"]["code"], "store_failing", "{v}");

    // While the disk stays full: status, metrics and the CLI say so; publishes fail fast.
    let s = store_state(&node);
    assert_eq!(s["state"], "failing", "status while the disk is full: {s}");
    assert!(
        s["error"].as_str().is_some_and(|e| !e.is_empty()),
        "status names the store's error: {s}"
    );
    let metrics = node.get("/metrics");
    assert_eq!(metrics.status, 200, "{metrics:?}");
    assert!(
        metrics.text().lines().any(|l| l == "fedci_store_failing 1"),
        "/metrics must carry fedci_store_failing 1 while failing:\n{}",
        metrics.text()
    );
    let human = node.cli_ok(&["status"]);
    assert!(
        human
            .lines()
            .any(|l| l.starts_with("store") && l.contains("FAILING")),
        "`status` must say the store is failing:\n{human}"
    );
    let mut slowest = Duration::ZERO;
    for n in 0..5 {
        let t = Instant::now();
        let r = publish(&node, 5000 + n);
        assert_eq!(r.status, 503, "publish on a full disk: {r:?}");
        assert_eq!(r.json()["error"]["code"], "store_failing", "{r:?}");
        slowest = slowest.max(t.elapsed());
    }
    assert!(slowest < FAST, "a failing publish took {slowest:?}");

    // Free the space: the node recovers by itself, without a restart.
    let pid = node.pid();
    std::fs::remove_file(&filler).expect("removing the filler");
    let freed = Instant::now();
    wait_until(
        RECOVERY,
        "the store to report ok after space was freed",
        || store_state(&node)["state"] == "ok",
    );
    let recovered_in = freed.elapsed();
    for n in 0..10 {
        let r = publish(&node, 9000 + n);
        assert_eq!(r.status, 201, "publish after space was freed: {r:?}");
    }
    assert_eq!(node.pid(), pid, "the node must recover without a restart");
    assert!(node.is_running(), "the node must still be running");
    let metrics = node.get("/metrics").text();
    assert!(
        metrics.lines().any(|l| l == "fedci_store_failing 0"),
        "/metrics after recovery:\n{metrics}"
    );

    // The stream delivers every event acknowledged after it opened (all but the first 20), and no position twice with different ids.
    let want: std::collections::BTreeSet<String> = acked[20..].iter().cloned().collect();
    let mut at: std::collections::BTreeMap<u64, String> = Default::default();
    let mut got = std::collections::BTreeSet::new();
    wait_until(
        RECOVERY,
        "the stream to deliver every acknowledged event",
        || {
            while let Some(e) = stream.next_event(Duration::from_millis(200)) {
                let (arrival, id) = (
                    e["arrival"].as_u64().expect("arrival"),
                    e["id"].as_str().expect("id").to_owned(),
                );
                if let Some(other) = at.insert(arrival, id.clone()) {
                    assert_eq!(other, id, "arrival {arrival} streamed for two events");
                }
                got.insert(id);
            }
            want.is_subset(&got)
        },
    );
    eprintln!(
        "disk_full: the stream saw {} event(s) announced whose commit then failed",
        got.difference(&want).count()
    );
    // Every acknowledged event is there, now and after a clean restart.
    let missing = |node: &Node| -> Vec<String> {
        acked
            .iter()
            .filter(|id| node.get(&format!("/v1/events/{id}")).status != 200)
            .cloned()
            .collect()
    };
    assert_eq!(
        missing(&node),
        Vec::<String>::new(),
        "acknowledged events lost"
    );
    node.stop();
    node.start();
    assert_eq!(
        missing(&node),
        Vec::<String>::new(),
        "acknowledged events lost across a restart"
    );
    eprintln!(
        "disk_full: {} events acknowledged, 0 lost; failing publishes answered in <= {slowest:?}; \
         store ok {recovered_in:?} after space was freed, without a restart",
        acked.len()
    );
}
