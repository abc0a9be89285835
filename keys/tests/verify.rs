//! Offline verification of evidence bundles: the reference chain verifies with the two roots,
//! and each way to break it is refused with the guilty event named.

#![allow(clippy::unwrap_used)] // tests may unwrap

use ciborium::Value;
use fedci_keys::verify::{Verdict, verify_bundle};
use fedci_keys::{EndKind, PublicKey, Roster, RosterEntry, SecretKey, bundle};
use fedci_proto::{Body, Event, Link, sign};
use proptest::prelude::*;
use std::collections::BTreeMap;

const T0: u64 = 1_700_000_000_000;

fn key(seed: u8) -> SecretKey {
    SecretKey::from_seed(&[seed; 32])
}

/// odl: root 1, node 2. opnfv: root 11, node 12.
fn roster_of(community: &str, root: u8, node: u8, serial: u64, time: u64) -> Event {
    Roster {
        community: community.into(),
        serial,
        entries: vec![RosterEntry::any_kind(key(node).public())],
        ended: vec![],
    }
    .sign(&key(root), time, None)
    .unwrap()
}

fn ev(
    author: u8,
    community: &str,
    kind: &str,
    time: u64,
    data: &[(&str, &str)],
    links: Vec<Link>,
) -> Event {
    let t = |s: &str| Value::Text(s.into());
    let body = Body {
        v: 1,
        kind: kind.into(),
        community: community.into(),
        author: key(author).public().to_bytes(),
        time,
        seq: 0,
        links,
        data: Value::Map(data.iter().map(|(k, v)| (t(k), t(v))).collect()),
    };
    sign(&body, key(author).signing_key()).unwrap()
}

struct Chain {
    rosters: Vec<Event>,
    artifact: Event,
    baseline: Event,
    confidence: Event,
    stamp: Event,
}

fn chain() -> Chain {
    let artifact = ev(
        2,
        "odl",
        "artifact.created",
        T0 + 10,
        &[("identity", "pkg:maven/odl/karaf@0.8.3")],
        vec![],
    );
    let baseline = ev(
        12,
        "opnfv",
        "composition.defined",
        T0 + 20,
        &[("name", "os-odl-nofeature")],
        vec![Link::new("ELEMENT", artifact.id())],
    );
    let confidence = ev(
        12,
        "opnfv",
        "confidence.modified",
        T0 + 30,
        &[("name", "opnfvAcceptance"), ("value", "SUCCESS")],
        vec![Link::new("SUBJECT", baseline.id())],
    );
    let stamp = ev(
        2,
        "odl",
        "confidence.modified",
        T0 + 40,
        &[("name", "opnfvAcceptance"), ("value", "SUCCESS")],
        vec![
            Link::new("SUBJECT", artifact.id()),
            Link::new("CONFIDENCE_BASIS", confidence.id()),
        ],
    );
    Chain {
        rosters: vec![
            roster_of("odl", 1, 2, 1, T0),
            roster_of("opnfv", 11, 12, 1, T0),
        ],
        artifact,
        baseline,
        confidence,
        stamp,
    }
}

impl Chain {
    fn events(&self) -> Vec<&Event> {
        vec![
            &self.artifact,
            &self.baseline,
            &self.confidence,
            &self.stamp,
        ]
    }

    fn bundle(&self) -> Vec<u8> {
        let items: Vec<&[u8]> = self
            .rosters
            .iter()
            .chain(self.events())
            .map(|e| e.raw())
            .collect();
        bundle::write(&items)
    }
}

fn roots(pairs: &[(&str, u8)]) -> BTreeMap<String, PublicKey> {
    pairs
        .iter()
        .map(|(c, k)| (c.to_string(), key(*k).public()))
        .collect()
}

fn refused_ids(v: &Verdict) -> Vec<String> {
    v.refused
        .iter()
        .map(|r| r.id.map(|i| i.short()).unwrap_or_default())
        .collect()
}

