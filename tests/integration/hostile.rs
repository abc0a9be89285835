//! Attacks by a hostile libp2p peer ([`Hostile`]) on real nodes: forged copies raced ahead of
//! genuine events, offers of forged events, fetch floods and sybil connections. Each test
//! asserts what an operator would check: the genuine events still arrive, the attacker is
//! penalised, the node's memory and connections stay bounded.

use fedci_tests::hostile::{Hostile, flip_signature_bit};
use fedci_tests::mesh::{MESH_TIMEOUT, artifact_probe, poll_until, wait_connected, warm_up};
use fedci_tests::{Node, wait_until};
use serde_json::json;
use std::time::{Duration, Instant};

/// `network` in status is a snapshot refreshed every 2 s: counters and scores lag that much.
const SNAPSHOT: Duration = Duration::from_secs(10);
/// The longest a genuine event may take to arrive by gossip.
const GOSSIP_DELIVERY: Duration = Duration::from_secs(1);

/// odl and opnfv pinning each other, connected, gossip proven to flow from odl to opnfv, with
/// catch-up rounds only on connect (a huge interval), so what arrives later came by gossip.
fn pair() -> (Node, Node) {
    let mut odl = Node::new();
    let mut opnfv = Node::new();
    odl.init("odl");
    opnfv.init("opnfv");
    odl.trust(&opnfv);
    opnfv.trust(&odl);
    for n in [&odl, &opnfv] {
        n.set_config("sync_interval_secs", "1000000");
    }
    odl.start();
    let odl_addr = odl.listen_addr();
    opnfv.start_with(&["--peer", &odl_addr]);
    wait_connected(&odl, &[&opnfv], MESH_TIMEOUT);
    wait_connected(&opnfv, &[&odl], MESH_TIMEOUT);
    warm_up(&odl, &[&opnfv], artifact_probe, MESH_TIMEOUT);
    (odl, opnfv)
}

/// A second odl node key, authorised by odl's root (roster serial 2), running without any
/// network: it signs events that exist nowhere else until a test hands them out.
fn offline_signer(odl: &Node, others: &[&Node]) -> Node {
    let mut x = Node::new();
    x.init_joining(odl);
    x.set_config("listen", "[]");
    x.start();
    odl.cli_ok(&["roster", "add", &x.node_key()]);
    let rosters = odl.query_all("kind=trust.roster&community=odl");
    let newest = rosters.last().expect("odl holds rosters");
    let id = newest["id"].as_str().expect("roster id");
    let r = x.post_raw(&odl.raw(id));
    assert_eq!(
        r.status, 201,
        "the signer takes odl's roster serial 2: {r:?}"
    );
    for n in others.iter().copied().chain([&x]) {
        n.wait_for_roster_serial("odl", 2, MESH_TIMEOUT);
    }
    x
}

/// `network.peers[peer].score` as seen by `node` (None if not connected).
fn score(node: &Node, peer: &str) -> Option<f64> {
    node.peer_info(peer).and_then(|p| p["score"].as_f64())
}

#[test]
fn forged_copies_sent_first_do_not_block_the_genuine_events() {
    let (odl, opnfv) = pair();
    let signer = offline_signer(&odl, &[&opnfv]);
    // The genuine events, signed but not yet on the network.
    let genuine: Vec<(String, Vec<u8>)> = (0..3)
        .map(|i| {
            let data = json!({"identity": format!("pkg:generic/front-run@{i}")});
            let id = signer.publish("artifact.created", data, &[]);
            let raw = signer.raw(&id);
            (id, raw)
        })
        .collect();

    let mut hostile = Hostile::start();
    hostile.dial(&opnfv.listen_addr());
    let odl_peer = odl.peer_id();
    let mut before = None;
    wait_until(SNAPSHOT, "opnfv to report odl's score", || {
        before = score(&opnfv, &odl_peer);
        before.is_some()
    });
    let before = before.unwrap_or_default();

    let accepted = opnfv.gossip_counter("accepted");
    let mut delivery = Vec::new();
    for (id, raw) in &genuine {
        assert!(
            !opnfv.has_event(id),
            "opnfv holds {id} before it was published"
        );
        // The forged copy (same event id, broken signature) reaches opnfv first and is rejected.
        let rejected = opnfv.gossip_counter("rejected");
        hostile.publish("fedci/1/odl/artifact", &flip_signature_bit(raw));
        wait_until(SNAPSHOT, "opnfv to reject the forged copy", || {
            opnfv.gossip_counter("rejected") > rejected
        });
        // Then the genuine event is published, and must come through by gossip at once.
        let published = Instant::now();
        let r = odl.post_raw(raw);
        assert_eq!(r.status, 201, "odl takes the genuine event: {r:?}");
        let arrived = poll_until(GOSSIP_DELIVERY, || opnfv.has_event(id));
        let took = published.elapsed();
        assert!(
            arrived,
            "the genuine event {id} did not reach opnfv by gossip within {GOSSIP_DELIVERY:?} \
             of its publish after a forged copy went first; opnfv network: {}",
            opnfv.network()
        );
        delivery.push(took);
    }
    eprintln!("genuine events delivered by gossip after forged copies in {delivery:?}");

    // Gossip (not catch-up) delivered them, and the snapshot that says so is also recent
    // enough to show odl's score after the attack: odl relayed only genuine events.
    let n = genuine.len() as u64;
    wait_until(
        SNAPSHOT,
        "opnfv to count the genuine events as gossip accepted",
        || opnfv.gossip_counter("accepted") >= accepted + n,
    );
    let after = score(&opnfv, &odl_peer).expect("odl still connected to opnfv");
    assert!(
        after >= before,
        "odl's score at opnfv dropped from {before} to {after} for relaying genuine events"
    );
    let penalised = opnfv
        .peer_info(hostile.peer_id())
        .is_some_and(|p| p["rejected"].as_u64().unwrap_or(0) > 0)
        || fedci_tests::net::banned_peers(&opnfv).contains(&hostile.peer_id().to_owned());
    assert!(
        penalised,
        "the forger is not penalised: {}",
        opnfv.network()
    );
}
