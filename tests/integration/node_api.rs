//! Publish → get → query through the CLI and the socket, in JSON and raw COSE form; the raw form
//! carried to a second node that pinned the first community's root; `curl --unix-socket`.

use fedci_tests::ReplyExt as _;
use fedci_tests::{Node, is_id, ndjson, ndjson_ids, require_program};
use serde_json::{Value, json};
use std::process::Command;

/// The event JSON without the node-local `arrival`, for comparing one event across views.
fn portable(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        // Node-local: its position and its clock when it stored the event.
        m.remove("arrival");
        m.remove("arrived_at");
    }
    v
}

fn parse_get(out: &str) -> Value {
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "`get` must print one JSON line, got {out:?}"
    );
    serde_json::from_str(lines[0])
        .unwrap_or_else(|e| panic!("`get` output is not JSON ({e}): {out}"))
}

#[test]
fn publish_get_query_round_trip_json_and_raw() {
    let odl = Node::started("odl");
    let status = odl.status();
    let node_key = status["node_key"]
        .as_str()
        .expect("status.node_key")
        .to_owned();
    assert_eq!(status["community"], "odl", "status: {status}");

    // CLI publish (inline JSON) → CLI get.
    let data = json!({
        "identity": "pkg:maven/org.opendaylight.integration/karaf@0.21.0",
        "name": "karaf",
        "version": "0.21.0",
        "branch": "master",
        "build_url": "https://jenkins.opendaylight.org/releng/job/autorelease/1/"
    });
    let a = odl.publish_cli("artifact.created", &data, &[]);
    let got = parse_get(&odl.cli_ok(&["get", &a]));
    assert_eq!(got["id"], a.as_str(), "get {a}: {got}");
    assert_eq!(got["kind"], "artifact.created", "{got}");
    assert_eq!(got["community"], "odl", "{got}");
    assert_eq!(
        got["author"],
        node_key.as_str(),
        "author must be the node key: {got}"
    );
    assert_eq!(got["data"], data, "data must round-trip unchanged: {got}");
    assert_eq!(got["links"], json!([]), "{got}");
    assert!(
        got["time"].as_u64().is_some_and(|t| t > 1_600_000_000_000),
        "time in ms: {got}"
    );
    assert!(got["seq"].as_u64().is_some(), "seq: {got}");

    // Socket GET shows the same event (plus its arrival).
    let via_api = odl.event(&a);
    assert!(
        via_api["arrival"].as_u64().is_some(),
        "GET /v1/events/{{id}} lacks arrival: {via_api}"
    );
    assert_eq!(portable(via_api), portable(got.clone()));

    // CLI publish with --data @file and a link.
    let file = odl.home().join("published.json");
    let pdata = json!({"locations": [{"type": "maven", "uri": "https://nexus.opendaylight.org/karaf-0.21.0.zip"}]});
    std::fs::write(&file, pdata.to_string()).expect("writing data file");
    let out = odl.cli_ok(&[
        "publish",
        "--kind",
        "artifact.published",
        "--data",
        &format!("@{}", file.display()),
        "--link",
        &format!("ARTIFACT={a}"),
    ]);
    let p = fedci_tests::node::last_line(&out);
    assert!(is_id(&p), "publish printed no id: {out:?}");
    let pe = odl.event(&p);
    assert_eq!(pe["data"], pdata, "{pe}");
    assert_eq!(
        pe["links"],
        json!([{"rel": "ARTIFACT", "target": a}]),
        "{pe}"
    );

    // Socket publish.
    let x = odl.publish(
        "x-test.note",
        json!({"text": "via the socket"}),
        &[("CAUSE", &a)],
    );

    // CLI query: NDJSON in arrival order, filters.
    let all = ndjson(&odl.cli_ok(&[
        "query",
        "--kind",
        "artifact.created",
        "--kind",
        "artifact.published",
        "--kind",
        "x-test.note",
    ]));
    let ids: Vec<&str> = all.iter().map(|v| v["id"].as_str().expect("id")).collect();
    assert_eq!(ids, [a.as_str(), p.as_str(), x.as_str()], "query order");
    let arrivals: Vec<u64> = all
        .iter()
        .map(|v| v["arrival"].as_u64().expect("arrival"))
        .collect();
    assert!(
        arrivals.windows(2).all(|w| w[0] < w[1]),
        "arrival not increasing: {arrivals:?}"
    );
    assert_eq!(
        ndjson_ids(&odl.cli_ok(&["query", "--kind", "artifact.published"])),
        [p.as_str()]
    );
    let linking: Vec<String> = ndjson_ids(&odl.cli_ok(&["query", "--link", &a]));
    assert_eq!(linking, [p.clone(), x.clone()], "query --link {a}");
    assert_eq!(
        ndjson_ids(&odl.cli_ok(&[
            "query",
            "--kind",
            "artifact.created",
            "--kind",
            "x-test.note",
            "--limit",
            "1"
        ])),
        [a.as_str()],
        "query --limit 1"
    );
    let (ta, tp) = (
        got["time"].as_u64().expect("time"),
        pe["time"].as_u64().expect("time"),
    );
    let recent =
        ndjson_ids(&odl.cli_ok(&["query", "--community", "odl", "--since", &tp.to_string()]));
    assert!(
        recent.contains(&p) && recent.contains(&x),
        "query --since {tp}: {recent:?}"
    );
    if ta < tp {
        assert!(
            !recent.contains(&a),
            "query --since {tp} returned an older event: {recent:?}"
        );
    }
    let rfc3339 = |args: &[&str]| {
        let mut full = vec!["query", "--kind", "artifact.created"];
        full.extend_from_slice(args);
        ndjson_ids(&odl.cli_ok(&full))
    };
    assert_eq!(
        rfc3339(&["--since", "2000-01-01T00:00:00Z"]),
        [a.as_str()],
        "RFC 3339 --since"
    );
    assert!(
        rfc3339(&["--until", "2000-01-01T00:00:00Z"]).is_empty(),
        "RFC 3339 --until"
    );
    // Socket query agrees with the CLI.
    let api_ids: Vec<Value> = odl
        .query_all("kind=artifact.created,artifact.published&kind=x-test.note")
        .into_iter()
        .map(|v| v["id"].clone())
        .collect();
    assert_eq!(
        api_ids,
        [json!(a), json!(p), json!(x)],
        "GET /v1/events query"
    );

    // Raw form: CLI and socket give the same COSE_Sign1 bytes (tag 18).
    let raw_cli = odl.cli(&["get", &a, "--raw"]);
    assert!(raw_cli.status.success(), "get --raw: {raw_cli:?}");
    let raw = odl.raw(&a);
    assert_eq!(
        raw_cli.stdout, raw,
        "get --raw and Accept: application/cose differ"
    );
    assert_eq!(
        raw.first(),
        Some(&0xd2),
        "raw event is not a tagged COSE_Sign1"
    );
    let again = odl.post_raw(&raw);
    assert_eq!(again.status, 200, "re-posting a held event: {again:?}");
    assert_eq!(again.json()["status"], "duplicate", "{again:?}");

    // A second community's node refuses the raw event until it pins odl's root and holds its roster.
    let opnfv = Node::started("opnfv");
    let before = opnfv.post_raw(&raw);
    assert_eq!(
        before.status, 403,
        "event from an unpinned community: {before:?}"
    );
    assert_eq!(
        opnfv.get(&format!("/v1/events/{a}")).status,
        404,
        "refused event was stored"
    );

    let root_file = format!("@{}", odl.home().join("root.pub").display());
    opnfv.cli_ok(&["trust", "add", "odl", &root_file]);
    let pins = opnfv.cli_ok(&["trust", "list"]);
    assert!(
        pins.contains("odl") && pins.contains(&odl.root_pub()),
        "trust list: {pins}"
    );

    let rosters = ndjson_ids(&odl.cli_ok(&["query", "--kind", "trust.roster"]));
    assert_eq!(
        rosters.len(),
        1,
        "a fresh node holds one roster: {rosters:?}"
    );
    let roster_raw = odl.cli(&["get", &rosters[0], "--raw"]).stdout;
    let r = opnfv.post_raw(&roster_raw);
    assert_eq!(r.status, 201, "posting odl's roster to opnfv: {r:?}");

    let r = opnfv.post_raw(&raw);
    assert_eq!(r.status, 201, "posting odl's artifact to opnfv: {r:?}");
    assert_eq!(r.json()["id"], a.as_str(), "{r:?}");
    let r = opnfv.post_raw(&raw);
    assert_eq!(
        (r.status, r.json()["status"].clone()),
        (200, json!("duplicate")),
        "{r:?}"
    );
    let there = parse_get(&opnfv.cli_ok(&["get", &a]));
    assert_eq!(
        portable(there),
        portable(got),
        "the event reads the same on both nodes"
    );
    assert_eq!(
        opnfv.raw(&a),
        raw,
        "raw bytes must be kept exactly as received"
    );
}

