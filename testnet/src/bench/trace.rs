//! `bench trace`: a store of N events in chains D deep (each composition.defined links
//! PREVIOUS_VERSION to the one before), built through the API of a real node; then upstream
//! and downstream traces over the whole chain, timed through the socket. The same run
//! restarts the loaded node (start-up time, RSS) and measures an idle fresh node.

use super::Latency;
use super::rss_mb;
use crate::node::Node;
use fedci_client::Client;
use fedci_client::types::{Direction, LinkRequest, PublishRequest};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Serialize)]
pub struct TraceReport {
    pub events: u64,
    pub depth: u64,
    pub build_secs: f64,
    pub store_mb: f64,
    pub up: Latency,
    pub down: Latency,
    pub loaded_start_ms: f64,
    pub loaded_rss_mb: f64,
    pub idle_start_ms: f64,
    pub idle_rss_mb: f64,
}

pub async fn run(bin: &Path, events: u64, depth: u64) -> anyhow::Result<TraceReport> {
    let dir = tempfile::tempdir()?;
    let (idle_start_ms, idle_rss_mb) = idle(bin, dir.path())?;
    let mut node = Node::new("odl", dir.path().join("odl"), bin);
    node.init("odl")?;
    crate::net::set_config(
        &node.home,
        &format!("listen = []\n{}", super::BENCH_API_CONFIG),
    )?;
    node.start()?;
    let chains = (events / depth).max(1);
    let next = Arc::new(AtomicU64::new(0));
    let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
    let build = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let mut conn = Client::new(node.socket()).connect().await?;
        let (next, heads) = (next.clone(), heads.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let chain = next.fetch_add(1, Ordering::Relaxed);
                if chain >= chains {
                    return Ok::<(), anyhow::Error>(());
                }
                let mut ids = Vec::with_capacity(depth as usize);
                for v in 0..depth {
                    let links = ids.last().map_or_else(Vec::new, |prev: &String| {
                        vec![LinkRequest { rel: "PREVIOUS_VERSION".into(), target: prev.clone() }]
                    });
                    let body = PublishRequest {
                        kind: "composition.defined".into(),
                        data: serde_json::json!({"name": format!("os-odl-nofeature-{chain}"), "version": format!("{v}"),
                                 "scenario": "os-odl-nofeature",
                                 "metadata_url": format!("https://artifacts.opnfv.org/baselines/{chain}/{v}.json")}),
                        links,
                    };
                    let published = conn.publish(&body).await?;
                    ids.push(published.id.to_string());
                }
                if let (Some(first), Some(last)) = (ids.first(), ids.last())
                    && let Ok(mut h) = heads.lock()
                {
                    h.push((first.clone(), last.clone()));
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let build_secs = build.elapsed().as_secs_f64();
    let sample: Vec<(String, String)> = heads
        .lock()
        .map(|h| h.iter().take(50).cloned().collect())
        .unwrap_or_default();
    let client = Client::new(node.socket());
    let (mut up, mut down) = (Vec::new(), Vec::new());
    for (first, last) in &sample {
        for (id, dir, out) in [
            (last, Direction::Up, &mut up),
            (first, Direction::Down, &mut down),
        ] {
            let t = Instant::now();
            let g = client.trace(&id.parse()?, dir, depth as u32).await?;
            out.push(t.elapsed());
            let n = g.nodes.len() as u64;
            let dir = dir.as_str();
            anyhow::ensure!(
                n == depth,
                "trace {dir} from {id} returned {n} nodes, expected {depth}"
            );
        }
    }
    node.stop();
    let store_mb = std::fs::metadata(node.home.join("store.redb"))
        .map(|m| m.len() as f64 / 1e6)
        .unwrap_or(0.0);
    let t = Instant::now();
    node.start()?;
    let loaded_start_ms = t.elapsed().as_secs_f64() * 1000.0;
    std::thread::sleep(Duration::from_secs(2));
    let loaded_rss_mb = node.pid().and_then(rss_mb).unwrap_or(0.0);
    node.stop();
    Ok(TraceReport {
        events: chains * depth,
        depth,
        build_secs,
        store_mb,
        up: Latency::of(up),
        down: Latency::of(down),
        loaded_start_ms,
        loaded_rss_mb,
        idle_start_ms,
        idle_rss_mb,
    })
}

/// A fresh node with the network on: start-up time to a working socket, and RSS after 5 s idle.
pub fn idle(bin: &Path, dir: &Path) -> anyhow::Result<(f64, f64)> {
    let mut node = Node::new("idle", dir.join("idle"), bin);
    node.init("idle")?;
    let t = Instant::now();
    node.start()?;
    let start_ms = t.elapsed().as_secs_f64() * 1000.0;
    std::thread::sleep(Duration::from_secs(5));
    let rss = node.pid().and_then(rss_mb).unwrap_or(0.0);
    node.stop();
    Ok((start_ms, rss))
}
