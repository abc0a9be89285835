//! Durable consumers: `watch --consumer --exec` resumes after a crash without losing or
//! reordering events, retries a failing command without moving its cursor; `/v1/stream` replays
//! history then goes live, and resumes from an acknowledged cursor.

use fedci_tests::ReplyExt as _;
use fedci_tests::{Node, read_lines, wait_until};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// The stored cursor of consumer `name` from `GET /v1/status` ("consumers": {name: cursor}, or
/// {name: {"cursor": n}}); None if the node has none yet.
fn cursor(node: &Node, name: &str) -> Option<u64> {
    let status = node.status();
    let c = &status["consumers"][name];
    c.as_u64().or_else(|| c["cursor"].as_u64())
}

fn arrival(node: &Node, id: &str) -> u64 {
    node.event(id)["arrival"]
        .as_u64()
        .expect("event has no arrival")
}

/// `ids` with runs of the same id collapsed, and how many lines that removed.
fn collapse(ids: &[String]) -> (Vec<String>, usize) {
    let mut out: Vec<String> = Vec::new();
    for id in ids {
        if out.last() != Some(id) {
            out.push(id.clone());
        }
    }
    let removed = ids.len() - out.len();
    (out, removed)
}

fn q(p: &Path) -> String {
    format!("'{}'", p.display())
}

#[test]
fn watch_consumer_resumes_after_kill9_in_order() {
    let node = Node::started("odl");
    let h = node.home();
    let (seen, ids, env) = (h.join("seen.ndjson"), h.join("ids"), h.join("env"));
    // The short sleep paces delivery so the kill lands mid-stream.
    let cmd = format!(
        "cat >> {seen}; echo >> {seen}; echo $FEDCI_EVENT_ID >> {ids}; \
         echo \"$FEDCI_EVENT_KIND $FEDCI_EVENT_COMMUNITY\" >> {env}; sleep 0.05",
        seen = q(&seen),
        ids = q(&ids),
        env = q(&env)
    );
    let watch_args = [
        "--consumer",
        "c1",
        "--kind",
        "x-test.tick",
        "--exec",
        cmd.as_str(),
    ];
    let tick = |n: usize| node.publish("x-test.tick", json!({"n": n}), &[]);

    let mut published: Vec<String> = (0..5).map(tick).collect(); // history
    node.publish("x-test.other", json!({}), &[]); // filtered out
    let mut watcher = node.watch("watch-1", &watch_args);
    published.extend((5..20).map(tick)); // live
    wait_until(
        Duration::from_secs(20),
        "the watcher to handle 3 events",
        || read_lines(&ids).len() >= 3,
    );
    watcher.kill9();
    let handled = read_lines(&ids).len();
    assert!(
        handled < 20,
        "the watcher finished before the kill ({handled} events); the test did not interrupt it"
    );

    published.extend((20..30).map(tick));
    let mut watcher = node.watch("watch-2", &watch_args);
    wait_until(
        Duration::from_secs(20),
        "the restarted watcher to catch up",
        || collapse(&read_lines(&ids)).0.len() >= published.len(),
    );
    let lines = read_lines(&ids);
    let (order, dups) = collapse(&lines);
    assert_eq!(
        order, published,
        "events handled out of order or missing: {lines:?}"
    );
    assert!(
        dups <= 1,
        "{dups} redeliveries; only the event in flight at the kill may repeat: {lines:?}"
    );

    let seen_text = std::fs::read_to_string(&seen).expect("seen.ndjson");
    for id in &published {
        assert!(
            seen_text.contains(id.as_str()),
            "event {id} never reached the command's stdin"
        );
    }
    for line in read_lines(&env) {
        assert_eq!(
            line, "x-test.tick odl",
            "FEDCI_EVENT_KIND / FEDCI_EVENT_COMMUNITY"
        );
    }
    let last = arrival(&node, published.last().expect("published"));
    wait_until(
        Duration::from_secs(10),
        "consumer c1's cursor to reach the last event",
        || cursor(&node, "c1") == Some(last),
    );
    // Nothing more arrives later.
    assert!(
        watcher.try_wait().is_none(),
        "watch exited: {}",
        watcher.log()
    );
    assert_eq!(
        read_lines(&ids).len(),
        lines.len(),
        "extra deliveries after catching up"
    );
}

#[test]
fn failing_command_is_retried_and_holds_the_cursor() {
    let node = Node::started("odl");
    let h = node.home();
    let (count, ids) = (h.join("count"), h.join("ids"));
    // Fails the first two runs, then records the event.
    let cmd = format!(
        "n=$(cat {count} 2>/dev/null || echo 0); echo $((n + 1)) > {count}; \
         if [ \"$n\" -lt 2 ]; then exit 1; fi; echo $FEDCI_EVENT_ID >> {ids}",
        count = q(&count),
        ids = q(&ids)
    );
    let published: Vec<String> = (0..3)
        .map(|n| node.publish("x-test.flaky", json!({"n": n}), &[]))
        .collect();
    let first = arrival(&node, &published[0]);
    let _watcher = node.watch(
        "watch",
        &["--consumer", "c2", "--kind", "x-test.flaky", "--exec", &cmd],
    );

    let runs = || {
        std::fs::read_to_string(&count)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .unwrap_or(0)
    };
    wait_until(
        Duration::from_secs(10),
        "the command's first (failing) run",
        || runs() >= 1,
    );
    assert!(
        read_lines(&ids).is_empty(),
        "an event was handled past the failing one"
    );
    assert!(
        cursor(&node, "c2").is_none_or(|c| c < first),
        "cursor advanced past a failed event: {:?} ≥ {first}",
        cursor(&node, "c2")
    );

    wait_until(
        Duration::from_secs(20),
        "all three events after the retries",
        || read_lines(&ids).len() >= 3,
    );
    assert_eq!(
        read_lines(&ids),
        published,
        "retried event must come first, then the rest, once each"
    );
    assert_eq!(runs(), 5, "2 failures + 3 successes");
    let last = arrival(&node, &published[2]);
    wait_until(
        Duration::from_secs(10),
        "consumer c2's cursor to reach the last event",
        || cursor(&node, "c2") == Some(last),
    );
}

