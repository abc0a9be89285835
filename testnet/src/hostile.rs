//! A hostile libp2p peer for attack tests (hidden `fedci-testnet hostile-peer`): it speaks
//! fedci-node's own gossipsub and sync protocol (the node's behaviour, the node's transport),
//! but sends whatever bytes it is told to, floods requests and opens connections under fresh
//! identities. Not a product feature: it exists so tests can attack a real node over a real
//! connection.
//!
//! Line protocol, one line each way. The first stdout line is `ready <peer id>`. Commands on
//! stdin (bytes and ids in hex, lists comma-separated):
//!
//! | command | answer |
//! |---|---|
//! | `dial <multiaddr>` | `connected <peer id>` / `error dial <why>` |
//! | `publish <topic> <hex>` | `published` / `error publish <why>` (retried until a peer subscribes, 20 s) |
//! | `offer <peer id> <hex>,…` | `offer taken <n>` / `offer refused <message>` / `offer failed <why>` |
//! | `fetch <peer id> <total> <concurrency> <id>,…` | `fetch ok=<n> failed=<n> events=<n> bytes=<n>` |
//! | `sybils <multiaddr> <n>` | `sybils established=<n> failed=<n>` (they stay connected until exit) |
//!
//! EOF on stdin (or `quit`) ends the process.

use crate::bench::gossip_peer::swarm;
use anyhow::{Context, Result, anyhow};
use fedci_node::net::behaviour::{self, FedBehaviourEvent, Mesh};
use fedci_node::sync::protocol::{Request, Response};
use futures::StreamExt;
use libp2p::gossipsub::{IdentTopic, PublishError};
use libp2p::request_response::{self, OutboundRequestId};
use libp2p::swarm::{Swarm, SwarmEvent, dummy};
use libp2p::{Multiaddr, PeerId, identity};
use serde_bytes::ByteBuf;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// How long a publish waits for a peer to be subscribed to its topic.
const PUBLISH_PATIENCE: Duration = Duration::from_secs(20);
/// How long a sybil may take to connect before it counts as failed.
const SYBIL_DIAL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, clap::Args)]
pub struct HostileArgs {}

/// A `fetch` command in progress.
#[derive(Debug, Default)]
struct Flood {
    peer: Option<PeerId>,
    ids: Vec<ByteBuf>,
    to_send: u64,
    in_flight: HashSet<OutboundRequestId>,
    ok: u64,
    failed: u64,
    events: u64,
    bytes: u64,
}

struct Hostile {
    swarm: Swarm<behaviour::FedBehaviour>,
    out: tokio::io::BufWriter<tokio::io::Stdout>,
    /// Publishes waiting for a subscriber: (topic, bytes, give up at).
    publishes: Vec<(String, Vec<u8>, Instant)>,
    offers: HashSet<OutboundRequestId>,
    flood: Flood,
    flood_concurrency: usize,
    dials: usize,
    sybils: mpsc::Sender<bool>,
}

pub async fn serve(_args: HostileArgs) -> Result<()> {
    let key = identity::Keypair::generate_ed25519();
    let behaviour =
        behaviour::build(&key, Mesh::default()).map_err(|e| anyhow!("behaviour: {e}"))?;
    let swarm = swarm(key, behaviour)?;
    let (sybil_tx, mut sybil_rx) = mpsc::channel(1024);
    let mut h = Hostile {
        swarm,
        out: tokio::io::BufWriter::new(tokio::io::stdout()),
        publishes: Vec::new(),
        offers: HashSet::new(),
        flood: Flood::default(),
        flood_concurrency: 1,
        dials: 0,
        sybils: sybil_tx,
    };
    let me = *h.swarm.local_peer_id();
    h.say(&format!("ready {me}")).await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut retry = tokio::time::interval(Duration::from_millis(100));
    let (mut sybils_pending, mut sybils_ok, mut sybils_failed) = (0usize, 0usize, 0usize);
    loop {
        tokio::select! {
            line = lines.next_line() => {
                let Some(line) = line? else { return Ok(()) };
                let line = line.trim();
                if line == "quit" {
                    return Ok(());
                }
                if let Some(rest) = line.strip_prefix("sybils ") {
                    let n = h.sybils(rest)?;
                    sybils_pending = n;
                    (sybils_ok, sybils_failed) = (0, 0);
                    continue;
                }
                if let Err(e) = h.command(line) {
                    h.say(&format!("error {e:#}")).await?;
                }
            }
            Some(ok) = sybil_rx.recv() => {
                if ok { sybils_ok += 1 } else { sybils_failed += 1 }
                if sybils_pending > 0 && sybils_ok + sybils_failed == sybils_pending {
                    sybils_pending = 0;
                    h.say(&format!("sybils established={sybils_ok} failed={sybils_failed}")).await?;
                }
            }
            _ = retry.tick() => h.retry_publishes().await?,
            ev = h.swarm.select_next_some() => h.on_swarm(ev).await?,
        }
    }
}

impl Hostile {
    async fn say(&mut self, line: &str) -> Result<()> {
        self.out.write_all(line.as_bytes()).await?;
        self.out.write_all(b"\n").await?;
        Ok(self.out.flush().await?)
    }

