//! Federation over libp2p gossip between real nodes on loopback: events reach the communities
//! that pin the author's root and want the kind; an impostor and a relay that corrupts what it
//! forwards get nothing stored and are penalised; a roster revocation is enforced everywhere.
//!
//! The tests do not rely on catch-up (set reconciliation): each forms the mesh and proves live
//! gossip flows with probe events ([`warm_up`]) before publishing what it asserts on. Absence
//! is asserted only after a later event on the same path has arrived.

use fedci_tests::ReplyExt as _;
use fedci_tests::mesh::{MESH_TIMEOUT, artifact_probe, poll_until, wait_connected, warm_up};
use fedci_tests::{Node, ndjson, wait_until};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How long one event may take to gossip to a connected node.
const GOSSIP: Duration = Duration::from_secs(15);
/// `network` in status is a snapshot refreshed every 2 s: counters and scores lag that much.
const SNAPSHOT: Duration = Duration::from_secs(10);

/// odl, opnfv and openstack, each pinning the other two, connected in a triangle, with gossip
/// from odl proven to reach both others. openstack only wants odl's artifacts.
struct Federation {
    odl: Node,
    opnfv: Node,
    openstack: Node,
    /// Probe events odl published during the warm-up.
    probes: Vec<String>,
}

fn three_communities() -> Federation {
    let mut odl = Node::new();
    let mut opnfv = Node::new();
    let mut openstack = Node::new();
    odl.init("odl");
    opnfv.init("opnfv");
    openstack.init("openstack");
    for (a, b) in [
        (&odl, &opnfv),
        (&odl, &openstack),
        (&opnfv, &odl),
        (&opnfv, &openstack),
        (&openstack, &odl),
        (&openstack, &opnfv),
    ] {
        a.trust(b);
    }
    openstack.set_config(
        "interests",
        r#"[{ community = "odl", kinds = ["artifact.*"] }]"#,
    );

    odl.start();
    let odl_addr = odl.listen_addr();
    opnfv.start_with(&["--peer", &odl_addr]);
    openstack.start_with(&["--peer", &odl_addr]);
    opnfv.add_peer(&openstack.listen_addr());
    wait_connected(&odl, &[&opnfv, &openstack], MESH_TIMEOUT);
    wait_connected(&opnfv, &[&odl, &openstack], MESH_TIMEOUT);
    wait_connected(&openstack, &[&odl, &opnfv], MESH_TIMEOUT);
    let probes = warm_up(&odl, &[&opnfv, &openstack], artifact_probe, MESH_TIMEOUT);
    Federation {
        odl,
        opnfv,
        openstack,
        probes,
    }
}

