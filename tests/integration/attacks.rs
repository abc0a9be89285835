//! Resource attacks by a hostile libp2p peer ([`Hostile`]) on real nodes: forged and
//! duplicate offers (penalties, bans, no commits), events refused for what they say (not
//! fetched again), fetch floods (memory stays bounded) and sybil connections (capped, repair
//! keeps working with the honest peer).

use fedci_tests::hostile::{Hostile, flip_signature_bit};
use fedci_tests::mesh::{MESH_TIMEOUT, poll_until, wait_connected};
use fedci_tests::net::{Planned, banned_peers, publish_concurrently, sync_rounds, sync_stats};
use fedci_tests::{Node, wait_until};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// `network` in status is a snapshot refreshed every 2 s: counters lag that much.
const SNAPSHOT: Duration = Duration::from_secs(10);

/// A running odl node holding `n` of its own events; returns it and their raw bytes.
fn odl_with_events(n: usize) -> (Node, Vec<Vec<u8>>) {
    let odl = Node::started("odl");
    let raws = (0..n)
        .map(|i| {
            let id = odl.publish(
                "artifact.created",
                json!({"identity": format!("pkg:generic/offered@{i}")}),
                &[],
            );
            odl.raw(&id)
        })
        .collect();
    (odl, raws)
}

#[test]
fn offers_of_duplicates_cost_no_commit_and_forged_offers_get_the_peer_banned() {
    let (odl, genuine) = odl_with_events(8);
    let odl_peer = odl.peer_id();
    let mut hostile = Hostile::start();
    hostile.dial(&odl.listen_addr());
    let commits = odl.metric("fedci_store_commits_total");

    // Copies of events odl holds: every one a duplicate, so no batch changes anything.
    for _ in 0..20 {
        let answer = hostile.offer(&odl_peer, &genuine);
        assert_eq!(answer, "offer taken 0", "offering held events");
    }
    assert_eq!(
        odl.metric("fedci_store_commits_total"),
        commits,
        "offers of events odl already holds made it commit"
    );

    // Forged copies (broken signatures): penalised, then disconnected and banned.
    let forged: Vec<Vec<u8>> = genuine.iter().map(|r| flip_signature_bit(r)).collect();
    let mut offers = 0;
    let banned = poll_until(Duration::from_secs(60), || {
        offers += 1;
        let answer = hostile.offer(&odl_peer, &forged);
        assert!(
            answer == "offer taken 0" || answer.starts_with("offer failed"),
            "forged offer answered {answer:?}"
        );
        odl.metric("fedci_peers_banned_total") > 0
    });
    assert!(
        banned,
        "odl never banned a peer after {offers} offers of forged events; network {}",
        odl.network()
    );
    eprintln!("banned after {offers} forged offers");
    wait_until(SNAPSHOT, "odl to list the forger as banned", || {
        banned_peers(&odl).contains(&hostile.peer_id().to_owned())
    });
    assert!(
        !odl.connected_peers()
            .contains(&hostile.peer_id().to_owned()),
        "the banned forger is still connected"
    );
    // While banned it cannot get through again.
    let answer = hostile.offer(&odl_peer, &forged);
    assert!(
        answer.starts_with("offer failed"),
        "a banned peer's offer was answered: {answer:?}"
    );
    assert_eq!(
        odl.metric("fedci_store_commits_total"),
        commits,
        "refused offers made odl commit"
    );
    assert!(odl.rejected_count("bad_signature") > 0, "{}", odl.status());
}

#[test]
fn events_refused_for_what_they_say_are_not_fetched_every_round() {
    // opnfv pins odl's real root, which has not authorised the impostor that also calls itself
    // odl: every round with the impostor reconciles its events, which opnfv refuses.
    let mut real = Node::new();
    real.init("odl");
    let mut impostor = Node::new();
    impostor.init("odl");
    let mut opnfv = Node::new();
    opnfv.init("opnfv");
    opnfv.trust(&real);
    opnfv.set_config("sync_interval_secs", "1");
    impostor.start();
    let items: Vec<Planned> = (0..30)
        .map(|i| Planned {
            kind: "artifact.created",
            data: json!({"identity": format!("pkg:generic/impostor@{i}")}),
            links: Vec::new(),
        })
        .collect();
    let published = publish_concurrently(&impostor, &items, &[], 4);
    opnfv.start_with(&["--peer", &impostor.listen_addr()]);
    wait_connected(&opnfv, &[&impostor], MESH_TIMEOUT);
    let peer = impostor.peer_id();

    // After the first rounds, later rounds fetch nothing: the refused ids are remembered.
    wait_until(
        MESH_TIMEOUT,
        "opnfv to run two rounds with the impostor",
        || sync_rounds(&opnfv, &peer) >= 2,
    );
    let first = sync_stats(&opnfv, &peer).expect("sync stats");
    let rounds = first["rounds"].as_u64().unwrap_or(0);
    wait_until(Duration::from_secs(60), "three more rounds", || {
        sync_rounds(&opnfv, &peer) >= rounds + 3
    });
    let later = sync_stats(&opnfv, &peer).expect("sync stats");
    let last = &later["last_round"];
    assert!(
        last["need"].as_u64().unwrap_or(0) >= published.len() as u64,
        "the impostor's events no longer differ, so the test proves nothing: {last}"
    );
    assert_eq!(
        last["received"], 0,
        "opnfv fetched refused events again: {later}"
    );
    for id in &published {
        assert!(!opnfv.has_event(id), "opnfv stored the impostor's {id}");
    }
    assert!(opnfv.metric("fedci_refused_ids") >= published.len() as u64);
}

