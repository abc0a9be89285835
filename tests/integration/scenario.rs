//! The reference scenario end to end, played by the CI-style job scripts of
//! `testnet/scenarios/` against three real nodes (odl, opnfv, openstack): OpenStack releases,
//! ODL publishes an artifact, OPNFV composes a baseline from both and tests it, and ODL stamps
//! its own artifact with OPNFV's confidence. Each test checks the chain as ODL's node traces it
//! (`fedci-node trace ID --down`), the events' own links and data, and that the stamp reached
//! every node; then waits until every job has handled every event it watches and every node
//! holds the same events, so "exactly once" is asserted on a settled federation.
//!
//! The faults: opnfv down while ODL publishes, opnfv partitioned away during the ODL release,
//! and opnfv SIGKILLed right after it composed the baseline.

use fedci_client::types::Status;
use fedci_testnet::net::{Testnet, Topology, listen_addr, status};
use fedci_testnet::node::Node;
use fedci_testnet::scenario::{JOBS, run_job, scripts_dir, start_job};
use fedci_tests::net::{Phases, free_port, listen_on, set_diff};
use fedci_tests::node_bin;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const COMMUNITIES: [&str; 3] = ["odl", "opnfv", "openstack"];
/// How long nodes may take to connect (debug builds, 2 shared cores, other tests running).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one step of the chain (or catch-up, or settling) may take.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);
/// How often waits re-check (each check runs the CLI).
const POLL: Duration = Duration::from_millis(100);
/// The baseline the OPNFV job composes.
const BASELINE: &str = "os-odl-nofeature";

/// Polls `check` until it returns Ok; panics after `timeout` with `what` and the last reason.
fn wait_for<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(v) => return v,
            Err(why) if Instant::now() >= deadline => {
                panic!("timed out after {timeout:?} waiting for {what}: {why}")
            }
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// A `fedci-node watch --exec` job process with its output in a log file.
#[derive(Debug)]
struct Watcher {
    label: String,
    child: Child,
}

/// A federation of the three communities in one temporary directory, the job watchers
/// running against it, and the logs to show when a test fails.
#[derive(Debug)]
struct Scenario {
    test: &'static str,
    watchers: Vec<Watcher>,
    net: Testnet,
    logs: PathBuf,
    // Last: removed after the nodes (in `net`) are gone.
    dir: tempfile::TempDir,
}

/// How many times the chain is expected to have run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runs {
    /// Each job ran once per event: one baseline, one acceptance, one stamp.
    ExactlyOnce,
    /// At-least-once delivery may have rerun a job whose ack was lost (a crash).
    AtLeastOnce,
}

/// The ids of one complete chain.
#[derive(Debug, Clone)]
struct Chain {
    odl_artifact: String,
    openstack_artifact: String,
    baseline: String,
    acceptance: String,
    stamp: String,
    /// Every composition.defined by opnfv with an ELEMENT link to the ODL artifact.
    baselines: Vec<String>,
    /// Every opnfvAcceptance confidence.modified by opnfv about the ODL artifact.
    acceptances: Vec<String>,
    /// Every confidence.modified by odl on the ODL artifact.
    stamps: Vec<String>,
}

impl Scenario {
    /// Starts the three nodes fully connected and every job's watcher.
    fn start_all_with_jobs(&mut self) {
        self.net
            .start(Topology::Full)
            .unwrap_or_else(|e| panic!("starting the testnet: {e}"));
        self.net
            .wait_connected(2, CONNECT_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}"));
        for c in COMMUNITIES {
            self.start_watchers(c);
        }
    }

