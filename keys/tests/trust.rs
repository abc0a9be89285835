//! The authorisation decision: every way to be refused, each with its own reason.

#![allow(clippy::unwrap_used)] // tests and benches may unwrap

use ciborium::Value;
use fedci_keys::{
    Decision, MAX_FUTURE_MS, RejectReason, Roster, RosterEntry, SecretKey, TrustStore,
};
use fedci_proto::{Body, Event, sign};

const NOW: u64 = 1_700_000_000_000;

fn key(seed: u8) -> SecretKey {
    SecretKey::from_seed(&[seed; 32])
}

fn event(author: &SecretKey, community: &str, kind: &str, time: u64) -> Event {
    let t = |s: &str| Value::Text(s.into());
    let data = match kind {
        "artifact.created" => vec![(t("identity"), t("pkg:generic/odl@1"))],
        _ => vec![(t("name"), t("os-odl-nofeature"))],
    };
    let body = Body {
        v: 1,
        kind: kind.into(),
        community: community.into(),
        author: author.public().to_bytes(),
        time,
        seq: 0,
        links: vec![],
        data: Value::Map(data),
    };
    sign(&body, author.signing_key()).unwrap()
}

fn roster(serial: u64, entries: Vec<RosterEntry>) -> Roster {
    Roster {
        community: "odl".into(),
        serial,
        entries,
        ended: vec![],
    }
}

/// A store that pins odl's root (key 1) and holds a roster naming node key 2 for artifacts.
fn store() -> TrustStore {
    let mut trust = TrustStore::new();
    trust.pin("odl", key(1).public());
    let r = roster(
        1,
        vec![RosterEntry {
            key: key(2).public(),
            kinds: vec!["artifact.*".into()],
            not_before: Some(NOW - 1_000_000),
            not_after: Some(NOW + 1_000_000),
        }],
    );
    assert!(
        trust
            .apply_roster(&r.sign(&key(1), NOW - 10, None).unwrap(), NOW)
            .unwrap()
    );
    trust
}

#[test]
fn authorised_author_is_accepted() {
    assert_eq!(
        store().decide(&event(&key(2), "odl", "artifact.created", NOW), NOW),
        Decision::Accept
    );
}

#[test]
fn unpinned_root_is_rejected() {
    let trust = store();
    assert_eq!(
        trust.decide(&event(&key(2), "opnfv", "artifact.created", NOW), NOW),
        Decision::Reject(RejectReason::UnpinnedCommunity)
    );
    // A roster for odl signed by a key that is not odl's pinned root.
    let forged = roster(9, vec![RosterEntry::any_kind(key(3).public())])
        .sign(&key(3), NOW, None)
        .unwrap();
    assert_eq!(
        trust.decide(&forged, NOW),
        Decision::Reject(RejectReason::RootMismatch)
    );
    let mut t2 = trust.clone();
    assert!(t2.apply_roster(&forged, NOW).is_err());
    assert_eq!(
        t2.decide(&event(&key(3), "odl", "artifact.created", NOW), NOW),
        Decision::Reject(RejectReason::UnknownAuthor)
    );
}

#[test]
fn no_roster_yet() {
    let mut trust = TrustStore::new();
    trust.pin("odl", key(1).public());
    assert_eq!(
        trust.decide(&event(&key(2), "odl", "artifact.created", NOW), NOW),
        Decision::Reject(RejectReason::NoRoster)
    );
}

