//! `bench baseline` and `bench broker`: the same fanout load through fedci and through the
//! system a user would compare it with, one after the other in one run (never at the same
//! time: they would share the two cores), and the ratios between them.

use super::baseline::GossipNet;
use super::broker::BrokerNet;
use super::fanout::FedciNet;
use super::load::{Fabric, Run};
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

/// What fedci is compared with.
#[derive(Debug, Clone, Copy)]
pub enum Other {
    /// Plain libp2p gossipsub: no signatures, no validation, no store.
    Gossipsub,
    /// RabbitMQ with durable queues, persistent messages and publisher confirms.
    Broker { install: bool },
}

#[derive(Debug, Clone)]
pub struct CompareOpts {
    /// fedci nodes (and gossipsub peers); the consumers are all but the publisher.
    pub nodes: usize,
    pub rate: u64,
    pub duration: Duration,
    /// Publishes in flight (socket connections for fedci).
    pub connections: usize,
    /// Also search each system's highest zero-loss rate, starting here (0: skip).
    pub max_from: u64,
    pub max_ceiling: u64,
}

#[derive(Debug, Serialize)]
pub struct Side {
    pub system: String,
    /// The fixed-rate run.
    pub run: Run,
    /// Highest zero-loss rate found, if searched.
    pub max_zero_loss_rate: Option<u64>,
    /// Every run of the search.
    pub search: Vec<Run>,
    /// Resident memory at the end, MB: min, mean, max per node or peer (for the broker, its
    /// whole process group, three times).
    pub rss_mb: [f64; 3],
}

#[derive(Debug, Serialize)]
pub struct Comparison {
    /// The CPUs the systems under test were pinned to (`--node-cpus`), if any.
    pub node_cpus: Option<String>,
    pub consumers: usize,
    pub fedci: Side,
    pub other: Side,
    /// fedci's figure divided by the other's.
    pub p50_ratio: f64,
    pub p99_ratio: f64,
    pub max_zero_loss_ratio: Option<f64>,
}

/// The fixed-rate run, then the search if asked; memory is filled in by the caller.
async fn measure(fabric: &mut Fabric, opts: &CompareOpts) -> anyhow::Result<Side> {
    eprintln!(
        "{}: {} events/s for {:?}",
        fabric.name, opts.rate, opts.duration
    );
    let mut side = Side {
        system: fabric.name.clone(),
        run: fabric.run(opts.rate, opts.duration).await?,
        max_zero_loss_rate: None,
        search: Vec::new(),
        rss_mb: [0.0; 3],
    };
    if opts.max_from > 0 {
        eprintln!("{}: searching the highest zero-loss rate", fabric.name);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (max, search) = fabric
            .max_zero_loss(opts.max_from, opts.max_ceiling, opts.duration)
            .await?;
        (side.max_zero_loss_rate, side.search) = (Some(max), search);
    }
    Ok(side)
}

pub async fn run(bin: &Path, other: Other, opts: &CompareOpts) -> anyhow::Result<Comparison> {
    anyhow::ensure!(
        opts.nodes >= 2,
        "needs at least 2 nodes (one publisher, one consumer)"
    );
    let fedci = {
        let mut net = FedciNet::start(bin, opts.nodes, opts.connections).await?;
        let mut side = measure(&mut net.fabric, opts).await?;
        side.rss_mb = net.rss_mb();
        net.net.stop_all();
        side
    };
    let other = match other {
        Other::Gossipsub => {
            let mut net = GossipNet::start(opts.nodes, opts.connections).await?;
            let mut side = measure(&mut net.fabric, opts).await?;
            side.rss_mb = net.rss_mb();
            side
        }
        Other::Broker { install } => {
            let mut net = BrokerNet::start(install, opts.nodes - 1, opts.connections).await?;
            let mut side = measure(&mut net.fabric, opts).await?;
            side.rss_mb = [net.rabbit.rss_mb(); 3];
            side
        }
    };
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    Ok(Comparison {
        node_cpus: crate::pin::node_cpus().map(str::to_string),
        consumers: opts.nodes - 1,
        p50_ratio: ratio(fedci.run.latency.p50_ms, other.run.latency.p50_ms),
        p99_ratio: ratio(fedci.run.latency.p99_ms, other.run.latency.p99_ms),
        max_zero_loss_ratio: fedci
            .max_zero_loss_rate
            .zip(other.max_zero_loss_rate)
            .map(|(a, b)| ratio(a as f64, b as f64)),
        fedci,
        other,
    })
}

/// The human table.
pub fn print(c: &Comparison, opts: &CompareOpts) {
    println!(
        "fanout to {} consumers, {} events/s for {} s, {} publishes in flight",
        c.consumers,
        opts.rate,
        opts.duration.as_secs(),
        opts.connections
    );
    println!(
        "  {:<10} {:>10} {:>9} {:>6} {:>9} {:>9} {:>9} {:>11} {:>14} {:>8}",
        "system",
        "published",
        "rate/s",
        "lost",
        "p50 ms",
        "p99 ms",
        "max ms",
        "ack p50 ms",
        "max 0-loss/s",
        "RSS MB*"
    );
    for s in [&c.fedci, &c.other] {
        println!(
            "  {:<10} {:>10} {:>9.0} {:>6} {:>9.2} {:>9.2} {:>9.2} {:>11.2} {:>14} {:>8.1}",
            s.system,
            s.run.published,
            s.run.publish_rate_achieved,
            s.run.lost,
            s.run.latency.p50_ms,
            s.run.latency.p99_ms,
            s.run.latency.max_ms,
            s.run.ack_latency.p50_ms,
            s.max_zero_loss_rate.map_or("-".into(), |m| m.to_string()),
            s.rss_mb[1]
        );
    }
    println!("  * per node or peer (mean); for a broker, the whole broker");
    println!(
        "  fedci / {}: p50 {:.2}x, p99 {:.2}x{}",
        c.other.system,
        c.p50_ratio,
        c.p99_ratio,
        c.max_zero_loss_ratio.map_or(String::new(), |r| format!(
            ", highest zero-loss rate {r:.2}x"
        ))
    );
}