    /// Homes for odl, opnfv and openstack, each pinning the other two; nothing runs yet.
    fn new(test: &'static str) -> Scenario {
        let dir = tempfile::Builder::new()
            .prefix("fedci-scenario-")
            .tempdir()
            .expect("creating a temporary directory");
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).expect("creating the log directory");
        let net = Testnet::create(&dir.path().join("net"), &COMMUNITIES, node_bin(), "")
            .unwrap_or_else(|e| panic!("creating the testnet: {e}"));
        Scenario {
            test,
            watchers: Vec::new(),
            net,
            logs,
            dir,
        }
    }

    fn node(&self, name: &str) -> &Node {
        self.net
            .node(name)
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    fn node_mut(&mut self, name: &str) -> &mut Node {
        self.net
            .nodes
            .iter_mut()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    /// The node's first listen address with /p2p/<peer id>.
    fn addr(&self, name: &str) -> String {
        listen_addr(self.node(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// Starts `name`, dialling `peers` (running nodes), listening on `port` if given.
    fn start_node(&mut self, name: &str, peers: &[&str], port: Option<u16>) {
        let mut args = Vec::new();
        if let Some(p) = port {
            args.extend(["--listen".to_owned(), listen_on(p)]);
        }
        for p in peers {
            args.extend(["--peer".to_owned(), self.addr(p)]);
        }
        let node = self.node_mut(name);
        node.run_args = args;
        node.start()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        if let Some(p) = port {
            let addr = self.addr(name);
            assert!(
                addr.starts_with(&format!("{}/p2p/", listen_on(p))),
                "{name} does not listen on port {p}: {addr}"
            );
        }
    }

    /// Runs `fedci-node --home H ARGS…`; panics with stderr on failure.
    fn cli(&self, name: &str, args: &[&str]) -> String {
        self.node(name).cli(args).unwrap_or_else(|e| panic!("{e}"))
    }

    fn status(&self, name: &str) -> Status {
        status(self.node(name)).unwrap_or_else(|| panic!("{name}: no status"))
    }

    fn peer_id(&self, name: &str) -> String {
        self.status(name)
            .network
            .unwrap_or_else(|| panic!("{name}: status has no network"))
            .peer_id
    }

    /// Peer ids `name` is connected to.
    fn connected(&self, name: &str) -> Vec<String> {
        status(self.node(name))
            .and_then(|s| s.network)
            .map(|n| n.peers.into_iter().map(|p| p.peer_id).collect())
            .unwrap_or_default()
    }

    /// Waits until `name` is connected to every one of `others`.
    fn wait_peers(&self, name: &str, others: &[&str]) {
        let want: Vec<String> = others.iter().map(|o| self.peer_id(o)).collect();
        wait_for(
            CONNECT_TIMEOUT,
            &format!("{name} to connect to {others:?}"),
            || {
                let got = self.connected(name);
                if want.iter().all(|w| got.contains(w)) {
                    Ok(())
                } else {
                    Err(format!("connected to {got:?}, want {want:?}"))
                }
            },
        );
    }

    /// Starts the scenario's watchers that run against `community`'s node, output to
    /// `logs/<community>-<consumer>.log`.
    fn start_watchers(&mut self, community: &str) {
        for job in JOBS.iter().filter(|j| j.community == community) {
            let label = format!("{community}-{}", job.consumer());
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.logs.join(format!("{label}.log")))
                .expect("opening a job log");
            let err = log.try_clone().expect("cloning a log handle");
            let child = start_job(
                node_bin(),
                self.node(community),
                job,
                &scripts_dir(),
                Stdio::from(log),
                Stdio::from(err),
            )
            .unwrap_or_else(|e| panic!("starting the {label} watcher: {e}"));
            self.watchers.push(Watcher { label, child });
        }
    }

    /// Runs a one-shot job script against `community`'s node; asserts exit 0; returns stdout.
    fn run_script(&self, community: &str, script: &str) -> String {
        let out = run_job(
            node_bin(),
            self.node(community),
            &scripts_dir().join(script),
        )
        .unwrap_or_else(|e| panic!("running {script}: {e}"));
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        let label = format!("{community}-{}", script.trim_end_matches(".sh"));
        let _ = std::fs::write(
            self.logs.join(format!("{label}.log")),
            format!("{stdout}{stderr}exit: {}\n", out.status),
        );
        eprintln!("[{}] {label}: {}", self.test, stdout.trim_end());
        assert!(
            out.status.success(),
            "{script} on {community} failed ({}):\n{stdout}{stderr}",
            out.status
        );
        stdout
    }

    /// Ids of the events `name` holds that match `filter` (query flags), in arrival order.
    fn ids(&self, name: &str, filter: &[&str]) -> Vec<String> {
        let mut args = vec!["query", "--limit", "100000", "--field", "id"];
        args.extend_from_slice(filter);
        self.cli(name, &args)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_owned())
            .collect()
    }

    /// Every event id `name` holds.
    fn id_set(&self, name: &str) -> BTreeSet<String> {
        let ids = self.ids(name, &[]);
        let set: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(set.len(), ids.len(), "{name}: query printed an id twice");
        set
    }

    /// The one event of `community`'s `kind` that `name` holds.
    fn single(&self, name: &str, community: &str, kind: &str) -> String {
        let ids = self.ids(name, &["--community", community, "--kind", kind]);
        assert_eq!(
            ids.len(),
            1,
            "{name} should hold exactly one {kind} by {community}: {ids:?}"
        );
        ids[0].clone()
    }

    /// `fedci-node get ID` on `name`, if held.
    fn get(&self, name: &str, id: &str) -> Option<Value> {
        let out = self.node(name).cli(&["get", id]).ok()?;
        Some(serde_json::from_str(&out).unwrap_or_else(|e| panic!("get {id}: {e}: {out}")))
    }

    /// `get`, which must succeed.
    fn event(&self, name: &str, id: &str) -> Value {
        self.get(name, id)
            .unwrap_or_else(|| panic!("{name} does not hold event {id}"))
    }

    fn has(&self, name: &str, id: &str) -> bool {
        self.node(name).cli(&["get", id, "--field", "id"]).is_ok()
    }

    /// `fedci-node trace ID --down` (JSON) on `name`.
    fn trace_down(&self, name: &str, id: &str) -> Option<Graph> {
        let out = self.node(name).cli(&["trace", id, "--down"]).ok()?;
        let v: Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("trace {id}: {e}: {out}"));
        Some(Graph(v))
    }

    /// True when every watcher has acknowledged the newest event it watches and every running
    /// node holds the same events: nothing more will happen by itself.
    fn settled(&self) -> Result<(), String> {
        for job in &JOBS {
            let mut args = vec!["query", "--last", "1", "--field", "arrival"];
            args.extend_from_slice(job.filter);
            let out = self
                .node(job.community)
                .cli(&args)
                .map_err(|e| e.to_string())?;
            // Nothing watched yet: nothing to handle.
            let latest: u64 = match out.trim() {
                "" => 0,
                n => n
                    .parse()
                    .unwrap_or_else(|e| panic!("query {args:?} printed {n:?}: {e}")),
            };
            let s = status(self.node(job.community))
                .ok_or_else(|| format!("{}: no status", job.community))?;
            let cursor = s.consumers.get(job.consumer()).copied().unwrap_or(0);
            if cursor < latest {
                return Err(format!(
                    "{} on {} acknowledged arrival {cursor}, the newest event it watches is {latest}",
                    job.consumer(),
                    job.community
                ));
            }
        }
        let sets: Vec<(&str, BTreeSet<String>)> =
            COMMUNITIES.iter().map(|c| (*c, self.id_set(c))).collect();
        for (name, set) in &sets[1..] {
            let d = set_diff(sets[0].0, &sets[0].1, name, set);
            if !d.is_empty() {
                return Err(d);
            }
        }
        Ok(())
    }

    /// Waits until the ODL stamp shows in ODL's trace of its artifact, then until the
    /// federation settles, and checks the whole chain: the trace, each event's links and data
    /// (the prototype's fields), and the stamp on every node.
    fn verify_chain(&self, runs: Runs, started: &mut Phases) -> Chain {
        let odl_artifact = self.single("odl", "odl", "artifact.created");
        let openstack_artifact = self.single("openstack", "openstack", "artifact.created");
        let a = odl_artifact.as_str();
        wait_for(
            STEP_TIMEOUT,
            "ODL's stamp in the trace of its artifact on the odl node",
            || {
                let g = self
                    .trace_down("odl", a)
                    .ok_or("odl cannot trace its artifact")?;
                let stamped = g.of("confidence.modified", "odl").iter().any(|s| {
                    g.has_edge(s, a, "SUBJECT")
                        && g.of("confidence.modified", "opnfv")
                            .iter()
                            .any(|k| g.has_edge(s, k, "CONFIDENCE_BASIS"))
                });
                if stamped {
                    Ok(())
                } else {
                    Err(format!("trace so far: {}", g.summary()))
                }
            },
        );
        started.mark("chain reached ODL's stamp");
        wait_for(
            STEP_TIMEOUT,
            "every job to handle every event and every node to hold the same events",
            || self.settled(),
        );
        started.mark("federation settled");

        // The trace, as ODL's node sees it once nothing more happens.
        let g = self.trace_down("odl", a).expect("odl traces its artifact");
        let one = |what: &str, ids: &[String]| {
            assert!(
                !ids.is_empty(),
                "no {what} in the trace of the ODL artifact: {}",
                g.summary()
            );
            if runs == Runs::ExactlyOnce {
                assert_eq!(
                    ids.len(),
                    1,
                    "exactly one {what} expected in the trace of the ODL artifact: {}",
                    g.summary()
                );
            }
        };
        let baselines: Vec<String> = g
            .of("composition.defined", "opnfv")
            .into_iter()
            .filter(|c| g.has_edge(c, a, "ELEMENT"))
            .collect();
        one(
            "composition.defined by opnfv with ELEMENT → ODL artifact",
            &baselines,
        );
        let acceptances: Vec<String> = g
            .of("confidence.modified", "opnfv")
            .into_iter()
            .filter(|k| {
                g.has_edge(k, a, "SUBJECT") && baselines.iter().any(|c| g.has_edge(k, c, "SUBJECT"))
            })
            .collect();
        one(
            "confidence.modified by opnfv with SUBJECT → baseline and ODL artifact",
            &acceptances,
        );
        let stamps: Vec<String> = g
            .of("confidence.modified", "odl")
            .into_iter()
            .filter(|s| {
                g.has_edge(s, a, "SUBJECT")
                    && acceptances
                        .iter()
                        .any(|k| g.has_edge(s, k, "CONFIDENCE_BASIS"))
            })
            .collect();
        one(
            "confidence.modified by odl with SUBJECT → ODL artifact, CONFIDENCE_BASIS → OPNFV's",
            &stamps,
        );
        let published = g.of("artifact.published", "odl");
        assert_eq!(
            published.len(),
            1,
            "one artifact.published by odl in the trace: {}",
            g.summary()
        );
        assert!(
            g.has_edge(&published[0], a, "ARTIFACT"),
            "artifact.published has no ARTIFACT edge to the artifact: {}",
            g.summary()
        );

        // The events themselves, read on ODL's node: links and the prototype's fields.
        let art = self.event("odl", a);
        assert_eq!(
            art["data"]["branch"], "stable/oxygen",
            "ODL artifact: {art}"
        );
        assert!(
            str_of(&art["data"]["build_url"]).starts_with("https://jenkins.opendaylight.org/"),
            "ODL artifact has no build_url: {art}"
        );
        assert!(
            str_of(&art["data"]["identity"]).starts_with("pkg:maven/org.opendaylight"),
            "ODL artifact identity: {art}"
        );
        let os = self.event("odl", &openstack_artifact);
        assert_eq!(os["community"], "openstack", "OpenStack artifact: {os}");
        assert!(
            !str_of(&os["data"]["build_url"]).is_empty()
                && !str_of(&os["data"]["branch"]).is_empty(),
            "OpenStack artifact has no build_url or branch: {os}"
        );
        let publ = self.event("odl", &published[0]);
        let loc = &publ["data"]["locations"][0];
        assert!(
            str_of(&loc["uri"]).starts_with("https://nexus.opendaylight.org/")
                && loc["type"] == "nexus",
            "artifact.published has no Nexus location uri: {publ}"
        );
        assert_eq!(
            links(&publ, "ARTIFACT"),
            set([a]),
            "artifact.published links"
        );

        for c in &baselines {
            let ev = self.event("odl", c);
            assert_eq!(
                links(&ev, "ELEMENT"),
                set([a, openstack_artifact.as_str()]),
                "the baseline's ELEMENT links are the ODL and the OpenStack artifact: {ev}"
            );
            assert_eq!(ev["data"]["name"], BASELINE, "baseline: {ev}");
            assert_eq!(ev["data"]["scenario"], BASELINE, "baseline: {ev}");
            assert!(
                str_of(&ev["data"]["metadata_url"]).starts_with("https://artifacts.opnfv.org/"),
                "baseline has no metadata_url: {ev}"
            );
        }
        for k in &acceptances {
            let ev = self.event("odl", k);
            assert_eq!(ev["data"]["name"], "opnfvAcceptance", "{ev}");
            assert_eq!(ev["data"]["value"], "SUCCESS", "{ev}");
            let subjects = links(&ev, "SUBJECT");
            let baseline: Vec<&String> =
                baselines.iter().filter(|c| subjects.contains(*c)).collect();
            assert_eq!(
                baseline.len(),
                1,
                "opnfvAcceptance names one baseline: {ev}"
            );
            assert_eq!(
                subjects,
                set([baseline[0].as_str(), a, openstack_artifact.as_str()]),
                "opnfvAcceptance's SUBJECTs are the baseline and its two artifacts: {ev}"
            );
            let basis = links(&ev, "CONFIDENCE_BASIS");
            assert_eq!(basis.len(), 1, "opnfvAcceptance has one basis: {ev}");
            for b in &basis {
                let fin = self.event("odl", b);
                assert_eq!(
                    fin["kind"], "activity.finished",
                    "opnfvAcceptance basis: {fin}"
                );
                assert_eq!(fin["data"]["outcome"], "SUCCESS", "{fin}");
            }
        }
        for s in &stamps {
            let ev = self.event("odl", s);
            assert_eq!(ev["data"]["name"], "opnfvAcceptance", "ODL stamp: {ev}");
            assert_eq!(ev["data"]["value"], "SUCCESS", "ODL stamp: {ev}");
            assert_eq!(links(&ev, "SUBJECT"), set([a]), "ODL stamp SUBJECT: {ev}");
            let basis = links(&ev, "CONFIDENCE_BASIS");
            assert!(
                basis.len() == 1 && acceptances.iter().any(|k| basis.contains(k)),
                "ODL stamp's CONFIDENCE_BASIS is OPNFV's acceptance: {ev}"
            );
            for n in ["opnfv", "openstack"] {
                assert!(self.has(n, s), "ODL's stamp {s} is not on {n}");
            }
        }
        // Each OPNFV acceptance was promoted by ODL (exactly once each, on a settled net).
        for k in &acceptances {
            let promoted = stamps
                .iter()
                .filter(|s| links(&self.event("odl", s), "CONFIDENCE_BASIS").contains(k))
                .count();
            assert_eq!(promoted, 1, "ODL stamps for OPNFV's acceptance {k}");
        }
        Chain {
            odl_artifact,
            openstack_artifact,
            baseline: baselines[0].clone(),
            acceptance: acceptances[0].clone(),
            stamp: stamps[0].clone(),
            baselines,
            acceptances,
            stamps,
        }
    }

    /// The logs: every job's, then the tail of every node's.
    fn dump_logs(&self) {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.logs)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        for f in files {
            eprintln!(
                "----- {} -----\n{}",
                f.display(),
                std::fs::read_to_string(&f).unwrap_or_default()
            );
        }
        for n in &self.net.nodes {
            let text = std::fs::read_to_string(n.log_path()).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            eprintln!(
                "----- {} node log ({}, last 200 lines) -----\n{}",
                n.name,
                n.log_path().display(),
                lines[lines.len().saturating_sub(200)..].join("\n")
            );
        }
        eprintln!("----- end of {} logs -----", self.test);
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        for w in &mut self.watchers {
            let _ = w.child.kill();
            let _ = w.child.wait();
        }
        if std::thread::panicking() {
            self.dump_logs();
            eprintln!("(directory {} is removed)", self.dir.path().display());
        }
    }
}

