//! The reference scenario's CI jobs as processes: the scripts in `testnet/scenarios/`, run
//! against a node exactly as a Jenkins or Zuul job would (`FEDCI_HOME` set, `fedci-node` on
//! PATH). The demo and the workspace tests both use these.

use crate::node::Node;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// Where the scripts live in the source tree.
pub fn scripts_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"))
}

/// A triggered job: which node it runs against, what it watches, and its script.
#[derive(Debug, Clone, Copy)]
pub struct Job {
    pub community: &'static str,
    pub script: &'static str,
    pub filter: &'static [&'static str],
}

/// The reference scenario's triggered jobs.
pub const JOBS: [Job; 3] = [
    Job {
        community: "opnfv",
        script: "opnfv-baseline.sh",
        filter: &["--community", "odl", "--kind", "artifact.created"],
    },
    Job {
        community: "opnfv",
        script: "opnfv-deploy-test.sh",
        filter: &["--community", "opnfv", "--kind", "composition.defined"],
    },
    Job {
        community: "odl",
        script: "odl-promote.sh",
        filter: &["--community", "opnfv", "--kind", "confidence.modified"],
    },
];

impl Job {
    /// The durable consumer name: the script's name.
    pub fn consumer(&self) -> &'static str {
        self.script.trim_end_matches(".sh")
    }
}

fn path_with(bin: &Path) -> String {
    let dir = bin
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    format!("{dir}:{}", std::env::var("PATH").unwrap_or_default())
}

/// Starts `fedci-node watch … --consumer <job> --exec <script>` against `node`.
pub fn start_job(
    bin: &Path,
    node: &Node,
    job: &Job,
    scripts: &Path,
    out: Stdio,
    err: Stdio,
) -> std::io::Result<Child> {
    Command::new(bin)
        .arg("watch")
        .args(job.filter)
        .args(["--consumer", job.consumer(), "--exec"])
        .arg(scripts.join(job.script))
        .env("FEDCI_HOME", &node.home)
        .env("PATH", path_with(bin))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
}

/// Runs a one-shot job script (a release build) against `node` and waits for it.
pub fn run_job(bin: &Path, node: &Node, script: &Path) -> std::io::Result<Output> {
    Command::new("sh")
        .arg(script)
        .env("FEDCI_HOME", &node.home)
        .env("PATH", path_with(bin))
        .stdin(Stdio::null())
        .output()
}
