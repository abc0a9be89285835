//! The read-only web view (`fedci-node run --http ADDR`) on a real node over real TCP: reads
//! answer, every write is refused 405 with the store unchanged, a non-loopback bind needs a
//! token and every request then carries it; and in headless Chromium (`web_browser.rs`) the
//! page shows the reference chain's trace and a live feed.

use fedci_tests::Node;
use fedci_tests::ReplyExt as _;
use fedci_tests::http::request_tcp;
use fedci_tests::net::free_port;
use fedci_tests::node::event_body;
use serde_json::json;
use std::time::Duration;

/// Starts `node` with the web view on a free loopback port; returns `127.0.0.1:<port>`.
pub(crate) fn start_web(node: &mut Node) -> String {
    let addr = format!("127.0.0.1:{}", free_port());
    node.start_with(&["--http", &addr]);
    addr
}

fn error_code(r: &fedci_tests::Reply) -> String {
    r.json()["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not a JSON error body: {r:?}"))
        .to_owned()
}

#[test]
fn web_view_serves_reads_and_refuses_every_write_with_the_store_unchanged() {
    let mut node = Node::new();
    node.init("odl");
    let addr = start_web(&mut node);
    let id = node.publish("artifact.created", json!({"identity": "pkg:x/a@1"}), &[]);

    let page = request_tcp(&addr, "GET", "/", &[], &[]).expect("GET /");
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.text().contains("<title>fedci"), "{}", page.text());
    let ev = request_tcp(&addr, "GET", &format!("/v1/events/{id}"), &[], &[]).unwrap();
    assert_eq!(ev.status, 200, "{ev:?}");
    assert_eq!(ev.json()["id"], id);
    let status = request_tcp(&addr, "GET", "/v1/status", &[], &[]).unwrap();
    assert_eq!(status.json()["community"], "odl");

    // Bodies that the Unix socket would accept: the refusal is the listener's, not the body's.
    let publish = serde_json::to_vec(&event_body(
        "artifact.created",
        json!({"identity": "pkg:x/b@1"}),
        &[],
    ))
    .unwrap();
    let before = node.event_count();
    let writes: [(&str, &str, Vec<u8>); 8] = [
        ("POST", "/v1/events", publish.clone()),
        ("POST", "/v1/events/raw", node.raw(&id)),
        (
            "POST",
            "/v1/trust/pins",
            br#"{"community":"x","key":"00"}"#.to_vec(),
        ),
        (
            "POST",
            "/v1/peers",
            br#"{"addr":"/ip4/127.0.0.1/tcp/1"}"#.to_vec(),
        ),
        ("POST", "/v1/peers/block", br#"{"peer_id":"x"}"#.to_vec()),
        ("POST", "/v1/consumers/ci/ack", br#"{"arrival":1}"#.to_vec()),
        ("DELETE", "/v1/consumers/ci", Vec::new()),
        ("PUT", "/v1/events", publish.clone()),
    ];
    for (method, path, body) in &writes {
        let r = request_tcp(&addr, method, path, &[], body).unwrap();
        assert_eq!(r.status, 405, "{method} {path} over TCP: {r:?}");
        assert_eq!(error_code(&r), "read_only", "{method} {path}");
    }
    assert_eq!(
        node.event_count(),
        before,
        "a refused write changed the store"
    );
    // The same publish on the socket is fine.
    let r = node.post_json("/v1/events", &serde_json::from_slice(&publish).unwrap());
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(node.event_count(), before + 1);
    let metrics = node.get("/metrics").text();
    assert!(
        metrics.contains(&format!(
            "status=\"405\",code=\"read_only\"}} {}",
            writes.len()
        )),
        "refused writes are not counted:\n{metrics}"
    );
}

#[test]
fn non_loopback_web_bind_is_refused_without_a_token_and_the_token_is_then_required() {
    let mut node = Node::new();
    node.init("odl");
    let port = free_port();
    let any = format!("0.0.0.0:{port}");

    let mut cmd = node.command();
    cmd.args(["run", "--http", &any]);
    let log = node.home().join("refused.log");
    let mut run = fedci_tests::Background::spawn(cmd, &log, "fedci-node run --http 0.0.0.0");
    let status = run.wait_timeout(Duration::from_secs(30));
    let out = run.log();
    run.kill9();
    let status = status
        .unwrap_or_else(|| panic!("a non-loopback --http without a token still runs; log:\n{out}"));
    assert!(!status.success(), "exited 0: {out}");
    assert!(
        out.contains("--http-token"),
        "the refusal does not name --http-token:\n{out}"
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "something listens on {port} after the refusal"
    );

    let token = "correct-horse-battery-staple";
    let token_file = node.home().join("http.token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    node.start_with(&["--http", &any, "--http-token", token_file.to_str().unwrap()]);
    let addr = format!("127.0.0.1:{port}");
    for path in ["/", "/v1/status", "/assets/app.js"] {
        let r = request_tcp(&addr, "GET", path, &[], &[]).unwrap();
        assert_eq!(r.status, 401, "GET {path} without a token: {r:?}");
        assert_eq!(error_code(&r), "unauthorized");
        let r = request_tcp(
            &addr,
            "GET",
            path,
            &[("Authorization", "Bearer correct-horse-battery-stapl")],
            &[],
        )
        .unwrap();
        assert_eq!(r.status, 401, "GET {path} with a wrong token: {r:?}");
        let bearer = format!("Bearer {token}");
        let r = request_tcp(&addr, "GET", path, &[("Authorization", &bearer)], &[]).unwrap();
        assert_eq!(r.status, 200, "GET {path} with the token: {r:?}");
    }
    let bearer = format!("Bearer {token}");
    let before = node.event_count();
    let body = serde_json::to_vec(&event_body(
        "artifact.created",
        json!({"identity": "pkg:x/c@1"}),
        &[],
    ))
    .unwrap();
    let r = request_tcp(
        &addr,
        "POST",
        "/v1/events",
        &[("Authorization", &bearer)],
        &body,
    )
    .unwrap();
    assert_eq!(r.status, 405, "{r:?}");
    assert_eq!(node.event_count(), before);
}