/// A `trace` answer: `{root, nodes: [{id, kind, community, …}], edges: [{from, to, rel}]}`.
#[derive(Debug)]
struct Graph(Value);

impl Graph {
    fn nodes(&self) -> &[Value] {
        self.0["nodes"].as_array().map_or(&[], Vec::as_slice)
    }

    /// Ids of the nodes of `kind` by `community`.
    fn of(&self, kind: &str, community: &str) -> Vec<String> {
        self.nodes()
            .iter()
            .filter(|n| n["kind"] == kind && n["community"] == community)
            .map(|n| str_of(&n["id"]).to_owned())
            .collect()
    }

    fn has_edge(&self, from: &str, to: &str, rel: &str) -> bool {
        self.0["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["from"] == from && e["to"] == to && e["rel"] == rel)
    }

    /// One line per node (kind, community, label, short id) and per edge.
    fn summary(&self) -> String {
        let short = |v: &Value| str_of(v).chars().take(8).collect::<String>();
        let mut out = String::new();
        for n in self.nodes() {
            out.push_str(&format!(
                "\n  {} {} {} [{}]",
                str_of(&n["kind"]),
                str_of(&n["community"]),
                str_of(&n["label"]),
                short(&n["id"])
            ));
        }
        for e in self.0["edges"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "\n  {} -{}-> {}",
                short(&e["from"]),
                str_of(&e["rel"]),
                short(&e["to"])
            ));
        }
        out
    }
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// The targets of an event's links with `rel`.
fn links(event: &Value, rel: &str) -> BTreeSet<String> {
    event["links"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["rel"] == rel)
        .map(|l| str_of(&l["target"]).to_owned())
        .collect()
}

