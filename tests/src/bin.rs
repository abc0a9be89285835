//! Finds the `fedci-node` binary. `CARGO_BIN_EXE_*` only exists inside the binary's own package,
//! so we look next to the test executable, and build it when it is missing or older than its
//! sources: `cargo test`/`nextest` build another package's binaries only when that package has
//! integration tests of its own, so a clean `cargo nextest run --workspace` may not have it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::SystemTime;

/// Path of the `fedci-node` binary to test; `FEDCI_NODE_BIN` overrides the lookup.
pub fn node_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(locate)
}

fn locate() -> PathBuf {
    if let Some(p) = std::env::var_os("FEDCI_NODE_BIN") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "FEDCI_NODE_BIN={} is not a file", p.display());
        return p;
    }
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/integration-HASH → target/<profile>/fedci-node
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable is not under target/<profile>/deps")
        .to_path_buf();
    let bin = profile_dir.join("fedci-node");
    let stamp = profile_dir.join(".fedci-tests-node-build");
    let root = workspace_root();
    if !bin.is_file() || is_stale(&[&bin, &stamp], &root) {
        build(&profile_dir, &root);
        // A no-op build leaves the binary's mtime alone; the stamp keeps the next test process
        // from running cargo again.
        std::fs::write(&stamp, b"fedci-node built by fedci-tests\n").expect("writing build stamp");
    }
    assert!(
        bin.is_file(),
        "fedci-node binary not found at {}: build it with `cargo build -p fedci-node` \
         or run `cargo nextest run --workspace`",
        bin.display()
    );
    bin
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// True when a source of the node or a crate it depends on is newer than the binary (or than
/// our last build of it).
fn is_stale(built_marks: &[&Path], root: &Path) -> bool {
    let built = built_marks
        .iter()
        .map(|p| mtime(p))
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let mut newest = SystemTime::UNIX_EPOCH;
    for p in ["Cargo.toml", "Cargo.lock"] {
        newest = newest.max(mtime(&root.join(p)));
    }
    for krate in ["node", "proto", "keys"] {
        newest = newest.max(mtime(&root.join(krate).join("Cargo.toml")));
        newest = newest.max(newest_in(&root.join(krate).join("src")));
    }
    newest > built
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
        if p.is_dir() {
            newest = newest.max(newest_in(&p));
        } else {
            newest = newest.max(mtime(&p));
        }
    }
    newest
}

/// Builds the node into the same target dir and profile as this test binary. Parallel test
/// processes may all get here; cargo's own lock serialises them and the later ones are no-ops.
fn build(profile_dir: &Path, root: &Path) {
    let target_dir = profile_dir.parent().expect("target dir");
    let profile = profile_dir
        .file_name()
        .expect("profile dir name")
        .to_string_lossy()
        .into_owned();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "-p", "fedci-node", "--target-dir"])
        .arg(target_dir);
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    eprintln!("fedci-tests: fedci-node is missing or older than its sources; running {cmd:?}");
    let out = cmd.output().expect("running cargo build -p fedci-node");
    assert!(
        out.status.success(),
        "cargo build -p fedci-node failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `fedci-testnet` binary next to this test executable, brought up to date with cargo:
/// another package's binaries are built for `cargo nextest run --workspace` only when that
/// package has integration tests of its own, which fedci-testnet has not.
pub fn testnet_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test executable is not under target/<profile>/deps");
        let bin = profile_dir.join("fedci-testnet");
        let target_dir = profile_dir.parent().expect("target dir");
        let profile = profile_dir
            .file_name()
            .expect("profile dir name")
            .to_string_lossy();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "build",
                "--quiet",
                "-p",
                "fedci-testnet",
                "--bin",
                "fedci-testnet",
            ])
            .arg("--target-dir")
            .arg(target_dir);
        match profile.as_ref() {
            "debug" => {}
            "release" => {
                cmd.arg("--release");
            }
            other => {
                cmd.args(["--profile", other]);
            }
        }
        match cmd.output() {
            Ok(out) if out.status.success() => {}
            // Without cargo (the test binary run by hand), a binary already built will do.
            _ if bin.is_file() => {}
            Ok(out) => panic!(
                "cargo build -p fedci-testnet failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Err(e) => panic!("running cargo to build fedci-testnet: {e}"),
        }
        bin
    })
}
