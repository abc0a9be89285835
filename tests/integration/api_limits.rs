//! The local socket under attack by a local client: memory stays bounded in bytes (pages,
//! streams, answers in flight), slowloris connections are timed out and capped per client
//! process, and small query and body edge cases are refused or bounded.

use fedci_tests::ReplyExt as _;
use fedci_tests::mesh::poll_until;
use fedci_tests::{Background, Node, http, wait_until};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// RSS the node must stay under while attacked (the issue's goal).
const RSS_LIMIT_KB: u64 = 256 * 1024;
/// A string that makes an event of about 60 KB (events are at most 64 KiB).
const BLOB_LEN: usize = 60_000;

/// VmRSS of a process, in kB.
fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

/// The value of an unlabelled counter or gauge in `GET /metrics`.
fn metric(node: &Node, name: &str) -> u64 {
    let text = node.get("/metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in:\n{text}"))
}

/// Publishes `n` events of kind `kind` from `threads` concurrent clients (so commits batch).
fn publish_many(node: &Node, n: usize, threads: usize, data: impl Fn(usize) -> Value + Sync) {
    std::thread::scope(|s| {
        for t in 0..threads {
            let data = &data;
            s.spawn(move || {
                for i in (t..n).step_by(threads) {
                    node.publish("x-load.blob", data(i), &[]);
                }
            });
        }
    });
}

/// Opens a connection and sends `request` without ever reading the answer.
fn send_unread(node: &Node, request: &str) -> UnixStream {
    let mut s = UnixStream::connect(node.socket()).expect("connecting to the node");
    s.write_all(request.as_bytes()).expect("sending a request");
    s
}

#[test]
fn readers_that_never_read_cannot_grow_the_node_past_256_mb() {
    let mut node = Node::new();
    node.init("odl");
    // The attacker and the honest client are both this process: what is tested here is
    // memory, not the per-client connection cap.
    node.set_config("max_connections_per_client", "128");
    node.start();
    let blob = "x".repeat(BLOB_LEN);
    publish_many(&node, 240, 4, |i| json!({"n": i, "blob": blob}));
    let pid = node.pid();
    let baseline = rss_kb(pid);

    // 40 streams from the start of history, and 20 full-size queries, none of them read.
    let mut attackers: Vec<UnixStream> = (0..40)
        .map(|_| send_unread(&node, "GET /v1/stream HTTP/1.1\r\nHost: x\r\n\r\n"))
        .collect();
    attackers.extend((0..20).map(|_| {
        send_unread(
            &node,
            "GET /v1/events?limit=1000 HTTP/1.1\r\nHost: x\r\n\r\n",
        )
    }));
    // RSS is sampled on its own thread, so a node too busy to answer is still measured. An
    // attacker thread repeats full-size queries; the honest client is another process (the
    // CLI), as a CI job would be.
    let stop = AtomicBool::new(false);
    let peak = AtomicU64::new(baseline);
    let (mut publishes, mut honest_queries, mut failures) = (0u32, 0u32, Vec::new());
    let mut answered = 0u32;
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kb(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let queries = s.spawn(|| {
            let mut answered = 0u32;
            while !stop.load(Ordering::Relaxed) {
                // 200, or 503 `busy` when answers in flight hold the whole budget.
                if let Ok(r) =
                    http::request(&node.socket(), "GET", "/v1/events?limit=1000", &[], &[])
                    && r.status == 200
                {
                    answered += 1;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            answered
        });
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15)
            && peak.load(Ordering::Relaxed) < RSS_LIMIT_KB
        {
            let data = json!({"n": publishes}).to_string();
            let out = node.cli(&["publish", "--kind", "x-load.small", "--data", &data]);
            if out.status.success() {
                publishes += 1;
            } else {
                failures.push(String::from_utf8_lossy(&out.stderr).into_owned());
            }
            // The attacker's unread answers hold only its own share of the answer budget.
            let out = node.cli(&[
                "query",
                "--kind",
                "x-load.blob",
                "--limit",
                "3",
                "--field",
                "id",
            ]);
            if out.status.success() && String::from_utf8_lossy(&out.stdout).lines().count() == 3 {
                honest_queries += 1;
            } else {
                failures.push(format!("query: {out:?}"));
            }
        }
        stop.store(true, Ordering::Relaxed);
        answered = queries.join().unwrap_or_default();
    });
    let peak = peak.into_inner();
    assert!(
        peak < RSS_LIMIT_KB,
        "node RSS reached {peak} kB (≥ {RSS_LIMIT_KB} kB) under 40 unread streams and 20 unread queries (baseline {baseline} kB)"
    );
    assert!(
        failures.is_empty(),
        "honest requests failed during the attack: {failures:#?}"
    );
    assert!(
        publishes > 0 && honest_queries > 0,
        "no honest request during the attack"
    );
    drop(attackers);
    let mut after = peak;
    poll_until(Duration::from_secs(10), || {
        after = rss_kb(pid);
        after < peak
    });
    eprintln!(
        "rss: baseline {baseline} kB, peak {peak} kB during the attack, {after} kB after; {publishes} honest publishes, {honest_queries} honest queries and {answered} attacking full-size queries answered during it"
    );
}

