//! Benchmarks against real nodes. Each scenario prints a human table and one JSON line.

pub mod baseline;
pub mod broker;
pub mod catchup;
pub mod compare;
pub mod fanout;
pub mod gossip_peer;
pub mod ingest;
pub mod load;
pub mod trace;

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

/// Min, mean and max of per-process figures (zeros when there are none).
pub fn spread(values: &[f64]) -> [f64; 3] {
    if values.is_empty() {
        return [0.0; 3];
    }
    let min = values.iter().copied().fold(f64::MAX, f64::min);
    let max = values.iter().copied().fold(0.0, f64::max);
    [min, values.iter().sum::<f64>() / values.len() as f64, max]
}
