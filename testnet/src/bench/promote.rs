//! `bench promote`: a store of N events of the reference scenario, built through the API of a
//! real node (network off) in rounds of four (an ODL artifact, its publication, a baseline
//! holding it, the baseline's opnfvAcceptance confidence: one in four SUCCESS); then
//! `GET /v1/artifacts` asking for
//! the newest artifact that passed (what `fedci-node artifacts --latest` sends), timed through
//! the socket.

use super::Latency;
use crate::node::Node;
use fedci_client::types::Published;
use fedci_client::types::promotion::ArtifactList;
use fedci_client::{Client, Conn, RawRequest};
use hyper::Method;
use serde::Serialize;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

#[derive(Debug, Serialize)]
pub struct PromoteReport {
    pub events: u64,
    pub build_secs: f64,
    pub store_mb: f64,
    /// `?community=odl&confidence=opnfvAcceptance=SUCCESS&latest=true`
    pub latest_passed: Latency,
    /// `?community=odl&latest=true`
    pub latest: Latency,
}

/// The queries timed, each answered 200 with exactly one artifact.
const QUERIES: [&str; 2] = [
    "/v1/artifacts?community=odl&confidence=opnfvAcceptance%3DSUCCESS&latest=true",
    "/v1/artifacts?community=odl&latest=true",
];

pub async fn run(bin: &Path, events: u64, samples: usize) -> anyhow::Result<PromoteReport> {
    let dir = tempfile::tempdir()?;
    let mut node = Node::new("odl", dir.path().join("odl"), bin);
    node.init("odl")?;
    crate::net::set_config(
        &node.home,
        &format!("listen = []\n{}", super::BENCH_API_CONFIG),
    )?;
    node.start()?;
    let rounds = (events / 4).max(1);
    let next = Arc::new(AtomicU64::new(0));
    let build = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let mut conn = Client::new(node.socket()).connect().await?;
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let round = next.fetch_add(1, Ordering::Relaxed);
                if round >= rounds {
                    return Ok::<(), anyhow::Error>(());
                }
                one_round(&mut conn, round).await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let build_secs = build.elapsed().as_secs_f64();
    let mut conn = Client::new(node.socket()).connect().await?;
    let mut timings = [Vec::new(), Vec::new()];
    for _ in 0..samples {
        for (q, out) in QUERIES.iter().zip(timings.iter_mut()) {
            let t = Instant::now();
            let list: ArtifactList = conn.call(RawRequest::get(*q)).await?.parse()?;
            out.push(t.elapsed());
            let n = list.artifacts.len();
            anyhow::ensure!(n == 1, "{q}: {n} artifacts");
        }
    }
    node.stop();
    let store_mb = std::fs::metadata(node.home.join("store.redb"))
        .map(|m| m.len() as f64 / 1e6)
        .unwrap_or(0.0);
    let [latest_passed, latest] = timings;
    Ok(PromoteReport {
        events: rounds * 4,
        build_secs,
        store_mb,
        latest_passed: Latency::of(latest_passed),
        latest: Latency::of(latest),
    })
}

async fn one_round(conn: &mut Conn, round: u64) -> anyhow::Result<()> {
    let mut publish = async |body: Value| -> anyhow::Result<String> {
        let req = RawRequest::new(Method::POST, "/v1/events").json(&body)?;
        let published: Published = conn.call(req).await?.parse()?;
        Ok(published.id.to_hex())
    };
    let artifact = publish(super::artifact_event(round)).await?;
    publish(json!({
        "kind": "artifact.published",
        "data": {"locations": [{"type": "nexus", "uri": format!("https://nexus.opendaylight.org/karaf/{round}.tar.gz")}]},
        "links": [{"rel": "ARTIFACT", "target": artifact}],
    }))
    .await?;
    let baseline = publish(json!({
        "kind": "composition.defined",
        "data": {"name": "os-odl-nofeature", "version": format!("{round}"), "scenario": "os-odl-nofeature"},
        "links": [{"rel": "ELEMENT", "target": artifact}],
    }))
    .await?;
    let value = if round.is_multiple_of(4) {
        "SUCCESS"
    } else {
        "FAILURE"
    };
    publish(json!({
        "kind": "confidence.modified",
        "data": {"name": "opnfvAcceptance", "value": value, "issuer": "opnfv"},
        "links": [{"rel": "SUBJECT", "target": baseline}],
    }))
    .await?;
    Ok(())
}
