//! Finding the workspace's binaries that the testnet and the integration tests launch: one
//! helper for both. `FEDCI_NODE_BIN` / `FEDCI_TESTNET_BIN` override the lookup; otherwise the
//! binary is the one built next to the running executable (`target/<profile>/`).
//!
//! Cargo builds another package's binaries only for `cargo run` of that package, so when we run
//! under cargo (`$CARGO` is set) and the binary is missing or older than its sources, it is
//! built once with `cargo build`, its progress shown on stderr. That inner cargo runs without
//! the per-crate variables cargo gave us (`CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, …): build
//! scripts such as ring's watch them, so inheriting them made every outer build and every
//! inner build recompile ring, libp2p and the node in turn.
//!
//! The node is built with its `test-hooks` feature, as a workspace build of the tests builds it
//! (fedci-testnet enables it): the tests start tampering relays. A node built without it (a
//! plain `cargo build -p fedci-node`, as CI does to check the product has no hooks) is stale
//! for the tests and is rebuilt.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

/// Why a binary could not be found or built.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BinaryError {
    #[error("building {bin} failed ({status}); run `cargo build -p {bin}` to see why")]
    Build { bin: &'static str, status: String },
    #[error(
        "no {bin} binary at {path}: build it with `cargo build -p {bin}` or set {env} to its path"
    )]
    Missing {
        bin: &'static str,
        path: PathBuf,
        env: &'static str,
    },
    #[error("{env}={path} is not a file")]
    BadOverride { env: &'static str, path: PathBuf },
    #[error("cannot tell where this program runs from: {0}")]
    NoExe(String),
}

/// A binary of the workspace and what it is built from.
struct Target {
    bin: &'static str,
    env: &'static str,
    /// Crate directories whose sources it is built from.
    crates: &'static [&'static str],
    /// Cargo features it is built with.
    features: &'static str,
    /// Arguments, and a line their output must hold, that tell a build with `features`.
    probe: Option<(&'static [&'static str], &'static str)>,
}

const NODE: Target = Target {
    bin: "fedci-node",
    env: "FEDCI_NODE_BIN",
    crates: &["node", "client", "keys", "proto"],
    features: "fedci-node/test-hooks",
    probe: Some((&["run", "--help"], "--tamper-relay")),
};
const TESTNET: Target = Target {
    bin: "fedci-testnet",
    env: "FEDCI_TESTNET_BIN",
    crates: &["testnet", "node", "client", "keys", "proto"],
    // Its dependency on fedci-node already enables the node's test hooks.
    features: "",
    probe: None,
};

/// The `fedci-node` to launch.
pub fn fedci_node() -> Result<PathBuf, BinaryError> {
    static BIN: OnceLock<Result<PathBuf, BinaryError>> = OnceLock::new();
    BIN.get_or_init(|| locate(&NODE)).clone()
}

/// The `fedci-testnet` to launch (the tests run it as a user would).
pub fn fedci_testnet() -> Result<PathBuf, BinaryError> {
    static BIN: OnceLock<Result<PathBuf, BinaryError>> = OnceLock::new();
    BIN.get_or_init(|| locate(&TESTNET)).clone()
}

fn locate(t: &Target) -> Result<PathBuf, BinaryError> {
    if let Some(p) = std::env::var_os(t.env) {
        let path = PathBuf::from(p);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(BinaryError::BadOverride { env: t.env, path })
        };
    }
    let exe = std::env::current_exe().map_err(|e| BinaryError::NoExe(e.to_string()))?;
    // target/<profile>/deps/test-HASH (tests) or target/<profile>/fedci-testnet (cargo run).
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join(t.bin);
    let root = workspace_root();
    if let Some(cargo) = std::env::var_os("CARGO")
        && root.join("Cargo.toml").is_file()
        && is_stale(t, &bin, &root)
    {
        build(t, &cargo, &dir, &root)?;
    }
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(BinaryError::Missing {
            bin: t.bin,
            path: bin,
            env: t.env,
        })
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn stamp(bin: &Path) -> PathBuf {
    bin.with_extension("fedci-built")
}

