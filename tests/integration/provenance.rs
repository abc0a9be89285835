//! Evidence bundles end to end: the reference chain (ODL artifact → OPNFV baseline → OPNFV
//! confidence → ODL stamp) built on two real nodes, exported on ODL's node, verified offline by
//! `fedci-node verify` with only the two root keys (no home, no node) and by an independent
//! COSE implementation (Python cbor2 + cryptography); then each way to break it is refused
//! with the guilty event named, and retire/revoke take effect on old and new exports.

use fedci_proto::Event;
use fedci_tests::mesh::{MESH_TIMEOUT, wait_connected};
use fedci_tests::net::sync_rounds;
use fedci_tests::{Node, node_bin};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const GOSSIP: Duration = Duration::from_secs(30);

pub(crate) struct Federation {
    pub(crate) odl: Node,
    pub(crate) opnfv: Node,
}

pub(crate) struct Chain {
    pub(crate) artifact: String,
    pub(crate) baseline: String,
    pub(crate) confidence: String,
    pub(crate) stamp: String,
}

/// ODL and OPNFV nodes that pin each other, connected. ODL's node runs with `odl_args`.
pub(crate) fn federation_with(odl_args: &[&str]) -> Federation {
    let mut odl = Node::new();
    let mut opnfv = Node::new();
    odl.init("odl");
    opnfv.init("opnfv");
    odl.trust(&opnfv);
    opnfv.trust(&odl);
    odl.start_with(odl_args);
    opnfv.start_with(&["--peer", &odl.listen_addr()]);
    wait_connected(&odl, &[&opnfv], MESH_TIMEOUT);
    wait_connected(&opnfv, &[&odl], MESH_TIMEOUT);
    Federation { odl, opnfv }
}

fn federation() -> Federation {
    federation_with(&[])
}

/// Each step on the node of the community that speaks, after it has seen the step before.
pub(crate) fn reference_chain(f: &Federation) -> Chain {
    let artifact = f.odl.publish(
        "artifact.created",
        json!({"identity": "pkg:maven/org.opendaylight/karaf@0.8.3", "name": "karaf", "version": "0.8.3"}),
        &[],
    );
    f.opnfv.wait_for_event(&artifact, GOSSIP);
    let baseline = f.opnfv.publish(
        "composition.defined",
        json!({"name": "os-odl-nofeature", "scenario": "os-odl-nofeature"}),
        &[("ELEMENT", &artifact)],
    );
    let confidence = f.opnfv.publish(
        "confidence.modified",
        json!({"name": "opnfvAcceptance", "value": "SUCCESS", "issuer": "opnfv"}),
        &[("SUBJECT", &baseline)],
    );
    f.odl.wait_for_event(&baseline, GOSSIP);
    f.odl.wait_for_event(&confidence, GOSSIP);
    let stamp = f.odl.publish(
        "confidence.modified",
        json!({"name": "opnfvAcceptance", "value": "SUCCESS", "issuer": "odl"}),
        &[("SUBJECT", &artifact), ("CONFIDENCE_BASIS", &confidence)],
    );
    Chain {
        artifact,
        baseline,
        confidence,
        stamp,
    }
}

fn short(id: &str) -> &str {
    &id[..12]
}

fn root_arg(node: &Node) -> String {
    format!(
        "{}=@{}",
        node.community(),
        node.home().join("root.pub").display()
    )
}

