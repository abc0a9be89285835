//! `bench broker`'s central-broker side: a private RabbitMQ (the broker Eiffel deployments
//! use) started from the distribution's packages, set up the way a careful user would — a
//! durable topic exchange, one durable queue per consuming community, persistent messages,
//! publisher confirms, manual consumer acks — and driven by the same load as fedci.

use super::gossip_peer::{message, parse_message};
use super::load::{ARRIVALS_CAPACITY, Arrival, BoxFut, Fabric, Publisher};
use amqprs::callbacks::{ChannelCallback, DefaultConnectionCallback};
use amqprs::channel::{
    BasicAckArguments, BasicConsumeArguments, BasicPublishArguments, BasicQosArguments, Channel,
    ConfirmSelectArguments, ExchangeDeclareArguments, QueueBindArguments, QueueDeclareArguments,
};
use amqprs::connection::{Connection, OpenConnectionArguments};
use amqprs::{Ack, BasicProperties, Cancel, CloseChannel, Nack, Return};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};
use tokio::sync::{Mutex, mpsc, oneshot};

/// Debian's server script (the /usr/sbin wrapper would switch to the rabbitmq user and
/// detach the broker from our process group).
const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";
const EXCHANGE: &str = "fedci-bench";
const ROUTING_KEY: &str = "odl.artifact.created";
/// Unacknowledged deliveries a consumer may hold, as a tuned consumer would set it.
const PREFETCH: u16 = 1000;
const START_LIMIT: Duration = Duration::from_secs(90);

