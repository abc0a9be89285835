//! Memory bounds of a running node (issue 19): the daemon runs with few malloc arenas, and
//! `/metrics` shows the size of its caches against their bounds.

use fedci_tests::Node;
use serde_json::json;

#[test]
fn the_daemon_runs_with_few_malloc_arenas_unless_told_otherwise() {
    let mut node = Node::new();
    node.init("odl");
    node.start();
    let environ = std::fs::read(format!("/proc/{}/environ", node.pid())).expect("environ");
    let vars: Vec<String> = environ
        .split(|b| *b == 0)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    // An operator's own setting wins; otherwise the node sets 2.
    let want = std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "2".into());
    assert!(
        vars.contains(&format!("MALLOC_ARENA_MAX={want}")),
        "the daemon's environment lacks MALLOC_ARENA_MAX={want}: {vars:?}"
    );
    // Still the process the harness started (exec keeps the pid), and it serves.
    assert_eq!(node.get("/v1/status").status, 200);
}

#[test]
fn metrics_show_each_cache_within_its_bound() {
    let mut node = Node::new();
    node.init("odl");
    node.start();
    for i in 0..50 {
        let r = node.post_json(
            "/v1/events",
            &json!({"kind": "artifact.created", "data": {"identity": format!("pkg:generic/odl@{i}")}, "links": []}),
        );
        assert_eq!(r.status, 201, "{r:?}");
    }
    let limit = node.metric("fedci_store_cache_limit_bytes");
    assert_eq!(limit, 16 << 20);
    let used = node.metric("fedci_store_cache_bytes");
    assert!(0 < used && used <= limit, "page cache {used} of {limit}");
    assert!(node.metric("fedci_sync_cache_bytes") <= 16 << 20);
    assert!(node.metric("fedci_sync_set_items_max") <= 1 << 16);
    assert!(node.metric("fedci_refused_ids_bytes") <= 65_536 * 80);
    // The node's own RSS, as an operator would graph it: a few MB at least, far from 128 MB.
    let rss = node.metric("fedci_process_resident_bytes");
    assert!((1 << 20..128 << 20).contains(&rss), "RSS {rss} B");
}
