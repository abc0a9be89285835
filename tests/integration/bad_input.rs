//! Bad input through the socket and the CLI: each gets its own 4xx and a JSON error, the store
//! is unchanged, and the node keeps serving.

use fedci_tests::{Node, Reply};
use serde_json::{Value, json};

/// What the store holds, as the API shows it: event count and every event in arrival order.
fn snapshot(node: &Node) -> (u64, Vec<Value>) {
    (node.event_count(), node.query_all(""))
}

/// Asserts `r` has exactly `status` and a `{"error":{"code","message"}}` JSON body whose code
/// is `code`: each kind of bad input has its own answer, which clients and metrics rely on.
fn assert_error(what: &str, r: &Reply, status: u16, code: &str) {
    let ct = r.header("content-type").unwrap_or_default();
    assert!(
        ct.contains("json"),
        "{what}: error content-type {ct:?}: {r:?}"
    );
    let v: Value = serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("{what}: error body is not JSON ({e}): {r:?}"));
    assert_eq!(
        (r.status, v["error"]["code"].as_str()),
        (status, Some(code)),
        "{what}: want {status} {code:?}, got {v}"
    );
    let message = v["error"]["message"].as_str().unwrap_or_default();
    assert!(
        !message.is_empty(),
        "{what}: error body lacks a message: {v}"
    );
}

fn post(node: &Node, body: &[u8]) -> Reply {
    node.http(
        "POST",
        "/v1/events",
        body,
        &[("Content-Type", "application/json")],
    )
}

