//! Catch-up (set reconciliation between nodes) across real processes: a node that joins late,
//! one that was SIGKILLed while its peer kept publishing, and a partitioned federation all end
//! with exactly the same event ids as their peers; a round between nodes already in sync is
//! cheap. Sets are compared id by id (`fedci-node query`), never by count.

use fedci_tests::Node;
use fedci_tests::mesh::{MESH_TIMEOUT, wait_connected};
use fedci_tests::net::{
    Phases, block, blocked_peers, free_port, id_set, ids_by_topic, listen_on, publish_mix,
    set_diff, sync_rounds, sync_stats, unblock, wait_cut_off, wait_for, wait_for_set,
};
use fedci_tests::relay::Relay;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How long catch-up may take to bring a node level (debug builds, 2 shared cores, other tests
/// running nodes at the same time).
const CATCHUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Ids of `community`'s events on `node`.
fn community_set(node: &Node, community: &str) -> BTreeSet<String> {
    id_set(node, &["--community", community])
}

/// A node initialised for `community` (not running), with `sync_interval_secs` set if given
/// (`init` already writes the key, so it is replaced, not appended).
fn home(community: &str, sync_interval_secs: Option<u64>) -> Node {
    let mut n = Node::new();
    n.init(community);
    if let Some(secs) = sync_interval_secs {
        n.set_config("sync_interval_secs", &secs.to_string());
    }
    n
}

/// Starts `newcomer` dialling the running `to`, after both pinned each other (`to` while it
/// runs), and waits until they are connected.
fn join_late(newcomer: &mut Node, to: &Node) {
    newcomer.trust(to);
    to.trust(newcomer);
    let addr = to.listen_addr();
    newcomer.start_with(&["--peer", &addr]);
    wait_connected(newcomer, &[to], MESH_TIMEOUT);
}

/// The nodes of `all` other than `n`.
fn others<'a>(all: &[&'a Node], n: &Node) -> Vec<&'a Node> {
    all.iter()
        .copied()
        .filter(|o| o.home() != n.home())
        .collect()
}

/// Every node pins every other node's community root.
fn pin_all(nodes: &[&Node]) {
    for a in nodes {
        for b in nodes {
            if a.home() != b.home() {
                a.trust(b);
            }
        }
    }
}

#[test]
fn late_joiner_gets_every_event() {
    let mut t = Phases::new("late_joiner_gets_every_event");
    // No periodic rounds within the test: only the rounds a connection starts may help.
    let mut odl = home("odl", Some(3600));
    odl.start();
    let published = publish_mix(&odl, 300, "late");
    t.mark("odl started, 300 events published");
    let odl_set = community_set(&odl, "odl");
    let missing: Vec<&String> = published
        .iter()
        .filter(|id| !odl_set.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "odl's own query lacks {} acknowledged events: {missing:?}",
        missing.len()
    );
    assert_eq!(
        odl_set.len(),
        published.len() + 1,
        "odl holds its 300 events and its roster"
    );

    // opnfv appears only now. Pins are exchanged both ways, odl's while it runs.
    let mut opnfv = home("opnfv", Some(3600));
    join_late(&mut opnfv, &odl);
    t.mark("opnfv started and connected");

    // The rounds started by the connection (and by subscriptions) alone bring opnfv level.
    wait_for_set(&opnfv, Some("odl"), &odl_set, CATCHUP_TIMEOUT);
    let after = community_set(&odl, "odl");
    assert!(
        after == odl_set,
        "odl's own set changed: {}",
        set_diff("odl now", &after, "odl before", &odl_set)
    );
    // odl learnt opnfv's roster too (both sides fetch what they lack on connect).
    let opnfv_own = community_set(&opnfv, "opnfv");
    wait_for_set(&odl, Some("opnfv"), &opnfv_own, CATCHUP_TIMEOUT);
    t.mark(&format!("opnfv holds all {} odl events", odl_set.len()));
}

