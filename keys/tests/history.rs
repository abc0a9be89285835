//! History-aware trust: the roster in force at an event's time judges it, retire and revoke
//! end keys for good, and the verdicts do not depend on the order rosters arrive in.

#![allow(clippy::unwrap_used)] // tests may unwrap

use ciborium::Value;
use fedci_keys::{EndKind, RejectReason, Roster, RosterEntry, SecretKey, TrustStore};
use fedci_proto::{Body, Event, EventId, sign};
use proptest::prelude::*;

const T0: u64 = 1_700_000_000_000;

fn key(seed: u8) -> SecretKey {
    SecretKey::from_seed(&[seed; 32])
}

fn artifact(author: &SecretKey, time: u64) -> Event {
    let t = |s: &str| Value::Text(s.into());
    let body = Body {
        v: 1,
        kind: "artifact.created".into(),
        community: "odl".into(),
        author: author.public().to_bytes(),
        time,
        seq: 0,
        links: vec![],
        data: Value::Map(vec![(t("identity"), t("pkg:generic/odl@1"))]),
    };
    sign(&body, author.signing_key()).unwrap()
}

fn roster(serial: u64, keys: &[u8]) -> Roster {
    Roster {
        community: "odl".into(),
        serial,
        entries: keys
            .iter()
            .map(|k| RosterEntry::any_kind(key(*k).public()))
            .collect(),
        ended: vec![],
    }
}

fn signed(r: &Roster, time: u64, prev: Option<EventId>) -> Event {
    r.sign(&key(1), time, prev).unwrap()
}

fn trust_with(rosters: &[&Event]) -> TrustStore {
    let mut t = TrustStore::new();
    t.pin("odl", key(1).public());
    for r in rosters {
        t.apply_roster(r, u64::MAX).unwrap();
    }
    t
}

#[test]
fn a_key_left_out_is_retired_at_that_rosters_time_not_before() {
    let r1 = signed(&roster(1, &[2]), T0, None);
    let r2 = signed(&roster(2, &[3]), T0 + 100, Some(r1.id()));
    let t = trust_with(&[&r1, &r2]);
    // Key 2 spoke while roster 1 was in force: still valid after roster 2 dropped it.
    assert_eq!(t.authorise(&artifact(&key(2), T0 + 50)), Ok(1));
    assert_eq!(
        t.authorise(&artifact(&key(2), T0 + 100)),
        Err(RejectReason::UnknownAuthor)
    );
    // Key 3 joined with roster 2: not authorised before it.
    assert_eq!(
        t.authorise(&artifact(&key(3), T0 + 50)),
        Err(RejectReason::UnknownAuthor)
    );
    assert_eq!(t.authorise(&artifact(&key(3), T0 + 150)), Ok(2));
    // Before the first roster, the first roster applies.
    assert_eq!(t.authorise(&artifact(&key(2), T0 - 5)), Ok(1));
    // …but only when the first roster is held: with only serial 2 we do not know.
    let only2 = trust_with(&[&r2]);
    assert_eq!(
        only2.authorise(&artifact(&key(2), T0 + 50)),
        Err(RejectReason::BeforeKnownRosters)
    );
    assert!(!RejectReason::BeforeKnownRosters.is_misbehaviour());
}

#[test]
fn retire_keeps_events_up_to_its_time_and_refuses_later_ones() {
    let r1 = signed(&roster(1, &[2]), T0, None);
    let mut next = roster(2, &[2]);
    // Retired at T0+50, signed later (T0+100): events in between are refused too.
    next.end_key(&key(2).public(), EndKind::Retired, T0 + 50);
    let r2 = signed(&next, T0 + 100, Some(r1.id()));
    let t = trust_with(&[&r1, &r2]);
    assert_eq!(t.authorise(&artifact(&key(2), T0 + 50)), Ok(1));
    assert_eq!(
        t.authorise(&artifact(&key(2), T0 + 51)),
        Err(RejectReason::Retired)
    );
    assert_eq!(
        t.authorise(&artifact(&key(2), T0 + 500)),
        Err(RejectReason::Retired)
    );
}

#[test]
fn revoke_refuses_from_its_time_on_even_under_older_rosters() {
    let r1 = signed(&roster(1, &[2, 3]), T0, None);
    let mut next = roster(2, &[2, 3]);
    next.end_key(&key(2).public(), EndKind::Revoked, T0 + 10);
    let r2 = signed(&next, T0 + 100, Some(r1.id()));
    // A later roster that forgets the revocation does not lift it.
    let r3 = signed(&roster(3, &[2, 3]), T0 + 200, Some(r2.id()));
    let t = trust_with(&[&r1, &r2, &r3]);
    assert_eq!(t.authorise(&artifact(&key(2), T0 + 9)), Ok(1));
    for at in [T0 + 10, T0 + 50, T0 + 150, T0 + 250] {
        assert_eq!(
            t.authorise(&artifact(&key(2), at)),
            Err(RejectReason::Revoked),
            "at {at}"
        );
    }
    assert_eq!(t.authorise(&artifact(&key(3), T0 + 250)), Ok(3));
}