fn set<const N: usize>(ids: [&str; N]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn full_reference_scenario() {
    let mut t = Phases::new("full_reference_scenario");
    let mut s = Scenario::new("full_reference_scenario");
    s.start_all_with_jobs();
    t.mark("three nodes connected, three watchers started");

    s.run_script("openstack", "openstack-release.sh");
    s.run_script("odl", "odl-autorelease.sh");
    t.mark("OpenStack released, ODL published");

    let chain = s.verify_chain(Runs::ExactlyOnce, &mut t);
    // Every watcher is still the process that was started (none died along the way).
    for w in &mut s.watchers {
        assert!(
            matches!(w.child.try_wait(), Ok(None)),
            "watcher {} exited",
            w.label
        );
    }
    eprintln!(
        "[full_reference_scenario] chain: ODL {} + OpenStack {} -> baseline {} -> acceptance {} -> stamp {}",
        chain.odl_artifact, chain.openstack_artifact, chain.baseline, chain.acceptance, chain.stamp
    );
    t.mark("chain verified");
}

#[test]
fn opnfv_down_while_odl_publishes_still_produces_the_baseline() {
    let test = "opnfv_down_while_odl_publishes_still_produces_the_baseline";
    let mut t = Phases::new(test);
    let mut s = Scenario::new(test);
    s.start_node("odl", &[], None);
    s.start_node("openstack", &["odl"], None);
    s.wait_peers("odl", &["openstack"]);
    s.wait_peers("openstack", &["odl"]);
    t.mark("odl and openstack connected; opnfv pinned but down");

    s.run_script("openstack", "openstack-release.sh");
    s.run_script("odl", "odl-autorelease.sh");
    let artifact = s.single("odl", "odl", "artifact.created");
    assert!(
        !s.node_mut("opnfv").is_running(),
        "opnfv must be down while ODL publishes"
    );
    t.mark("OpenStack released, ODL published, opnfv down");

    s.start_node("opnfv", &["odl", "openstack"], None);
    s.start_watchers("opnfv");
    s.start_watchers("odl");
    // The artifact was published before opnfv ran: only catch-up can deliver it.
    wait_for(
        STEP_TIMEOUT,
        "catch-up to bring ODL's artifact to opnfv",
        || {
            if s.has("opnfv", &artifact) {
                Ok(())
            } else {
                Err(format!("opnfv connected to {:?}", s.connected("opnfv")))
            }
        },
    );
    t.mark("opnfv started, caught up with ODL's artifact");

    let chain = s.verify_chain(Runs::ExactlyOnce, &mut t);
    assert_eq!(chain.odl_artifact, artifact);
    t.mark("chain verified");
}

#[test]
fn partition_and_heal_converges() {
    let mut t = Phases::new("partition_and_heal_converges");
    let mut s = Scenario::new("partition_and_heal_converges");
    s.start_all_with_jobs();
    s.run_script("openstack", "openstack-release.sh");
    let verified = s.single("openstack", "openstack", "confidence.modified");
    wait_for(STEP_TIMEOUT, "OpenStack's release to reach opnfv", || {
        s.has("opnfv", &verified)
            .then_some(())
            .ok_or_else(|| "not yet".to_owned())
    });
    t.mark("connected, watchers up, OpenStack released and known to opnfv");

    // Partition: opnfv on one side, odl and openstack on the other, blocked on both ends.
    let ids: BTreeMap<&str, String> = COMMUNITIES.iter().map(|c| (*c, s.peer_id(c))).collect();
    let cross = [("opnfv", "odl"), ("opnfv", "openstack")];
    for (a, b) in cross {
        s.cli(a, &["peer", "block", &ids[b]]);
        s.cli(b, &["peer", "block", &ids[a]]);
    }
    wait_for(CONNECT_TIMEOUT, "the partition to take hold", || {
        let opnfv = s.connected("opnfv");
        let odl = s.connected("odl");
        let os = s.connected("openstack");
        if opnfv.is_empty()
            && !odl.contains(&ids["opnfv"])
            && !os.contains(&ids["opnfv"])
            && odl.contains(&ids["openstack"])
        {
            Ok(())
        } else {
            Err(format!(
                "opnfv connected to {opnfv:?}, odl to {odl:?}, openstack to {os:?}"
            ))
        }
    });
    t.mark("partitioned");

    s.run_script("odl", "odl-autorelease.sh");
    let artifact = s.single("odl", "odl", "artifact.created");
    let published = s.single("odl", "odl", "artifact.published");
    wait_for(STEP_TIMEOUT, "ODL's release to reach openstack", || {
        (s.has("openstack", &artifact) && s.has("openstack", &published))
            .then_some(())
            .ok_or_else(|| "not yet".to_owned())
    });
    assert!(
        !s.has("opnfv", &artifact) && !s.has("opnfv", &published),
        "opnfv got ODL's release through the partition"
    );
    assert!(
        s.ids(
            "opnfv",
            &["--community", "opnfv", "--kind", "composition.defined"]
        )
        .is_empty(),
        "opnfv composed a baseline while partitioned"
    );
    assert!(
        s.connected("opnfv").is_empty(),
        "opnfv reconnected during the partition"
    );
    t.mark("ODL released during the partition; opnfv does not have it");

    for (a, b) in cross {
        s.cli(a, &["peer", "unblock", &ids[b]]);
        s.cli(b, &["peer", "unblock", &ids[a]]);
    }
    t.mark("healed");

    let chain = s.verify_chain(Runs::ExactlyOnce, &mut t);
    assert_eq!(chain.odl_artifact, artifact);
    // verify_chain waited for equal sets; say so explicitly, id by id.
    let sets: Vec<(&str, BTreeSet<String>)> =
        COMMUNITIES.iter().map(|c| (*c, s.id_set(c))).collect();
    for (name, set) in &sets[1..] {
        let d = set_diff(sets[0].0, &sets[0].1, name, set);
        assert!(d.is_empty(), "after the heal: {d}");
    }
    for id in [&chain.baseline, &chain.acceptance, &chain.stamp, &artifact] {
        assert!(sets[0].1.contains(id), "the common set lacks {id}");
    }
    eprintln!(
        "[partition_and_heal_converges] all three nodes hold the same {} events",
        sets[0].1.len()
    );
    t.mark("converged");
}

#[test]
fn kill9_mid_scenario() {
    let mut t = Phases::new("kill9_mid_scenario");
    let mut s = Scenario::new("kill9_mid_scenario");
    // opnfv on a fixed port, so the peers that dial it find it again after the restart.
    let opnfv_port = free_port();
    s.start_node("odl", &[], None);
    s.start_node("opnfv", &["odl"], Some(opnfv_port));
    s.start_node("openstack", &["odl", "opnfv"], None);
    s.net
        .wait_connected(2, CONNECT_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    for c in COMMUNITIES {
        s.start_watchers(c);
    }
    t.mark("three nodes connected (opnfv on a fixed port), watchers up");

    s.run_script("openstack", "openstack-release.sh");
    s.run_script("odl", "odl-autorelease.sh");
    let socket = s.node("opnfv").socket();
    let path = "/v1/events?community=opnfv&kind=composition.defined&limit=10";
    let baseline = wait_for(STEP_TIMEOUT, "OPNFV's baseline on opnfv", || {
        let r = fedci_tests::http::request(&socket, "GET", path, &[], &[])
            .map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_slice(&r.body).map_err(|e| e.to_string())?;
        v["events"][0]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{}: {v}", r.status))
    });
    let opnfv_peer = s.peer_id("opnfv");
    s.node_mut("opnfv").kill9();
    t.mark("baseline composed; opnfv SIGKILLed");
    // How far OPNFV's jobs had got when it died, as far as odl knows (timing-dependent).
    let at_kill = s.cli(
        "odl",
        &[
            "query",
            "--community",
            "opnfv",
            "--field",
            "kind",
            "--limit",
            "100000",
        ],
    );
    eprintln!(
        "[kill9_mid_scenario] opnfv events on odl at the kill: {:?}",
        at_kill.lines().collect::<Vec<_>>()
    );

    s.node_mut("opnfv")
        .start()
        .unwrap_or_else(|e| panic!("restarting opnfv: {e}"));
    assert_eq!(s.peer_id("opnfv"), opnfv_peer, "opnfv keeps its peer id");
    assert!(
        s.addr("opnfv")
            .starts_with(&format!("{}/p2p/", listen_on(opnfv_port))),
        "opnfv listens on its port again"
    );
    s.wait_peers("opnfv", &["odl", "openstack"]);
    t.mark("opnfv restarted on the same home and port");

    let chain = s.verify_chain(Runs::AtLeastOnce, &mut t);
    assert!(
        chain.baselines.contains(&baseline),
        "the baseline composed before the kill is not in the chain: {chain:?}"
    );
    let for_baseline: Vec<String> = s
        .ids(
            "opnfv",
            &[
                "--community",
                "opnfv",
                "--kind",
                "confidence.modified",
                "--link",
                &baseline,
            ],
        )
        .into_iter()
        .filter(|k| s.event("opnfv", k)["data"]["name"] == "opnfvAcceptance")
        .collect();
    assert!(
        !for_baseline.is_empty(),
        "no opnfvAcceptance for the baseline {baseline} composed before the kill"
    );
    for n in COMMUNITIES {
        for stamp in &chain.stamps {
            assert!(s.has(n, stamp), "ODL's stamp {stamp} is not on {n}");
        }
    }
    // The watchers were never restarted: their streams broke at the kill and they
    // reconnected by themselves.
    for label in ["opnfv-opnfv-baseline", "opnfv-opnfv-deploy-test"] {
        let log = s.logs.join(format!("{label}.log"));
        wait_for(
            STEP_TIMEOUT,
            &format!("{label} to report its reconnect"),
            || {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                if text.contains("reconnecting") {
                    Ok(())
                } else {
                    Err(format!("log so far:\n{text}"))
                }
            },
        );
    }
    for w in &mut s.watchers {
        assert!(
            matches!(w.child.try_wait(), Ok(None)),
            "watcher {} exited",
            w.label
        );
    }
    let runs = s
        .ids(
            "opnfv",
            &["--community", "opnfv", "--kind", "activity.triggered"],
        )
        .len();
    eprintln!(
        "[kill9_mid_scenario] runs after the kill: {runs} deploy-test run(s) started, {} \
         baseline(s) by opnfv, {} opnfvAcceptance for the baseline composed before the kill ({} \
         in all), {} ODL stamp(s){}",
        chain.baselines.len(),
        for_baseline.len(),
        chain.acceptances.len(),
        chain.stamps.len(),
        if chain.baselines.len() == 1 && chain.acceptances.len() == 1 && chain.stamps.len() == 1 {
            ": exactly once"
        } else {
            ": a job reran (at-least-once delivery after an ack lost in the kill)"
        }
    );
    t.mark("chain verified");
}
