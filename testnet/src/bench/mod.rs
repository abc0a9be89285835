//! Benchmarks against real nodes. Each scenario prints a human table and one JSON line.

pub mod baseline;
pub mod broker;
pub mod catchup;
pub mod compare;
pub mod fanout;
pub mod gossip_peer;
pub mod ingest;
pub mod load;
pub mod promote;
pub mod soak;
pub mod store_size;
pub mod trace;

/// Node config lines for benchmarks: one load-generator process holds up to hundreds of
/// keep-alive connections and may pause between phases, so the socket's per-client connection
/// cap and keep-alive timeout (guards against hostile local clients) are lifted. Nothing on
/// the measured paths changes.
pub const BENCH_API_CONFIG: &str =
    "max_connections = 4096\nmax_connections_per_client = 4096\nheader_timeout_secs = 3600\n";

use serde::Serialize;
use std::time::Duration;

/// Latency summary in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    pub fn of(mut samples: Vec<Duration>) -> Latency {
        samples.sort();
        let pick = |q: f64| -> f64 {
            if samples.is_empty() {
                return 0.0;
            }
            let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
            samples[i].as_secs_f64() * 1000.0
        };
        Latency {
            count: samples.len(),
            p50_ms: pick(0.50),
            p99_ms: pick(0.99),
            max_ms: pick(1.0),
        }
    }
}

/// A realistic event of the reference scenario (~500 bytes of JSON): an ODL artifact.
pub fn artifact_event(n: u64) -> serde_json::Value {
    serde_json::json!({
        "kind": "artifact.created",
        "data": {
            "identity": format!("pkg:maven/org.opendaylight.integration/karaf@0.8.3-{n}"),
            "name": "opendaylight-distribution",
            "version": format!("0.8.3-SNAPSHOT-{n}"),
            "digest": "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "branch": "stable/oxygen",
            "build_url": format!("https://jenkins.opendaylight.org/releng/job/autorelease-release-oxygen/{n}/"),
        },
    })
}

/// Resident memory of processes, MB: min, mean, max (zeros when none could be read).
pub fn rss_spread(pids: impl IntoIterator<Item = u32>) -> [f64; 3] {
    let values: Vec<f64> = pids.into_iter().filter_map(rss_mb).collect();
    if values.is_empty() {
        return [0.0; 3];
    }
    let min = values.iter().copied().fold(f64::MAX, f64::min);
    let max = values.iter().copied().fold(0.0, f64::max);
    [min, values.iter().sum::<f64>() / values.len() as f64, max]
}

/// Resident set size of a process in MB, from /proc.
pub fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// How a fanout net of `nodes` connects, fedci's and plain gossipsub's alike: a full mesh up
/// to 10 nodes, each dialling 4 earlier ones beyond.
pub fn fanout_topology(nodes: usize) -> crate::net::Topology {
    if nodes <= 10 {
        crate::net::Topology::Full
    } else {
        crate::net::Topology::Random(4)
    }
}