#[test]
fn lying_peer_is_dropped_from_the_round_and_penalised() {
    let mut t = Phases::new("lying_peer_is_dropped_from_the_round_and_penalised");
    // odl holds genuine events but serves forged copies to catch-up (test fixture). It runs
    // no periodic rounds of its own: those would offer opnfv the genuine events, and once
    // opnfv holds them there is nothing left to lie about.
    let mut odl = home("odl", Some(3600));
    odl.start_with(&["--tamper-relay"]);
    let published = publish_mix(&odl, 40, "liar");
    let mut opnfv = home("opnfv", Some(1));
    join_late(&mut opnfv, &odl);
    t.mark("opnfv connected to a lying odl");

    let odl_peer = odl.peer_id();
    let mut last = Value::Null;
    wait_for(
        CATCHUP_TIMEOUT,
        "opnfv to end a round with the liar and penalise it",
        || {
            let sync = sync_stats(&opnfv, &odl_peer).unwrap_or(Value::Null);
            last = sync["last_round"].clone();
            let info = opnfv.peer_info(&odl_peer).unwrap_or(Value::Null);
            let misbehaved = last["error"]
                .as_str()
                .is_some_and(|e| e.contains("misbehaved"));
            let penalised = info["rejected"].as_u64().unwrap_or(0) > 0
                && info["score"].as_f64().is_some_and(|s| s < 0.0);
            (!(misbehaved && penalised)).then(|| format!("last round {last}, peer {info}"))
        },
    );
    t.mark(&format!("round ended: {last}"));
    // Not one forged event was stored: opnfv holds none of odl's published events.
    let held = community_set(&opnfv, "odl");
    let leaked: Vec<&String> = published.iter().filter(|id| held.contains(*id)).collect();
    assert!(
        leaked.is_empty(),
        "opnfv stored odl events it could only have had forged: {leaked:?}"
    );
    // What opnfv does hold of odl is exactly what it could verify: odl's roster, which odl
    // offers (genuine bytes) on connect.
    let roster = id_set(&odl, &["--community", "odl", "--kind", "trust.roster"]);
    assert_eq!(roster.len(), 1, "odl has one roster: {roster:?}");
    let held = wait_for_set(&opnfv, Some("odl"), &roster, CATCHUP_TIMEOUT);
    assert_eq!(
        held, roster,
        "opnfv holds odl's roster and nothing else of odl's"
    );
}

#[test]
fn restarted_node_converges_after_kill9() {
    let mut t = Phases::new("restarted_node_converges_after_kill9");
    let (odl_port, opnfv_port) = (free_port(), free_port());
    let (odl_listen, opnfv_listen) = (listen_on(odl_port), listen_on(opnfv_port));
    let mut odl = home("odl", Some(2));
    let mut opnfv = home("opnfv", Some(2));
    pin_all(&[&odl, &opnfv]);
    odl.start_with(&["--listen", &odl_listen]);
    let odl_addr = odl.listen_addr();
    assert!(
        odl_addr.starts_with(&format!("{odl_listen}/p2p/")),
        "odl does not listen where it was told: {odl_addr}"
    );
    let opnfv_args = [
        "--listen",
        opnfv_listen.as_str(),
        "--peer",
        odl_addr.as_str(),
    ];
    opnfv.start_with(&opnfv_args);
    wait_connected(&opnfv, &[&odl], MESH_TIMEOUT);
    wait_connected(&odl, &[&opnfv], MESH_TIMEOUT);
    let opnfv_peer = opnfv.peer_id();

    publish_mix(&odl, 20, "before");
    let before = community_set(&odl, "odl");
    wait_for_set(&opnfv, Some("odl"), &before, CATCHUP_TIMEOUT);
    // Events from peers are fsynced within a second (see the store's DESIGN NOTE); the ones
    // that are must survive kill -9, the others come back by catch-up like the rest.
    wait_for(MESH_TIMEOUT, "opnfv to fsync what it got", || {
        (opnfv.metric("fedci_store_unsynced") != 0).then(|| "commits wait for an fsync".into())
    });
    t.mark("connected, 20 events level");

    opnfv.kill9();
    wait_for(MESH_TIMEOUT, "odl to notice opnfv is gone", || {
        let peers = odl.connected_peers();
        peers
            .contains(&opnfv_peer)
            .then(|| format!("connected: {peers:?}"))
    });
    let while_down = publish_mix(&odl, 200, "while-down");
    let odl_set = community_set(&odl, "odl");
    assert_eq!(odl_set.len(), before.len() + while_down.len(), "odl's set");
    t.mark("opnfv killed, 200 published meanwhile");

    opnfv.start_with(&opnfv_args);
    assert_eq!(
        opnfv.peer_id(),
        opnfv_peer,
        "a restarted node keeps its peer id"
    );
    let held = community_set(&opnfv, "odl");
    assert!(
        held.is_superset(&before),
        "opnfv lost odl events across kill -9: {}",
        set_diff("opnfv", &held, "odl before the crash", &before)
    );
    wait_connected(&opnfv, &[&odl], MESH_TIMEOUT);
    t.mark("opnfv restarted and reconnected");
    wait_for_set(&opnfv, Some("odl"), &odl_set, CATCHUP_TIMEOUT);
    t.mark(&format!("opnfv holds all {} odl events", odl_set.len()));

    // And the other way: what the restarted node publishes reaches odl (gossip or catch-up).
    let mine = publish_mix(&opnfv, 6, "after-restart");
    let opnfv_set = community_set(&opnfv, "opnfv");
    assert!(
        mine.iter().all(|id| opnfv_set.contains(id)),
        "opnfv's own query lacks its events"
    );
    wait_for_set(&odl, Some("opnfv"), &opnfv_set, CATCHUP_TIMEOUT);
    let odl_final = community_set(&odl, "odl");
    assert!(
        odl_final == odl_set,
        "{}",
        set_diff("odl", &odl_final, "expected", &odl_set)
    );
    t.mark("odl holds opnfv's new events");
}