#[test]
fn bad_input_gets_4xx_json_and_leaves_the_store_unchanged() {
    let node = Node::started("odl");
    let artifact = node.publish(
        "artifact.created",
        json!({"identity": "pkg:generic/forge-me-zzzz@1"}),
        &[],
    );
    let raw = node.raw(&artifact);
    let before = snapshot(&node);

    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("malformed JSON", b"{\"kind\": \"artifact.created\", \"data\": {".to_vec(), 400, "bad_json"),
        ("unknown request field", json!({"kind": "x-test.a", "data": {}, "extra": 1}).to_string().into_bytes(), 400, "bad_json"),
        ("data not an object", json!({"kind": "x-test.a", "data": [1, 2]}).to_string().into_bytes(), 422, "bad_data"),
        ("unknown kind without x- prefix", json!({"kind": "artifact.deleted", "data": {}}).to_string().into_bytes(), 422, "unknown_kind"),
        ("missing required data", json!({"kind": "artifact.created", "data": {"version": "1"}}).to_string().into_bytes(), 422, "missing_data"),
        (
            "ill-typed data",
            json!({"kind": "confidence.modified", "data": {"name": "n", "value": "MAYBE"},
                   "links": [{"rel": "SUBJECT", "target": artifact}]})
            .to_string()
            .into_bytes(),
            422,
            "bad_data",
        ),
        (
            "bad link rel",
            json!({"kind": "artifact.published", "data": {"locations": [{"type": "http", "uri": "https://x"}]},
                   "links": [{"rel": "ARTIFACT", "target": artifact}, {"rel": "ELEMENT", "target": artifact}]})
            .to_string()
            .into_bytes(),
            422,
            "bad_link_rel",
        ),
        (
            "required link missing",
            json!({"kind": "artifact.published", "data": {"locations": [{"type": "http", "uri": "https://x"}]}})
                .to_string()
                .into_bytes(),
            422,
            "bad_link_count",
        ),
        (
            "link rel not upper case",
            json!({"kind": "x-test.a", "data": {}, "links": [{"rel": "cause", "target": artifact}]})
                .to_string()
                .into_bytes(),
            422,
            "bad_link_rel",
        ),
        (
            "link target not hex",
            json!({"kind": "x-test.a", "data": {}, "links": [{"rel": "CAUSE", "target": "not-a-hex-id"}]})
                .to_string()
                .into_bytes(),
            400,
            "bad_link_target",
        ),
    ];
    for (what, body, status, code) in &cases {
        assert_error(what, &post(&node, body), *status, code);
    }

    // Oversized body: a valid JSON document over 1 MiB.
    let big = json!({"kind": "x-test.big", "data": {"blob": "a".repeat(1_200_000)}}).to_string();
    assert_error(
        "body over 1 MiB",
        &post(&node, big.as_bytes()),
        413,
        "too_large",
    );

    // Forged raw events: a flipped signature byte, and a changed payload under the old signature.
    let mut bad_sig = raw.clone();
    let last = bad_sig.len() - 1;
    bad_sig[last] ^= 0x01;
    assert_error(
        "flipped signature byte (copy of a held event)",
        &node.post_raw(&bad_sig),
        400,
        "bad_signature",
    );
    let at = raw
        .windows(4)
        .position(|w| w == b"zzzz")
        .expect("identity bytes in the payload");
    let mut bad_payload = raw.clone();
    bad_payload[at] = b'y';
    assert_error(
        "payload changed under the old signature",
        &node.post_raw(&bad_payload),
        400,
        "bad_signature",
    );
    let noise: Vec<u8> = (0u32..512)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    // The noise starts with 0x00, a whole CBOR item (the integer 0): CBOR, not a COSE_Sign1.
    assert_error(
        "random bytes as a raw event",
        &node.post_raw(&noise),
        400,
        "not_cose_sign1",
    );
    assert_error(
        "bytes that are not CBOR",
        &node.post_raw(&[0xff, 0x00]),
        400,
        "not_cbor",
    );
    assert_error("empty raw event", &node.post_raw(&[]), 400, "not_cbor");
    assert_error(
        "a CBOR array that is not a COSE_Sign1",
        &node.post_raw(&[0x83, 0x01, 0x02, 0x03]),
        400,
        "not_cose_sign1",
    );
    let mut trailing = raw.clone();
    trailing.push(0);
    assert_error(
        "a held event plus one byte",
        &node.post_raw(&trailing),
        400,
        "not_cose_sign1",
    );
    assert_error(
        "raw event over 64 KiB",
        &node.post_raw(&vec![0xa0; 65 * 1024]),
        413,
        "too_large",
    );

    // Reads and routes.
    assert_error("unknown route", &node.get("/v1/nope"), 404, "not_found");
    assert_error(
        "unknown event id",
        &node.get(&format!("/v1/events/{}", "ab".repeat(32))),
        404,
        "not_found",
    );
    assert_error("bad event id", &node.get("/v1/events/xyz"), 400, "bad_id");
    assert_error(
        "unknown query parameter",
        &node.get("/v1/events?colour=red"),
        400,
        "bad_query",
    );
    assert_error(
        "negative since",
        &node.get("/v1/events?since=-1"),
        400,
        "bad_query",
    );
    assert_error(
        "bad trace direction",
        &node.get(&format!("/v1/trace/{artifact}?direction=sideways")),
        400,
        "bad_query",
    );
    assert_error(
        "bad trace format",
        &node.get(&format!("/v1/trace/{artifact}?format=png")),
        400,
        "bad_format",
    );
    assert_error(
        "bad consumer name",
        &node.get("/v1/stream?consumer=a%20b"),
        400,
        "bad_consumer",
    );
    assert_error(
        "wrong method",
        &node.http("DELETE", "/v1/events", &[], &[]),
        405,
        "method_not_allowed",
    );

    assert_eq!(snapshot(&node), before, "bad input changed the store");
    let metrics = node.get("/metrics");
    assert_eq!(metrics.status, 200, "{metrics:?}");
    let metrics = metrics.text();
    for name in ["fedci_events_rejected_total", "fedci_api_errors_total"] {
        assert!(metrics.contains(name), "/metrics lacks {name}:\n{metrics}");
    }
    let rejected = &node.status()["rejected"];
    assert!(
        rejected.as_object().is_some_and(|m| !m.is_empty()),
        "status.rejected must count the forged raw events: {rejected}"
    );

    // Still serving.
    let id = node.publish("x-test.after", json!({"ok": true}), &[]);
    assert_eq!(node.event_count(), before.0 + 1);
    assert_eq!(node.event(&id)["data"], json!({"ok": true}));
}

#[test]
fn cli_reports_errors_with_exit_codes() {
    let node = Node::started("odl");
    let before = node.event_count();

    let out = node.cli(&["publish", "--kind", "x-test.a", "--data", "{not json"]);
    assert_eq!(out.status.code(), Some(1), "publish with bad JSON: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "publish with bad JSON must print one stderr line: {err:?}"
    );
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout on failure: {out:?}"
    );

    let out = node.cli(&["publish", "--kind", "artifact.deleted", "--data", "{}"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "publish of an unknown kind: {out:?}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.lines().filter(|l| !l.trim().is_empty()).count(),
        1,
        "one stderr line: {err:?}"
    );

    let out = node.cli(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(2), "unknown subcommand: {out:?}");
    let out = node.cli(&[
        "publish",
        "--kind",
        "x-test.a",
        "--data",
        "{}",
        "--frobnicate",
    ]);
    assert_eq!(out.status.code(), Some(2), "unknown flag: {out:?}");
    let out = node.cli(&["get", "xyz"]);
    assert!(
        matches!(out.status.code(), Some(1 | 2)),
        "get of a bad id: {out:?}"
    );

    assert_eq!(
        node.event_count(),
        before,
        "failed CLI calls changed the store"
    );
}
