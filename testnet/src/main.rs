//! `fedci-testnet`: the demo, larger nets with faults, and benchmarks, all with real
//! `fedci-node` processes on this machine. Exit codes as `fedci-node`'s: 0 ok, 1 failure
//! (one line on stderr, never a backtrace), 2 usage.

use anyhow::Result;
use clap::{Parser, Subcommand};
use fedci_testnet::bench;
use std::time::Duration;

/// fedci-testnet: run fedci nodes on this machine — the demo, experiments, benchmarks.
#[derive(Debug, Parser)]
#[command(name = "fedci-testnet", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the reference scenario on three fresh nodes (odl, opnfv, openstack) and show it.
    ///
    /// ODL builds an artifact, OPNFV composes a baseline from it and the latest verified
    /// OpenStack, tests it and publishes a confidence level, and ODL stamps its artifact.
    /// Every step is played by the shell scripts in testnet/scenarios/ through the fedci-node
    /// CLI, as CI jobs would. Exits 0 only if every step was observed.
    Demo(fedci_testnet::demo::DemoArgs),
    /// Start a net of N nodes in the background (see `status`, `down`).
    Up(fedci_testnet::cluster::UpArgs),
    /// Stop the background net and remove its directory.
    ///
    /// SIGTERM to every node, SIGKILL after 10 s; then the namespaces and bridge of a --netns
    /// net, then DIR. A missing DIR is not an error.
    Down(fedci_testnet::cluster::DirArgs),
    /// Show the background net: nodes, peers, events.
    ///
    /// Per node: pid, up or dead, events stored, connected peers, and the peers it blocks.
    Status(fedci_testnet::cluster::DirArgs),
    /// Kill a node of the background net (SIGKILL).
    ///
    /// The crash case: no clean shutdown. `restart` brings it back.
    Kill(fedci_testnet::cluster::NodeArgs),
    /// Restart a killed or stopped node of the background net.
    ///
    /// Same home, listen address and peers, so the others reconnect; a running node is stopped
    /// first. Under a partition without --netns the node blocks its peers across the cut again.
    Restart(fedci_testnet::cluster::NodeArgs),
    /// Split the background net into groups that cannot reach each other: `partition a,b / c,d`.
    Partition(fedci_testnet::cluster::PartitionArgs),
    /// Undo every partition of the background net.
    ///
    /// Unblocks the peers (or, with --netns, deletes the blackhole routes); nodes re-dial each
    /// other every 2 s and catch up on what they missed.
    Heal(fedci_testnet::cluster::DirArgs),
    /// Benchmarks against real nodes; prints a table and a JSON line.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// A plain-gossipsub peer for `bench baseline` (driven over stdin/stdout).
    #[command(hide = true)]
    GossipPeer(bench::gossip_peer::GossipPeerArgs),
    /// A hostile libp2p peer for attack tests (driven over stdin/stdout).
    #[command(hide = true)]
    HostilePeer(fedci_testnet::hostile::HostileArgs),
}

/// The fanout load of `bench fanout`, `bench baseline` and `bench broker`.
#[derive(Debug, clap::Args)]
struct LoadArgs {
    /// Offered load of the fixed-rate run, events/s.
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Seconds per run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Publishes in flight: fedci socket connections, broker publishers awaiting a confirm.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    #[command(flatten)]
    pin: PinArgs,
}

/// Where the systems under test run.
#[derive(Debug, clap::Args)]
struct PinArgs {
    /// Run the nodes (and the other system's processes) on these CPUs only, with `taskset -c`
    /// (e.g. `0`); pin the load generator by starting it under `taskset -c 1`.
    #[arg(long, value_name = "CPUS", value_parser = fedci_testnet::pin::parse_cpu_list)]
    node_cpus: Option<String>,
}

impl PinArgs {
    fn apply(&self) {
        if let Some(list) = &self.node_cpus {
            fedci_testnet::pin::pin_processes(list);
        }
    }
}