fn next(stream: &mut fedci_tests::EventStream, what: &str) -> Value {
    stream
        .next_event(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no event on the stream: {what}"))
}

#[test]
fn stream_replays_history_then_live_and_resumes_from_ack() {
    let node = Node::started("odl");
    let pub_ = |n: usize| node.publish("x-test.s", json!({"n": n}), &[]);
    let mut published: Vec<String> = (0..2).map(pub_).collect();

    let mut stream = node.stream("/v1/stream?kind=x-test.s&consumer=s1");
    let ct = stream
        .headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.clone());
    assert!(
        ct.as_deref().is_some_and(|c| c.contains("ndjson")),
        "stream content-type: {ct:?}"
    );
    let e0 = next(&mut stream, "history 0");
    let e1 = next(&mut stream, "history 1");
    published.extend((2..4).map(pub_));
    let e2 = next(&mut stream, "live 2");
    let e3 = next(&mut stream, "live 3");
    let got: Vec<&str> = [&e0, &e1, &e2, &e3]
        .iter()
        .map(|e| e["id"].as_str().expect("id"))
        .collect();
    assert_eq!(got, published, "stream order");
    drop(stream);

    let a1 = e1["arrival"].as_u64().expect("arrival");
    let r = node.post_json("/v1/consumers/s1/ack", &json!({"arrival": a1}));
    assert_eq!(r.status, 200, "ack: {r:?}");
    assert_eq!(r.json()["cursor"], a1, "ack answer: {r:?}");
    assert_eq!(cursor(&node, "s1"), Some(a1));

    let mut again = node.stream("/v1/stream?kind=x-test.s&consumer=s1");
    assert_eq!(
        next(&mut again, "resumed")["id"],
        published[2].as_str(),
        "resume must start after the cursor"
    );
    assert_eq!(next(&mut again, "resumed")["id"], published[3].as_str());
}

/// `watch --home H --exec CMD` with no FEDCI_HOME in the environment: the command's own
/// `fedci-node publish` (no --home) reaches the same node, because watch hands every command
/// FEDCI_HOME and FEDCI_SOCKET. The command also sees the event's own `seq` as FEDCI_EVENT_SEQ
/// and this node's position as FEDCI_ARRIVAL.
#[test]
fn watch_exec_commands_reach_the_watched_home() {
    let node = Node::started("odl");
    // Own events before the trigger, so the author's seq and the arrival differ.
    node.publish("x-test.before", json!({}), &[]);
    let trigger = node.publish("x-test.trigger", json!({}), &[]);
    let h = node.home();
    let (env, reaction) = (h.join("env"), h.join("reaction"));
    let cmd = format!(
        "echo \"$FEDCI_EVENT_SEQ $FEDCI_ARRIVAL $FEDCI_HOME $FEDCI_SOCKET\" > {env}; \
         {bin} publish --kind x-test.reaction --link CAUSE=$FEDCI_EVENT_ID > {reaction}",
        env = q(&env),
        bin = q(fedci_tests::node_bin()),
        reaction = q(&reaction),
    );
    // node.watch runs `fedci-node --home H watch …` with FEDCI_HOME removed from its env.
    let mut watcher = node.watch(
        "watch-home",
        &["--kind", "x-test.trigger", "--count", "1", "--exec", &cmd],
    );
    let Some(status) = watcher.wait_timeout(Duration::from_secs(30)) else {
        panic!(
            "the watcher did not run its command once and exit within 30 s: {}",
            watcher.log()
        );
    };
    assert!(status.success(), "watch failed: {}", watcher.log());
    let id = read_lines(&reaction).concat();
    assert!(
        fedci_tests::is_id(&id),
        "the command's own publish printed no id: {:?}; watch log: {}",
        id,
        watcher.log()
    );
    let stored = node.event(&id);
    assert_eq!(stored["links"][0]["target"], trigger.as_str(), "{stored}");

    let ev = node.event(&trigger);
    let (seq, arrival) = (ev["seq"].as_u64(), ev["arrival"].as_u64());
    assert_ne!(seq, arrival, "precondition: seq and arrival differ: {ev}");
    let expected = format!(
        "{} {} {} {}",
        seq.expect("seq"),
        arrival.expect("arrival"),
        h.display(),
        node.socket().display()
    );
    assert_eq!(read_lines(&env), [expected], "the command's environment");
}
