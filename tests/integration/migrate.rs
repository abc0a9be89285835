//! A store written by an earlier version opens in this one: the node moves it to the third
//! format on start and every event keeps its arrival position and arrival time, every
//! consumer its cursor. Two fixtures, one per earlier format: `tests/data/store-v1/` (events
//! keyed by id, eight indexes) and `tests/data/store-v2/` (one row per event keyed by
//! arrival, the format before the byte log).
//!
//! Each fixture is a real home: the demo's OPNFV node run by that version's binary, plus 240
//! events of a custom kind (some linking an artifact, one a dangling link) and a consumer
//! acknowledged midway. `expected.json` holds what that node answered then.
//! `tests/scripts/make-store.sh` rebuilds both.

use fedci_tests::Node;
use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

/// The fixtures: one home per earlier format.
const FIXTURES: [&str; 2] = [
    concat!(env!("CARGO_MANIFEST_DIR"), "/data/store-v1"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/data/store-v2"),
];

/// A node whose home is a copy of the fixture, not started.
fn node_on_fixture(fixture: &Path) -> Node {
    let node = Node::new();
    for name in [
        "config.toml",
        "node.key",
        "root.key",
        "root.pub",
        "store.redb",
    ] {
        let to = node.home().join(name);
        std::fs::copy(fixture.join(name), &to)
            .unwrap_or_else(|e| panic!("copying fixture {name}: {e}"));
        // git keeps no mode but the executable bit: keys and store are 0600 in a home.
        if name != "config.toml" && name != "root.pub" {
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600))
                .unwrap_or_else(|e| panic!("chmod {name}: {e}"));
        }
    }
    node
}

fn expected(fixture: &Path) -> Value {
    let text = std::fs::read_to_string(fixture.join("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("expected.json is JSON")
}

/// (arrival, id, arrived_at, kind, community) of every event, in arrival order, as the node
/// answers them now.
fn answered(node: &Node) -> Vec<Value> {
    let page = node.get_json("/v1/events?limit=1000");
    let events = page["events"].as_array().expect("events page");
    events
        .iter()
        .map(|e| {
            let id = e["id"].as_str().expect("id");
            let one = node.event(id);
            json!({
                "arrival": one["arrival"],
                "id": one["id"],
                "arrived_at": one["arrived_at"],
                "kind": one["kind"],
                "community": one["community"],
            })
        })
        .collect()
}

#[test]
fn a_store_of_the_first_format_opens_with_every_event_and_cursor() {
    opens_with_every_event_and_cursor(Path::new(FIXTURES[0]));
}

#[test]
fn a_store_of_the_second_format_opens_with_every_event_and_cursor() {
    opens_with_every_event_and_cursor(Path::new(FIXTURES[1]));
}

fn opens_with_every_event_and_cursor(fixture: &Path) {
    let want = expected(fixture);
    let want_events = want["events"].as_array().expect("expected events");
    assert_eq!(want_events.len(), 254, "the fixture's expected.json");
    let mut node = node_on_fixture(fixture);
    node.start();
    assert!(
        node.log().contains("in the third format"),
        "the node says it moved the store:\n{}",
        node.log()
    );

    // Every event, at its old arrival position, with its arrival time.
    assert_eq!(&answered(&node), want_events);
    assert_eq!(node.event_count(), 254);
    assert_eq!(node.get_json("/v1/consumers"), want["consumers"]);
    let status = node.status();
    assert_eq!(status["dangling_link_targets"], json!(1), "{status}");
    assert_eq!(
        status["last_arrival"], want_events[253]["arrival"],
        "{status}"
    );

    // The consumer acknowledged midway resumes right after its cursor: nothing skipped,
    // nothing repeated.
    let cursor = want["consumers"]["fixture-ci"].as_u64().expect("cursor");
    let after: Vec<&str> = want_events
        .iter()
        .filter(|e| e["arrival"].as_u64().is_some_and(|a| a > cursor))
        .map(|e| e["id"].as_str().expect("id"))
        .collect();
    let n = after.len().to_string();
    let out = node.cli_ok(&["watch", "--consumer", "fixture-ci", "--count", &n]);
    let got: Vec<String> = out
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("watch prints JSON lines");
            v["id"].as_str().expect("id").to_string()
        })
        .collect();
    assert_eq!(got, after);

    // Filters that use the new indexes find what the old ones did.
    let customs = node.get_json("/v1/events?kind=x-fedci.*&community=opnfv&limit=1000");
    let want_customs = want_events
        .iter()
        .filter(|e| e["kind"] == "x-fedci.fixture")
        .count();
    assert_eq!(
        customs["events"].as_array().map(Vec::len),
        Some(want_customs)
    );
    let rosters = node.get_json("/v1/events?kind=trust.roster&limit=1000");
    assert_eq!(rosters["events"].as_array().map(Vec::len), Some(3));

    // Links followed backwards still work: the artifact the fixture's events link to.
    let artifact = want_events
        .iter()
        .rev()
        .find(|e| e["kind"] == "artifact.created")
        .and_then(|e| e["id"].as_str())
        .expect("an artifact in the fixture");
    let down = node.get_json(&format!("/v1/trace/{artifact}?direction=down&depth=1"));
    assert!(
        down.to_string().matches("x-fedci.fixture").count() >= 39,
        "trace down from the artifact: {down}"
    );

    // The promotion index's artifacts by time (rebuilt keyed by arrival) lists every artifact,
    // newest first.
    let listed = node.get_json("/v1/artifacts?limit=100");
    let listed: Vec<&str> = listed["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .map(|a| a["id"].as_str().expect("id"))
        .collect();
    let mut artifacts: Vec<&Value> = want_events
        .iter()
        .filter(|e| e["kind"] == "artifact.created")
        .collect();
    assert!(artifacts.len() >= 2, "the fixture has artifacts");
    artifacts.sort_by_key(|e| {
        std::cmp::Reverse(node.event(e["id"].as_str().expect("id"))["time"].as_u64())
    });
    let want_ids: Vec<&str> = artifacts
        .iter()
        .map(|e| e["id"].as_str().expect("id"))
        .collect();
    assert_eq!(listed, want_ids);

    // A new event takes a position after every old one, and the trust of the old store is
    // in force (the publish is authorised by the stored roster).
    let id = node.publish("x-fedci.after", json!({"n": 1}), &[]);
    let last = want_events
        .last()
        .and_then(|e| e["arrival"].as_u64())
        .expect("last arrival");
    assert!(node.event(&id)["arrival"].as_u64().expect("arrival") > last);

    // The second start finds the new format: nothing is moved again.
    node.stop();
    node.start();
    assert_eq!(node.event_count(), 255);
    assert_eq!(&answered(&node)[..254], want_events.as_slice());
}