/// A RabbitMQ node of our own: its own name, ports and data directory; stopped on drop.
#[derive(Debug)]
pub struct Rabbit {
    child: Child,
    /// The server's process group (the script's pid): it outlives the script itself.
    group: u32,
    pub port: u16,
    /// Our own Erlang port mapper: `epmd -daemon` leaves the process group, so it is stopped
    /// by port.
    epmd_port: u16,
    dir: tempfile::TempDir,
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Installs rabbitmq-server with apt-get (the harness asks only with `--install-broker`).
fn install() -> anyhow::Result<()> {
    eprintln!("installing rabbitmq-server from the distribution's packages (apt-get)…");
    let apt = |args: &[&str]| {
        std::process::Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if apt(&["install", "-y", "-q", "rabbitmq-server"])
        || (apt(&["update", "-q"]) && apt(&["install", "-y", "-q", "rabbitmq-server"]))
    {
        Ok(())
    } else {
        anyhow::bail!("apt-get install rabbitmq-server failed (needs root and the package index)")
    }
}

impl Rabbit {
    /// Starts a private broker on a free loopback port and waits until it accepts AMQP.
    pub async fn start(install_if_missing: bool) -> anyhow::Result<Rabbit> {
        if !Path::new(SERVER).exists() {
            anyhow::ensure!(
                install_if_missing,
                "RabbitMQ is not installed ({SERVER} missing): rerun with --install-broker, or \
                 apt-get install rabbitmq-server"
            );
            install()?;
        }
        let dir = tempfile::tempdir()?;
        let (port, dist, epmd_port) = (free_port()?, free_port()?, free_port()?);
        let d = dir.path();
        std::fs::write(d.join("plugins"), "[].\n")?;
        let log = std::fs::File::create(d.join("server.log"))?;
        let child = Command::from(crate::pin::command(SERVER))
            .current_dir(d)
            // The Erlang cookie goes to $HOME: keep it in our directory.
            .env("HOME", d)
            .env(
                "RABBITMQ_NODENAME",
                format!("fedci-bench-{}@localhost", std::process::id()),
            )
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", port.to_string())
            .env("RABBITMQ_DIST_PORT", dist.to_string())
            .env("ERL_EPMD_PORT", epmd_port.to_string())
            .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", d.join("log"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("plugins"))
            .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Its own process group, so that stopping it reaches the Erlang VM too.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()?;
        let group = child
            .id()
            .ok_or_else(|| anyhow::anyhow!("rabbitmq-server exited at once"))?;
        let mut rabbit = Rabbit {
            child,
            group,
            port,
            epmd_port,
            dir,
        };
        let started = Instant::now();
        loop {
            if let Ok(conn) = rabbit.connect("probe").await {
                let _ = conn.close().await;
                return Ok(rabbit);
            }
            if let Some(status) = rabbit.child.try_wait()? {
                anyhow::bail!(
                    "rabbitmq-server exited ({status}) during start-up; log: {}",
                    rabbit.log_path().display()
                );
            }
            if started.elapsed() > START_LIMIT {
                anyhow::bail!(
                    "rabbitmq-server did not accept connections within {START_LIMIT:?}; log: {}",
                    rabbit.log_path().display()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    pub async fn connect(&self, name: &str) -> Result<Connection, amqprs::error::Error> {
        let mut args = OpenConnectionArguments::new("127.0.0.1", self.port, "guest", "guest");
        args.connection_name(name);
        let conn = Connection::open(&args).await?;
        conn.register_callback(DefaultConnectionCallback).await?;
        Ok(conn)
    }

    /// Resident memory of each live process of the broker's group, MB (zombies have none).
    fn group_rss(&self) -> Vec<f64> {
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        procs
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| process_group(*pid) == Some(self.group))
            .filter_map(super::rss_mb)
            .collect()
    }

    /// Resident memory of the whole broker, MB.
    pub fn rss_mb(&self) -> f64 {
        self.group_rss().iter().sum()
    }

    /// SIGTERM to the group (the VM shuts down cleanly), up to 10 s for it to go, then
    /// SIGKILL to whatever is left of the group, and our epmd.
    fn stop(&mut self) {
        let signal = |sig: &str| {
            let _ = std::process::Command::new("kill")
                .args([sig, "--", &format!("-{}", self.group)])
                .stderr(Stdio::null())
                .status();
        };
        signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && !self.group_rss().is_empty() {
            std::thread::sleep(Duration::from_millis(100));
        }
        signal("-KILL");
        let _ = self.child.try_wait();
        let _ = std::process::Command::new("epmd")
            .args(["-port", &self.epmd_port.to_string(), "-kill"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Rabbit {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The process group of `pid`, from /proc/PID/stat (the field after state, past the name).
fn process_group(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// Confirms outstanding on the publishing channel, by delivery tag.
#[derive(Debug, Default)]
struct Confirms {
    last_tag: u64,
    waiting: BTreeMap<u64, oneshot::Sender<bool>>,
}

impl Confirms {
    /// Resolves `tag` (and every earlier tag if `multiple`) with `ok`.
    fn settle(&mut self, tag: u64, multiple: bool, ok: bool) {
        if multiple {
            let rest = self.waiting.split_off(&(tag + 1));
            for (_, w) in std::mem::replace(&mut self.waiting, rest) {
                let _ = w.send(ok);
            }
        } else if let Some(w) = self.waiting.remove(&tag) {
            let _ = w.send(ok);
        }
    }
}

/// Feeds the broker's publisher confirms to the waiting publishers.
struct ConfirmCallback(Arc<std::sync::Mutex<Confirms>>);

#[async_trait::async_trait]
impl ChannelCallback for ConfirmCallback {
    async fn close(&mut self, _: &Channel, _: CloseChannel) -> Result<(), amqprs::error::Error> {
        Ok(())
    }
    async fn cancel(&mut self, _: &Channel, _: Cancel) -> Result<(), amqprs::error::Error> {
        Ok(())
    }
    async fn flow(&mut self, _: &Channel, active: bool) -> Result<bool, amqprs::error::Error> {
        Ok(active)
    }
    async fn publish_ack(&mut self, _: &Channel, ack: Ack) {
        if let Ok(mut c) = self.0.lock() {
            c.settle(ack.delivery_tag(), ack.mutiple(), true);
        }
    }
    async fn publish_nack(&mut self, _: &Channel, nack: Nack) {
        if let Ok(mut c) = self.0.lock() {
            c.settle(nack.delivery_tag(), nack.multiple(), false);
        }
    }
    async fn publish_return(&mut self, _: &Channel, _: Return, _: BasicProperties, _: Vec<u8>) {}
}

/// The publishing channel, shared by the publishers (each waits for its own confirm).
struct Outlet {
    channel: Channel,
    confirms: Arc<std::sync::Mutex<Confirms>>,
    /// Held while a tag is assigned and its message sent, so tags follow the wire order.
    order: Mutex<()>,
}

struct ConfirmedPublisher(Arc<Outlet>);

impl Publisher for ConfirmedPublisher {
    fn publish(&mut self, i: u64, probe: bool) -> BoxFut<'_, Option<String>> {
        Box::pin(async move {
            let outlet = &self.0;
            let mut props = BasicProperties::default();
            props.with_persistence(true);
            let (tx, rx) = oneshot::channel();
            {
                let _order = outlet.order.lock().await;
                let tag = {
                    let mut c = outlet.confirms.lock().ok()?;
                    c.last_tag += 1;
                    let tag = c.last_tag;
                    c.waiting.insert(tag, tx);
                    tag
                };
                let args = BasicPublishArguments::new(EXCHANGE, ROUTING_KEY);
                let sent = outlet
                    .channel
                    .basic_publish(props, message(i, probe), args)
                    .await;
                if sent.is_err() {
                    // Not on the wire: the tag is not the broker's. Give it back so that later
                    // confirms still match their messages.
                    let mut c = outlet.confirms.lock().ok()?;
                    c.waiting.remove(&tag);
                    c.last_tag -= 1;
                    return None;
                }
            }
            match tokio::time::timeout(Duration::from_secs(30), rx).await {
                Ok(Ok(true)) => Some(i.to_string()),
                _ => None,
            }
        })
    }
}

/// The broker set up for fanout: one publisher connection, one consumer connection per
/// consuming community.
pub struct BrokerNet {
    pub fabric: Fabric,
    _connections: Vec<Connection>,
    pub rabbit: Rabbit,
}

impl std::fmt::Debug for BrokerNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerNet")
            .field("fabric", &self.fabric)
            .field("rabbit", &self.rabbit)
            .finish()
    }
}

impl BrokerNet {
    pub async fn start(
        install_if_missing: bool,
        consumers: usize,
        connections: usize,
    ) -> anyhow::Result<BrokerNet> {
        let rabbit = Rabbit::start(install_if_missing).await?;
        let publisher = rabbit.connect("fedci-bench-publisher").await?;
        let channel = publisher.open_channel(None).await?;
        channel
            .exchange_declare(
                ExchangeDeclareArguments::new(EXCHANGE, "topic")
                    .durable(true)
                    .finish(),
            )
            .await?;
        let confirms = Arc::new(std::sync::Mutex::new(Confirms::default()));
        channel
            .register_callback(ConfirmCallback(confirms.clone()))
            .await?;
        channel
            .confirm_select(ConfirmSelectArguments::default())
            .await?;
        let names = super::fanout::names(consumers + 1);
        let (tx, rx) = mpsc::channel(ARRIVALS_CAPACITY);
        let mut conns = vec![publisher];
        for (follower, name) in names.iter().skip(1).enumerate() {
            let conn = rabbit.connect(&format!("fedci-bench-{name}")).await?;
            let ch = conn.open_channel(None).await?;
            let queue = format!("fedci-bench.{name}");
            ch.queue_declare(QueueDeclareArguments::durable_client_named(&queue))
                .await?;
            ch.queue_bind(QueueBindArguments::new(&queue, EXCHANGE, "odl.artifact.#"))
                .await?;
            ch.basic_qos(BasicQosArguments::new(0, PREFETCH, false))
                .await?;
            let args = BasicConsumeArguments::new(&queue, name)
                .manual_ack(true)
                .finish();
            let (_, mut deliveries) = ch.basic_consume_rx(args).await?;
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(msg) = deliveries.recv().await {
                    let at = Instant::now();
                    let (Some(deliver), Some(content)) = (msg.deliver, msg.content) else {
                        continue;
                    };
                    let _ = ch
                        .basic_ack(BasicAckArguments::new(deliver.delivery_tag(), false))
                        .await;
                    let Some((i, probe)) = parse_message(&content) else {
                        continue;
                    };
                    let key = i.to_string();
                    if tx
                        .send(Arrival {
                            follower,
                            key,
                            probe,
                            at,
                        })
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            });
            conns.push(conn);
        }
        let outlet = Arc::new(Outlet {
            channel,
            confirms,
            order: Mutex::new(()),
        });
        let publishers: Vec<Box<dyn Publisher>> = (0..connections.max(1))
            .map(|_| Box::new(ConfirmedPublisher(outlet.clone())) as Box<dyn Publisher>)
            .collect();
        let mut fabric = Fabric::new("rabbitmq", publishers, consumers, rx);
        fabric.warm_up(Duration::from_secs(60)).await?;
        Ok(BrokerNet {
            fabric,
            _connections: conns,
            rabbit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiple_confirm_settles_every_earlier_tag_only() {
        let mut c = Confirms::default();
        let mut rx = Vec::new();
        for tag in 1..=4 {
            let (tx, r) = oneshot::channel();
            c.waiting.insert(tag, tx);
            rx.push(r);
        }
        c.settle(2, true, true);
        c.settle(4, false, false);
        let got: Vec<Option<bool>> = rx.into_iter().map(|mut r| r.try_recv().ok()).collect();
        assert_eq!(got, vec![Some(true), Some(true), None, Some(false)]);
        assert_eq!(c.waiting.keys().copied().collect::<Vec<_>>(), vec![3]);
    }
}