#[test]
fn re_pinning_drops_the_old_roots_history() {
    let r1 = signed(&roster(1, &[2]), T0, None);
    let mut t = trust_with(&[&r1]);
    assert!(t.authorise(&artifact(&key(2), T0 + 1)).is_ok());
    assert!(t.pin("odl", key(9).public()));
    assert_eq!(t.history("odl").count(), 0);
    assert_eq!(
        t.authorise(&r1).map(|_| ()),
        Err(RejectReason::RootMismatch)
    );
    assert_eq!(
        t.authorise(&artifact(&key(2), T0 + 1)),
        Err(RejectReason::NoRoster)
    );
}

/// A random history: rosters with increasing serials and times, random members and ends.
fn histories() -> impl Strategy<Value = Vec<Event>> {
    let roster_spec = (
        prop::collection::vec(2u8..6, 0..4),
        0u64..400,
        prop::option::of((2u8..6, any::<bool>(), 0u64..1000)),
    );
    prop::collection::vec(roster_spec, 1..5).prop_map(|specs| {
        let mut prev = None;
        let mut time = T0;
        let mut out = Vec::new();
        for (i, (members, gap, end)) in specs.into_iter().enumerate() {
            time += gap;
            let mut r = roster(i as u64 + 1, &members);
            if let Some((k, revoke, at)) = end {
                let how = if revoke {
                    EndKind::Revoked
                } else {
                    EndKind::Retired
                };
                r.end_key(&key(k).public(), how, T0 + at);
            }
            let e = signed(&r, time, prev);
            prev = Some(e.id());
            out.push(e);
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn verdicts_do_not_depend_on_the_order_rosters_arrive_in(
        (rosters, order) in histories().prop_flat_map(|h| {
            let n = h.len();
            (Just(h), Just((0..n).collect::<Vec<_>>()).prop_shuffle())
        })
    ) {
        let events: Vec<Event> = (2u8..6)
            .flat_map(|k| (0..1400).step_by(37).map(move |dt| artifact(&key(k), T0 + dt)))
            .collect();
        let in_order = trust_with(&rosters.iter().collect::<Vec<_>>());
        let shuffled = trust_with(&order.iter().map(|i| &rosters[*i]).collect::<Vec<_>>());
        prop_assert_eq!(&in_order, &shuffled);
        for e in &events {
            prop_assert_eq!(in_order.authorise(e), shuffled.authorise(e));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// Serving a stored event asks `vouches` of its head instead of `authorise` of the whole
    /// event: the two must agree on every event under every history.
    #[test]
    fn vouching_for_a_head_is_authorising_the_event(rosters in histories()) {
        // Key 3 may publish artifacts only and key 4 only until T0 + 700, in every roster, so
        // kind and validity decide too.
        let rosters: Vec<Event> = rosters
            .iter()
            .map(|e| {
                let mut r = Roster::from_event(e).unwrap();
                for entry in &mut r.entries {
                    if entry.key == key(3).public() {
                        entry.kinds = vec!["artifact.created".into()];
                    }
                    if entry.key == key(4).public() {
                        entry.not_after = Some(T0 + 700);
                    }
                }
                signed(&r, e.time(), None)
            })
            .collect();
        let t = trust_with(&rosters.iter().collect::<Vec<_>>());
        let mut events: Vec<Event> = (2u8..6)
            .flat_map(|k| (0..1400).step_by(37).map(move |dt| artifact(&key(k), T0 + dt)))
            .collect();
        for k in 2u8..6 {
            let mut other = artifact(&key(k), T0 + 300).body().clone();
            other.kind = "x-acme.thing".into();
            events.push(sign(&other, key(k).signing_key()).unwrap());
        }
        events.extend(rosters.iter().cloned());
        // A roster signed by a member, not the root; an event of a community not pinned.
        events.push(roster(9, &[2]).sign(&key(2), T0, None).unwrap());
        let mut stranger = artifact(&key(2), T0).body().clone();
        stranger.community = "opnfv".into();
        events.push(sign(&stranger, key(2).signing_key()).unwrap());
        for e in &events {
            let head = Event::head_of_trusted(e.raw()).expect("fedci's own envelope");
            prop_assert_eq!(t.vouches(&head), t.authorise(e).is_ok(), "{:?}", e);
        }
    }
}
