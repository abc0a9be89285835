//! The comparison benchmarks of the real `fedci-testnet` binary, at a small load: `bench
//! baseline` (fedci against plain gossipsub) and `bench broker` (fedci against RabbitMQ) must
//! start every system, deliver every published event to every consumer of each, and report
//! figures and ratios that add up. Speed itself is measured in BENCHMARKS.md, not here.
//!
//! The broker test needs RabbitMQ's server (`.ci/run` installs rabbitmq-server) and fails
//! with that message without it.

use fedci_tests::{node_bin, testnet_bin};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Runs `fedci-testnet bench ARGS` and returns its JSON line (the last line of stdout).
fn bench(args: &[&str]) -> Value {
    let out = Command::new(testnet_bin())
        .arg("bench")
        .args(args)
        .env("FEDCI_NODE_BIN", node_bin())
        .output()
        .expect("running fedci-testnet");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "fedci-testnet bench {args:?} failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().expect("no output");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {last}"))
}

/// A comparison at 100 events/s for 2 s (200 events), 4 publishes in flight.
fn small_comparison(scenario: &[&str]) -> Value {
    let load = ["--rate", "100", "--seconds", "2", "--connections", "4"];
    bench(&[scenario, &load[..]].concat())
}

/// The acknowledgement latency of one side, which only a system that acknowledges has.
fn ack_p50(side: &Value) -> f64 {
    side["run"]["ack_latency"]["p50_ms"]
        .as_f64()
        .expect("a number")
}

/// Every publish acknowledged and delivered to every consumer, with latencies that add up.
/// How many of the 200 publishes were made is the publisher's speed, which a busy machine
/// lowers (the generator stops a publisher that falls a second behind): it only has to be
/// most of them, and every one made must be delivered.
fn assert_complete(side: &Value, consumers: u64) {
    let run = &side["run"];
    let system = side["system"].as_str().unwrap_or("?");
    let published = run["published"].as_u64().expect("a count");
    assert!(
        (100..=200).contains(&published),
        "{system}: published {published} of 200"
    );
    assert_eq!(run["refused"], 0, "{system}: refused");
    assert_eq!(
        run["deliveries"],
        published * consumers,
        "{system}: deliveries"
    );
    assert_eq!(run["lost"], 0, "{system}: lost");
    let lat = &run["latency"];
    let (p50, p99, max) = (
        lat["p50_ms"].as_f64().expect("a number"),
        lat["p99_ms"].as_f64().expect("a number"),
        lat["max_ms"].as_f64().expect("a number"),
    );
    assert!(
        0.0 < p50 && p50 <= p99 && p99 <= max,
        "{system}: latencies out of order: {lat}"
    );
    assert_eq!(lat["count"], published * consumers, "{system}: samples");
}

fn assert_ratios(c: &Value) {
    let p50 = c["p50_ratio"].as_f64().expect("a number");
    let expect = c["fedci"]["run"]["latency"]["p50_ms"]
        .as_f64()
        .expect("a number")
        / c["other"]["run"]["latency"]["p50_ms"]
            .as_f64()
            .expect("a number");
    assert!((p50 - expect).abs() < 1e-9, "p50 ratio {p50} != {expect}");
}

#[test]
fn baseline_runs_fedci_and_plain_gossipsub_under_the_same_load() {
    let c = small_comparison(&["baseline", "--nodes", "3"]);
    assert_eq!(c["fedci"]["system"], "fedci");
    assert_eq!(c["other"]["system"], "gossipsub");
    assert_eq!(c["consumers"], 2);
    assert_complete(&c["fedci"], 2);
    assert_complete(&c["other"], 2);
    assert_ratios(&c);
    // fedci acknowledges a publish once it is committed; plain gossipsub has no such thing.
    assert!(ack_p50(&c["fedci"]) > 0.0);
}

#[test]
fn broker_runs_fedci_and_rabbitmq_under_the_same_load() {
    assert!(
        Path::new("/usr/lib/rabbitmq/bin/rabbitmq-server").exists(),
        "this test needs RabbitMQ's server at /usr/lib/rabbitmq/bin/rabbitmq-server \
         (package rabbitmq-server; .ci/run installs it)"
    );
    let c = small_comparison(&["broker", "--consumers", "2"]);
    assert_eq!(c["other"]["system"], "rabbitmq");
    assert_complete(&c["fedci"], 2);
    assert_complete(&c["other"], 2);
    assert_ratios(&c);
    // Publisher confirms: every broker publish was acknowledged, after some time.
    assert!(ack_p50(&c["other"]) > 0.0);
    // The broker is stopped at the end: nothing is left listening under our node name.
    let left = Command::new("pgrep")
        .args(["-f", "fedci-bench-.*@localhost"])
        .output()
        .expect("pgrep");
    assert!(
        String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "a benchmark broker is still running"
    );
}

