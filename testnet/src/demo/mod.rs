//! `fedci-testnet demo`: the reference scenario on three real nodes, told as it happens.
//!
//! Set-up is what three communities would do: each inits its node and hands its `root.pub` to
//! the others, who pin it. Then CI jobs subscribe (`fedci-node watch --exec`, scripts in
//! `testnet/scenarios/`), OpenStack and ODL publish, and the chain runs by itself: OPNFV
//! composes a baseline, tests it, publishes its confidence, and ODL stamps its artifact. The
//! demo watches every node's stream, checks every step with a deadline, prints the trace of
//! the ODL artifact, and exits 0 only if every step was observed.

mod evidence;
mod interop;
mod show;

use crate::net::follow;
use crate::net::{Testnet, Topology, status};
use crate::node::Node;
use crate::scenario::{JOBS, run_job, start_job};
use anyhow::{Context, Result};
use clap::Args;
use fedci_client::EventQuery;
use fedci_client::types::TraceGraph;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep homes, logs and the trace (DOT, Mermaid) in this directory instead of a
    /// temporary one that is removed at the end.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The scenario scripts.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"))]
    pub scenarios: PathBuf,
    /// Seconds to wait for each step before calling it failed.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

const COMMUNITIES: [&str; 3] = ["odl", "opnfv", "openstack"];

/// Runs the demo; Ok(true) when every step was observed.
pub async fn run(args: DemoArgs) -> Result<bool> {
    let bin = crate::binary::fedci_node()?;
    let tmp = tempfile::tempdir()?;
    let dir = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => tmp.path().to_path_buf(),
    };
    let mut watchers = Vec::new();
    let outcome = tokio::select! {
        r = scenario(&bin, &dir, &args, &mut watchers) => r,
        _ = tokio::signal::ctrl_c() => {
            println!("\ninterrupted: stopping the nodes and jobs");
            Ok(false)
        }
    };
    stop_jobs(&mut watchers);
    outcome
}