#[test]
fn pages_stop_at_the_byte_budget_and_paging_still_reaches_everything() {
    let mut node = Node::new();
    node.init("odl");
    node.set_config("max_page_bytes", &(256 << 10).to_string());
    node.start();
    let blob = "y".repeat(BLOB_LEN);
    publish_many(&node, 12, 3, |i| json!({"n": i, "blob": blob}));
    let r = node.get("/v1/events?limit=1000");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.len() <= 256 << 10, "page of {} bytes", r.body.len());
    let page = r.json();
    let events = page["events"].as_array().expect("events");
    assert!(
        (1..12).contains(&events.len()),
        "a 256 KiB page of 60 KB events holds {} events",
        events.len()
    );
    assert_eq!(
        page["complete"],
        json!(false),
        "a page cut by bytes is not complete"
    );
    assert_eq!(
        page["next_after"],
        events[events.len() - 1]["arrival"],
        "next_after continues right after the last event returned"
    );
    let all = node.query_all("kind=x-load.blob");
    let mut ns: Vec<u64> = all
        .iter()
        .map(|e| e["data"]["n"].as_u64().expect("n"))
        .collect();
    ns.sort_unstable();
    assert_eq!(
        ns,
        (0..12).collect::<Vec<u64>>(),
        "paging by bytes lost or repeated events"
    );
}

