//! Promotion and reproducibility on real nodes: `fedci-node artifacts` picks the newest artifact
//! with a confidence in force (through baselines, overridden by a later FAILURE, or stamped by
//! its own community), `fedci-node manifest` lists a nested baseline with a dangling element,
//! and the answers do not depend on the order in which the linked events arrived.
//!
//! The nodes run without a network: events signed on one node are handed to another as raw
//! COSE bytes (`POST /v1/events/raw`, validated like gossip), so each test decides exactly
//! what arrives, and in which order.

use fedci_tests::Node;
use fedci_tests::ReplyExt as _;
use serde_json::{Value, json};

const ACCEPTANCE: &str = "opnfvAcceptance";

/// A started node of `community` with no network.
fn offline(community: &str) -> Node {
    let mut n = Node::new();
    n.init(community);
    n.set_config("listen", "[]");
    n
}

/// odl and opnfv pinning each other, each holding the other's roster, no network.
fn pair() -> (Node, Node) {
    let mut odl = offline("odl");
    let mut opnfv = offline("opnfv");
    odl.trust(&opnfv);
    opnfv.trust(&odl);
    odl.start();
    opnfv.start();
    copy_rosters(&odl, &opnfv);
    copy_rosters(&opnfv, &odl);
    (odl, opnfv)
}

/// A fresh node (community `x`) trusting odl and opnfv and holding their rosters.
fn receiver(odl: &Node, opnfv: &Node) -> Node {
    let mut n = offline("x");
    n.trust(odl);
    n.trust(opnfv);
    n.start();
    copy_rosters(odl, &n);
    copy_rosters(opnfv, &n);
    n
}

/// Hands `from`'s own rosters to `to`.
fn copy_rosters(from: &Node, to: &Node) {
    let rosters = from.query_all(&format!("kind=trust.roster&community={}", from.community()));
    assert!(!rosters.is_empty(), "{} holds no roster", from.community());
    for r in rosters {
        copy(from, to, r["id"].as_str().expect("roster id"));
    }
}

/// Hands event `id` from `from` to `to` as raw bytes; asserts `to` stored it.
fn copy(from: &Node, to: &Node, id: &str) {
    let r = to.post_raw(&from.raw(id));
    assert!(
        r.status == 201 || r.status == 200,
        "{} refused {id} from {}: {r:?}",
        to.community(),
        from.community()
    );
}

/// An ODL build: artifact.created and its artifact.published; returns the artifact's id.
fn odl_build(odl: &Node, version: &str) -> String {
    let id = odl.publish(
        "artifact.created",
        json!({"identity": format!("pkg:maven/org.opendaylight.integration/karaf@{version}"),
               "name": "opendaylight", "version": version, "branch": "stable/oxygen",
               "digest": format!("sha256:{version}")}),
        &[],
    );
    odl.publish(
        "artifact.published",
        json!({"locations": [{"type": "nexus", "uri": uri(version)}]}),
        &[("ARTIFACT", &id)],
    );
    id
}

fn uri(version: &str) -> String {
    format!("https://nexus.opendaylight.org/karaf/{version}/karaf-{version}.tar.gz")
}

fn baseline(opnfv: &Node, name: &str, elements: &[&str]) -> String {
    let links: Vec<(&str, &str)> = elements.iter().map(|e| ("ELEMENT", *e)).collect();
    opnfv.publish(
        "composition.defined",
        json!({"name": name, "version": name, "scenario": "os-odl-nofeature"}),
        &links,
    )
}

fn confidence(node: &Node, subject: &str, value: &str) -> String {
    node.publish(
        "confidence.modified",
        json!({"name": ACCEPTANCE, "value": value, "issuer": node.community()}),
        &[("SUBJECT", subject)],
    )
}

/// `fedci-node artifacts ARGS… --json`, parsed; None when it exits 1 (nothing matches).
fn artifacts(node: &Node, args: &[&str]) -> Option<Vec<Value>> {
    let mut all = vec!["artifacts"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = node.cli(&all);
    if out.status.code() == Some(1) {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("no artifact matches"),
            "exit 1 for another reason: {err}"
        );
        assert!(out.stdout.is_empty(), "exit 1 with output");
        return None;
    }
    assert!(out.status.success(), "artifacts {args:?}: {out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("artifacts --json is JSON");
    assert_eq!(v["complete"], true, "{v}");
    Some(v["artifacts"].as_array().expect("artifacts array").clone())
}

fn ids(list: &[Value]) -> Vec<&str> {
    list.iter().map(|a| a["id"].as_str().expect("id")).collect()
}

/// The confidence of `name` in force in an artifact or composition view.
fn in_force<'a>(view: &'a Value, name: &str) -> Option<&'a Value> {
    view["confidences"]
        .as_array()
        .expect("confidences array")
        .iter()
        .find(|c| c["name"] == name)
}

