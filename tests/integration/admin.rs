//! A CI job's socket cannot change trust, peers or another job's consumer: those answer 403
//! `admin_only` / `not_owner` on `fedci.sock` and change nothing, and work on the owner-only
//! `admin.sock`, which the CLI uses by itself for its admin commands.

use fedci_tests::ReplyExt as _;
use fedci_tests::root::{NOBODY, as_user, require_root};
use fedci_tests::{Node, Reply};
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn assert_refused(r: &Reply, code: &str, what: &str) {
    assert_eq!(r.status, 403, "{what} must be refused: {r:?}");
    assert_eq!(r.json()["error"]["code"], code, "{what}: {r:?}");
}

/// The root pinned for `community` on `node` (`GET /v1/trust`).
fn pinned(node: &Node, community: &str) -> Option<String> {
    node.get_json("/v1/trust")["pins"]
        .as_array()
        .expect("pins")
        .iter()
        .find(|p| p["community"] == community)
        .and_then(|p| p["root"].as_str().map(str::to_owned))
}

fn blocked(node: &Node) -> Vec<Value> {
    node.status()["network"]["blocked"]
        .as_array()
        .expect("status network.blocked")
        .clone()
}

#[test]
fn ci_socket_cannot_change_trust_or_peers_admin_socket_can() {
    let mut odl = Node::new();
    let odl_root = odl.init("odl");
    assert_eq!(mode(odl.home()), 0o750, "home mode after init");
    // A home made wider than allowed is narrowed by `run`; setgid (the CI group) stays.
    std::fs::set_permissions(odl.home(), std::fs::Permissions::from_mode(0o2777)).unwrap();
    odl.start();
    assert_eq!(mode(odl.home()), 0o2750, "home mode after run");
    assert_eq!(mode(&odl.socket()), 0o660, "CI socket mode");
    assert_eq!(mode(&odl.admin_socket()), 0o600, "admin socket mode");
    for f in ["root.key", "node.key", "store.redb"] {
        assert_eq!(mode(&odl.home().join(f)), 0o600, "{f} mode");
    }

    // Two candidate roots for opnfv: the real one, pinned by the owner's CLI, and another.
    let mut opnfv = Node::new();
    let opnfv_root = opnfv.init("opnfv");
    let other_root = Node::new().init("opnfv");
    let out = odl.cli_ok(&["trust", "add", "opnfv", &opnfv_root]);
    assert!(out.contains("pinned"), "owner's `trust add`: {out}");

    // The CI socket: re-pinning any root, our own included, is refused and changes nothing.
    for (community, key) in [("opnfv", &other_root), ("odl", &other_root)] {
        let r = odl.post_json(
            "/v1/trust/pins",
            &json!({"community": community, "key": key}),
        );
        assert_refused(
            &r,
            "admin_only",
            &format!("re-pinning {community} on fedci.sock"),
        );
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("admin.sock")),
            "the refusal names the admin socket: {r:?}"
        );
    }
    assert_eq!(pinned(&odl, "opnfv").as_deref(), Some(opnfv_root.as_str()));
    assert_eq!(pinned(&odl, "odl").as_deref(), Some(odl_root.as_str()));

    // The admin socket may re-pin another community, never our own.
    let r = odl.admin_post_json(
        "/v1/trust/pins",
        &json!({"community": "odl", "key": other_root}),
    );
    assert_eq!(r.status, 409, "re-pinning the own root: {r:?}");
    assert_eq!(r.json()["error"]["code"], "own_root", "{r:?}");
    assert_eq!(pinned(&odl, "odl").as_deref(), Some(odl_root.as_str()));
    let out = odl.cli(&["trust", "add", "odl", &other_root]);
    assert!(
        !out.status.success(),
        "CLI re-pin of the own root must fail"
    );
    let r = odl.admin_post_json(
        "/v1/trust/pins",
        &json!({"community": "opnfv", "key": other_root}),
    );
    assert_eq!(r.status, 200, "re-pin over admin.sock: {r:?}");
    assert_eq!(pinned(&odl, "opnfv").as_deref(), Some(other_root.as_str()));

    // Peers: adding and blocking are refused on the CI socket, done on the admin socket.
    opnfv.start();
    let addr = opnfv.status()["network"]["listen"][0]
        .as_str()
        .expect("opnfv listen address")
        .to_owned();
    let peer_id = addr.rsplit('/').next().expect("peer id").to_owned();
    let r = odl.post_json("/v1/peers", &json!({ "addr": addr }));
    assert_refused(&r, "admin_only", "adding a peer on fedci.sock");
    let r = odl.post_json("/v1/peers/block", &json!({ "peer_id": peer_id }));
    assert_refused(&r, "admin_only", "blocking a peer on fedci.sock");
    let r = odl.post_json("/v1/peers/unblock", &json!({ "peer_id": peer_id }));
    assert_refused(&r, "admin_only", "unblocking a peer on fedci.sock");
    assert!(
        blocked(&odl).is_empty(),
        "nothing blocked: {:?}",
        blocked(&odl)
    );
    // `new: true` shows the CI socket's attempt remembered nothing.
    let r = odl.admin_post_json("/v1/peers", &json!({ "addr": addr }));
    assert_eq!(r.status, 200, "peer add over admin.sock: {r:?}");
    assert_eq!(r.json()["new"], true, "{r:?}");
    odl.cli_ok(&["peer", "block", &peer_id]);
    fedci_tests::wait_until(
        std::time::Duration::from_secs(20),
        "the owner's block to show",
        || blocked(&odl) == vec![json!(peer_id)],
    );
    odl.cli_ok(&["peer", "unblock", &peer_id]);

    // CI operations still work on the CI socket.
    let id = odl.publish(
        "artifact.created",
        json!({"identity": "pkg:generic/a@1"}),
        &[],
    );
    odl.event(&id);
    assert_eq!(odl.get("/metrics").status, 200);
}

