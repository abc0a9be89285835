//! `bench baseline`'s plain-gossipsub side: N `gossip-peer` processes in the same topology as
//! the fedci net, the first publishing, the others reporting every message on stdout.

use super::gossip_peer::{line, parse_line};
use super::load::{ARRIVALS_CAPACITY, Arrival, BoxFut, Fabric, Publisher};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::{Mutex, mpsc};

/// The running peers; dropping it kills them.
#[derive(Debug)]
pub struct GossipNet {
    pub fabric: Fabric,
    children: Vec<Child>,
}

/// Writes publish lines to the first peer. The peer acknowledges nothing: plain gossipsub
/// has no notion of a durable publish, so a line written counts as published.
struct StdinPublisher(Arc<Mutex<ChildStdin>>);

impl Publisher for StdinPublisher {
    fn publish(&mut self, i: u64, probe: bool) -> BoxFut<'_, Option<String>> {
        Box::pin(async move {
            let mut stdin = self.0.lock().await;
            stdin.write_all(line(i, probe).as_bytes()).await.ok()?;
            stdin.flush().await.ok()?;
            Some(i.to_string())
        })
    }
}

impl GossipNet {
    pub async fn start(nodes: usize, connections: usize) -> anyhow::Result<GossipNet> {
        anyhow::ensure!(nodes >= 2, "fanout needs at least 2 nodes");
        let exe = std::env::current_exe()?;
        let topology = super::fanout_topology(nodes);
        let (tx, rx) = mpsc::channel(ARRIVALS_CAPACITY);
        let (mut children, mut addrs, mut stdin0) = (Vec::new(), Vec::<String>::new(), None);
        for i in 0..nodes {
            let mut cmd = Command::from(crate::pin::command(&exe));
            cmd.arg("gossip-peer");
            for j in topology.targets(i) {
                cmd.arg("--peer").arg(&addrs[j]);
            }
            let mut child = cmd
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .kill_on_drop(true)
                .spawn()?;
            let stdout = child
                .stdout
                .take()
                .ok_or_else(|| anyhow::anyhow!("gossip-peer {i}: no stdout"))?;
            let mut lines = BufReader::new(stdout).lines();
            let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
                .await
                .map_err(|_| anyhow::anyhow!("gossip-peer {i} did not start listening in 10 s"))??
                .unwrap_or_default();
            let addr = first.strip_prefix("listening ").ok_or_else(|| {
                anyhow::anyhow!("gossip-peer {i}: unexpected first line {first:?}")
            })?;
            addrs.push(addr.to_string());
            if i == 0 {
                stdin0 = child.stdin.take();
            } else {
                let tx = tx.clone();
                tokio::spawn(async move {
                    while let Ok(Some(line)) = lines.next_line().await {
                        let at = Instant::now();
                        let Some((n, probe)) = parse_line(&line) else {
                            continue;
                        };
                        let key = n.to_string();
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
            children.push(child);
        }
        let stdin = Arc::new(Mutex::new(
            stdin0.ok_or_else(|| anyhow::anyhow!("gossip-peer 0: no stdin"))?,
        ));
        let publishers: Vec<Box<dyn Publisher>> = (0..connections.max(1))
            .map(|_| Box::new(StdinPublisher(stdin.clone())) as Box<dyn Publisher>)
            .collect();
        let mut fabric = Fabric::new("gossipsub", publishers, nodes - 1, rx);
        fabric.warm_up(Duration::from_secs(60)).await?;
        Ok(GossipNet { fabric, children })
    }

    /// Resident memory per peer, MB: min, mean, max.
    pub fn rss_mb(&self) -> [f64; 3] {
        super::rss_spread(self.children.iter().filter_map(Child::id))
    }
}
