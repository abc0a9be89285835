//! Memory bounds of a running node (issue 19): the daemon runs on jemalloc, and
//! `/metrics` shows the size of its caches against their bounds.

use fedci_tests::Node;
use serde_json::json;

#[test]
fn the_daemon_runs_on_jemalloc() {
    let mut node = Node::new();
    node.init("odl");
    node.start();
    // jemalloc returns freed memory on its own (glibc's arenas kept it) and costs less CPU
    // per event (issue 16): a default build must not fall back to the system allocator.
    let r = node.get("/metrics");
    assert_eq!(r.status, 200, "GET /metrics: {r:?}");
    let text = String::from_utf8_lossy(&r.body);
    let want = format!(
        "\nfedci_build_info{{version=\"{}\",allocator=\"jemalloc\"}} 1\n",
        env!("CARGO_PKG_VERSION")
    );
    assert!(text.contains(&want), "no {want:?} in /metrics:\n{text}");
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