/// `bench baseline` and `bench broker`: the load, and the optional zero-loss search.
#[derive(Debug, clap::Args)]
struct CompareArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// Also search each system's highest zero-loss rate, starting from this rate
    /// (grows by half per step, then bisects to within 10 %).
    #[arg(long, value_name = "RATE")]
    max_from: Option<u64>,
    /// Upper bound of the search, events/s.
    #[arg(long, default_value_t = 40_000)]
    max_ceiling: u64,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Publish on one node, delivered to every other node's stream: latency and loss.
    Fanout {
        /// Nodes: one publisher, the others consume (at least 2).
        #[arg(long, default_value_t = 3, value_parser = at_least_two())]
        nodes: usize,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// Traces over a store of N events in chains D deep; also start-up time and RSS.
    ///
    /// Also known as `loaded`: the same run restarts the node on its full store and reports
    /// its start-up time and RSS, next to an idle fresh node's.
    #[command(alias = "loaded")]
    Trace {
        #[arg(long, default_value_t = 100_000)]
        events: u64,
        #[arg(long, default_value_t = 50)]
        depth: u64,
    },
    /// `artifacts --latest` (newest ODL artifact, and newest that passed opnfvAcceptance) over a
    /// store of N events of the reference scenario.
    Promote {
        #[arg(long, default_value_t = 10_000)]
        events: u64,
        /// Queries timed per kind.
        #[arg(long, default_value_t = 200)]
        samples: usize,
    },
    /// A fresh node with the network on: start-up time to a serving socket, RSS after 5 s idle.
    Idle,
    /// A late joiner catches up N events: time, bytes, the in-sync round's cost, and each
    /// store's bytes per event (file size against the events' COSE bytes).
    Catchup {
        #[arg(long, default_value_t = 10_000)]
        events: u64,
        /// Communities in the net; the late joiner subscribes to every one's topics, so this
        /// sets how many topics the in-sync round covers.
        #[arg(long, default_value_t = 2)]
        communities: usize,
    },
    /// fedci fanout against plain libp2p gossipsub (no signatures, no store), same load.
    ///
    /// Runs fedci's nodes first, then as many plain-gossipsub peers with the same transport and
    /// mesh settings, and prints both with fedci/gossipsub ratios.
    Baseline {
        /// Nodes: one publisher, the others consume (at least 2).
        #[arg(long, default_value_t = 3, value_parser = at_least_two())]
        nodes: usize,
        #[command(flatten)]
        load: CompareArgs,
    },
    /// fedci fanout against a RabbitMQ broker, same load.
    ///
    /// The broker is a private RabbitMQ node (own port and data directory, stopped at the end):
    /// durable topic exchange, one durable queue per consuming community, persistent messages,
    /// publisher confirms, manual acks. Prints both with fedci/broker ratios.
    Broker {
        /// Consuming communities (fedci runs consumers + 1 nodes).
        #[arg(long, default_value_t = 2)]
        consumers: usize,
        /// Install rabbitmq-server with apt-get if it is missing.
        #[arg(long)]
        install_broker: bool,
        #[command(flatten)]
        load: CompareArgs,
    },
    /// The fanout load held for minutes: each node's RSS once a minute, its slope, and loss.
    ///
    /// Prints one line per minute (every node's RSS, loss, latency), then the slope of each
    /// node's RSS over the second half of the run (MB per minute), and ends with a JSON line.
    Soak {
        #[arg(long, default_value_t = 5)]
        nodes: usize,
        /// Offered load, events/s.
        #[arg(long, default_value_t = 300)]
        rate: u64,
        #[arg(long, default_value_t = 10)]
        minutes: u64,
        /// Length of one "minute" in seconds (shorter for quick checks).
        #[arg(long, default_value_t = 60)]
        interval_secs: u64,
        /// Publishes in flight (socket connections to the publishing node).
        #[arg(long, default_value_t = 8)]
        connections: usize,
    },
    /// One node: durable publishes through the socket API (fixed rate, then saturation).
    Ingest {
        /// Offered load of the fixed-rate phase, events/s.
        #[arg(long, default_value_t = 5000)]
        rate: u64,
        /// Seconds per phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Concurrent client connections.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        #[command(flatten)]
        pin: PinArgs,
    },
}

fn at_least_two() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(2..)
}