async fn scenario(
    bin: &Path,
    dir: &Path,
    args: &DemoArgs,
    watchers: &mut Vec<Child>,
) -> Result<bool> {
    let started = Instant::now();
    let limit = Duration::from_secs(args.timeout);
    println!("fedci demo: three communities' CI systems tell each other what happened");
    println!("(homes, keys and logs in {})\n", dir.display());

    println!(
        "(\"odl ◂ stored opnfv's …\" = the odl node verified and stored an event opnfv published)\n"
    );
    heading("1. Set-up");
    let mut net = Testnet::create(dir, &COMMUNITIES, bin, "")?;
    for n in &net.nodes {
        let key = status_offline_root(n);
        println!(
            "  {:<10} node initialised; root key {}… written to {}/root.pub",
            n.name,
            &key[..key.len().min(16)],
            n.home.display()
        );
    }
    println!("  each community pinned the other two from their root.pub files (out of band)");
    net.start(Topology::Full)?;
    net.wait_connected(2, limit).map_err(anyhow::Error::msg)?;
    println!("  odl, opnfv and openstack nodes running and connected over libp2p (127.0.0.1)\n");

    heading("2. CI jobs subscribe");
    let node = |name: &str| net.node(name).context("demo node missing");
    for job in &JOBS {
        let n = node(job.community)?;
        let mut child = start_job(bin, n, job, &args.scenarios, Stdio::piped(), Stdio::piped())
            .with_context(|| format!("starting the {} watcher", job.consumer()))?;
        let name = format!("{}:{}", n.name, job.script);
        relay(child.stdout.take(), name.clone());
        relay(child.stderr.take(), name);
        watchers.push(child);
        println!(
            "  {:<10} fedci-node watch {} --consumer {} --exec {}",
            job.community,
            job.filter.join(" "),
            job.consumer(),
            job.script
        );
    }
    for n in &net.nodes {
        follow_node(n);
    }
    println!();

    heading("3. What happened (each line is printed as it happens)");
    run_script(
        bin,
        node("openstack")?,
        &args.scenarios.join("openstack-release.sh"),
    )
    .await?;
    let mut steps = Steps::new(limit, started);
    steps
        .check("OpenStack's verified release reached OPNFV", || {
            query_ids(
                node("opnfv").ok()?,
                &["--community", "openstack", "--kind", "confidence.modified"],
            )
            .first()
            .cloned()
        })
        .await;
    run_script(
        bin,
        node("odl")?,
        &args.scenarios.join("odl-autorelease.sh"),
    )
    .await?;
    let artifact = query_ids(
        node("odl")?,
        &["--community", "odl", "--kind", "artifact.created"],
    )
    .last()
    .cloned()
    .context("the ODL job published no artifact")?;
    steps
        .check("ODL's artifact reached OPNFV", || {
            node("opnfv")
                .ok()?
                .cli(&["get", &artifact, "--field", "id"])
                .ok()
        })
        .await;
    let down = |n: &Node| -> Option<TraceGraph> {
        serde_json::from_str(
            &n.cli(&["trace", &artifact, "--down", "--depth", "6"])
                .ok()?,
        )
        .ok()
    };
    let find = |g: &TraceGraph, kind: &str, community: &str| -> Option<String> {
        g.nodes
            .iter()
            .find(|n| n.kind.as_deref() == Some(kind) && n.community.as_deref() == Some(community))
            .map(|n| n.id.to_string())
    };
    steps
        .check("OPNFV composed baseline os-odl-nofeature from it", || {
            find(&down(node("odl").ok()?)?, "composition.defined", "opnfv")
        })
        .await;
    steps
        .check(
            "OPNFV tested the baseline: opnfvAcceptance confidence",
            || find(&down(node("odl").ok()?)?, "confidence.modified", "opnfv"),
        )
        .await;
    let stamp = steps
        .check("ODL stamped its own artifact", || {
            find(&down(node("odl").ok()?)?, "confidence.modified", "odl")
        })
        .await;
    if let Some(stamp) = &stamp {
        steps
            .check("ODL's stamp reached OPNFV and OpenStack", || {
                node("opnfv")
                    .ok()?
                    .cli(&["get", stamp, "--field", "id"])
                    .ok()?;
                node("openstack")
                    .ok()?
                    .cli(&["get", stamp, "--field", "id"])
                    .ok()
            })
            .await;
    }
    // Let the last stream lines print before the summary.
    tokio::time::sleep(Duration::from_millis(300)).await;

    println!();
    heading(
        "4. Trace of the ODL artifact, as ODL's node sees it (who built on it, what it earned)",
    );
    if let Some(graph) = down(node("odl")?) {
        print!("{}", show::trace_tree(&graph));
        if args.dir.is_some() {
            for fmt in ["dot", "mermaid"] {
                let text = node("odl")?.cli(&["trace", &artifact, "--down", "--format", fmt])?;
                std::fs::write(dir.join(format!("trace.{fmt}")), text)?;
            }
            println!(
                "  (also written as {}/trace.dot and trace.mermaid)",
                dir.display()
            );
        }
    }
    println!();
    heading("5. Evidence: ODL exports the chain; anyone verifies it offline with the root keys");
    if let Some(stamp) = &stamp {
        let verified = evidence::export_and_verify(
            bin,
            node("odl")?,
            &[node("odl")?, node("opnfv")?, node("openstack")?],
            stamp,
            dir,
        )?;
        steps.record(
            "the chain verified offline with only the root keys",
            verified,
        );
    }
    println!();
    heading("6. Interop: ODL's stamp as CDEvents and as Eiffel (what CD tools consume)");
    if let Some(stamp) = &stamp {
        let shown = interop::show(node("odl")?, stamp)?;
        steps.record("the stamp exported as CDEvents and as Eiffel", shown);
    }
    println!();
    heading("7. Promotion: a consumer asks for the newest ODL build that passed opnfvAcceptance");
    promotion(&mut steps, node("openstack")?).await;
    println!();
    heading("Result");
    let ok = steps.report();
    println!(
        "\n  {} in {:.1} s",
        if ok {
            "every step observed"
        } else {
            "SOME STEPS WERE NOT OBSERVED"
        },
        started.elapsed().as_secs_f64()
    );
    stop_jobs(watchers);
    net.stop_all();
    Ok(ok)
}

