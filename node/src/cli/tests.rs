//! Unit tests of the command line: parsing (clap) and what the commands print.

use super::*;
use fedci_client::types::EventItem;
use serde_json::json;

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("fedci-node").chain(args.iter().copied()))
}

fn item() -> EventItem {
    let (a, b, c) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
    serde_json::from_value(json!({
        "arrival": 7, "id": "d".repeat(64), "kind": "x", "community": "odl", "author": "e",
        "time": 1, "seq": 2,
        "data": {"branch": "stable/oxygen", "n": 3, "l": [{"uri": "u"}]},
        "links": [{"rel": "ELEMENT", "target": a}, {"rel": "ELEMENT", "target": b},
                  {"rel": "CAUSE", "target": c}]}))
    .expect("an event item")
}

#[test]
fn fields() {
    let e = item();
    let one = |s: &str| vec![s.to_string()];
    assert_eq!(field_lines(&e, "data.branch"), one("stable/oxygen"));
    assert_eq!(field_lines(&e, "data.n"), one("3"));
    assert_eq!(field_lines(&e, "data.l.0.uri"), one("u"));
    assert_eq!(
        field_lines(&e, "links.ELEMENT"),
        vec!["a".repeat(64), "b".repeat(64)]
    );
    assert_eq!(field_lines(&e, "links.0.target"), vec!["a".repeat(64)]);
    assert_eq!(field_lines(&e, "arrival"), one("7"));
    assert!(field_lines(&e, "data.missing").is_empty());
    assert!(field_lines(&e, "data.branch.deeper").is_empty());
}

#[test]
fn watch_filter_becomes_the_stream_query() {
    let cli = parse(&[
        "--home",
        "/h",
        "watch",
        "--kind",
        "artifact.*",
        "--kind",
        "confidence.modified",
        "--community",
        "odl",
        "--since",
        "2026-11-22T10:00:00Z",
        "--consumer",
        "job",
        "--exec",
        "true",
        "--count",
        "3",
    ])
    .expect("valid watch");
    let Command::Watch {
        filter,
        consumer,
        exec,
        count,
        ..
    } = cli.command
    else {
        panic!("not a watch: {:?}", cli.command);
    };
    assert_eq!(cli.home.as_deref(), Some(std::path::Path::new("/h")));
    assert_eq!(
        (consumer.as_deref(), exec.as_deref(), count),
        (Some("job"), Some("true"), Some(3))
    );
    let q = fedci_client::EventQuery {
        consumer,
        ..filter.to_query()
    };
    assert_eq!(
        q.path("/v1/stream"),
        "/v1/stream?kind=artifact.*&kind=confidence.modified&community=odl&since=1795341600000&consumer=job"
    );
}

#[test]
fn usage_mistakes_are_clap_errors() {
    use clap::error::ErrorKind;
    // --post and --exec are exclusive; --header needs --post; a bad time is refused.
    let kind = |args: &[&str]| parse(args).map(|_| ()).map_err(|e| e.kind());
    assert_eq!(
        kind(&["watch", "--exec", "true", "--post", "http://x/"]),
        Err(ErrorKind::ArgumentConflict)
    );
    assert_eq!(
        kind(&["watch", "--header", "A: b"]),
        Err(ErrorKind::MissingRequiredArgument)
    );
    assert_eq!(
        kind(&["query", "--since", "yesterday"]),
        Err(ErrorKind::ValueValidation)
    );
    assert_eq!(
        kind(&["get", "ID", "--raw", "--field", "kind"]),
        Err(ErrorKind::ArgumentConflict)
    );
    assert_eq!(
        kind(&["trace", "ID", "--format", "svg"]),
        Err(ErrorKind::InvalidValue)
    );
    assert!(kind(&["trace", "ID", "--up", "--depth", "3"]).is_ok());
}

#[test]
fn exec_commands_get_the_event_and_the_node() {
    let watch = watch::Watch {
        client: fedci_client::Client::new("/h/fedci.sock"),
        home: "/h".into(),
        filter: FilterArgs::default(),
        consumer: None,
        exec: Some("true".into()),
        post: None,
        format: None,
        count: None,
    };
    let env: std::collections::BTreeMap<_, _> = watch.child_env(&item()).into_iter().collect();
    let want: std::collections::BTreeMap<_, _> = [
        ("FEDCI_EVENT_ID", "d".repeat(64)),
        ("FEDCI_EVENT_KIND", "x".into()),
        ("FEDCI_EVENT_COMMUNITY", "odl".into()),
        // The body's seq, not the arrival.
        ("FEDCI_EVENT_SEQ", "2".into()),
        ("FEDCI_ARRIVAL", "7".into()),
        ("FEDCI_HOME", "/h".into()),
        ("FEDCI_SOCKET", "/h/fedci.sock".into()),
    ]
    .into_iter()
    .collect();
    assert_eq!(env, want);
}

#[test]
fn status_renders_one_line_per_fact() {
    let status: fedci_client::types::Status = serde_json::from_value(json!({
        "community": "odl", "node_key": "ab", "root_key": null, "version": "0.1.0",
        "uptime_s": 5, "events": 3, "untrusted_events": 1, "last_arrival": 3,
        "dangling_link_targets": 0, "topic_events": {}, "consumers": {"job": 2},
        "pins": [{"community": "opnfv", "root": "cd", "roster": null}],
        "rejected": {"bad_signature": 4},
        "store": {"state": "failing", "error": "disk full", "since_ms": 1, "retries": 2}}))
    .expect("a status");
    let text = commands::render_status(&status);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "community   odl");
    assert_eq!(lines[2], "root key    ?");
    assert_eq!(lines[3], "events      3 (last arrival 3)");
    assert!(
        lines[4].starts_with("store       FAILING: disk full (retry 2;"),
        "{text}"
    );
    assert!(
        lines[5].starts_with("untrusted   1 stored event(s)"),
        "{text}"
    );
    assert_eq!(lines[6], "trusts      opnfv        no roster yet");
    assert_eq!(lines[7], "consumer    job          at arrival 2");
    assert_eq!(lines[8], "rejected    bad_signature        4");
    assert_eq!(lines.len(), 9, "no network line without a network: {text}");
}

#[test]
fn trust_lines_say_when_no_roster_arrived() {
    let pin: fedci_client::types::Pin = serde_json::from_value(json!({
        "community": "opnfv", "root": "cd", "roster": null}))
    .expect("a pin");
    assert_eq!(admin::trust_line(&pin), "opnfv        cd  no roster yet");
}