fn main() -> std::process::ExitCode {
    // Usage errors: clap prints them and exits 2.
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fedci-testnet: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fedci-testnet: {}", fedci_node::cli::one_line(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo(args) => {
            let ok = fedci_testnet::demo::run(args).await?;
            if !ok {
                std::process::exit(1);
            }
        }
        Command::Up(args) => fedci_testnet::cluster::up(args)?,
        Command::Down(args) => fedci_testnet::cluster::down(args)?,
        Command::Status(args) => fedci_testnet::cluster::status(args)?,
        Command::Kill(args) => fedci_testnet::cluster::kill(args)?,
        Command::Restart(args) => fedci_testnet::cluster::restart(args)?,
        Command::Partition(args) => fedci_testnet::cluster::partition(args)?,
        Command::Heal(args) => fedci_testnet::cluster::heal(args)?,
        Command::Bench(BenchCommand::Fanout {
            nodes,
            load:
                LoadArgs {
                    rate,
                    seconds,
                    connections,
                    pin,
                },
        }) => {
            pin.apply();
            let bin = fedci_testnet::binary::fedci_node()?;
            let opts = bench::fanout::FanoutOpts {
                nodes,
                rate,
                duration: Duration::from_secs(seconds),
                connections,
            };
            let r = bench::fanout::run(&bin, &opts).await?;
            println!(
                "fanout, {} nodes, {} events/s offered for {seconds}s",
                r.nodes, r.run.offered_rate
            );
            println!(
                "  published {} ({:.0}/s); delivered {} of {} (lost {}); latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                r.run.published,
                r.run.publish_rate_achieved,
                r.run.deliveries,
                r.run.deliveries_expected,
                r.run.lost,
                r.run.latency.p50_ms,
                r.run.latency.p99_ms,
                r.run.latency.max_ms
            );
            println!(
                "  until every node had it: p50 {:.2} ms, p99 {:.2} ms; publish acknowledged: p50 {:.2} ms, p99 {:.2} ms",
                r.run.latency_all_consumers.p50_ms,
                r.run.latency_all_consumers.p99_ms,
                r.run.ack_latency.p50_ms,
                r.run.ack_latency.p99_ms,
            );
            println!(
                "  RSS per node min/mean/max {:.1}/{:.1}/{:.1} MB",
                r.rss_mb[0], r.rss_mb[1], r.rss_mb[2]
            );
            println!("{}", serde_json::to_string(&r)?);
        }
        Command::Bench(BenchCommand::Soak {
            nodes,
            rate,
            minutes,
            interval_secs,
            connections,
        }) => soak(nodes, rate, minutes, interval_secs, connections).await?,
        Command::GossipPeer(args) => bench::gossip_peer::serve(args).await?,
        Command::HostilePeer(args) => fedci_testnet::hostile::serve(args).await?,
        Command::Bench(BenchCommand::Baseline { nodes, load }) => {
            compare(bench::compare::Other::Gossipsub, nodes, load).await?;
        }
        Command::Bench(BenchCommand::Broker {
            consumers,
            install_broker,
            load,
        }) => {
            let other = bench::compare::Other::Broker {
                install: install_broker,
            };
            compare(other, consumers + 1, load).await?;
        }
        Command::Bench(BenchCommand::Idle) => {
            let bin = fedci_testnet::binary::fedci_node()?;
            let dir = tempfile::tempdir()?;
            let (start_ms, rss_mb) = bench::trace::idle(&bin, dir.path())?;
            println!("idle fresh node: start-up {start_ms:.0} ms, RSS after 5 s {rss_mb:.1} MB");
            println!(
                "{}",
                serde_json::json!({"start_ms": start_ms, "rss_mb": rss_mb})
            );
        }
        Command::Bench(BenchCommand::Promote { events, samples }) => {
            let bin = fedci_testnet::binary::fedci_node()?;
            let r = bench::promote::run(&bin, events, samples).await?;
            println!(
                "artifacts --latest over {} events (store built in {:.0} s, {:.0} MB)",
                r.events, r.build_secs, r.store_mb
            );
            println!(
                "  newest that passed opnfvAcceptance: p50 {:.2} ms, p99 {:.2} ms",
                r.latest_passed.p50_ms, r.latest_passed.p99_ms
            );
            println!(
                "  newest:                            p50 {:.2} ms, p99 {:.2} ms",
                r.latest.p50_ms, r.latest.p99_ms
            );
            println!("{}", serde_json::to_string(&r)?);
        }
        Command::Bench(BenchCommand::Trace { events, depth }) => {
            let bin = fedci_testnet::binary::fedci_node()?;
            let r = bench::trace::run(&bin, events, depth).await?;
            println!(
                "trace over {} events in chains {} deep (store built in {:.0} s, {:.0} MB)",
                r.events, r.depth, r.build_secs, r.store_mb
            );
            println!(
                "  upstream, whole chain:   p50 {:.2} ms, p99 {:.2} ms",
                r.up.p50_ms, r.up.p99_ms
            );
            println!(
                "  downstream, whole chain: p50 {:.2} ms, p99 {:.2} ms",
                r.down.p50_ms, r.down.p99_ms
            );
            println!(
                "  loaded node: start-up {:.0} ms, RSS {:.1} MB; idle fresh node: start-up {:.0} ms, RSS {:.1} MB",
                r.loaded_start_ms, r.loaded_rss_mb, r.idle_start_ms, r.idle_rss_mb
            );
            println!("{}", serde_json::to_string(&r)?);
        }
        Command::Bench(BenchCommand::Catchup {
            events,
            communities,
        }) => {
            let bin = fedci_testnet::binary::fedci_node()?;
            let r = bench::catchup::run(&bin, events, communities).await?;
            println!("catch-up of {} events by a late joiner", r.events);
            println!(
                "  {:.2} s ({:.0} events/s); received {} bytes, sent {} bytes (event bytes + reconciliation messages)",
                r.catchup_secs, r.events_per_sec, r.bytes_received, r.bytes_sent
            );
            println!(
                "  next round, already in sync ({} communities, {} topics): {}",
                r.communities,
                r.topics,
                serde_json::to_string(&r.in_sync_round)?
            );
            for (who, s) in [
                ("publisher", &r.publisher_store),
                ("joiner", &r.joiner_store),
            ] {
                println!(
                    "  {who} store: {} bytes ({} after stop, {} on disk) for {} events of {:.0} COSE bytes (mean of {}): {:.0} bytes/event, {:.2}x the events ({} on disk)",
                    s.file_bytes,
                    s.file_bytes_stopped.map_or("?".into(), |b| b.to_string()),
                    s.disk_bytes_stopped.map_or("?".into(), |b| b.to_string()),
                    s.events,
                    s.mean_cose_bytes,
                    s.sampled,
                    s.file_bytes_per_event,
                    s.ratio,
                    s.disk_ratio_stopped
                        .map_or("?".into(), |r| format!("{r:.2}x")),
                );
            }
            println!("{}", serde_json::to_string(&r)?);
        }
        Command::Bench(BenchCommand::Ingest {
            rate,
            seconds,
            connections,
            pin,
        }) => {
            pin.apply();
            let bin = fedci_testnet::binary::fedci_node()?;
            let opts = bench::ingest::IngestOpts {
                rate,
                duration: Duration::from_secs(seconds),
                connections,
            };
            let r = bench::ingest::run(&bin, &opts).await?;
            println!(
                "ingest, one node (CPUs {}), {} connections, {}s per phase",
                r.node_cpus_allowed.as_deref().unwrap_or("?"),
                r.connections,
                seconds
            );
            println!(
                "  fixed rate {:>6}/s offered: {:>8.0}/s achieved, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, errors {}",
                r.offered_rate,
                r.fixed_rate_achieved,
                r.fixed_rate_latency.p50_ms,
                r.fixed_rate_latency.p99_ms,
                r.fixed_rate_latency.max_ms,
                r.fixed_rate_errors
            );
            println!(
                "  saturation:            {:>8.0}/s, p50 {:.2} ms, p99 {:.2} ms, errors {}",
                r.saturation_rate,
                r.saturation_latency.p50_ms,
                r.saturation_latency.p99_ms,
                r.saturation_errors
            );
            println!(
                "  stored {} events in {} commits",
                r.stored_events, r.commits
            );
            println!("{}", serde_json::to_string(&r)?);
        }
    }
    Ok(())
}