/// True when the binary is missing, or a source of a crate it is built from is newer than the
/// binary and than our last build of it (a no-op build leaves the binary's mtime alone).
fn is_stale(t: &Target, bin: &Path, root: &Path) -> bool {
    if !bin.is_file() {
        return true;
    }
    let built = mtime(bin).max(mtime(&stamp(bin)));
    let mut newest = mtime(&root.join("Cargo.toml")).max(mtime(&root.join("Cargo.lock")));
    for krate in t.crates {
        newest = newest
            .max(mtime(&root.join(krate).join("Cargo.toml")))
            .max(newest_in(&root.join(krate).join("src")));
    }
    newest > built || !has_features(t, bin)
}

/// False when the binary answers its probe without the expected line (built without the
/// features the tests need).
fn has_features(t: &Target, bin: &Path) -> bool {
    let Some((args, line)) = t.probe else {
        return true;
    };
    Command::new(bin)
        .args(args)
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(line))
}

fn mtime(p: &Path) -> SystemTime {
    p.metadata()
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

fn newest_in(dir: &Path) -> SystemTime {
    let mut newest = SystemTime::UNIX_EPOCH;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return newest;
    };
    for e in entries.flatten() {
        let p = e.path();
        newest = newest.max(if p.is_dir() { newest_in(&p) } else { mtime(&p) });
    }
    newest
}

/// Variables cargo sets for the crate being built or run; none of them is the user's
/// configuration, and build scripts that watch them rebuild when they change.
fn is_per_crate_var(name: &str) -> bool {
    const EXACT: &[&str] = &[
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_MANIFEST_LINKS",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
        "OUT_DIR",
    ];
    const PREFIXES: &[&str] = &["CARGO_PKG_", "CARGO_BIN_EXE_", "CARGO_CFG_"];
    EXACT.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Builds `t` into the target dir and profile of `profile_dir`. Parallel test processes may all
/// get here; cargo's lock serialises them and the later ones are no-ops.
fn build(t: &Target, cargo: &OsString, profile_dir: &Path, root: &Path) -> Result<(), BinaryError> {
    let target_dir = profile_dir.parent().unwrap_or(profile_dir);
    let profile = profile_dir
        .file_name()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "-p", t.bin, "--bin", t.bin, "--target-dir"])
        .arg(target_dir);
    if !t.features.is_empty() {
        cmd.args(["--features", t.features]);
    }
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_per_crate_var) {
            cmd.env_remove(&name);
        }
    }
    eprintln!(
        "fedci-testnet: building {} ({profile} profile) with cargo; a first build compiles \
         the whole node and can take minutes",
        t.bin
    );
    let status = cmd.status().map_err(|e| BinaryError::Build {
        bin: t.bin,
        status: e.to_string(),
    })?;
    if !status.success() {
        return Err(BinaryError::Build {
            bin: t.bin,
            status: status.to_string(),
        });
    }
    // Cargo leaves an up-to-date binary's mtime alone: the stamp says we checked.
    let bin = profile_dir.join(t.bin);
    let _ = std::fs::write(stamp(&bin), b"built by fedci-testnet's binary finder\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_per_crate_var;

    #[test]
    fn only_per_crate_variables_are_dropped() {
        for v in [
            "CARGO_MANIFEST_DIR",
            "CARGO_PKG_NAME",
            "CARGO_PKG_VERSION_MAJOR",
            "OUT_DIR",
        ] {
            assert!(is_per_crate_var(v), "{v}");
        }
        for v in [
            "CARGO",
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_PROFILE_RELEASE_DEBUG",
            "PATH",
        ] {
            assert!(!is_per_crate_var(v), "{v}");
        }
    }
}