/// A running odl node that stores `x-test.*` events, holding `n` of ~60 KB each; returns it
/// and their ids.
fn odl_with_large_events(n: usize) -> (Node, Vec<String>) {
    let mut odl = Node::new();
    odl.init("odl");
    odl.set_config(
        "interests",
        r#"[{ community = "odl", kinds = ["x-test.*"] }]"#,
    );
    odl.start();
    let blob = "x".repeat(60_000);
    let items: Vec<Planned> = (0..n)
        .map(|i| Planned {
            kind: "x-test.blob",
            data: json!({"n": i, "blob": blob}),
            links: Vec::new(),
        })
        .collect();
    let ids = publish_concurrently(&odl, &items, &[], 4);
    (odl, ids)
}

#[test]
fn short_fetch_answers_are_paged_not_penalised() {
    // 80 events of ~60 KB: a fetch page of them is answered in several ~1 MiB parts.
    let (odl, ids) = odl_with_large_events(80);
    let mut opnfv = Node::new();
    opnfv.init("opnfv");
    opnfv.set_config(
        "interests",
        r#"[{ community = "odl", kinds = ["x-test.*"] }]"#,
    );
    opnfv.trust(&odl);
    odl.trust(&opnfv);
    opnfv.start_with(&["--peer", &odl.listen_addr()]);
    let peer = odl.peer_id();
    let mut missing = ids.len();
    let complete = poll_until(Duration::from_secs(60), || {
        missing = ids.iter().filter(|id| !opnfv.has_event(id)).count();
        missing == 0
    });
    assert!(
        complete,
        "opnfv lacks {missing} of odl's {} large events after catch-up; network {}",
        ids.len(),
        opnfv.network()
    );
    let info = opnfv.peer_info(&peer).expect("odl connected to opnfv");
    assert_eq!(
        info["rejected"], 0,
        "odl was penalised for short answers: {info}"
    );
}

#[test]
fn a_fetch_flood_for_large_events_keeps_memory_bounded() {
    const LIMIT_KIB: u64 = 256 * 1024;
    let (odl, ids) = odl_with_large_events(300);
    let mut hostile = Hostile::start();
    hostile.dial(&odl.listen_addr());
    let before = odl.rss_kib();

    let peak = AtomicU64::new(before);
    let done = AtomicBool::new(false);
    let (answered, publish_took) = std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(odl.rss_kib(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let publisher = s.spawn(|| {
            std::thread::sleep(Duration::from_secs(2));
            let t = Instant::now();
            odl.publish(
                "artifact.created",
                json!({"identity": "pkg:generic/during-flood"}),
                &[],
            );
            t.elapsed()
        });
        let peer = odl.peer_id();
        let (ok, failed, events, bytes) =
            hostile.fetch_flood(&peer, &ids, 200, 64, Duration::from_secs(600));
        done.store(true, Ordering::Relaxed);
        eprintln!("fetch flood: {ok} answered, {failed} failed, {events} events, {bytes} bytes");
        (ok, publisher.join().expect("publisher thread"))
    });
    let peak = peak.load(Ordering::Relaxed);
    eprintln!(
        "odl RSS before the flood {} MiB, peak during it {} MiB; a publish during it took {publish_took:?}",
        before / 1024,
        peak / 1024
    );
    assert!(answered > 0, "the node answered none of the fetches");
    assert!(
        peak < LIMIT_KIB,
        "odl's RSS reached {} MiB under a fetch flood (limit {} MiB)",
        peak / 1024,
        LIMIT_KIB / 1024
    );
    assert!(
        publish_took < Duration::from_secs(30),
        "a publish during the flood took {publish_took:?}"
    );
}

#[test]
fn sybil_connections_are_capped_and_the_honest_peer_keeps_syncing() {
    let mut odl = Node::new();
    let mut opnfv = Node::new();
    odl.init("odl");
    opnfv.init("opnfv");
    odl.trust(&opnfv);
    opnfv.trust(&odl);
    odl.set_config("sync_interval_secs", "1");
    odl.start();
    let odl_addr = odl.listen_addr();
    opnfv.start_with(&["--peer", &odl_addr]);
    wait_connected(&odl, &[&opnfv], MESH_TIMEOUT);
    let opnfv_peer = opnfv.peer_id();

    let mut hostile = Hostile::start();
    let established = hostile.sybils(&odl_addr, 400);
    let peers = odl.connected_peers();
    eprintln!(
        "400 sybils: {established} handshakes completed, odl keeps {} connected peers",
        peers.len()
    );
    assert!(
        peers.len() <= 32,
        "odl keeps {} peers after 400 sybil connections (per-IP cap 32)",
        peers.len()
    );
    assert!(peers.contains(&opnfv_peer), "the honest peer was dropped");
    // The node counts a refusal when it closes the connection, which may trail the sybil's
    // own view of the attempt under load.
    wait_until(
        Duration::from_secs(20),
        "odl to count the refused sybil connections",
        || odl.metric("fedci_connections_refused_total") >= 400 - 32,
    );

    // Periodic catch-up keeps choosing the honest peer over the sybils, and events flow.
    let rounds = sync_rounds(&odl, &opnfv_peer);
    wait_until(
        Duration::from_secs(30),
        "odl to run 5 more rounds with opnfv",
        || sync_rounds(&odl, &opnfv_peer) >= rounds + 5,
    );
    let id = odl.publish(
        "artifact.created",
        json!({"identity": "pkg:generic/after-sybils"}),
        &[],
    );
    opnfv.wait_for_event(&id, MESH_TIMEOUT);
}
