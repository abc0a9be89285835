//! `bench catchup`: one node publishes N events while its peer does not exist yet; the peer
//! then starts and catches up. Measures time from the peer's start to holding all N, the
//! bytes moved, the cost of the next round once both agree, and what each store costs per
//! event on disk.

use super::artifact_event;
use super::store_size::{self, StoreSize};
use crate::net::{Testnet, listen_addr, status};
use fedci_client::types::{Published, RoundSummary, Status};
use fedci_client::{Client, ClientError, RawRequest};
use hyper::Method;
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Serialize)]
pub struct CatchupReport {
    pub events: u64,
    pub publish_secs: f64,
    pub catchup_secs: f64,
    pub events_per_sec: f64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub in_sync_round: Option<RoundSummary>,
    /// Communities in the net (all trust each other) and the topics the late joiner's
    /// in-sync round covers.
    pub communities: usize,
    pub topics: usize,
    /// The publisher's store after the joiner caught up (and after a clean stop).
    pub publisher_store: StoreSize,
    /// The late joiner's store, the same.
    pub joiner_store: StoreSize,
}

/// `communities` nodes trust each other; the first publishes `events` before the second
/// (the late joiner) starts; the others only exist, so that the joiner subscribes to every
/// community's topics and the in-sync round covers them all.
pub async fn run(bin: &Path, events: u64, communities: usize) -> anyhow::Result<CatchupReport> {
    anyhow::ensure!(communities >= 2, "catch-up needs at least 2 communities");
    let dir = tempfile::tempdir()?;
    let names = super::fanout::names(communities);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    // 64 publishing connections from one client: the per-client cap is lifted as in every
    // bench, or the connections beyond it would be refused.
    let config = format!("sync_interval_secs = 1\n{}", super::BENCH_API_CONFIG);
    let mut net = Testnet::create(dir.path(), &refs, bin, &config)?;
    net.nodes[0].start()?;
    let socket = net.nodes[0].socket();
    let publish_start = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let mut conn = Client::new(&socket).connect().await?;
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut sample = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= events {
                    return Ok::<_, ClientError>(sample);
                }
                let req = RawRequest::new(Method::POST, "/v1/events").json(&artifact_event(i))?;
                let published: Published = conn.call(req).await?.parse()?;
                if store_size::sampled(i, events) {
                    sample.push(published.id);
                }
            }
        }));
    }
    let mut sample = Vec::new();
    for t in tasks {
        // A publish that failed would shrink the store the joiner catches up: stop, loudly.
        sample.extend(
            t.await?
                .map_err(|e| anyhow::anyhow!("publishing the events failed: {e}"))?,
        );
    }
    let publish_secs = publish_start.elapsed().as_secs_f64();
    let target = status(&net.nodes[0]).and_then(|s| s.events).unwrap_or(0);
    anyhow::ensure!(
        target >= events,
        "the publisher holds {target} events after {events} publishes"
    );

    let addr = listen_addr(&net.nodes[0])?;
    // The bystanders hold nothing; they dial the publisher only, so the joiner's rounds are
    // with the publisher (its only peer).
    for node in net.nodes.iter_mut().skip(2) {
        node.run_args = vec!["--peer".into(), addr.clone()];
        node.start()?;
    }
    net.nodes[1].run_args = vec!["--peer".into(), addr];
    let t0 = Instant::now();
    net.nodes[1].start()?;
    let joiner = Client::new(net.nodes[1].socket());
    loop {
        let s: Status = joiner.status().await?;
        let held = s.events.unwrap_or(0);
        if held >= target {
            break;
        }
        if t0.elapsed() > Duration::from_secs(600) {
            anyhow::bail!("catch-up incomplete after 600 s: {held} of {target}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let catchup_secs = t0.elapsed().as_secs_f64();
    // Wait for a periodic round after agreement and report what it cost.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut bytes_received, mut bytes_sent, mut in_sync) = (0, 0, None);
    while Instant::now() < deadline {
        let s = joiner.status().await?;
        let sync = s
            .network
            .and_then(|n| n.peers.into_iter().next())
            .and_then(|p| p.sync);
        if let Some(sync) = sync {
            bytes_received = sync.bytes_received;
            bytes_sent = sync.bytes_sent;
            if let Some(last) = sync
                .last_round
                .filter(|l| l.need == 0 && l.have == 0 && l.error.is_none() && sync.rounds >= 2)
            {
                in_sync = Some(last);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let topics = joiner.status().await?.network.map_or(0, |n| n.topics.len());
    let mut publisher_store = store_size::measure(&net.nodes[0], &sample).await?;
    let mut joiner_store = store_size::measure(&net.nodes[1], &sample).await?;
    net.stop_all();
    store_size::record_stopped(&mut publisher_store, &net.nodes[0])?;
    store_size::record_stopped(&mut joiner_store, &net.nodes[1])?;
    Ok(CatchupReport {
        communities,
        topics,
        events,
        publish_secs,
        catchup_secs,
        events_per_sec: events as f64 / catchup_secs,
        bytes_received,
        bytes_sent,
        in_sync_round: in_sync,
        publisher_store,
        joiner_store,
    })
}