/// `bench soak` on a tiny net: two nodes, three 2-second "minutes" at 50 events/s. Every
/// sample has each node's RSS, nothing is lost, and the slope is that of the samples.
#[test]
fn soak_samples_every_nodes_rss_each_interval_and_reports_loss_and_slope() {
    let out = Command::new(testnet_bin())
        .args(["bench", "soak", "--nodes", "2", "--rate", "50"])
        .args([
            "--minutes",
            "3",
            "--interval-secs",
            "2",
            "--connections",
            "4",
        ])
        .env("FEDCI_NODE_BIN", node_bin())
        .output()
        .expect("running fedci-testnet");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench soak failed: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // One human line per sample (minute 0 before the load, then each minute), then the JSON.
    for m in 0..=3 {
        assert!(
            stdout.contains(&format!("minute {m:>3}: RSS MB")),
            "no line for minute {m}:\n{stdout}"
        );
    }
    let r: Value = serde_json::from_str(stdout.lines().last().expect("no output")).expect("JSON");
    assert_eq!(r["nodes"], 2);
    assert_eq!(r["minutes"], 3);
    let samples = r["samples"].as_array().expect("samples");
    assert_eq!(samples.len(), 4, "{r}");
    for s in samples {
        let rss = s["rss_mb"].as_array().expect("rss per node");
        assert_eq!(rss.len(), 2, "{s}");
        for v in rss {
            let mb = v.as_f64().expect("a number");
            assert!(mb > 1.0 && mb < 4096.0, "implausible RSS {mb} MB in {s}");
        }
    }
    let published = r["published"].as_u64().expect("published");
    assert!(published >= 250, "published only {published} of 300");
    assert_eq!(r["lost"], 0, "{r}");
    assert_eq!(r["deliveries"], published, "one consumer node: {r}");
    // The slope of node 0 is that of its samples over the second half (minutes 2 and 3... from
    // minute 1.5 on), least squares.
    let y = |m: usize| samples[m]["rss_mb"][0].as_f64().expect("a number");
    let expect = y(3) - y(2);
    let slope = r["slope_mb_per_min"][0].as_f64().expect("a number");
    assert!(
        (slope - expect).abs() < 1e-6,
        "slope {slope}, samples say {expect}"
    );
}

/// `bench ingest --node-cpus 0`: the node runs on CPU 0 only (the kernel says so), and the
/// run still stores what it acknowledged.
#[test]
fn ingest_with_node_cpus_runs_the_node_on_those_cpus_only() {
    let r = bench(&[
        "ingest",
        "--rate",
        "100",
        "--seconds",
        "1",
        "--connections",
        "4",
        "--node-cpus",
        "0",
    ]);
    assert_eq!(r["node_cpus"], "0");
    assert_eq!(r["node_cpus_allowed"], "0", "the node was not pinned: {r}");
    assert_eq!(r["fixed_rate_errors"], 0, "{r}");
    assert!(r["stored_events"].as_u64().is_some_and(|n| n > 0), "{r}");
}

/// `bench catchup` reports each store's cost per event: the redb file's size (as `ls` would
/// show it, running and after a clean stop), the events held, the mean COSE size read back
/// from the node, and their ratio, for the publisher and the late joiner alike.
#[test]
fn catchup_reports_store_bytes_per_event_of_both_stores() {
    let r = bench(&["catchup", "--events", "300"]);
    assert_eq!(r["events"], 300, "{r}");
    // Both stores hold the same events: the sample's mean is the same read from either.
    assert_eq!(
        r["publisher_store"]["mean_cose_bytes"], r["joiner_store"]["mean_cose_bytes"],
        "{r}"
    );
    for who in ["publisher_store", "joiner_store"] {
        let s = &r[who];
        // The 300 published and each of the two communities' roster.
        assert_eq!(s["events"], 302, "{who}: {r}");
        // Fewer than 1,000 published: every one of them is in the sample.
        assert_eq!(s["sampled"], 300, "{who}: {r}");
        let num = |k: &str| {
            s[k].as_f64()
                .unwrap_or_else(|| panic!("{who}.{k} is not a number: {r}"))
        };
        // artifact_event(i) signed: ~400 bytes of data plus kind, author, signature.
        let cose = num("mean_cose_bytes");
        assert!((300.0..1500.0).contains(&cose), "{who}: mean COSE {cose}");
        let file = num("file_bytes");
        let stopped = num("file_bytes_stopped");
        assert!(
            file >= 300.0 * cose,
            "{who}: a store smaller than its events: {r}"
        );
        assert!(stopped > 0.0, "{who}: {r}");
        assert!(
            (num("file_bytes_per_event") - file / 302.0).abs() < 1e-6,
            "{who}: {r}"
        );
        assert!(
            (num("ratio") - file / (302.0 * cose)).abs() < 1e-9,
            "{who}: {r}"
        );
        assert!(
            (num("ratio_stopped") - stopped / (302.0 * cose)).abs() < 1e-9,
            "{who}: {r}"
        );
    }
}