#[test]
fn the_reference_chain_verifies_with_only_the_two_roots() {
    let c = chain();
    let v = verify_bundle(&c.bundle(), &roots(&[("odl", 1), ("opnfv", 11)]));
    assert!(v.ok, "{}", v.render());
    assert_eq!(v.events.len(), 4);
    assert_eq!(v.rosters.len(), 2);
    assert!(v.external_links.is_empty());
    let text = v.render();
    assert!(text.starts_with("VERIFIED 4 events, 2 rosters"), "{text}");
    // The stamp is the top of the tree; the artifact appears below it.
    let stamp_line = text.lines().nth(1).unwrap();
    assert!(
        stamp_line.contains("confidence.modified odl")
            && stamp_line.contains(&c.stamp.id().short()),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "ELEMENT → artifact.created odl  key {}",
            &key(2).public().to_string()[..12]
        )),
        "{text}"
    );
}

#[test]
fn a_flipped_signature_byte_names_the_event() {
    let c = chain();
    let mut bytes = c.bundle();
    // The signature is the last 64 bytes of the last item (the stamp).
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let v = verify_bundle(&bytes, &roots(&[("odl", 1), ("opnfv", 11)]));
    assert!(!v.ok);
    assert_eq!(refused_ids(&v), [c.stamp.id().short()]);
    assert!(v.refused[0].reason.contains("signature"), "{:?}", v.refused);
    assert!(
        v.render()
            .contains(&format!("REFUSED {}", c.stamp.id().short()))
    );
}

#[test]
fn a_bundle_without_one_communitys_rosters_refuses_its_events() {
    let mut c = chain();
    c.rosters.retain(|r| r.community() != "opnfv");
    let v = verify_bundle(&c.bundle(), &roots(&[("odl", 1), ("opnfv", 11)]));
    assert!(!v.ok);
    assert_eq!(
        refused_ids(&v),
        [c.baseline.id().short(), c.confidence.id().short()]
    );
    assert!(
        v.refused[0].reason.contains("no roster of opnfv"),
        "{:?}",
        v.refused
    );
}

#[test]
fn a_wrong_root_refuses_the_roster_and_the_events() {
    let c = chain();
    let v = verify_bundle(&c.bundle(), &roots(&[("odl", 1), ("opnfv", 99)]));
    assert!(!v.ok);
    assert_eq!(
        refused_ids(&v),
        [
            c.rosters[1].id().short(),
            c.baseline.id().short(),
            c.confidence.id().short()
        ]
    );
    assert!(
        v.refused[0]
            .reason
            .contains("not signed by the root given for opnfv")
    );
}

#[test]
fn a_community_without_a_root_is_unverified() {
    let c = chain();
    let v = verify_bundle(&c.bundle(), &roots(&[("odl", 1)]));
    assert!(!v.ok);
    assert_eq!(refused_ids(&v).len(), 3);
    assert!(
        v.refused
            .iter()
            .all(|r| r.reason.contains("no root given for community opnfv"))
    );
}

#[test]
fn events_signed_after_a_revocation_are_refused_earlier_ones_kept() {
    let mut c = chain();
    let mut r2 = Roster {
        community: "odl".into(),
        serial: 2,
        entries: vec![RosterEntry::any_kind(key(2).public())],
        ended: vec![],
    };
    r2.end_key(&key(2).public(), EndKind::Revoked, T0 + 35);
    c.rosters.push(
        r2.sign(&key(1), T0 + 1000, Some(c.rosters[0].id()))
            .unwrap(),
    );
    let v = verify_bundle(&c.bundle(), &roots(&[("odl", 1), ("opnfv", 11)]));
    assert!(!v.ok);
    assert_eq!(refused_ids(&v), [c.stamp.id().short()]);
    assert!(v.refused[0].reason.contains("revoked"), "{:?}", v.refused);
}