fn export(node: &Node, id: &str, out: &Path) -> Vec<u8> {
    let path = out.display().to_string();
    node.cli_ok(&["export", id, "--up", "--out", &path]);
    std::fs::read(out).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// `fedci-node verify` with no home at all: no --home, no FEDCI_HOME, an empty XDG dir.
fn verify(bundle: &Path, roots: &[String], extra: &[&str]) -> Output {
    let empty = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(node_bin());
    cmd.arg("verify")
        .arg(bundle)
        .env_remove("FEDCI_HOME")
        .env("XDG_DATA_HOME", empty.path())
        .env("HOME", empty.path());
    for r in roots {
        cmd.args(["--root", r]);
    }
    cmd.args(extra).output().expect("running fedci-node verify")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Asserts the verify run failed with exit 1 and a REFUSED line for each of `ids`, each
/// line holding `why`, and no other REFUSED line.
fn assert_refused(o: &Output, ids: &[&str], why: &str) {
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{}", text(o));
    let refused: Vec<&str> = out.lines().filter(|l| l.starts_with("REFUSED")).collect();
    assert_eq!(refused.len(), ids.len(), "{}", text(o));
    for id in ids {
        let line = refused
            .iter()
            .find(|l| l.contains(short(id)))
            .unwrap_or_else(|| panic!("no REFUSED line names {}: {}", short(id), text(o)));
        assert!(line.contains(why), "{line:?} does not say {why:?}");
    }
}

fn items(bundle: &[u8]) -> Vec<Event> {
    fedci_keys::bundle::split(bundle)
        .expect("bundle splits")
        .into_iter()
        .map(|b| Event::decode(b).expect("bundle item decodes"))
        .collect()
}

fn write_items(path: &Path, events: &[&Event]) {
    let raws: Vec<&[u8]> = events.iter().map(|e| e.raw()).collect();
    std::fs::write(path, fedci_keys::bundle::write(&raws)).expect("writing bundle");
}

/// Runs the independent checker over every item; fails clearly if its libraries are missing.
fn python_check(bundle: &Path, roots: &[(&str, String)]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/verify_bundle.py");
    let probe = Command::new("python3")
        .args(["-c", "import cbor2, cryptography"])
        .output();
    match probe {
        Ok(o) if o.status.success() => {}
        other => panic!(
            "the independent COSE check needs python3 with cbor2 and cryptography \
             (pip install cbor2 cryptography; .ci/run installs them): {other:?}"
        ),
    }
    let mut cmd = Command::new("python3");
    cmd.arg(&script).arg(bundle);
    for (c, k) in roots {
        cmd.arg(format!("{c}={k}"));
    }
    let o = cmd.output().expect("running python3");
    assert!(
        o.status.success(),
        "independent COSE check failed: {}",
        text(&o)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_reference_chain_verifies_offline_and_every_break_is_named() {
    let f = federation();
    let c = reference_chain(&f);
    let dir = tempfile::tempdir().expect("temp dir");
    let bundle_path: PathBuf = dir.path().join("chain.cbor");
    let bundle = export(&f.odl, &c.stamp, &bundle_path);
    let roots = [root_arg(&f.odl), root_arg(&f.opnfv)];

    // The bundle: both communities' rosters, then the four events, exact stored bytes.
    let evs = items(&bundle);
    let ids: Vec<String> = evs.iter().map(|e| e.id().to_hex()).collect();
    for id in [&c.artifact, &c.baseline, &c.confidence, &c.stamp] {
        assert!(ids.contains(id), "bundle lacks {id}: {ids:?}");
        let e = evs.iter().find(|e| &e.id().to_hex() == id).expect("held");
        assert_eq!(
            e.raw(),
            f.odl.raw(id),
            "bundle bytes of {id} differ from the store's"
        );
    }
    assert_eq!(
        evs.iter().filter(|e| e.kind() == "trust.roster").count(),
        2,
        "{ids:?}"
    );

    // Offline, with only the two roots.
    let o = verify(&bundle_path, &roots, &[]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("VERIFIED 4 events, 2 rosters"), "{out}");
    for (id, what) in [
        (&c.stamp, "confidence.modified odl"),
        (&c.confidence, "confidence.modified opnfv"),
        (&c.baseline, "composition.defined opnfv"),
        (&c.artifact, "artifact.created odl"),
    ] {
        let line = out
            .lines()
            .find(|l| l.contains(short(id)))
            .unwrap_or_else(|| panic!("tree does not show {id}: {out}"));
        assert!(line.contains(what) && line.contains("roster #1"), "{line}");
    }
    let o = verify(&bundle_path, &roots, &["--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).expect("--json prints JSON");
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["events"].as_array().map(Vec::len), Some(4), "{v}");

    // The same items, checked by a COSE implementation that shares no code with fedci.
    let py = python_check(
        &bundle_path,
        &[("odl", f.odl.root_pub()), ("opnfv", f.opnfv.root_pub())],
    );
    for id in &ids {
        assert!(
            py.contains(&format!("OK {id}")),
            "python did not verify {id}: {py}"
        );
    }

    // A flipped signature byte: the stamp's signature ends its COSE bytes.
    let stamp_raw = f.odl.raw(&c.stamp);
    let at = bundle
        .windows(stamp_raw.len())
        .position(|w| w == stamp_raw.as_slice())
        .expect("stamp bytes in bundle")
        + stamp_raw.len()
        - 1;
    let mut flipped = bundle.clone();
    flipped[at] ^= 0x01;
    let p = dir.path().join("flipped.cbor");
    std::fs::write(&p, &flipped).expect("write");
    assert_refused(&verify(&p, &roots, &[]), &[&c.stamp], "signature");

    // Without opnfv's rosters, opnfv's events cannot be judged.
    let p = dir.path().join("no-opnfv-rosters.cbor");
    let kept: Vec<&Event> = evs
        .iter()
        .filter(|e| !(e.kind() == "trust.roster" && e.community() == "opnfv"))
        .collect();
    write_items(&p, &kept);
    assert_refused(
        &verify(&p, &roots, &[]),
        &[&c.baseline, &c.confidence],
        "no roster of opnfv",
    );

    // A wrong root for opnfv (odl's): opnfv's roster and events are refused.
    let opnfv_roster = evs
        .iter()
        .find(|e| e.kind() == "trust.roster" && e.community() == "opnfv")
        .expect("opnfv roster")
        .id()
        .to_hex();
    let wrong = [
        root_arg(&f.odl),
        format!("opnfv=@{}", f.odl.home().join("root.pub").display()),
    ];
    let o = verify(&bundle_path, &wrong, &[]);
    assert_refused(&o, &[&opnfv_roster, &c.baseline, &c.confidence], "");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("not signed by the root given for opnfv"),
        "{}",
        text(&o)
    );

    // No root for opnfv at all: unverified is a failure.
    assert_refused(
        &verify(&bundle_path, &[root_arg(&f.odl)], &[]),
        &[&opnfv_roster, &c.baseline, &c.confidence],
        "no root given for community opnfv",
    );
}

#[test]
fn retire_keeps_old_and_new_exports_valid_and_revoke_refuses_later_events_everywhere() {
    let f = federation();
    let c = reference_chain(&f);
    let dir = tempfile::tempdir().expect("temp dir");
    let roots = [root_arg(&f.odl), root_arg(&f.opnfv)];
    let old = dir.path().join("before.cbor");
    export(&f.odl, &c.stamp, &old);
    let odl_key = f.odl.status()["node_key"]
        .as_str()
        .expect("node_key")
        .to_owned();

    // Retire ODL's signing key after the events: the old bundle and a new export verify.
    f.odl.cli_ok(&["roster", "retire", &odl_key]);
    let retired = dir.path().join("retired.cbor");
    let bundle = export(&f.odl, &c.stamp, &retired);
    assert_eq!(
        items(&bundle)
            .iter()
            .filter(|e| e.kind() == "trust.roster" && e.community() == "odl")
            .count(),
        2,
        "the new export carries odl's whole roster chain"
    );
    for p in [&old, &retired] {
        let o = verify(p, &roots, &[]);
        assert!(o.status.success(), "{}: {}", p.display(), text(&o));
    }
    // A retired key publishes no more.
    let r = f.odl.post_json(
        "/v1/events",
        &json!({"kind": "artifact.created", "data": {"identity": "pkg:generic/late@1"}}),
    );
    assert_eq!(r.status, 403, "retired key published: {r:?}");

    // Revoke it since the stamp's time: the stamp is refused, the artifact before it kept.
    let since = f.odl.event(&c.stamp)["time"]
        .as_u64()
        .expect("stamp time")
        .to_string();
    f.odl
        .cli_ok(&["roster", "revoke", &odl_key, "--since", &since]);
    let revoked = dir.path().join("revoked.cbor");
    export(&f.odl, &c.stamp, &revoked);
    assert_refused(&verify(&revoked, &roots, &[]), &[&c.stamp], "revoked");

    // On both nodes the stored stamp stops being served as trusted; status counts it.
    f.opnfv.wait_for_event(&c.stamp, GOSSIP);
    for node in [&f.odl, &f.opnfv] {
        node.wait_for_roster_serial("odl", 3, GOSSIP);
        let stamp = node.event(&c.stamp);
        assert_eq!(stamp["trusted"], false, "{}: {stamp}", node.community());
        assert_eq!(stamp["untrusted_reason"]["code"], "revoked", "{stamp}");
        assert_eq!(node.event(&c.artifact)["trusted"], true);
        // Each node records when it stored the event, by its own clock, beside the author's.
        let arrived = stamp["arrived_at"].as_u64().expect("arrived_at");
        assert!(arrived >= stamp["time"].as_u64().expect("time"), "{stamp}");
        let listed: Vec<String> = node
            .query_all("kind=confidence.modified&community=odl")
            .iter()
            .filter_map(|e| e["id"].as_str().map(String::from))
            .collect();
        assert!(
            !listed.contains(&c.stamp),
            "{} lists the revoked stamp",
            node.community()
        );
        assert_eq!(node.status()["untrusted_events"], 1, "{}", node.community());
        let trace = node.get_json(&format!("/v1/trace/{}?direction=up", c.stamp));
        let n = trace["nodes"]
            .as_array()
            .and_then(|ns| ns.iter().find(|n| n["id"] == c.stamp.as_str()).cloned())
            .expect("trace shows the stamp");
        assert_eq!(n["trusted"], false, "{n}");
    }

    // A node that joins later catches up the artifact, but nobody hands it the revoked stamp.
    let mut late = Node::new();
    late.init("late");
    late.trust(&f.odl);
    late.trust(&f.opnfv);
    late.set_config("sync_interval_secs", "1");
    late.start_with(&[
        "--peer",
        &f.odl.listen_addr(),
        "--peer",
        &f.opnfv.listen_addr(),
    ]);
    late.wait_for_event(&c.artifact, GOSSIP);
    late.wait_for_event(&c.confidence, GOSSIP);
    let (odl_peer, opnfv_peer) = (f.odl.peer_id(), f.opnfv.peer_id());
    fedci_tests::wait_until(GOSSIP, "three catch-up rounds with odl and opnfv", || {
        sync_rounds(&late, &odl_peer) >= 3 && sync_rounds(&late, &opnfv_peer) >= 3
    });
    assert!(
        !late.has_event(&c.stamp),
        "a revoked event was handed to a new node"
    );
    assert_eq!(
        late.rejected_count("revoked"),
        0,
        "revoked events were offered"
    );
}

#[test]
fn events_of_a_re_pinned_community_stop_being_served_as_trusted_until_pinned_back() {
    let f = federation();
    let artifact = f.opnfv.publish(
        "artifact.created",
        json!({"identity": "pkg:generic/opnfv-tool@1"}),
        &[],
    );
    f.odl.wait_for_event(&artifact, GOSSIP);
    let held = f.odl.query_all("community=opnfv").len();
    assert!(held >= 2, "odl holds opnfv's roster and artifact: {held}");
    assert_eq!(f.odl.status()["untrusted_events"], 0);

    // Someone re-pins opnfv to another root: what the old root authorised is no longer trusted.
    let mut other = Node::new();
    other.init("opnfv");
    f.odl.trust(&other);
    let e = f.odl.event(&artifact);
    assert_eq!(e["trusted"], false, "{e}");
    assert_eq!(e["untrusted_reason"]["code"], "no_roster", "{e}");
    assert!(
        f.odl.query_all("community=opnfv").is_empty(),
        "events of the old root are still listed"
    );
    assert_eq!(f.odl.status()["untrusted_events"], held as u64);

    // Pinned back: the stored rosters and events are trusted again, nothing was lost.
    f.odl.trust(&f.opnfv);
    assert_eq!(f.odl.event(&artifact)["trusted"], true);
    assert_eq!(f.odl.query_all("community=opnfv").len(), held);
    assert_eq!(f.odl.status()["untrusted_events"], 0);
}
