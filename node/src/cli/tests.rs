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

/// Every positional argument of every subcommand says what it is in `--help`.
#[test]
fn every_positional_argument_is_described() {
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in cmd.get_positionals() {
            if arg.get_help().is_none() {
                missing.push(format!("{path} <{}>", arg.get_id()));
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    walk(
        &<super::Cli as clap::CommandFactory>::command(),
        "fedci-node",
        &mut missing,
    );
    assert!(
        missing.is_empty(),
        "positional arguments without help: {missing:?}"
    );
}

#[test]
fn since_takes_durations() {
    // parse_time reads the clock itself: bound it by readings before and after, or a
    // millisecond ticking between them fails the test.
    let within = |text: &str, ago: u64| {
        let before = crate::now_ms();
        let t = super::parse_time(text).unwrap();
        let after = crate::now_ms();
        assert!((before - ago..=after - ago).contains(&t), "{text}: {t}");
    };
    within("2h", 7_200_000);
    within("7d", 7 * 86_400_000);
    within("30m", 1_800_000);
    assert_eq!(super::parse_time("1970-01-01T00:00:01Z"), Ok(1000));
    assert_eq!(super::parse_time("1234"), Ok(1234));
    assert!(super::parse_time("yesterday").unwrap_err().contains("2h"));
}