async fn soak(
    nodes: usize,
    rate: u64,
    minutes: u64,
    interval_secs: u64,
    connections: usize,
) -> Result<()> {
    anyhow::ensure!(nodes >= 2, "a soak needs at least 2 nodes");
    anyhow::ensure!(interval_secs >= 1, "--interval-secs must be at least 1");
    let bin = fedci_testnet::binary::fedci_node()?;
    let opts = bench::soak::SoakOpts {
        nodes,
        rate,
        minutes,
        interval: Duration::from_secs(interval_secs),
        connections,
    };
    println!("soak, {nodes} nodes, {rate} events/s for {minutes} x {interval_secs} s");
    let r = tokio::select! {
        r = bench::soak::run(&bin, &opts, |s| println!("{}", bench::soak::sample_line(s))) => r?,
        _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
    };
    let slopes: Vec<String> = r
        .slope_mb_per_min
        .iter()
        .zip(&r.names)
        .map(|(s, n)| format!("{n} {s:+.2}"))
        .collect();
    println!(
        "  RSS slope over the second half, MB/min: {}",
        slopes.join(", ")
    );
    println!(
        "  published {}; delivered {} of {} (lost {}, refused {}); worst minute p99 {:.1} ms",
        r.published, r.deliveries, r.deliveries_expected, r.lost, r.refused, r.worst_p99_ms
    );
    println!("{}", serde_json::to_string(&r)?);
    Ok(())
}

async fn compare(other: bench::compare::Other, nodes: usize, args: CompareArgs) -> Result<()> {
    let load = &args.load;
    load.pin.apply();
    let bin = fedci_testnet::binary::fedci_node()?;
    let opts = bench::compare::CompareOpts {
        nodes,
        rate: load.rate,
        duration: Duration::from_secs(load.seconds),
        connections: load.connections,
        max_from: args.max_from.unwrap_or(0),
        max_ceiling: args.max_ceiling,
    };
    // On Ctrl-C the run is dropped, so its nodes, peers and broker are stopped on the way out
    // (the broker runs in its own process group and would not see the terminal's SIGINT).
    let c = tokio::select! {
        c = bench::compare::run(&bin, other, &opts) => c?,
        _ = tokio::signal::ctrl_c() => anyhow::bail!("interrupted"),
    };
    bench::compare::print(&c, &opts);
    println!("{}", serde_json::to_string(&c)?);
    Ok(())
}
