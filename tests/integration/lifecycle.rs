//! Home and process lifecycle: init, file modes, one daemon per home, clean SIGTERM, and a
//! stale socket left by a SIGKILL.

use fedci_tests::Node;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::time::Duration;

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn init_then_run_then_sigterm() {
    let mut node = Node::new();
    let root = node.init("odl");
    assert_eq!(
        node.root_pub(),
        root,
        "root.pub must hold the key init printed"
    );
    for key in ["root.key", "node.key"] {
        assert_eq!(mode(&node.home().join(key)), 0o600, "{key} mode");
    }
    node.start();
    assert_eq!(mode(&node.socket()), 0o660, "fedci.sock mode");
    let status = node.status();
    assert_eq!(status["community"], "odl", "{status}");
    assert_eq!(status["root_key"], root.as_str(), "{status}");
    assert!(
        status["pins"].to_string().contains(&root),
        "own root must be pinned: {status}"
    );
    let rosters = node.query_all("kind=trust.roster");
    assert_eq!(rosters.len(), 1, "init stores one roster: {rosters:?}");
    assert_eq!(rosters[0]["data"]["serial"], 1, "{}", rosters[0]);
    assert!(
        rosters[0]["data"]["keys"]
            .to_string()
            .contains(status["node_key"].as_str().expect("node_key")),
        "roster must name the node key: {}",
        rosters[0]
    );
    let exit = node.stop();
    assert_eq!(exit.code(), Some(0), "SIGTERM must exit 0, got {exit}");
}

#[test]
fn second_run_on_same_home_refuses_and_leaves_the_first_alone() {
    let node = Node::started("odl");
    let log = node.home().join("second-run.log");
    let mut second = node.spawn_run(&log, "second run");
    let exit = second
        .wait_timeout(Duration::from_secs(20))
        .expect("a second `run` on the same home must exit, it kept running");
    assert!(!exit.success(), "second run must fail, exited {exit}");
    assert_eq!(exit.code(), Some(1), "second run exit code");
    let err = second.log();
    assert!(
        err.to_lowercase().contains("already"),
        "second run stderr must say \"already\": {err}"
    );
    // The first node's socket must still be the one answering.
    let id = node.publish("x-test.after", json!({"ok": true}), &[]);
    node.event(&id);
}

#[test]
fn stale_socket_from_kill9_is_replaced_on_restart() {
    let mut node = Node::started("odl");
    let id = node.publish("x-test.before", json!({"n": 1}), &[]);
    node.kill9();
    assert!(
        node.socket().exists(),
        "after kill -9 the socket file is expected to remain"
    );
    assert!(
        UnixStream::connect(node.socket()).is_err(),
        "nobody should answer on a dead node's socket"
    );
    node.start();
    assert_eq!(node.event(&id)["id"], id.as_str());
    let exit = node.stop();
    assert_eq!(exit.code(), Some(0), "SIGTERM exit");
}

/// A store writer that panics (a test hook makes it panic on its first ingest) stops the node
/// with an error naming it, instead of leaving a daemon that answers and stores nothing.
#[test]
fn a_panicked_writer_stops_the_node_with_an_error() {
    let mut node = Node::new();
    node.init("odl");
    node.start_with_env(&[], &[("FEDCI_TEST_WRITER_PANIC", "1")]);
    let body = fedci_tests::node::event_body(
        "artifact.created",
        json!({"identity": "pkg:maven/org.opendaylight/odl@1"}),
        &[],
    );
    // The publish fails (503, or the connection closes as the node stops): never a 201.
    if let Ok(r) = fedci_tests::http::request(
        &node.socket(),
        "POST",
        "/v1/events",
        &[("content-type", "application/json")],
        body.to_string().as_bytes(),
    ) {
        assert_ne!(r.status, 201, "a panicked writer acknowledged a publish");
    }
    let status = node.wait_exit(Duration::from_secs(60));
    assert!(!status.success(), "the node exited with {status}");
    let log = node.log();
    assert!(
        log.contains("the store's writer stopped: panicked: test hook"),
        "the exit names the writer and its panic; log:\n{log}"
    );
}