#[test]
fn partition_heals_to_the_union() {
    let mut t = Phases::new("partition_heals_to_the_union");
    let names = ["odl", "opnfv", "openstack", "fdio"];
    let mut nodes: Vec<Node> = names.iter().map(|c| home(c, Some(1))).collect();
    pin_all(&nodes.iter().collect::<Vec<_>>());
    t.mark("init and pin");

    // Full mesh: b, c and d dial with --peer; b reaches d with `peer add` (remembered and
    // redialled like --peer).
    nodes[0].start();
    let a_addr = nodes[0].listen_addr();
    nodes[1].start_with(&["--peer", &a_addr]);
    let b_addr = nodes[1].listen_addr();
    nodes[2].start_with(&["--peer", &a_addr, "--peer", &b_addr]);
    let c_addr = nodes[2].listen_addr();
    nodes[3].start_with(&["--peer", &a_addr, "--peer", &c_addr]);
    let d_addr = nodes[3].listen_addr();
    nodes[1].add_peer(&d_addr);
    let (a, b, c, d) = (&nodes[0], &nodes[1], &nodes[2], &nodes[3]);
    let all = [a, b, c, d];
    for n in all {
        wait_connected(n, &others(&all, n), MESH_TIMEOUT);
    }
    t.mark("start and connect");
    // Everyone holds the four rosters before the split.
    let baseline: BTreeSet<String> = all
        .iter()
        .flat_map(|n| community_set(n, n.community()))
        .collect();
    assert_eq!(baseline.len(), 4, "one roster per community: {baseline:?}");
    for n in all {
        wait_for_set(n, None, &baseline, CATCHUP_TIMEOUT);
    }
    t.mark("rosters everywhere");

    // Partition {a, b} | {c, d}: both sides of every cross pair block the other.
    let ids: Vec<String> = all.iter().map(|n| n.peer_id()).collect();
    let left = [0usize, 1];
    let right = [2usize, 3];
    for (side, other) in [(left, right), (right, left)] {
        for &i in &side {
            for &j in &other {
                block(all[i], &ids[j]);
            }
        }
    }
    for (side, other) in [(left, right), (right, left)] {
        let cut: Vec<String> = other.iter().map(|&j| ids[j].clone()).collect();
        for &i in &side {
            wait_cut_off(all[i], &cut, MESH_TIMEOUT);
        }
    }
    t.mark("partition");

    // Each node publishes on its own while split.
    let per_node: Vec<Vec<String>> = std::thread::scope(|s| {
        let workers: Vec<_> = all
            .iter()
            .map(|n| s.spawn(move || publish_mix(n, 50, "split")))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("publisher panicked"))
            .collect()
    });
    t.mark("publish 4 x 50");
    let half = |idx: &[usize]| -> BTreeSet<String> {
        let mut set = baseline.clone();
        for &i in idx {
            set.extend(per_node[i].iter().cloned());
        }
        set
    };
    let (left_set, right_set) = (half(&left), half(&right));
    // Each half converges on its own events and holds none of the other half's.
    for (idx, want) in [(left, &left_set), (right, &right_set)] {
        for &i in &idx {
            wait_for_set(all[i], None, want, CATCHUP_TIMEOUT);
        }
    }
    t.mark("halves level");

    // Heal.
    for (side, other) in [(left, right), (right, left)] {
        for &i in &side {
            for &j in &other {
                unblock(all[i], &ids[j]);
            }
        }
    }
    t.mark("heal");
    let union: BTreeSet<String> = left_set.union(&right_set).cloned().collect();
    assert_eq!(union.len(), 4 + 4 * 50, "the union");
    for n in all {
        wait_connected(n, &others(&all, n), MESH_TIMEOUT);
        t.mark(&format!("{} reconnected", n.community()));
    }
    for n in all {
        wait_for_set(n, None, &union, CATCHUP_TIMEOUT);
        t.mark(&format!("{} level", n.community()));
        assert!(
            blocked_none(n),
            "{} still blocks peers: {}",
            n.community(),
            n.network()
        );
    }
    t.mark("union everywhere");
    for n in all {
        log_sync(n);
    }
    // Per topic (community × kind family), every node holds the same ids.
    let reference = ids_by_topic(a, &[]);
    // artifact, composition and trust of each of the four communities.
    assert_eq!(
        reference.len(),
        12,
        "topics: {:?}",
        reference.keys().collect::<Vec<_>>()
    );
    for n in [b, c, d] {
        let got = ids_by_topic(n, &[]);
        for (topic, want) in &reference {
            let have = got.get(topic).cloned().unwrap_or_default();
            assert!(
                &have == want,
                "topic {topic}: {}",
                set_diff(n.community(), &have, "odl", want)
            );
        }
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            reference.keys().collect::<Vec<_>>(),
            "{} holds other topics than odl",
            n.community()
        );
    }
    t.mark(&format!(
        "{} events level on 4 nodes, per topic",
        union.len()
    ));
    // Four communities, 20 topics of ~50 events: agreeing still costs one small exchange.
    assert_small_in_sync_round(&mut t, &nodes[0], &nodes[2]);
}