/// The id of the roster in force for the node's own community (status `pins`).
fn own_roster_id(node: &Node) -> String {
    let pin = node
        .pin(node.community())
        .unwrap_or_else(|| panic!("{} does not pin itself", node.community()));
    pin["roster"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no roster in force for {}: {pin}", node.community()))
        .to_owned()
}

/// The NDJSON events a `watch` wrote to its log (other lines, e.g. log output, skipped).
fn watched(log: &str) -> Vec<Value> {
    let json_lines: String = log
        .lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .map(|l| format!("{l}\n"))
        .collect();
    ndjson(&json_lines)
}

fn error_code(r: &fedci_tests::Reply) -> String {
    r.json()["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("error answer without error.code: {r:?}"))
        .to_owned()
}

/// `fedci-node get ID --raw`: the event's COSE bytes as the CLI prints them.
fn raw_cli(node: &Node, id: &str) -> Vec<u8> {
    let out = node.cli(&["get", id, "--raw"]);
    assert!(
        out.status.success(),
        "get {id} --raw failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.stdout,
        node.raw(id),
        "`get --raw` must print exactly the stored COSE bytes"
    );
    out.stdout
}

#[test]
fn three_communities_exchange_events_by_interest() {
    let fed = three_communities();
    let (odl, opnfv, openstack) = (&fed.odl, &fed.opnfv, &fed.openstack);

    // Subscriptions follow interests: opnfv (default) takes every family of every pinned
    // community; openstack only odl's artifacts, plus every pinned community's trust topic.
    let topics = opnfv.topics();
    for t in [
        "fedci/1/odl/artifact",
        "fedci/1/odl/composition",
        "fedci/1/openstack/trust",
    ] {
        assert!(
            topics.iter().any(|x| x == t),
            "opnfv lacks topic {t}: {topics:?}"
        );
    }
    let topics = openstack.topics();
    for t in [
        "fedci/1/odl/artifact",
        "fedci/1/odl/trust",
        "fedci/1/opnfv/trust",
    ] {
        assert!(
            topics.iter().any(|x| x == t),
            "openstack lacks topic {t}: {topics:?}"
        );
    }
    for t in ["fedci/1/odl/composition", "fedci/1/opnfv/artifact"] {
        assert!(
            !topics.iter().any(|x| x == t),
            "openstack's interests are odl artifact.* only, yet it subscribes to {t}: {topics:?}"
        );
    }
    // The CLI shows the same network object.
    let cli_status: Value =
        serde_json::from_str(&opnfv.cli_ok(&["status", "--json"])).expect("status --json");
    let cli_peers = cli_status["network"]["peers"].as_array().map(Vec::len);
    assert!(
        cli_peers >= Some(2),
        "status --json: opnfv must list odl and openstack as peers: {}",
        cli_status["network"]
    );

    let watch = opnfv.watch("watch-artifacts", &["--kind", "artifact.created"]);
    let data = json!({"identity": "pkg:maven/org.opendaylight.integration/karaf@0.20.1"});
    let artifact = odl.publish("artifact.created", data.clone(), &[]);
    for node in [opnfv, openstack] {
        node.wait_for_event(&artifact, GOSSIP);
        let ev = node.event(&artifact);
        assert_eq!(
            (&ev["community"], &ev["kind"], &ev["data"]),
            (&json!("odl"), &json!("artifact.created"), &data),
            "{}'s copy of odl's artifact: {ev}",
            node.community()
        );
    }
    let mut seen = Vec::new();
    let ok = poll_until(GOSSIP, || {
        seen = watched(&watch.log());
        seen.iter().any(|e| e["id"] == artifact.as_str())
    });
    assert!(
        ok,
        "opnfv's `watch --kind artifact.created` never showed {artifact}; it showed {seen:?}\n{}",
        watch.log()
    );
    for e in &seen {
        assert_eq!(
            e["kind"], "artifact.created",
            "watch filter let through {e}"
        );
    }

    // A composition reaches opnfv (default interests) but not openstack (artifacts only).
    let composition = odl.publish(
        "composition.defined",
        json!({"name": "os-odl-nofeature"}),
        &[],
    );
    opnfv.wait_for_event(&composition, GOSSIP);
    assert_eq!(
        opnfv.event(&composition)["data"]["name"],
        "os-odl-nofeature"
    );
    // An artifact published after it reaching openstack bounds the time the composition had.
    let marker = odl.publish(
        "artifact.created",
        json!({"identity": "pkg:maven/org.opendaylight.integration/karaf@0.20.2"}),
        &[],
    );
    openstack.wait_for_event(&marker, GOSSIP);
    assert!(
        !openstack.has_event(&composition),
        "openstack stored odl's composition.defined {composition} although its interests \
         are odl artifact.* only"
    );
    let topics = openstack.topics();
    assert!(
        !topics.iter().any(|t| t == "fedci/1/odl/composition"),
        "openstack subscribed to odl compositions: {topics:?}"
    );
    let stored = openstack.query_all("kind=composition.defined");
    assert!(
        stored.is_empty(),
        "openstack holds compositions: {stored:?}"
    );

    for node in [opnfv, openstack] {
        let ok = poll_until(SNAPSHOT, || node.gossip_counter("accepted") > 0);
        assert!(
            ok,
            "{}'s network.gossip.accepted stays 0 although it received events by gossip: {}",
            node.community(),
            node.network()
        );
    }
    assert!(fed.probes.iter().any(|p| opnfv.has_event(p)));
}

#[test]
fn impostor_and_tampering_relay_get_nothing_accepted_and_are_penalised() {
    let mut odl = Node::new();
    let mut opnfv = Node::new();
    let mut evil = Node::new();
    odl.init("odl");
    opnfv.init("opnfv");
    evil.init("evil");
    for (a, b) in [
        (&odl, &opnfv),
        (&odl, &evil),
        (&opnfv, &odl),
        (&opnfv, &evil),
        (&evil, &odl),
        (&evil, &opnfv),
    ] {
        a.trust(b);
    }
    odl.start();
    let odl_addr = odl.listen_addr();
    opnfv.start_with(&["--peer", &odl_addr]);
    let opnfv_addr = opnfv.listen_addr();
    wait_connected(&odl, &[&opnfv], MESH_TIMEOUT);
    let mut known: BTreeSet<String> = warm_up(&odl, &[&opnfv], artifact_probe, MESH_TIMEOUT)
        .into_iter()
        .collect();

    // (a) An impostor: calls itself odl, but its root is its own, pinned by nobody.
    let mut impostor = Node::new();
    impostor.init("odl");
    impostor.start_with(&["--peer", &opnfv_addr]);
    wait_connected(&impostor, &[&opnfv], MESH_TIMEOUT);
    let impostor_peer = impostor.peer_id();
    let mut forged = Vec::new();
    let deadline = Instant::now() + MESH_TIMEOUT;
    // Publish until opnfv shows it judged the impostor's gossip: the evidence bounds the window.
    let evidence = |opnfv: &Node| {
        let rejected_from_peer = opnfv
            .peer_info(&impostor_peer)
            .and_then(|p| p["rejected"].as_u64())
            .unwrap_or(0);
        rejected_from_peer > 0 && opnfv.rejected_count("unknown_author") > 0
    };
    loop {
        let n = forged.len();
        forged.push(impostor.publish(
            "artifact.created",
            json!({"identity": format!("pkg:maven/org.opendaylight/forged@{n}")}),
            &[],
        ));
        if poll_until(Duration::from_secs(1), || evidence(&opnfv)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "opnfv never rejected the impostor's gossip ({} events published): status {}",
            forged.len(),
            opnfv.status()
        );
    }
    for node in [&opnfv, &odl] {
        for id in &forged {
            assert!(
                !node.has_event(id),
                "{} stored the impostor's event {id}",
                node.community()
            );
        }
    }
    let status = opnfv.status();
    let peer = opnfv.peer_info(&impostor_peer);
    eprintln!(
        "opnfv after the impostor: rejected {} impostor peer {peer:?}",
        status["rejected"]
    );
    impostor.stop();

    // (b) evil is pinned (its own events are valid) but corrupts every event it relays.
    evil.start_with(&["--tamper-relay", "--peer", &odl_addr, "--peer", &opnfv_addr]);
    let evil_peer = evil.peer_id();
    wait_connected(&evil, &[&odl, &opnfv], MESH_TIMEOUT);
    wait_connected(&odl, &[&evil], MESH_TIMEOUT);
    wait_connected(&opnfv, &[&evil], MESH_TIMEOUT);
    // Let evil first settle in as an ordinary mesh member (time in the mesh earns a positive
    // score): a relay that turns bad after a while must end up penalised all the same. Not an
    // assertion: scoring may give no credit for mesh time at all.
    for node in [&odl, &opnfv] {
        poll_until(SNAPSHOT, || {
            node.peer_info(&evil_peer)
                .and_then(|p| p["score"].as_f64())
                .is_some_and(|s| s > 0.0)
        });
    }
    // odl's events reach evil, which relays a corrupted copy of each to odl and opnfv.
    known.extend(warm_up(&odl, &[&evil], artifact_probe, MESH_TIMEOUT));
    for node in [&odl, &opnfv] {
        let what = format!(
            "{} to count an invalid event relayed by evil",
            node.community()
        );
        wait_until(SNAPSHOT, &what, || {
            node.peer_info(&evil_peer)
                .and_then(|p| p["rejected"].as_u64())
                .is_some_and(|n| n > 0)
        });
    }
    // evil's own events are genuine: they are stored (with their corrupted twins rejected).
    let genuine = warm_up(&evil, &[&odl, &opnfv], artifact_probe, MESH_TIMEOUT);
    known.extend(genuine.iter().cloned());
    for node in [&odl, &evil, &opnfv] {
        known.insert(own_roster_id(node));
    }

    for node in [&odl, &opnfv] {
        let name = node.community();
        let mut info = None;
        let penalised = poll_until(SNAPSHOT, || {
            info = node.peer_info(&evil_peer);
            info.as_ref().is_some_and(|p| {
                p["rejected"].as_u64().unwrap_or(0) > 0
                    && p["score"].as_f64().is_some_and(|s| s < 0.0)
            })
        });
        assert!(
            penalised,
            "{name} does not penalise the tampering relay: network.peers entry {info:?} \
             (want rejected > 0 and a negative score); gossip {}; rejected {}",
            node.network()["gossip"],
            node.status()["rejected"]
        );
        // The corrupted copies fail to decode. Which check catches them depends on where the
        // flipped byte lands: in the signed body's structure (bad_body) or in a value (then only
        // the signature check, bad_signature).
        let corrupt = node.rejected_count("bad_signature") + node.rejected_count("bad_body");
        assert!(
            corrupt > 0,
            "{name} counts no bad_signature or bad_body rejection for evil's corrupted copies: {}",
            node.status()["rejected"]
        );
        let stored = node.stored_ids();
        let genuine_here: Vec<&String> = genuine.iter().filter(|g| stored.contains(g)).collect();
        assert!(
            !genuine_here.is_empty(),
            "{name} stored none of evil's genuine events {genuine:?}"
        );
        let unknown: Vec<Value> = stored
            .iter()
            .filter(|id| !known.contains(*id))
            .map(|id| node.event(id))
            .collect();
        assert!(
            unknown.is_empty(),
            "{name} stored events that are neither rosters, probes nor evil's genuine events \
             (tampered copies or forgeries): {unknown:?}"
        );
        for id in &forged {
            assert!(
                !stored.contains(id),
                "{name} stored the impostor's event {id}"
            );
        }
    }
}

#[test]
fn roster_revocation_takes_effect_everywhere() {
    let fed = three_communities();
    let (odl, opnfv, openstack) = (&fed.odl, &fed.opnfv, &fed.openstack);

    // X: a second odl node with its own node key, joining the community under the real root.
    let mut x = Node::new();
    x.init_joining(odl);
    x.start();
    let x_key = x.node_key();
    let pin = x.pin("odl").expect("X pins odl");
    assert_eq!(
        pin["root"],
        odl.root_pub().as_str(),
        "X must pin the real odl root: {pin}"
    );
    assert!(pin["roster"].is_null(), "no roster names X yet: {pin}");
    let r = x.post_json(
        "/v1/events",
        &json!({"kind": "artifact.created", "data": {"identity": "pkg:generic/x@0"}, "links": []}),
    );
    assert_eq!(
        r.status, 403,
        "X publishes before any real odl roster names it: {r:?}"
    );

    // The real odl root authorises X's key (serial 2); X gets that roster by hand.
    odl.cli_ok(&["roster", "add", &x_key]);
    let rosters = odl.query_all("kind=trust.roster&community=odl");
    let newest = rosters.last().expect("odl holds rosters");
    assert_eq!(newest["data"]["serial"], 2, "odl's newest roster: {newest}");
    assert!(
        newest["data"]["keys"].to_string().contains(&x_key),
        "roster serial 2 does not name X's key {x_key}: {newest}"
    );
    let roster_id = newest["id"].as_str().expect("roster id").to_owned();
    let r = x.post_raw(&raw_cli(odl, &roster_id));
    assert_eq!(r.status, 201, "X takes odl's roster serial 2: {r:?}");
    x.wait_for_roster_serial("odl", 2, GOSSIP);

    let ev_a = x.publish(
        "artifact.created",
        json!({"identity": "pkg:generic/x-build@1"}),
        &[],
    );
    let ev_b = x.publish(
        "artifact.created",
        json!({"identity": "pkg:generic/x-build@2"}),
        &[],
    );
    let raw_a = raw_cli(&x, &ev_a);
    let raw_b = raw_cli(&x, &ev_b);

    // Before the revocation, opnfv (with roster serial 2 from gossip) accepts X's events.
    opnfv.wait_for_roster_serial("odl", 2, GOSSIP);
    let r = opnfv.post_raw(&raw_b);
    assert_eq!(
        r.status, 201,
        "opnfv refuses X's event while roster serial 2 authorises X: {r:?}"
    );

    // Remove X (serial 3) = retire it now: what X signed before stays valid everywhere, what
    // it signs after is refused everywhere.
    odl.cli_ok(&["roster", "remove", &x_key]);
    for node in [odl, opnfv, openstack] {
        node.wait_for_roster_serial("odl", 3, GOSSIP);
    }
    // X never heard of serial 3, so its node still signs.
    let ev_c = x.publish(
        "artifact.created",
        json!({"identity": "pkg:generic/x-build@3"}),
        &[],
    );
    let raw_c = raw_cli(&x, &ev_c);
    for node in [opnfv, openstack] {
        let r = node.post_raw(&raw_a);
        assert!(
            matches!(r.status, 200 | 201),
            "{} refused an event X signed before it was retired: {r:?}",
            node.community()
        );
        let r = node.post_raw(&raw_c);
        assert_eq!(
            r.status,
            403,
            "{} accepted an event by retired key {x_key}: {r:?}",
            node.community()
        );
        assert_eq!(error_code(&r), "unknown_author", "{r:?}");
        assert!(!node.has_event(&ev_c), "{} stored {ev_c}", node.community());
    }
    assert!(
        opnfv.has_event(&ev_b),
        "a retirement must not erase events accepted before it"
    );

    // Revoke X since ev_b's time (serial 4, key compromised): ev_b, already stored, stops
    // being served as trusted on every node; ev_a, signed earlier, stays trusted.
    openstack.wait_for_event(&ev_b, GOSSIP);
    let since = opnfv.event(&ev_b)["time"].as_u64().expect("time");
    odl.cli_ok(&["roster", "revoke", &x_key, "--since", &since.to_string()]);
    for node in [odl, opnfv, openstack] {
        node.wait_for_roster_serial("odl", 4, GOSSIP);
    }
    for node in [opnfv, openstack] {
        let b = node.event(&ev_b);
        assert_eq!(b["trusted"], false, "{}: {b}", node.community());
        assert_eq!(b["untrusted_reason"]["code"], "revoked", "{b}");
        assert_eq!(node.event(&ev_a)["trusted"], true, "{}", node.community());
        let ids: Vec<Value> = node
            .query_all("community=odl&kind=artifact.created")
            .iter()
            .map(|e| e["id"].clone())
            .collect();
        assert!(
            !ids.contains(&json!(ev_b)),
            "{} still lists {ev_b}",
            node.community()
        );
        assert!(
            ids.contains(&json!(ev_a)),
            "{} no longer lists {ev_a}",
            node.community()
        );
        assert!(
            node.status()["untrusted_events"].as_u64() >= Some(1),
            "{}: status does not count the revoked event",
            node.community()
        );
    }
}
