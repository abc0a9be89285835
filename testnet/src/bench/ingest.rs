//! `bench ingest`: one node, events published through the socket API and acknowledged only
//! after their redb commit. Two phases: a fixed offered load (latency measured from each
//! request's scheduled time, so a stall counts against us), then a closed loop at saturation.

use super::{Latency, artifact_event};
use crate::node::Node;
use bytes::Bytes;
use fedci_client::{Client, RawRequest};
use hyper::Method;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct IngestOpts {
    /// Offered load of the fixed-rate phase, events/s.
    pub rate: u64,
    pub duration: Duration,
    /// Concurrent keep-alive connections.
    pub connections: usize,
}

#[derive(Debug, Serialize)]
pub struct IngestReport {
    /// The CPUs the systems under test were pinned to (`--node-cpus`), if any.
    pub node_cpus: Option<String>,
    /// The CPUs the node's process was allowed to run on, as the kernel reports it.
    pub node_cpus_allowed: Option<String>,
    pub offered_rate: u64,
    pub fixed_rate_achieved: f64,
    pub fixed_rate_latency: Latency,
    pub fixed_rate_errors: u64,
    pub saturation_rate: f64,
    pub saturation_latency: Latency,
    pub saturation_errors: u64,
    pub connections: usize,
    pub stored_events: u64,
    pub commits: u64,
}

pub async fn run(bin: &Path, opts: &IngestOpts) -> anyhow::Result<IngestReport> {
    let dir = tempfile::tempdir()?;
    let mut node = Node::new("bench", dir.path().join("bench"), bin);
    node.init("odl")?;
    crate::net::set_config(&node.home, super::BENCH_API_CONFIG)?;
    node.start()?;
    let node_cpus_allowed = node.pid().and_then(cpus_allowed);
    let socket = node.socket();
    // Request bodies are built before the clock starts: the load generator shares the two
    // cores with the node, and building JSON in the loop would be measured as node time.
    let per_phase = (opts.rate.max(20_000) as f64 * opts.duration.as_secs_f64() * 1.2) as usize;
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..2 * per_phase as u64)
            .map(|i| serde_json::to_vec(&artifact_event(i)).unwrap_or_default())
            .collect(),
    );
    let counter = Arc::new(AtomicU64::new(0));

    let (fixed_lat, fixed_n, fixed_err, fixed_secs) = phase(
        &socket,
        opts,
        Some(opts.rate),
        counter.clone(),
        bodies.clone(),
    )
    .await?;
    let (sat_lat, sat_n, sat_err, sat_secs) = phase(&socket, opts, None, counter, bodies).await?;

    let client = Client::new(&socket);
    let status = client.status().await?;
    let metrics = client.metrics().await?;
    let commits = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("fedci_store_commits_total ")
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0);
    node.stop();
    Ok(IngestReport {
        node_cpus: crate::pin::node_cpus().map(str::to_string),
        node_cpus_allowed,
        offered_rate: opts.rate,
        fixed_rate_achieved: fixed_n as f64 / fixed_secs,
        fixed_rate_latency: fixed_lat,
        fixed_rate_errors: fixed_err,
        saturation_rate: sat_n as f64 / sat_secs,
        saturation_latency: sat_lat,
        saturation_errors: sat_err,
        connections: opts.connections,
        stored_events: status.events.unwrap_or(0),
        commits,
    })
}

/// One phase: `rate` Some = open loop at that rate, None = closed loop as fast as it goes.
async fn phase(
    socket: &Path,
    opts: &IngestOpts,
    rate: Option<u64>,
    counter: Arc<AtomicU64>,
    bodies: Arc<Vec<Vec<u8>>>,
) -> anyhow::Result<(Latency, u64, u64, f64)> {
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + opts.duration;
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..opts.connections {
        let mut conn = Client::new(socket).connect().await?;
        let next = next.clone();
        let counter = counter.clone();
        let bodies = bodies.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let due = match rate {
                    Some(r) => start + Duration::from_secs_f64(i as f64 / r as f64),
                    None => Instant::now().max(start),
                };
                if due >= end {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                let n = counter.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(body) = bodies.get(n).cloned() else {
                    break;
                };
                let req = RawRequest::new(Method::POST, "/v1/events")
                    .body("application/json", Bytes::from(body));
                match conn.send(req).await {
                    Ok(r) if r.status == 201 => lat.push(due.elapsed()),
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e) = t.await?;
        all.extend(lat);
        errors += e;
    }
    let secs = start
        .elapsed()
        .as_secs_f64()
        .max(opts.duration.as_secs_f64());
    let n = all.len() as u64;
    Ok((Latency::of(all), n, errors, secs))
}

/// `Cpus_allowed_list` of a process, from /proc.
fn cpus_allowed(pid: u32) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(|v| v.trim().to_string())
}