/// Logs, per connected peer, the rounds run and the last round's cost (for slow-run analysis).
fn log_sync(n: &Node) {
    for p in n.network()["peers"].as_array().into_iter().flatten() {
        let s = &p["sync"];
        let l = &s["last_round"];
        eprintln!(
            "  {} <- {}: rounds {} stored {}; last round: topics {} trips {} need {} have {} \
             sent {} B received {} B {} ms error {}",
            n.community(),
            p["peer_id"].as_str().unwrap_or("?"),
            s["rounds"],
            s["events_stored"],
            l["topics"],
            l["round_trips"],
            l["need"],
            l["have"],
            l["bytes_sent"],
            l["bytes_received"],
            l["millis"],
            l["error"]
        );
    }
}

fn blocked_none(n: &Node) -> bool {
    blocked_peers(n).is_empty()
}

/// Waits for a completed round of `node` with `peer_id` that found nothing to exchange (after
/// the `after` rounds already counted); returns its stats.
fn wait_in_sync_round(node: &Node, peer_id: &str, after: u64) -> Value {
    let mut round = Value::Null;
    wait_for(
        Duration::from_secs(15),
        &format!("{}'s node to finish an in-sync round", node.community()),
        || {
            let sync = sync_stats(node, peer_id).unwrap_or(Value::Null);
            let last = &sync["last_round"];
            let rounds = sync["rounds"].as_u64().unwrap_or(0);
            if rounds > after
                && last["need"] == json!(0)
                && last["have"] == json!(0)
                && last["error"].is_null()
            {
                round = last.clone();
                None
            } else {
                Some(format!("sync stats: {sync}"))
            }
        },
    );
    round
}

