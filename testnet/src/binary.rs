//! Finding (and, under cargo, building) the `fedci-node` binary the testnet launches.

use std::path::PathBuf;
use std::process::Command;

/// Why the node binary could not be found or built.
#[derive(Debug, thiserror::Error)]
pub enum BinaryError {
    #[error(
        "building fedci-node failed ({0}); run `cargo build --release -p fedci-node` to see why"
    )]
    Build(String),
    #[error(
        "no fedci-node binary next to {0}; build it with `cargo build --release -p fedci-node` or set FEDCI_NODE_BIN"
    )]
    Missing(PathBuf),
}

/// The `fedci-node` to launch: `$FEDCI_NODE_BIN`, else the one built next to this binary.
/// Under `cargo run` (which sets `$CARGO`), it is first brought up to date with the same
/// profile, so the README's one command is all a new user needs.
pub fn fedci_node() -> Result<PathBuf, BinaryError> {
    if let Some(p) = std::env::var_os("FEDCI_NODE_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| BinaryError::Build(e.to_string()))?;
    let mut dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    if let Some(cargo) = std::env::var_os("CARGO") {
        let release = dir.ends_with("release");
        let mut cmd = Command::new(cargo);
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "fedci-node",
            "--bin",
            "fedci-node",
        ]);
        if release {
            cmd.arg("--release");
        }
        let status = cmd
            .status()
            .map_err(|e| BinaryError::Build(e.to_string()))?;
        if !status.success() {
            return Err(BinaryError::Build(status.to_string()));
        }
    }
    let bin = dir.join("fedci-node");
    if bin.exists() {
        Ok(bin)
    } else {
        Err(BinaryError::Missing(exe))
    }
}
