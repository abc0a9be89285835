//! `bench fanout`: publish at a fixed rate on one node; every other node's stream must
//! deliver every event. Latency is from the publish request leaving the client to the event
//! line arriving in the remote node's stream: durable at the publisher, gossiped, validated,
//! durable at the receiver.

use super::{Latency, artifact_event};
use crate::net::{Testnet, Topology, status};
use crate::sock::{Conn, follow};
use hyper::Method;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, mpsc};

/// Event id → (follower index, arrival instant) for each follower that delivered it.
type Arrivals = HashMap<String, Vec<(usize, Instant)>>;

#[derive(Debug, Clone)]
pub struct FanoutOpts {
    pub nodes: usize,
    pub rate: u64,
    pub duration: Duration,
    pub connections: usize,
}

#[derive(Debug, Serialize)]
pub struct FanoutReport {
    pub nodes: usize,
    pub offered_rate: u64,
    pub published: usize,
    pub publish_rate_achieved: f64,
    pub deliveries_expected: usize,
    pub deliveries: usize,
    pub lost: usize,
    /// Per (event, receiving node) pair.
    pub latency: Latency,
    /// Per event: until the last receiving node had it.
    pub latency_all_nodes: Latency,
    /// Resident memory per node at the end, MB: min, mean, max.
    pub rss_mb: [f64; 3],
}

pub fn names(n: usize) -> Vec<String> {
    let known = [
        "odl",
        "opnfv",
        "openstack",
        "fdio",
        "onap",
        "anuket",
        "tungsten",
        "kubevirt",
    ];
    (0..n)
        .map(|i| {
            known
                .get(i)
                .map_or_else(|| format!("c{i:02}"), |s| s.to_string())
        })
        .collect()
}

pub async fn run(bin: &Path, opts: &FanoutOpts) -> anyhow::Result<FanoutReport> {
    let dir = tempfile::tempdir()?;
    let names = names(opts.nodes);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut net = Testnet::create(dir.path(), &refs, bin, "")?;
    let topology = if opts.nodes <= 10 {
        Topology::Full
    } else {
        Topology::Random(4)
    };
    net.start(topology)?;
    net.wait_connected(1.min(opts.nodes - 1), Duration::from_secs(30))
        .map_err(anyhow::Error::msg)?;

    // Followers: every node but the publisher streams artifact.created from now on.
    let (tx, mut rx) = mpsc::channel(1 << 20);
    for (i, node) in net.nodes.iter().enumerate().skip(1) {
        let after = status(node)
            .and_then(|s| s["last_arrival"].as_u64())
            .unwrap_or(0);
        let tx = tx.clone();
        let path = format!("/v1/stream?kind=artifact.created&after={after}");
        let socket = node.socket();
        tokio::spawn(async move {
            let (ltx, mut lrx) = mpsc::channel(1 << 16);
            tokio::spawn(follow(socket, path, ltx));
            while let Some((id, identity, at)) = lrx.recv().await {
                if tx.send((i, id, identity, at)).await.is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let seen: Arc<Mutex<Arrivals>> = Arc::default();
    let probes_seen: Arc<Mutex<std::collections::HashSet<usize>>> = Arc::default();
    {
        let (seen, probes_seen) = (seen.clone(), probes_seen.clone());
        tokio::spawn(async move {
            while let Some((node, id, identity, at)) = rx.recv().await {
                if identity.starts_with("probe-") {
                    probes_seen.lock().await.insert(node);
                } else {
                    seen.lock().await.entry(id).or_default().push((node, at));
                }
            }
        });
    }
    let socket = net.nodes[0].socket();
    // Warm-up: gossip before a peer's subscription is known is lost by design, so probe until
    // every follower has seen one.
    let mut conn = Conn::open(&socket).await?;
    let warm = Instant::now();
    for n in 0u64.. {
        let probe = serde_json::json!({"kind": "artifact.created", "data": {"identity": format!("probe-{n}")}});
        conn.call(
            Method::POST,
            "/v1/events",
            Some(serde_json::to_vec(&probe)?),
        )
        .await?;
        if probes_seen.lock().await.len() == opts.nodes - 1 {
            break;
        }
        if warm.elapsed() > Duration::from_secs(60) {
            anyhow::bail!("warm-up: probes did not reach every node within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Publish at a fixed rate, open loop, remembering when each request left.
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + opts.duration;
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..opts.connections {
        let mut conn = Conn::open(&socket).await?;
        let (next, rate) = (next.clone(), opts.rate);
        tasks.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
                if due >= end {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                let body = serde_json::to_vec(&artifact_event(i)).unwrap_or_default();
                let left = Instant::now();
                if let Ok((201, resp)) = conn.call(Method::POST, "/v1/events", Some(body)).await {
                    let v: serde_json::Value = serde_json::from_slice(&resp).unwrap_or_default();
                    sent.push((v["id"].as_str().unwrap_or_default().to_string(), left));
                }
            }
            sent
        }));
    }
    let mut sent = Vec::new();
    for t in tasks {
        sent.extend(t.await?);
    }
    let publish_secs = start.elapsed().as_secs_f64();
    let expected = sent.len() * (opts.nodes - 1);
    // Give stragglers a bounded time to arrive.
    let drain = Instant::now();
    loop {
        let got: usize = seen.lock().await.values().map(Vec::len).sum();
        if got >= expected || drain.elapsed() > Duration::from_secs(15) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen = seen.lock().await;
    let mut lat = Vec::with_capacity(expected);
    let mut all_nodes = Vec::new();
    for (id, left) in &sent {
        let arrivals = seen.get(id).map(Vec::as_slice).unwrap_or(&[]);
        for (_, at) in arrivals {
            lat.push(at.saturating_duration_since(*left));
        }
        if arrivals.len() == opts.nodes - 1
            && let Some(last) = arrivals.iter().map(|(_, at)| *at).max()
        {
            all_nodes.push(last.saturating_duration_since(*left));
        }
    }
    let deliveries = lat.len();
    let rss: Vec<f64> = net
        .nodes
        .iter()
        .filter_map(|n| n.pid())
        .filter_map(rss_mb)
        .collect();
    let rss_mb = if rss.is_empty() {
        [0.0; 3]
    } else {
        let min = rss.iter().copied().fold(f64::MAX, f64::min);
        let max = rss.iter().copied().fold(0.0, f64::max);
        [min, rss.iter().sum::<f64>() / rss.len() as f64, max]
    };
    net.stop_all();
    Ok(FanoutReport {
        nodes: opts.nodes,
        offered_rate: opts.rate,
        published: sent.len(),
        publish_rate_achieved: sent.len() as f64 / publish_secs.max(opts.duration.as_secs_f64()),
        deliveries_expected: expected,
        deliveries,
        lost: expected.saturating_sub(deliveries),
        latency: Latency::of(lat),
        latency_all_nodes: Latency::of(all_nodes),
        rss_mb,
    })
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
