//! Mistakes that used to pass silently, as a user at the command line meets them, and the
//! human outputs: each case runs the real `fedci-node` against a real node.

use fedci_tests::Node;
use fedci_tests::ReplyExt as _;
use serde_json::json;
use std::process::Output;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn fails_with_one_line(node: &Node, args: &[&str], needle: &str) -> String {
    let out = node.cli(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "fedci-node {args:?}: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line on stderr: {err}"
    );
    assert!(
        err.contains(needle),
        "fedci-node {args:?}: {err:?} lacks {needle:?}"
    );
    err
}

#[test]
fn silent_mistakes_now_speak() {
    let node = Node::started("odl");
    let id = node.publish_cli(
        "artifact.created",
        &json!({"identity": "pkg:generic/odl@1"}),
        &[],
    );

    // get --field on a path the event lacks: exit 1, one line.
    assert_eq!(
        node.cli_ok(&["get", &id, "--field", "data.identity"])
            .trim(),
        "pkg:generic/odl@1"
    );
    fails_with_one_line(
        &node,
        &["get", &id, "--field", "data.nosuch"],
        "data.nosuch",
    );

    // A link to an event this node never saw: stored with a warning; refused when strict.
    let unknown = "ab".repeat(32);
    let link = format!("ARTIFACT={unknown}");
    let before = node.event_count();
    let out = node.cli(&[
        "publish",
        "--kind",
        "artifact.published",
        "--link",
        &link,
        "--data",
        r#"{"locations":[{"type":"x","uri":"u"}]}"#,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&unknown) && stderr(&out).contains("warning"),
        "{}",
        stderr(&out)
    );
    assert_eq!(node.event_count(), before + 1);
    fails_with_one_line(
        &node,
        &[
            "publish",
            "--kind",
            "artifact.published",
            "--link",
            &link,
            "--strict-links",
            "--data",
            r#"{"locations":[{"type":"x","uri":"v"}]}"#,
        ],
        "unknown_link_target",
    );
    assert_eq!(
        node.event_count(),
        before + 1,
        "a strict refusal stores nothing"
    );
    let body = json!({"kind": "artifact.published", "data": {"locations": [{"type": "x", "uri": "w"}]},
                      "links": [{"rel": "ARTIFACT", "target": unknown}]});
    let r = node.http(
        "POST",
        "/v1/events?strict_links=true",
        body.to_string().as_bytes(),
        &[],
    );
    assert_eq!(r.status, 422, "{r:?}");
    assert_eq!(r.json()["error"]["code"], "unknown_link_target", "{r:?}");
    assert_eq!(node.event_count(), before + 1);
    let ok = node.cli(&[
        "publish",
        "--kind",
        "artifact.published",
        "--strict-links",
        "--link",
        &format!("ARTIFACT={id}"),
        "--data",
        r#"{"locations":[{"type":"x","uri":"y"}]}"#,
    ]);
    assert!(
        ok.status.success(),
        "a known target passes --strict-links: {}",
        stderr(&ok)
    );
    assert!(
        stderr(&ok).is_empty(),
        "no warning for a known target: {}",
        stderr(&ok)
    );

    // A --kind that can never match warns; a good one does not.
    let out = node.cli(&["query", "--kind", "artifact.create"]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("can never match"), "{}", stderr(&out));
    let out = node.cli(&["query", "--kind", "artifact.*", "--since", "2h"]);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        3,
        "--since 2h holds the three artifact events"
    );

    // query stopping at --limit says so; a complete answer does not.
    let out = node.cli(&["query", "--kind", "artifact.*", "--limit", "2"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    assert!(
        stderr(&out).contains("stopped at --limit 2"),
        "{}",
        stderr(&out)
    );
    let out = node.cli(&["query", "--kind", "artifact.*", "--limit", "3"]);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));

    // trust add with a file name but no @.
    let pub_file = node.home().join("root.pub");
    fails_with_one_line(
        &node,
        &["trust", "add", "opnfv", pub_file.to_str().expect("utf-8")],
        &format!("@{}", pub_file.display()),
    );

    // Human outputs: tables, no JSON, no null.
    let status = node.cli_ok(&["status"]);
    assert!(
        !status.contains('{') && !status.contains("null"),
        "{status}"
    );
    assert!(status.contains("COMMUNITY"), "{status}");
    let trust = node.cli_ok(&["trust", "list"]);
    assert!(
        trust.starts_with("COMMUNITY") && !trust.contains("null"),
        "{trust}"
    );
}

#[test]
fn completions_and_man_page_are_generated() {
    let node = Node::new();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef fedci-node"),
        ("fish", "complete -c fedci-node"),
    ] {
        let out = node.cli_ok(&["completions", shell]);
        assert!(out.contains(marker), "{shell} completions lack {marker:?}");
        assert!(
            out.contains("publish") && out.contains("watch"),
            "{shell}: no subcommands"
        );
    }
    let man = node.cli_ok(&["manpage"]);
    assert!(man.contains(".TH fedci-node 1"), "not a section-1 man page");
    for part in ["\\-\\-home", "publish", "watch", "peer"] {
        assert!(man.contains(part), "the man page lacks {part}");
    }
    let out = node.cli(&["completions", "tcsh"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}