#[test]
fn promotion_picks_the_newest_artifact_whose_baseline_passed() {
    let (odl, opnfv) = pair();
    let v1 = odl_build(&odl, "0.8.1");
    let v2 = odl_build(&odl, "0.8.2");
    let v3 = odl_build(&odl, "0.8.3");
    let times: Vec<u64> = [&v1, &v2, &v3]
        .iter()
        .map(|id| odl.event(id)["time"].as_u64().expect("time"))
        .collect();
    assert!(
        times[0] < times[1] && times[1] < times[2],
        "builds in time order: {times:?}"
    );
    for v in [&v1, &v2, &v3] {
        copy(&odl, &opnfv, v);
    }
    // OPNFV composes v2 and v3 into baselines; v2's passes, v3's fails. The stamps name the
    // baselines only: reaching the artifacts inside is the index's job.
    let b2 = baseline(&opnfv, "b2", &[&v2]);
    let b3 = baseline(&opnfv, "b3", &[&v3]);
    let c2 = confidence(&opnfv, &b2, "SUCCESS");
    let c3 = confidence(&opnfv, &b3, "FAILURE");
    for id in [&b2, &b3, &c2, &c3] {
        copy(&opnfv, &odl, id);
    }

    let pass = format!("{ACCEPTANCE}=SUCCESS");
    let latest = artifacts(
        &odl,
        &["--community", "odl", "--confidence", &pass, "--latest"],
    )
    .expect("v2 passed");
    assert_eq!(
        ids(&latest),
        [v2.as_str()],
        "the newest ODL build that passed is v2"
    );
    let a = &latest[0];
    assert_eq!(a["version"], "0.8.2");
    assert_eq!(
        a["identity"],
        "pkg:maven/org.opendaylight.integration/karaf@0.8.2"
    );
    assert_eq!(a["locations"][0]["uri"], uri("0.8.2"));
    let c = in_force(a, ACCEPTANCE).expect("v2 carries its confidence");
    assert_eq!(
        (&c["value"], &c["issuer"], &c["community"], &c["id"]),
        (
            &json!("SUCCESS"),
            &json!("opnfv"),
            &json!("opnfv"),
            &json!(c2)
        )
    );
    // Without --latest: v2 only; v3 failed, v1 was never tested.
    let all = artifacts(&odl, &["--confidence", &pass]).expect("v2");
    assert_eq!(ids(&all), [v2.as_str()]);
    let failed = artifacts(&odl, &["--confidence", &format!("{ACCEPTANCE}=FAILURE")]).expect("v3");
    assert_eq!(ids(&failed), [v3.as_str()]);
    let every = artifacts(&odl, &["--community", "odl", "--branch", "stable/oxygen"]).expect("3");
    assert_eq!(
        ids(&every),
        [&v3, &v2, &v1].map(String::as_str),
        "newest first"
    );
    let prefix = artifacts(
        &odl,
        &[
            "--identity",
            "pkg:maven/org.opendaylight.integration/karaf@0.8.1",
        ],
    )
    .expect("v1 by purl prefix");
    assert_eq!(ids(&prefix), [v1.as_str()]);
    assert!(
        artifacts(&odl, &["--community", "opnfv"]).is_none(),
        "opnfv built nothing"
    );

    // The socket API answers the same.
    let api = odl.get_json(&format!(
        "/v1/artifacts?community=odl&confidence={ACCEPTANCE}%3DSUCCESS&latest=true"
    ));
    assert_eq!(api["artifacts"], json!(latest));

    // --field: what a CI script reads.
    let line = odl.cli_ok(&[
        "artifacts",
        "--confidence",
        &pass,
        "--latest",
        "--field",
        "id",
        "--field",
        "location",
        "--field",
        &format!("confidence.{ACCEPTANCE}"),
    ]);
    assert_eq!(line.trim_end(), format!("{v2}\t{}\t{c2}", uri("0.8.2")));

    // A later FAILURE on v2's baseline overrides the SUCCESS: nothing passed any more.
    let c2_later = confidence(&opnfv, &b2, "FAILURE");
    copy(&opnfv, &odl, &c2_later);
    assert!(
        artifacts(
            &odl,
            &["--community", "odl", "--confidence", &pass, "--latest"]
        )
        .is_none(),
        "v2's baseline failed later"
    );
    let out = odl.cli(&["artifacts", "--confidence", &pass, "--latest"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit 1 when nothing matches: {out:?}"
    );

    // ODL's own stamp counts directly, on the artifact itself.
    let stamp = confidence(&odl, &v1, "SUCCESS");
    let latest = artifacts(
        &odl,
        &["--community", "odl", "--confidence", &pass, "--latest"],
    )
    .expect("ODL stamped v1");
    assert_eq!(ids(&latest), [v1.as_str()]);
    let c = in_force(&latest[0], ACCEPTANCE).expect("stamp");
    assert_eq!((&c["id"], &c["community"]), (&json!(stamp), &json!("odl")));
    // …and counts as ODL's, not OPNFV's.
    let by_odl = artifacts(&odl, &["--confidence", &pass, "--issuer", "odl"]).expect("odl's");
    assert_eq!(ids(&by_odl), [v1.as_str()]);
    assert!(artifacts(&odl, &["--confidence", &pass, "--issuer", "opnfv"]).is_none());

    // Bad filters are refused before anything is looked up.
    let r = odl.get("/v1/artifacts?confidence=opnfvAcceptance%3DGREAT");
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.json()["error"]["code"], "bad_query");
}