#[test]
fn retiring_the_key_after_the_events_keeps_the_bundle_valid() {
    let mut c = chain();
    let mut r2 = Roster {
        community: "odl".into(),
        serial: 2,
        entries: vec![RosterEntry::any_kind(key(3).public())],
        ended: vec![],
    };
    r2.end_key(&key(2).public(), EndKind::Retired, T0 + 500);
    c.rosters.push(
        r2.sign(&key(1), T0 + 1000, Some(c.rosters[0].id()))
            .unwrap(),
    );
    let v = verify_bundle(&c.bundle(), &roots(&[("odl", 1), ("opnfv", 11)]));
    assert!(v.ok, "{}", v.render());
    assert_eq!(v.rosters.len(), 3);
}

#[test]
fn a_broken_roster_chain_and_a_wrong_link_kind_are_named() {
    let mut c = chain();
    // Serial 2 points at a roster that is not in the bundle.
    let orphan = Roster {
        community: "odl".into(),
        serial: 2,
        entries: vec![RosterEntry::any_kind(key(2).public())],
        ended: vec![],
    }
    .sign(&key(1), T0 + 5, Some(c.artifact.id()))
    .unwrap();
    c.rosters.push(orphan.clone());
    let v = verify_bundle(&c.bundle(), &roots(&[("odl", 1), ("opnfv", 11)]));
    assert_eq!(refused_ids(&v), [orphan.id().short()]);
    // An artifact.published whose ARTIFACT link points at a composition.
    let c = chain();
    let t = |s: &str| Value::Text(s.into());
    let body = Body {
        v: 1,
        kind: "artifact.published".into(),
        community: "opnfv".into(),
        author: key(12).public().to_bytes(),
        time: T0 + 50,
        seq: 1,
        links: vec![Link::new("ARTIFACT", c.baseline.id())],
        data: Value::Map(vec![(
            t("locations"),
            Value::Array(vec![Value::Map(vec![
                (t("type"), t("http")),
                (t("uri"), t("https://x")),
            ])]),
        )]),
    };
    let published = sign(&body, key(12).signing_key()).unwrap();
    let mut items: Vec<&[u8]> = c
        .rosters
        .iter()
        .chain(c.events())
        .map(|e| e.raw())
        .collect();
    items.push(published.raw());
    let v = verify_bundle(&bundle::write(&items), &roots(&[("odl", 1), ("opnfv", 11)]));
    assert_eq!(refused_ids(&v), [published.id().short()]);
    assert!(v.refused[0].reason.contains("ARTIFACT"), "{:?}", v.refused);
}

#[test]
fn links_leaving_the_bundle_are_listed() {
    let c = chain();
    let items: Vec<&[u8]> = c
        .rosters
        .iter()
        .chain([&c.confidence, &c.stamp])
        .map(|e| e.raw())
        .collect();
    let v = verify_bundle(&bundle::write(&items), &roots(&[("odl", 1), ("opnfv", 11)]));
    assert!(v.ok, "{}", v.render());
    let out: Vec<_> = v
        .external_links
        .iter()
        .map(|l| (l.rel.as_str(), l.to))
        .collect();
    assert_eq!(
        out,
        [("SUBJECT", c.baseline.id()), ("SUBJECT", c.artifact.id())]
    );
}

#[test]
fn an_empty_bundle_is_not_a_success() {
    assert!(!verify_bundle(&[], &roots(&[("odl", 1)])).ok);
}

proptest! {
    #[test]
    fn any_bytes_give_a_verdict_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let v = verify_bundle(&bytes, &roots(&[("odl", 1)]));
        prop_assert!(!v.ok);
    }

    #[test]
    fn any_single_flipped_bit_is_refused(pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let c = chain();
        let mut bytes = c.bundle();
        let i = pos.index(bytes.len());
        bytes[i] ^= 1 << bit;
        let v = verify_bundle(&bytes, &roots(&[("odl", 1), ("opnfv", 11)]));
        prop_assert!(!v.ok, "flip at {} accepted", i);
    }
}