#[test]
fn streams_beyond_the_cap_get_503_and_are_counted() {
    let mut node = Node::new();
    node.init("odl");
    node.set_config("max_streams", "2");
    node.start();
    let id = node.publish("x-load.small", json!({}), &[]);
    let mut a = node.stream("/v1/stream?kind=x-load.*");
    let b = node.stream("/v1/stream?kind=x-load.*");
    assert_eq!(
        a.next_event(Duration::from_secs(20)).expect("first stream")["id"],
        id.as_str()
    );
    let refused = node.get("/v1/stream");
    assert_eq!(refused.status, 503, "{refused:?}");
    assert_eq!(refused.json()["error"]["code"], "too_many_streams");
    let errors = node.get("/metrics").text();
    assert!(
        errors.contains(r#"fedci_api_errors_total{status="503",code="too_many_streams"} 1"#),
        "refusal not counted:\n{errors}"
    );
    // A watching CI job waits for a place instead of failing, and gets it when a client goes.
    let mut watcher = node.watch("watch", &["--kind", "x-load.*", "--count", "1"]);
    wait_until(
        Duration::from_secs(20),
        "watch to meet the stream cap",
        || watcher.log().contains("503"),
    );
    drop(b);
    let exit = watcher.wait_timeout(Duration::from_secs(60));
    assert!(
        exit.is_some_and(|s| s.success()) && watcher.log().contains(&id),
        "watch did not get a stream place once one was freed ({exit:?}):\n{}",
        watcher.log()
    );
}

#[test]
fn slowloris_is_timed_out_and_capped_per_client_while_others_get_through() {
    // prlimit gives the node the common 1,024 open-files limit.
    fedci_tests::require_program("prlimit", "util-linux");
    // The attacker is this process: it needs room for its 1,100 sockets.
    let own = rlimit::increase_nofile_limit(4096).expect("raising this test's open-files limit");
    assert!(
        own >= 1100,
        "this test needs 1,100 open files, the hard limit is {own}"
    );
    let mut node = Node::new();
    node.init("odl");
    node.set_config("header_timeout_secs", "3");
    node.start();
    // The common default on hosts: the node cannot hold more than ~1,000 sockets.
    let pid = node.pid().to_string();
    let out = std::process::Command::new("prlimit")
        .args(["--pid", &pid, "--nofile=1024:1024"])
        .output()
        .expect("running prlimit");
    assert!(out.status.success(), "prlimit failed: {out:?}");

    // A few more than the node's 1,024 descriptors could ever hold, as the issue measured.
    let mut slow: Vec<UnixStream> = (0..1100)
        .map(|_| {
            let mut s = UnixStream::connect(node.socket()).expect("slowloris connect");
            // A request head that never ends (a refused connection may already be closed).
            let _ = s.write_all(b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: ");
            s
        })
        .collect();

    // Another process, a CI job, asks for the status during the attack.
    let started = Instant::now();
    let mut status = Background::spawn(
        {
            let mut c = node.command();
            c.arg("status");
            c
        },
        &node.home().join("status.log"),
        "fedci-node status",
    );
    let exit = status.wait_timeout(Duration::from_secs(10));
    assert!(
        exit.is_some_and(|s| s.success()),
        "fedci-node status did not succeed within 10 s during the slowloris attack ({exit:?}): {}",
        status.log()
    );
    eprintln!(
        "status answered in {:?} during the attack",
        started.elapsed()
    );

    // Every slowloris connection is closed: refused at once or timed out on its headers.
    for s in &slow {
        s.set_read_timeout(Some(Duration::from_millis(1)))
            .expect("read timeout");
    }
    let mut closed = vec![false; slow.len()];
    wait_until(
        Duration::from_secs(30),
        "the node to close every slowloris connection",
        || {
            let mut buf = [0u8; 512];
            for (s, done) in slow.iter_mut().zip(closed.iter_mut()).filter(|(_, d)| !**d) {
                match s.read(&mut buf) {
                    Ok(0) => *done = true,
                    Ok(_) => {} // a 503 or 408 answer: the close follows
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => *done = true,
                }
            }
            closed.iter().all(|d| *d)
        },
    );
    eprintln!(
        "all 1,100 slowloris connections closed {:?} after the attack began",
        started.elapsed()
    );
    drop(slow);
    let refused = metric(&node, "fedci_api_connections_refused_total");
    let timed_out = metric(&node, "fedci_api_header_timeouts_total");
    assert!(
        refused >= 1000,
        "only {refused} of 1,100 connections from one process were refused"
    );
    assert!(
        timed_out >= 1,
        "no connection was closed by the header timeout"
    );
    assert!(
        node.log().contains("connection cap reached"),
        "the refusals were not logged:\n{}",
        node.log()
    );
}

#[test]
fn stalled_connections_are_closed_but_idle_streams_stay_open() {
    let mut node = Node::new();
    node.init("odl");
    node.set_config("idle_timeout_secs", "3");
    node.start();
    let mut stream = node.stream("/v1/stream?kind=x-late.*");
    // A body that stops half-way: headers are complete, so only the idle timeout catches it.
    let mut stalled = send_unread(
        &node,
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"kind\":",
    );
    stalled
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let started = Instant::now();
    let mut answer = Vec::new();
    let end = stalled.read_to_end(&mut answer);
    assert!(
        end.is_ok() && started.elapsed() < Duration::from_secs(25),
        "a connection stalled mid-body was not closed ({end:?} after {:?})",
        started.elapsed()
    );
    assert!(metric(&node, "fedci_api_idle_timeouts_total") >= 1);
    // Meanwhile the stream, with nothing to deliver for longer than the idle timeout, lives.
    assert!(started.elapsed() > Duration::from_secs(3));
    let id = node.publish("x-late.one", json!({}), &[]);
    let ev = stream.next_event(Duration::from_secs(20));
    assert_eq!(
        ev.as_ref().map(|e| e["id"].clone()),
        Some(json!(id)),
        "an idle stream was closed by the idle timeout"
    );
}

#[test]
fn limit_zero_is_refused() {
    let node = Node::started("odl");
    node.publish("x-load.small", json!({}), &[]);
    let r = node.get("/v1/events?limit=0");
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.json()["error"]["code"], "bad_limit");
}

#[test]
fn kind_patterns_scan_only_the_kinds_they_match() {
    let node = Node::started("odl");
    let kinds = ["x-aa.one", "x-aa.two", "x-ab.one", "x-b.one"];
    std::thread::scope(|s| {
        for t in 0..4 {
            let node = &node;
            s.spawn(move || {
                for i in (t..2000).step_by(4) {
                    let kind = kinds[i % 7 % kinds.len()];
                    node.publish(kind, json!({"i": i}), &[]);
                }
            });
        }
    });
    let everything = node.query_all("");
    assert_eq!(everything.len(), 2001, "2,000 events and the node's roster");
    let scanned = || metric(&node, "fedci_store_query_rows_scanned_total");

    let before = scanned();
    let page = node.get_json("/v1/events?kind=nothing.*");
    assert_eq!(page["events"], json!([]));
    assert_eq!(page["complete"], json!(true));
    let page = node.get_json("/v1/events?kind=x-zz.one,x-a.*");
    assert_eq!(page["events"], json!([]));
    assert_eq!(
        scanned() - before,
        0,
        "patterns that match nothing scanned rows"
    );

    for (filter, wanted) in [
        ("kind=x-aa.*", &["x-aa.one", "x-aa.two"][..]),
        ("kind=x-aa.two,x-b.*", &["x-aa.two", "x-b.one"][..]),
        ("kind=x-ab.one", &["x-ab.one"][..]),
    ] {
        let expected: Vec<&Value> = everything
            .iter()
            .filter(|e| wanted.contains(&e["kind"].as_str().expect("kind")))
            .collect();
        let before = scanned();
        let got = node.query_all(filter);
        let rows = scanned() - before;
        assert_eq!(
            got.iter().collect::<Vec<_>>(),
            expected,
            "{filter}: not the matching events in arrival order"
        );
        assert_eq!(
            rows,
            expected.len() as u64,
            "{filter}: scanned {rows} rows for {} events",
            expected.len()
        );
    }
}

#[test]
fn duplicate_json_keys_are_refused_and_nothing_is_stored() {
    let node = Node::started("odl");
    let before = node.event_count();
    for body in [
        r#"{"kind":"x-a.b","data":{"k":1,"k":2}}"#,
        r#"{"kind":"x-a.b","data":{"o":{"z":"1","z":"2"}}}"#,
        r#"{"kind":"x-a.b","data":{"list":[{"q":1},{"q":1,"q":2}]}}"#,
        r#"{"kind":"x-a.b","kind":"x-a.c","data":{}}"#,
    ] {
        let r = node.http("POST", "/v1/events", body.as_bytes(), &[]);
        assert_eq!(r.status, 400, "{body}: {r:?}");
        assert_eq!(r.json()["error"]["code"], "duplicate_key", "{body}");
    }
    assert_eq!(
        node.event_count(),
        before,
        "a body with duplicate keys was stored"
    );
    node.publish("x-a.b", json!({"k": 1, "o": {"z": "1"}}), &[]);
}