/// Asks `consumer`'s node for the newest ODL artifact whose opnfvAcceptance in force is
/// SUCCESS, and prints it with its download location.
async fn promotion(steps: &mut Steps, consumer: &Node) {
    let ask = [
        "artifacts",
        "--community",
        "odl",
        "--confidence",
        "opnfvAcceptance=SUCCESS",
        "--latest",
    ];
    println!("  {}$ fedci-node {}", consumer.name, ask.join(" "));
    let location = steps
        .check(
            "the newest ODL build that passed, and where to get it",
            || {
                let mut args = ask.to_vec();
                args.extend(["--field", "location"]);
                let uri = consumer.cli(&args).ok()?;
                let uri = uri.trim();
                (!uri.is_empty()).then(|| uri.to_string())
            },
        )
        .await;
    if let Some(location) = location {
        if let Ok(text) = consumer.cli(&ask) {
            for line in text.lines() {
                println!("  {line}");
            }
        }
        println!("  download: {location}");
    }
}

fn stop_jobs(jobs: &mut Vec<Child>) {
    for j in jobs.iter_mut() {
        let _ = j.kill();
        let _ = j.wait();
    }
    jobs.clear();
}

fn heading(text: &str) {
    println!("== {text}");
}

/// The root key an initialised home wrote (first non-comment line of root.pub).
fn status_offline_root(n: &Node) -> String {
    std::fs::read_to_string(n.home.join("root.pub"))
        .unwrap_or_default()
        .lines()
        .find(|l| !l.starts_with('#'))
        .unwrap_or_default()
        .to_string()
}

/// Prints a job's output lines, prefixed with its name, as they come.
fn relay(stream: Option<impl std::io::Read + Send + 'static>, name: String) {
    let Some(stream) = stream else { return };
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stream)).map_while(Result::ok) {
            println!("  [{name}] {line}");
        }
    });
}

/// Runs a one-shot CI job (a release build) against a node and prints its output.
async fn run_script(bin: &Path, node: &Node, script: &Path) -> Result<()> {
    let name = script
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("job")
        .to_string();
    let (b, n, sc) = (bin.to_path_buf(), node.home.clone(), script.to_path_buf());
    let probe = Node::new(&node.name, n, &b);
    let out = tokio::task::spawn_blocking(move || run_job(&b, &probe, &sc))
        .await?
        .with_context(|| format!("running {name}"))?;
    for line in String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
    {
        println!("  [{}:{name}] {line}", node.name);
    }
    anyhow::ensure!(out.status.success(), "{name} failed ({})", out.status);
    Ok(())
}

/// Prints every event a node stores from another community, as it arrives.
fn follow_node(node: &Node) {
    let after = status(node).map_or(0, |s| s.last_arrival);
    let (socket, me) = (node.socket(), node.name.clone());
    tokio::spawn(async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
        let query = EventQuery {
            after: Some(after),
            ..Default::default()
        };
        tokio::spawn(follow(socket, query, tx));
        while let Some((item, _)) = rx.recv().await {
            let ev = &item.event;
            if ev.community != me && ev.kind != "trust.roster" {
                println!(
                    "  {me:>9} ◂ stored {}'s {} {} [{}]",
                    ev.community,
                    ev.kind,
                    show::summary(ev),
                    show::short(&ev.id.to_string())
                );
            }
        }
    });
}

fn query_ids(node: &Node, filter: &[&str]) -> Vec<String> {
    let mut args = vec!["query", "--field", "id"];
    args.extend_from_slice(filter);
    node.cli(&args)
        .map(|o| o.lines().map(String::from).collect())
        .unwrap_or_default()
}

/// The checklist: each step waits for its condition with the same deadline.
struct Steps {
    limit: Duration,
    results: Vec<(String, bool, Duration)>,
    started: Instant,
}

impl Steps {
    fn new(limit: Duration, started: Instant) -> Self {
        Steps {
            limit,
            results: Vec::new(),
            started,
        }
    }

    async fn check<T>(&mut self, what: &str, mut cond: impl FnMut() -> Option<T>) -> Option<T> {
        let start = Instant::now();
        loop {
            if let Some(v) = cond() {
                self.results
                    .push((what.to_string(), true, self.started.elapsed()));
                return Some(v);
            }
            if start.elapsed() > self.limit {
                println!("  !! not observed within {:?}: {what}", self.limit);
                self.results
                    .push((what.to_string(), false, self.started.elapsed()));
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn record(&mut self, what: &str, ok: bool) {
        self.results
            .push((what.to_string(), ok, self.started.elapsed()));
    }

    fn report(&self) -> bool {
        for (what, ok, at) in &self.results {
            println!(
                "  {} {what:<55} at {:>5.1} s",
                if *ok { "✓" } else { "✗" },
                at.as_secs_f64()
            );
        }
        self.results.iter().all(|(_, ok, _)| *ok)
    }
}
