//! The demo's last act: ODL's node exports the chain as an evidence bundle, and `fedci-node
//! verify` checks it offline with only the communities' root keys (no home, no node). The
//! demo's baseline also holds OpenStack's release, so its root is the third one given.

use crate::node::Node;
use anyhow::{Context, Result};
use std::path::Path;
use std::process::Command;

/// Exports the trace up from `stamp` on `exporter` into `dir/chain.cbor` and verifies it with
/// the roots of `communities`; prints the bundle's size and the verdict. Returns whether it
/// verified.
pub fn export_and_verify(
    bin: &Path,
    exporter: &Node,
    communities: &[&Node],
    stamp: &str,
    dir: &Path,
) -> Result<bool> {
    let file = dir.join("chain.cbor");
    let out = exporter.cli(&[
        "export",
        stamp,
        "--up",
        "--out",
        &file.display().to_string(),
    ])?;
    println!(
        "  $ fedci-node export {} --up --out chain.cbor",
        super::show::short(stamp)
    );
    print!("  {out}");
    let shown: Vec<String> = communities
        .iter()
        .map(|n| format!("--root {0}=@{0}/root.pub", n.name))
        .collect();
    println!("  $ fedci-node verify chain.cbor {}", shown.join(" "));
    let mut verify = Command::new(bin);
    verify.arg("verify").arg(&file).env_remove("FEDCI_HOME");
    for n in communities {
        let root = format!("{}=@{}", n.name, n.home.join("root.pub").display());
        verify.args(["--root", &root]);
    }
    let verdict = verify.output().context("running fedci-node verify")?;
    for line in String::from_utf8_lossy(&verdict.stdout).lines() {
        println!("  {line}");
    }
    for line in String::from_utf8_lossy(&verdict.stderr).lines() {
        println!("  {line}");
    }
    Ok(verdict.status.success())
}
