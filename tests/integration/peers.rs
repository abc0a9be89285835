//! Remembered peers: `run --peer` and `peer add` survive a restart, `peer list` shows them
//! with where they come from, `peer remove` forgets one; the peer routes are admin-only.

use fedci_tests::Node;
use fedci_tests::mesh::{MESH_TIMEOUT, poll_until, wait_connected};
use serde_json::{Value, json};
use std::time::Duration;

/// Long enough for catch-up on reconnect on a busy 2-core machine.
const FLOW_TIMEOUT: Duration = Duration::from_secs(60);

fn admin_peers(node: &Node) -> Vec<Value> {
    let r = node.admin_http("GET", "/v1/peers", &[]);
    assert_eq!(r.status, 200, "GET /v1/peers on admin.sock: {r:?}");
    let v: Value = serde_json::from_slice(&r.body).expect("GET /v1/peers is not JSON");
    v["peers"].as_array().cloned().unwrap_or_default()
}

#[test]
fn run_peer_is_remembered_across_restart_and_peer_remove_forgets_it() {
    let mut odl = Node::new();
    odl.init("odl");
    let mut opnfv = Node::new();
    opnfv.init("opnfv");
    odl.trust(&opnfv);
    opnfv.trust(&odl);
    odl.start();
    let odl_addr = odl.listen_addr();
    let odl_id = odl.peer_id();

    opnfv.start_with(&["--peer", &odl_addr]);
    wait_connected(&opnfv, &[&odl], MESH_TIMEOUT);

    // Restart with no --peer at all: the node dials odl again by itself, and events flow.
    opnfv.stop();
    opnfv.start();
    wait_connected(&opnfv, &[&odl], MESH_TIMEOUT);
    let id = odl.publish(
        "artifact.created",
        json!({"identity": "pkg:generic/odl@after-restart"}),
        &[],
    );
    opnfv.wait_for_event(&id, FLOW_TIMEOUT);

    let peers = admin_peers(&opnfv);
    assert_eq!(peers.len(), 1, "one remembered peer: {peers:?}");
    assert_eq!(peers[0]["addr"], odl_addr.as_str(), "{peers:?}");
    assert_eq!(peers[0]["remembered"], true, "{peers:?}");
    assert_eq!(peers[0]["configured"], false, "{peers:?}");
    assert_eq!(peers[0]["connected"], true, "{peers:?}");
    let table = opnfv.cli_ok(&["peer", "list"]);
    assert!(
        table.contains("remembered") && table.contains(&odl_addr) && table.contains("yes"),
        "peer list must show odl as remembered and connected:\n{table}"
    );

    // The CI socket neither lists nor forgets peers.
    for (method, path) in [
        ("GET", "/v1/peers".to_string()),
        ("DELETE", format!("/v1/peers/{odl_id}")),
    ] {
        let r = opnfv.http(method, &path, &[], &[]);
        assert_eq!(r.status, 403, "{method} {path} on fedci.sock: {r:?}");
        assert!(r.text().contains("admin_only"), "{r:?}");
    }
    assert_eq!(
        admin_peers(&opnfv).len(),
        1,
        "a refused DELETE changed nothing"
    );

    // Forget by peer id: disconnected now, and gone after a restart.
    let out = opnfv.cli_ok(&["peer", "remove", &odl_id]);
    assert!(
        out.contains(&odl_addr),
        "peer remove names what it forgot: {out}"
    );
    assert!(admin_peers(&opnfv).is_empty(), "peer list after remove");
    assert!(
        poll_until(MESH_TIMEOUT, || !opnfv.connected_peers().contains(&odl_id)),
        "opnfv still connected to odl after peer remove: {:?}",
        opnfv.connected_peers()
    );
    let again = opnfv.cli(&["peer", "remove", &odl_id]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "removing an unknown peer fails"
    );
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("no_peer"),
        "{again:?}"
    );
    opnfv.stop();
    opnfv.start();
    assert!(
        admin_peers(&opnfv).is_empty(),
        "forgotten peer is back after restart"
    );
    let table = opnfv.cli_ok(&["peer", "list"]);
    assert!(table.contains("no peers"), "{table}");
}

#[test]
fn configured_peer_is_listed_and_not_removable_by_the_api() {
    let mut node = Node::new();
    node.init("odl");
    let addr = "/ip4/127.0.0.1/tcp/9/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
    node.set_config("peers", &format!("[\"{addr}\"]"));
    node.start();
    let peers = admin_peers(&node);
    assert_eq!(peers.len(), 1, "{peers:?}");
    assert_eq!(peers[0]["configured"], true, "{peers:?}");
    assert_eq!(peers[0]["remembered"], false, "{peers:?}");
    let out = node.cli(&["peer", "remove", addr]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("config.toml"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}
