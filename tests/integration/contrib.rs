//! The operator files of contrib/: the systemd unit passes `systemd-analyze verify` with no
//! warning (an unknown or misspelt key is only a warning there, so any output fails), and
//! keeps its hardening; the Dockerfile stays multi-stage and non-root. The example
//! config.toml is checked by the node's own loader (node/src/config.rs).

use fedci_tests::{node_bin, require_program};
use std::path::Path;
use std::process::Command;

fn contrib(path: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../contrib")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn systemd_unit_verifies_cleanly_and_is_hardened() {
    require_program("systemd-analyze", "systemd");
    let unit = contrib("systemd/fedci-node.service");
    for line in [
        "User=fedci",
        "StateDirectory=fedci",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "Environment=FEDCI_HOME=/var/lib/fedci",
        "ExecStart=/usr/local/bin/fedci-node run",
    ] {
        assert!(unit.lines().any(|l| l == line), "the unit lacks {line}");
    }
    // verify checks that ExecStart's program exists: point it at the binary under test.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fedci-node.service");
    let unit = unit.replace(
        "/usr/local/bin/fedci-node",
        &node_bin().display().to_string(),
    );
    std::fs::write(&path, unit).expect("writing the unit");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("running systemd-analyze");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "systemd-analyze verify failed: {said}"
    );
    assert!(
        said.trim().is_empty(),
        "systemd-analyze verify warned: {said}"
    );
}

#[test]
fn dockerfile_is_multi_stage_and_non_root() {
    let d = contrib("docker/Dockerfile");
    let froms = d.lines().filter(|l| l.starts_with("FROM ")).count();
    assert!(froms >= 2, "multi-stage: {froms} FROM lines");
    let user = d
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert!(!user.contains("root") && !user.contains(" 0"), "{user}");
    assert!(
        d.contains("VOLUME [\"/var/lib/fedci\"]"),
        "the home is a volume"
    );
    assert!(d.contains("ENV FEDCI_HOME=/var/lib/fedci"));
}
