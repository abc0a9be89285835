//! `bench fanout`: publish at a fixed rate on one node; every other node's stream must
//! deliver every event. Latency is from the publish request leaving the client to the event
//! line arriving in the remote node's stream: checked and signed at the publisher, gossiped
//! while the publisher commits, validated and durable at the receiver, streamed.

use super::artifact_event;
use super::load::{ARRIVALS_CAPACITY, Arrival, BoxFut, Fabric, Publisher, Run};
use crate::net::follow;
use crate::net::{Testnet, status};
use fedci_client::types::PublishStatus;
use fedci_client::{Client, Conn, EventQuery, RawRequest};
use hyper::Method;
use serde::Serialize;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug, Clone)]
pub struct FanoutOpts {
    pub nodes: usize,
    pub rate: u64,
    pub duration: Duration,
    pub connections: usize,
}

#[derive(Debug, Serialize)]
pub struct FanoutReport {
    /// The CPUs the systems under test were pinned to (`--node-cpus`), if any.
    pub node_cpus: Option<String>,
    pub nodes: usize,
    #[serde(flatten)]
    pub run: Run,
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

/// A running fedci net whose first node publishes and whose others stream `artifact.created`.
#[derive(Debug)]
pub struct FedciNet {
    pub net: Testnet,
    pub fabric: Fabric,
    _dir: tempfile::TempDir,
}

/// One keep-alive socket connection publishing JSON events; acknowledged = committed (201).
struct SocketPublisher(Conn);

impl Publisher for SocketPublisher {
    fn publish(&mut self, i: u64, probe: bool) -> BoxFut<'_, Option<String>> {
        Box::pin(async move {
            let event = if probe {
                serde_json::json!({"kind": "artifact.created", "data": {"identity": format!("probe-{i}")}})
            } else {
                artifact_event(i)
            };
            let req = RawRequest::new(Method::POST, "/v1/events")
                .json(&event)
                .ok()?;
            let published: fedci_client::types::Published =
                self.0.call(req).await.ok()?.parse().ok()?;
            (published.status == PublishStatus::Stored).then(|| published.id.to_string())
        })
    }
}

impl FedciNet {
    /// Starts `nodes` nodes (full mesh up to 10, random degree 4 beyond), follows the streams
    /// of all but the first, opens `connections` publishing connections to the first, and
    /// warms up until every follower has seen a probe.
    pub async fn start(bin: &Path, nodes: usize, connections: usize) -> anyhow::Result<FedciNet> {
        anyhow::ensure!(nodes >= 2, "fanout needs at least 2 nodes");
        let dir = tempfile::tempdir()?;
        let names = names(nodes);
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        // Catch-up repairs what gossip drops; it must run within the driver's drain window,
        // or a dropped-then-repaired event would count as lost.
        let mut net = Testnet::create(
            dir.path(),
            &refs,
            bin,
            &format!("sync_interval_secs = 5\n{}", super::BENCH_API_CONFIG),
        )?;
        net.start(super::fanout_topology(nodes))?;
        net.wait_connected(1, Duration::from_secs(30))
            .map_err(anyhow::Error::msg)?;
        let (tx, rx) = mpsc::channel(ARRIVALS_CAPACITY);
        for (i, node) in net.nodes.iter().enumerate().skip(1) {
            let after = status(node).map_or(0, |s| s.last_arrival);
            let query = EventQuery {
                kinds: vec!["artifact.created".into()],
                after: Some(after),
                ..Default::default()
            };
            let (ltx, mut lrx) = mpsc::channel(ARRIVALS_CAPACITY);
            tokio::spawn(follow(node.socket(), query, ltx));
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some((ev, at)) = lrx.recv().await {
                    let identity = ev.event.data.get("identity").and_then(|v| v.as_str());
                    let probe = identity.is_some_and(|i| i.starts_with("probe-"));
                    let key = ev.event.id.to_string();
                    let arrival = Arrival {
                        follower: i - 1,
                        key,
                        probe,
                        at,
                    };
                    if tx.send(arrival).await.is_err() {
                        break;
                    }
                }
            });
        }
        let socket = net.nodes[0].socket();
        let mut publishers: Vec<Box<dyn Publisher>> = Vec::new();
        for _ in 0..connections.max(1) {
            publishers.push(Box::new(SocketPublisher(
                Client::new(&socket).connect().await?,
            )));
        }
        let mut fabric = Fabric::new("fedci", publishers, nodes - 1, rx);
        fabric.warm_up(Duration::from_secs(60)).await?;
        Ok(FedciNet {
            net,
            fabric,
            _dir: dir,
        })
    }

    /// Resident memory per node, MB: min, mean, max.
    pub fn rss_mb(&self) -> [f64; 3] {
        super::rss_spread(self.net.nodes.iter().filter_map(|n| n.pid()))
    }
}

pub async fn run(bin: &Path, opts: &FanoutOpts) -> anyhow::Result<FanoutReport> {
    let mut fed = FedciNet::start(bin, opts.nodes, opts.connections).await?;
    let run = fed.fabric.run(opts.rate, opts.duration).await?;
    let rss_mb = fed.rss_mb();
    fed.net.stop_all();
    Ok(FanoutReport {
        node_cpus: crate::pin::node_cpus().map(str::to_string),
        nodes: opts.nodes,
        run,
        rss_mb,
    })
}