    fn command(&mut self, line: &str) -> Result<()> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["dial", addr] => {
                self.dials += 1;
                self.swarm.dial(addr.parse::<Multiaddr>()?)?;
            }
            ["publish", topic, data] => {
                let deadline = Instant::now() + PUBLISH_PATIENCE;
                self.publishes
                    .push((topic.to_string(), hex::decode(data)?, deadline));
            }
            ["offer", peer, events] => {
                let request = Request::Offer {
                    events: hex_list(events)?,
                };
                let id = self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_request(&peer.parse()?, request);
                self.offers.insert(id);
            }
            ["fetch", peer, total, concurrency, ids] => {
                self.flood = Flood {
                    peer: Some(peer.parse()?),
                    ids: hex_list(ids)?,
                    to_send: total.parse()?,
                    ..Flood::default()
                };
                self.flood_concurrency = concurrency.parse::<usize>()?.max(1);
                self.refill_flood();
            }
            _ => return Err(anyhow!("unknown command {line:?}")),
        }
        Ok(())
    }

    /// Keeps `flood_concurrency` fetch requests in flight until `total` were sent.
    fn refill_flood(&mut self) {
        let Some(peer) = self.flood.peer else { return };
        while self.flood.to_send > 0 && self.flood.in_flight.len() < self.flood_concurrency {
            self.flood.to_send -= 1;
            let request = Request::Fetch {
                ids: self.flood.ids.clone(),
            };
            let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
            self.flood.in_flight.insert(id);
        }
    }

    async fn retry_publishes(&mut self) -> Result<()> {
        let mut waiting = Vec::new();
        for (topic, data, deadline) in std::mem::take(&mut self.publishes) {
            let result = self
                .swarm
                .behaviour_mut()
                .gossipsub
                .publish(IdentTopic::new(topic.clone()), data.clone());
            match result {
                Ok(_) => self.say("published").await?,
                Err(PublishError::NoPeersSubscribedToTopic) if Instant::now() < deadline => {
                    waiting.push((topic, data, deadline));
                }
                Err(e) => self.say(&format!("error publish {e}")).await?,
            }
        }
        self.publishes = waiting;
        Ok(())
    }

    async fn on_swarm(&mut self, ev: SwarmEvent<FedBehaviourEvent>) -> Result<()> {
        match ev {
            SwarmEvent::ConnectionEstablished { peer_id, .. } if self.dials > 0 => {
                self.dials -= 1;
                self.say(&format!("connected {peer_id}")).await?;
            }
            SwarmEvent::OutgoingConnectionError { error, .. } if self.dials > 0 => {
                self.dials -= 1;
                self.say(&format!("error dial {error}")).await?;
            }
            SwarmEvent::Behaviour(FedBehaviourEvent::Sync(ev)) => self.on_sync(ev).await?,
            _ => {}
        }
        Ok(())
    }

    async fn on_sync(&mut self, ev: request_response::Event<Request, Response>) -> Result<()> {
        use request_response::{Event as E, Message as M};
        match ev {
            // Requests from the node (its catch-up) go unanswered: the channel is dropped.
            E::Message {
                message:
                    M::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if self.offers.remove(&request_id) {
                    let line = match response {
                        Response::Taken { stored } => format!("offer taken {stored}"),
                        Response::Error { message } => format!("offer refused {message}"),
                        other => format!("offer refused unexpected answer {other:?}"),
                    };
                    self.say(&line).await?;
                } else if self.flood.in_flight.remove(&request_id) {
                    self.flood.ok += 1;
                    if let Response::Events { events, .. } = response {
                        self.flood.events += events.len() as u64;
                        self.flood.bytes += events.iter().map(|e| e.len() as u64).sum::<u64>();
                    }
                    self.flood_step().await?;
                }
            }
            E::OutboundFailure {
                request_id, error, ..
            } => {
                if self.offers.remove(&request_id) {
                    self.say(&format!("offer failed {error}")).await?;
                } else if self.flood.in_flight.remove(&request_id) {
                    self.flood.failed += 1;
                    self.flood_step().await?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    async fn flood_step(&mut self) -> Result<()> {
        self.refill_flood();
        if self.flood.to_send == 0 && self.flood.in_flight.is_empty() {
            let f = std::mem::take(&mut self.flood);
            self.say(&format!(
                "fetch ok={} failed={} events={} bytes={}",
                f.ok, f.failed, f.events, f.bytes
            ))
            .await?;
        }
        Ok(())
    }

    /// `sybils <multiaddr> <n>`: n swarms with fresh identities, each dialling once and then
    /// keeping its connection. Each reports whether it got connected.
    fn sybils(&mut self, args: &str) -> Result<usize> {
        let (addr, n) = args
            .split_once(' ')
            .context("usage: sybils <multiaddr> <n>")?;
        let addr: Multiaddr = addr.parse()?;
        let n: usize = n.trim().parse()?;
        for _ in 0..n {
            let mut sybil = swarm(identity::Keypair::generate_ed25519(), dummy::Behaviour)?;
            sybil.dial(addr.clone())?;
            let tx = self.sybils.clone();
            tokio::spawn(async move {
                let first = tokio::time::timeout(SYBIL_DIAL_TIMEOUT, async {
                    loop {
                        match sybil.select_next_some().await {
                            SwarmEvent::ConnectionEstablished { .. } => return true,
                            SwarmEvent::OutgoingConnectionError { .. } => return false,
                            _ => {}
                        }
                    }
                })
                .await
                .unwrap_or(false);
                let _ = tx.send(first).await;
                // Keep the connection (or the failed swarm) alive until the process ends.
                loop {
                    sybil.select_next_some().await;
                }
            });
        }
        Ok(n)
    }
}

fn hex_list(s: &str) -> Result<Vec<ByteBuf>> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(|x| Ok(ByteBuf::from(hex::decode(x)?)))
        .collect()
}
