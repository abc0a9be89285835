//! The plain-gossipsub peer of `bench baseline` (hidden `fedci-testnet gossip-peer`): the same
//! libp2p transport and gossipsub settings as fedci-node, without signatures, validation or a
//! store. It is what fedci's guarantees are measured against.
//!
//! Protocol with the harness, one line each way per message: the first stdout line is
//! `listening <multiaddr>`; a stdin line `<i>` (or `p<i>` for a warm-up probe) publishes event
//! `i`; every message received prints the same form on stdout.

use super::artifact_event;
use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity, MessageId, ValidationMode};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{Multiaddr, Swarm, SwarmBuilder, identity, noise, tcp, yamux};
use std::hash::{Hash, Hasher};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

pub const TOPIC: &str = "fedci-bench/odl/artifact";
/// A message starts with the event index (8 bytes) and a probe flag (1 byte).
const HEADER: usize = 9;

#[derive(Debug, clap::Args)]
pub struct GossipPeerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "/ip4/127.0.0.1/tcp/0")]
    pub listen: Multiaddr,
    /// Peers to dial.
    #[arg(long)]
    pub peer: Vec<Multiaddr>,
}

/// The message for event `i`: header, then the same JSON event fedci's publisher sends.
pub fn message(i: u64, probe: bool) -> Vec<u8> {
    let mut m = i.to_be_bytes().to_vec();
    m.push(u8::from(probe));
    m.extend(serde_json::to_vec(&artifact_event(i)).unwrap_or_default());
    m
}

/// The first event index and probe flag of a message, if it is long enough to hold them.
pub fn parse_message(data: &[u8]) -> Option<(u64, bool)> {
    let head = data.get(..HEADER)?;
    let mut index = [0u8; 8];
    index.copy_from_slice(&head[..8]);
    Some((u64::from_be_bytes(index), head[8] == 1))
}

/// The protocol line for event `i`: `<i>`, or `p<i>` for a probe.
pub fn line(i: u64, probe: bool) -> String {
    if probe {
        format!("p{i}\n")
    } else {
        format!("{i}\n")
    }
}

pub fn parse_line(line: &str) -> Option<(u64, bool)> {
    match line.strip_prefix('p') {
        Some(n) => Some((n.parse().ok()?, true)),
        None => Some((line.parse().ok()?, false)),
    }
}

fn content_id(m: &gossipsub::Message) -> MessageId {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    m.data.hash(&mut h);
    MessageId::from(h.finish().to_be_bytes().to_vec())
}

/// A swarm with fedci-node's transport (TCP, Noise, Yamux) and idle timeout around `behaviour`.
pub fn swarm<B: NetworkBehaviour>(
    key: identity::Keypair,
    behaviour: B,
) -> anyhow::Result<Swarm<B>> {
    Ok(SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_behaviour(move |_| behaviour)?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build())
}

pub async fn serve(args: GossipPeerArgs) -> anyhow::Result<()> {
    // Mesh sizes, heartbeat and flood publishing as in fedci-node's behaviour.
    let config = gossipsub::ConfigBuilder::default()
        .validation_mode(ValidationMode::Anonymous)
        .message_id_fn(content_id)
        .mesh_n(4)
        .mesh_n_low(2)
        .mesh_n_high(8)
        .mesh_outbound_min(1)
        .heartbeat_interval(Duration::from_millis(500))
        .max_transmit_size(64 * 1024)
        .flood_publish(true)
        .build()?;
    let behaviour: gossipsub::Behaviour =
        gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, config)
            .map_err(anyhow::Error::msg)?;
    let mut swarm = swarm(identity::Keypair::generate_ed25519(), behaviour)?;
    let topic = IdentTopic::new(TOPIC);
    swarm.behaviour_mut().subscribe(&topic)?;
    swarm.listen_on(args.listen)?;
    for peer in args.peer {
        swarm.dial(peer)?;
    }
    let mut out = tokio::io::BufWriter::new(tokio::io::stdout());
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut announced = false;
    loop {
        tokio::select! {
            line = lines.next_line() => {
                // The harness closing stdin is the signal to stop.
                let Some(line) = line? else { return Ok(()) };
                if let Some((i, probe)) = parse_line(line.trim()) {
                    // A failed publish (no peers yet) shows up as loss at the consumers.
                    let _ = swarm.behaviour_mut().publish(topic.clone(), message(i, probe));
                }
            }
            event = swarm.select_next_some() => match event {
                SwarmEvent::NewListenAddr { address, .. } if !announced => {
                    announced = true;
                    out.write_all(format!("listening {address}\n").as_bytes()).await?;
                    out.flush().await?;
                }
                SwarmEvent::Behaviour(gossipsub::Event::Message { message, .. }) => {
                    let Some((i, probe)) = parse_message(&message.data) else { continue };
                    out.write_all(line(i, probe).as_bytes()).await?;
                    out.flush().await?;
                }
                _ => {}
            },
        }
    }
}