#[test]
fn in_sync_round_is_small() {
    let mut t = Phases::new("in_sync_round_is_small");
    // opnfv starts a round every 2 s; odl never does, so what crosses the wire between two
    // of opnfv's rounds is one round. opnfv reaches odl only through a relay that counts it.
    let mut odl = home("odl", Some(3600));
    let mut opnfv = home("opnfv", Some(2));
    pin_all(&[&odl, &opnfv]);
    odl.start();
    publish_mix(&odl, 6, "small");
    let odl_addr = odl.listen_addr();
    let odl_port: u16 = odl_addr
        .split('/')
        .nth(4)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no TCP port in {odl_addr}"));
    let relay = Relay::start(([127, 0, 0, 1], odl_port).into());
    let via_relay = format!("{}/p2p/{}", listen_on(relay.port()), odl.peer_id());
    opnfv.start_with(&["--peer", &via_relay]);
    wait_connected(&opnfv, &[&odl], MESH_TIMEOUT);
    // Both hold everything: odl's events and both rosters.
    let mut everything = community_set(&odl, "odl");
    everything.extend(community_set(&opnfv, "opnfv"));
    assert_eq!(everything.len(), 6 + 2, "6 events and two rosters");
    wait_for_set(&opnfv, None, &everything, CATCHUP_TIMEOUT);
    wait_for_set(&odl, None, &everything, CATCHUP_TIMEOUT);
    t.mark("two nodes level, connected through the relay");

    // Two more in-sync rounds: the second starts and ends inside the window.
    let odl_id = odl.peer_id();
    let done = sync_rounds(&opnfv, &odl_id);
    let from = Instant::now();
    let round = wait_in_sync_round(&opnfv, &odl_id, done + 1);
    let to = Instant::now();
    let bursts = relay.bursts(from, to, Duration::from_millis(500));
    t.mark(&format!(
        "in-sync rounds on the wire: {bursts:?}; last: {round}"
    ));
    assert!(
        !bursts.is_empty(),
        "opnfv's rounds with odl did not cross the relay: {round}"
    );
    // Every burst, framing included, is a small exchange (a burst of unrelated traffic
    // only makes this stricter).
    for b in &bursts {
        assert!(
            b.to_target <= WIRE_BOUND && b.from_target <= WIRE_BOUND,
            "an in-sync round moved {} B to odl and {} B back on the wire (bound {WIRE_BOUND} \
             B each way): {bursts:?}; round {round}",
            b.to_target,
            b.from_target
        );
    }
    // The node's own estimate counts payload only: never more than the wire carried.
    let full = bursts.iter().map(|b| b.to_target).max().unwrap_or(0);
    let estimate = round["bytes_sent"].as_u64().unwrap_or(u64::MAX);
    assert!(
        estimate <= full,
        "round reports {estimate} B sent, the wire carried {full} B: {round}"
    );
    assert_small_in_sync_round(&mut t, &opnfv, &odl);
}

/// Most bytes each way on the wire for one in-sync round between two nodes of one community
/// each (10 topics): Noise, Yamux and multistream framing of one request-response included.
const WIRE_BOUND: u64 = 1024;

/// Waits for the next periodic round between `node` and `peer` that finds them in sync, and
/// asserts it is one small exchange: ≤ 2 round trips, ≤ 1 KiB each way, nothing moved.
fn assert_small_in_sync_round(t: &mut Phases, node: &Node, peer: &Node) {
    let peer_id = peer.peer_id();
    let done = sync_rounds(node, &peer_id);
    let round = wait_in_sync_round(node, &peer_id, done);
    t.mark(&format!("{} in-sync round: {round}", node.community()));
    let num = |k: &str| {
        round[k]
            .as_u64()
            .unwrap_or_else(|| panic!("last_round has no numeric {k:?}: {round}"))
    };
    assert!(num("topics") > 0, "a round covers our topics: {round}");
    assert!(
        num("round_trips") <= 2,
        "{}: in-sync round took {} round trips: {round}",
        node.community(),
        num("round_trips")
    );
    for k in ["bytes_sent", "bytes_received"] {
        assert!(
            num(k) <= 1024,
            "{}: in-sync round {k} = {} > 1024: {round}",
            node.community(),
            num(k)
        );
    }
    for k in ["received", "stored", "offered"] {
        assert_eq!(
            num(k),
            0,
            "{}: in-sync round {k}: {round}",
            node.community()
        );
    }
}