#[test]
fn manifest_lists_nested_baselines_and_dangling_elements() {
    let (odl, opnfv) = pair();
    let v = odl_build(&odl, "0.9.0");
    copy(&odl, &opnfv, &v);
    let openstack = opnfv.publish(
        "artifact.created",
        json!({"identity": "pkg:generic/openstack-queens@17.0.0", "version": "17.0.0"}),
        &[],
    );
    let missing = "ab".repeat(32);
    let inner = baseline(&opnfv, "inner", &[&v, &missing]);
    let outer = baseline(&opnfv, "outer", &[&inner, &openstack]);
    let pass = confidence(&opnfv, &outer, "SUCCESS");
    for id in [&openstack, &inner, &outer, &pass] {
        copy(&opnfv, &odl, id);
    }
    // Both nodes hold the same events (odl also holds v's publication, copied below).
    let published = odl.query_all(&format!("link={v}"));
    for p in &published {
        copy(&odl, &opnfv, p["id"].as_str().expect("id"));
    }

    let out = odl.cli_ok(&["manifest", &outer, "--json"]);
    let m: Value = serde_json::from_str(&out).expect("manifest --json is JSON");
    assert_eq!(m["complete"], true);
    let top = &m["composition"];
    assert_eq!((&top["id"], &top["name"]), (&json!(outer), &json!("outer")));
    assert_eq!(in_force(top, ACCEPTANCE).expect("outer's own")["id"], pass);
    let elements = top["elements"].as_array().expect("elements");
    assert_eq!(elements.len(), 2, "{m}");
    assert_eq!(
        (&elements[0]["type"], &elements[0]["id"]),
        (&json!("composition"), &json!(inner))
    );
    assert_eq!(
        (&elements[1]["type"], &elements[1]["id"]),
        (&json!("artifact"), &json!(openstack))
    );
    let nested = elements[0]["elements"].as_array().expect("inner elements");
    assert_eq!(nested.len(), 2, "{m}");
    let art = &nested[0];
    assert_eq!((&art["type"], &art["id"]), (&json!("artifact"), &json!(v)));
    assert_eq!(
        (&art["version"], &art["digest"]),
        (&json!("0.9.0"), &json!("sha256:0.9.0"))
    );
    assert_eq!(art["locations"][0]["uri"], uri("0.9.0"));
    assert_eq!(
        in_force(art, ACCEPTANCE).expect("reached through two levels")["id"],
        pass,
        "outer's confidence reaches the artifact inside inner"
    );
    assert_eq!(nested[1], json!({"type": "dangling", "id": missing}));

    // The same store state gives the same manifest, on either community's node.
    let theirs: Value =
        serde_json::from_str(&opnfv.cli_ok(&["manifest", &outer, "--json"])).expect("JSON");
    assert_eq!(m, theirs, "odl's and opnfv's manifests differ");
    let api = odl.get_json(&format!("/v1/compositions/{outer}/manifest"));
    assert_eq!(api, m);

    let text = odl.cli_ok(&["manifest", &outer]);
    assert!(text.contains(&format!("{missing}  DANGLING")), "{text}");
    assert!(text.contains(&uri("0.9.0")), "{text}");

    let r = odl.get(&format!("/v1/compositions/{}/manifest", "cd".repeat(32)));
    assert_eq!(
        (r.status, r.json()["error"]["code"].clone()),
        (404, json!("not_found"))
    );
    let r = odl.get(&format!("/v1/compositions/{v}/manifest"));
    assert_eq!(r.status, 422, "{r:?}");
    assert_eq!(r.json()["error"]["code"], "not_a_composition");
    let out = odl.cli(&["manifest", &v]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

#[test]
fn confidence_in_force_does_not_depend_on_arrival_order() {
    let (odl, opnfv) = pair();
    let a = odl_build(&odl, "1.0.0");
    let published = odl.query_all(&format!("link={a}"));
    let p = published[0]["id"].as_str().expect("id").to_owned();
    copy(&odl, &opnfv, &a);
    let inner = baseline(&opnfv, "inner", &[&a]);
    let outer = baseline(&opnfv, "outer", &[&inner]);
    // SUCCESS on the outer baseline, then a newer FAILURE on the inner one: FAILURE is in force.
    let success = confidence(&opnfv, &outer, "SUCCESS");
    let failure = confidence(&opnfv, &inner, "FAILURE");
    let source = |id: &str| if id == a || id == p { &odl } else { &opnfv };
    let orders: [[&str; 6]; 3] = [
        [&a, &p, &inner, &outer, &success, &failure],
        // Confidences first, the compositions they reach after, the artifact last.
        [&failure, &success, &outer, &inner, &p, &a],
        // The artifact before the composition holding it, that one after the outer.
        [&success, &a, &outer, &failure, &p, &inner],
    ];
    let mut answers = Vec::new();
    for (n, order) in orders.iter().enumerate() {
        let node = receiver(&odl, &opnfv);
        for id in order {
            copy(source(id), &node, id);
        }
        let line = node.cli_ok(&[
            "artifacts",
            "--confidence",
            &format!("{ACCEPTANCE}=FAILURE"),
            "--latest",
            "--field",
            "id",
            "--field",
            &format!("confidence.{ACCEPTANCE}"),
            "--field",
            "location",
        ]);
        assert_eq!(
            line.trim_end(),
            format!("{a}\t{failure}\t{}", uri("1.0.0")),
            "order {n}: the newer FAILURE is in force"
        );
        assert!(
            artifacts(&node, &["--confidence", &format!("{ACCEPTANCE}=SUCCESS")]).is_none(),
            "order {n}: the older SUCCESS is overridden"
        );
        answers.push((
            artifacts(&node, &["--community", "odl"]).expect("a"),
            node.get_json(&format!("/v1/compositions/{outer}/manifest")),
        ));
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "answers differ by order: {answers:?}"
    );
}

#[test]
fn a_revoked_issuers_confidence_does_not_count() {
    let (odl, opnfv) = pair();
    let v = odl_build(&odl, "2.0.0");
    copy(&odl, &opnfv, &v);
    let stamp = confidence(&odl, &v, "SUCCESS");
    let forged = confidence(&opnfv, &v, "FAILURE");
    copy(&opnfv, &odl, &forged);
    let pass = format!("{ACCEPTANCE}=SUCCESS");
    assert!(
        artifacts(&odl, &["--confidence", &pass]).is_none(),
        "before the revocation, opnfv's newer FAILURE is in force"
    );
    // opnfv's node key turns out compromised since its FAILURE: its root revokes it.
    let since = opnfv.event(&forged)["time"].as_u64().expect("time");
    opnfv.cli_ok(&[
        "roster",
        "revoke",
        &opnfv.node_key(),
        "--since",
        &since.to_string(),
    ]);
    copy_rosters(&opnfv, &odl);
    let list = artifacts(&odl, &["--confidence", &pass]).expect("odl's stamp in force again");
    assert_eq!(ids(&list), [v.as_str()]);
    assert_eq!(in_force(&list[0], ACCEPTANCE).expect("stamp")["id"], stamp);
    assert!(
        artifacts(&odl, &["--confidence", &format!("{ACCEPTANCE}=FAILURE")]).is_none(),
        "the revoked key's FAILURE does not count"
    );
}