#[test]
fn revoked_key_is_rejected_and_older_roster_does_not_undo_it() {
    let mut trust = store();
    let r1_event = trust.roster("odl").map(|(_, id)| id).unwrap();
    // Serial 2 names only key 4: key 2 is revoked.
    let r2 = roster(2, vec![RosterEntry::any_kind(key(4).public())])
        .sign(&key(1), NOW, Some(r1_event))
        .unwrap();
    assert!(trust.apply_roster(&r2, NOW).unwrap());
    assert_eq!(
        trust.decide(&event(&key(2), "odl", "artifact.created", NOW), NOW),
        Decision::Reject(RejectReason::UnknownAuthor)
    );
    assert_eq!(
        trust.decide(&event(&key(4), "odl", "artifact.created", NOW), NOW),
        Decision::Accept
    );
    // Replaying the serial-1 roster is accepted as history but does not come back into force.
    let r1 = roster(1, vec![RosterEntry::any_kind(key(2).public())])
        .sign(&key(1), NOW - 5, None)
        .unwrap();
    assert!(!trust.apply_roster(&r1, NOW).unwrap());
    assert_eq!(
        trust.decide(&event(&key(2), "odl", "artifact.created", NOW), NOW),
        Decision::Reject(RejectReason::UnknownAuthor)
    );
}

#[test]
fn kind_not_allowed() {
    assert_eq!(
        store().decide(&event(&key(2), "odl", "composition.defined", NOW), NOW),
        Decision::Reject(RejectReason::KindNotAllowed)
    );
}

#[test]
fn expired_window() {
    let trust = store();
    assert_eq!(
        trust.decide(
            &event(&key(2), "odl", "artifact.created", NOW + 2_000_000),
            NOW + 3_000_000
        ),
        Decision::Reject(RejectReason::OutsideValidity)
    );
    assert_eq!(
        trust.decide(
            &event(&key(2), "odl", "artifact.created", NOW - 2_000_000),
            NOW
        ),
        Decision::Reject(RejectReason::OutsideValidity)
    );
    // An event made inside the window stays valid when it arrives later (catch-up).
    assert_eq!(
        trust.decide(
            &event(&key(2), "odl", "artifact.created", NOW),
            NOW + 5_000_000
        ),
        Decision::Accept
    );
}

#[test]
fn future_time() {
    let trust = store();
    assert_eq!(
        trust.decide(
            &event(&key(2), "odl", "artifact.created", NOW + MAX_FUTURE_MS + 1),
            NOW
        ),
        Decision::Reject(RejectReason::FutureTime)
    );
    assert_eq!(
        trust.decide(
            &event(&key(2), "odl", "artifact.created", NOW + MAX_FUTURE_MS),
            NOW
        ),
        Decision::Accept
    );
}

#[test]
fn reasons_have_distinct_codes() {
    let codes: std::collections::BTreeSet<_> = RejectReason::ALL.iter().map(|r| r.code()).collect();
    assert_eq!(codes.len(), RejectReason::ALL.len());
}

#[test]
fn same_serial_rosters_settle_on_the_same_one_in_any_order() {
    let a = roster(2, vec![RosterEntry::any_kind(key(5).public())])
        .sign(&key(1), NOW, None)
        .unwrap();
    let b = roster(2, vec![RosterEntry::any_kind(key(6).public())])
        .sign(&key(1), NOW, None)
        .unwrap();
    let winner = a.id().max(b.id());
    for order in [[&a, &b], [&b, &a]] {
        let mut trust = store();
        for r in order {
            trust.apply_roster(r, NOW).unwrap();
        }
        assert_eq!(trust.roster("odl").map(|(_, id)| id), Some(winner));
    }
}

#[test]
fn a_roster_with_an_unreadable_validity_bound_is_refused() {
    use ciborium::Value;
    let t = |s: &str| Value::Text(s.into());
    let entry = Value::Map(vec![
        (t("key"), Value::Bytes(key(2).public().to_bytes().to_vec())),
        (t("kinds"), Value::Array(vec![t("*")])),
        (t("not_after"), t("tomorrow")),
    ]);
    let body = Body {
        v: 1,
        kind: "trust.roster".into(),
        community: "odl".into(),
        author: key(1).public().to_bytes(),
        time: NOW,
        seq: 3,
        links: vec![],
        data: Value::Map(vec![
            (t("serial"), Value::Integer(3.into())),
            (t("keys"), Value::Array(vec![entry])),
        ]),
    };
    assert!(matches!(
        sign(&body, key(1).signing_key()),
        Err(fedci_proto::DecodeError::Vocab(_))
    ));
}