#[test]
fn curl_unix_socket_works() {
    require_program("curl", "curl");
    let node = Node::started("odl");
    let sock = node.socket();
    let curl = |args: &[&str]| {
        let out = Command::new("curl")
            .args(["-sS", "--unix-socket"])
            .arg(&sock)
            .args(args)
            .output()
            .expect("running curl");
        assert!(out.status.success(), "curl {args:?}: {out:?}");
        out.stdout
    };
    let posted = curl(&[
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"kind":"x-test.curl","data":{"n":1},"links":[]}"#,
        "http://localhost/v1/events",
    ]);
    let posted: Value = serde_json::from_slice(&posted).expect("curl publish answer is JSON");
    assert_eq!(posted["status"], "stored", "{posted}");
    let id = posted["id"].as_str().expect("id").to_owned();

    let got: Value = serde_json::from_slice(&curl(&[&format!("http://localhost/v1/events/{id}")]))
        .expect("curl get answer is JSON");
    assert_eq!(
        (got["id"].as_str(), got["data"].clone()),
        (Some(id.as_str()), json!({"n": 1}))
    );

    let raw = curl(&[
        "-H",
        "Accept: application/cose",
        &format!("http://localhost/v1/events/{id}"),
    ]);
    assert_eq!(raw, node.raw(&id), "curl raw bytes");

    let status: Value =
        serde_json::from_slice(&curl(&["http://localhost/v1/status"])).expect("status JSON");
    assert_eq!(status["community"], "odl");
}