/// Runs curl as `nobody` against a socket; returns (HTTP status, body). Status 0: curl
/// could not connect.
fn curl_as_nobody(socket: &Path, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let url = format!("http://fedci{path}");
    let mut args = vec![
        "-s",
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        "--unix-socket",
        socket.to_str().expect("utf-8 path"),
        "-X",
        method,
    ];
    if let Some(b) = body {
        args.extend(["-H", "Content-Type: application/json", "-d", b]);
    }
    args.push(&url);
    let out = as_user(NOBODY, "curl", &args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (status.trim().parse().unwrap_or(0), body.to_owned())
}

fn cursor(node: &Node, name: &str) -> Value {
    node.get_json("/v1/consumers")[name].clone()
}

#[test]
fn consumers_belong_to_the_uid_that_made_them() {
    require_root("it runs a CI client as another user (nobody)");
    fedci_tests::require_program("curl", "curl");
    let node = Node::started("odl");
    // The CI group here is nobody's group: the home (0750) and fedci.sock (0660) let it in.
    for p in [node.home().to_path_buf(), node.socket()] {
        let ok = std::process::Command::new("chgrp")
            .arg(NOBODY.to_string())
            .arg(&p)
            .status()
            .expect("chgrp")
            .success();
        assert!(ok, "chgrp {}", p.display());
    }
    for n in 0..3 {
        node.publish("x-test.c", json!({ "n": n }), &[]);
    }
    let last = node.status()["last_arrival"]
        .as_u64()
        .expect("last_arrival");

    // A CI job as nobody publishes and reads like any job.
    let (status, body) = curl_as_nobody(
        &node.socket(),
        "POST",
        "/v1/events",
        Some(r#"{"kind":"x-test.c","data":{"by":"nobody"}}"#),
    );
    assert_eq!(status, 201, "nobody publishes on fedci.sock: {body}");
    // But it cannot reach the admin socket at all.
    let (status, _) = curl_as_nobody(&node.admin_socket(), "GET", "/v1/status", None);
    assert_eq!(
        status, 0,
        "nobody must not be able to connect to admin.sock"
    );

    // root's consumer: nobody can neither move nor delete it.
    let r = node.post_json("/v1/consumers/root-job/ack", &json!({"arrival": 2}));
    assert_eq!(r.status, 200, "root acks its own consumer: {r:?}");
    let ack3 = r#"{"arrival":3}"#;
    let (status, body) = curl_as_nobody(
        &node.socket(),
        "POST",
        "/v1/consumers/root-job/ack",
        Some(ack3),
    );
    assert_eq!(status, 403, "nobody acks root's consumer: {body}");
    assert!(body.contains("not_owner"), "{body}");
    let (status, body) = curl_as_nobody(&node.socket(), "DELETE", "/v1/consumers/root-job", None);
    assert_eq!(status, 403, "nobody deletes root's consumer: {body}");
    assert_eq!(
        cursor(&node, "root-job"),
        json!(2),
        "root's cursor unchanged"
    );

    // nobody's own consumer is its own; root on the CI socket is just another uid.
    let (status, body) = curl_as_nobody(
        &node.socket(),
        "POST",
        "/v1/consumers/nobody-job/ack",
        Some(ack3),
    );
    assert_eq!(status, 200, "nobody acks its own consumer: {body}");
    let r = node.post_json("/v1/consumers/nobody-job/ack", &json!({"arrival": last}));
    assert_refused(
        &r,
        "not_owner",
        "root acking nobody's consumer on fedci.sock",
    );
    assert_eq!(cursor(&node, "nobody-job"), json!(3));

    // The admin socket may move or remove anyone's consumer; so does the owner's CLI.
    let r = node.admin_post_json("/v1/consumers/nobody-job/ack", &json!({"arrival": last}));
    assert_eq!(r.status, 200, "admin acks nobody's consumer: {r:?}");
    assert_eq!(cursor(&node, "nobody-job"), json!(last));
    node.cli_ok(&["consumer", "remove", "nobody-job"]);
    assert_eq!(
        cursor(&node, "nobody-job"),
        Value::Null,
        "removed by the owner"
    );
    let (status, body) = curl_as_nobody(&node.socket(), "DELETE", "/v1/consumers/root-job", None);
    assert_eq!(status, 403, "still not nobody's: {body}");
    let r = node.admin_http("DELETE", "/v1/consumers/root-job", &[]);
    assert_eq!(r.status, 200, "admin deletes root's consumer: {r:?}");
}
