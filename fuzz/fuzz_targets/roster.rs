//! Roster decoding: the input is a roster's `data` (CBOR), signed by the pinned root as a
//! `trust.roster` event, read by the trust store and used to decide on a node's events. An
//! input starting with 0xd2 (the COSE_Sign1 tag) is an envelope as received instead.
#![no_main]

use ciborium::Value;
use fedci_keys::{Decision, Roster, SecretKey, TrustStore};
use fedci_proto::{Body, Event, FORMAT_VERSION, sign};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const T0: u64 = 1_700_000_000_000;

fn root() -> SecretKey {
    SecretKey::from_seed(&[3; 32])
}

/// Events by the node key `[4; 32]` (the seeds' roster names it), one per kind family.
fn node_events() -> &'static [Event] {
    static EVENTS: OnceLock<Vec<Event>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let node = SecretKey::from_seed(&[4; 32]);
        let text = |s: &str| Value::Text(s.into());
        [
            (
                "artifact.created",
                vec![(text("identity"), text("pkg:generic/a@1"))],
            ),
            ("activity.triggered", vec![(text("name"), text("build"))]),
            ("x-odl.custom", vec![]),
        ]
        .into_iter()
        .filter_map(|(kind, data)| {
            let body = Body {
                v: FORMAT_VERSION,
                kind: kind.into(),
                community: "odl".into(),
                author: node.public().to_bytes(),
                time: T0 + 5,
                seq: 1,
                links: Vec::new(),
                data: Value::Map(data),
            };
            sign(&body, node.signing_key()).ok()
        })
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let root = root();
    let mut trust = TrustStore::new();
    trust.pin("odl", root.public());
    let event = if data.first() == Some(&0xd2) {
        match Event::decode(data) {
            Ok(e) => e,
            Err(_) => return,
        }
    } else {
        let Ok(value) = ciborium::from_reader::<Value, _>(data) else {
            return;
        };
        let body = Body {
            v: FORMAT_VERSION,
            kind: "trust.roster".into(),
            community: "odl".into(),
            author: root.public().to_bytes(),
            time: T0,
            seq: 1,
            links: Vec::new(),
            data: value,
        };
        let Ok(signed) = sign(&body, root.signing_key()) else {
            return;
        };
        Event::decode(signed.raw()).expect("peers take what the root signed")
    };
    let roster = Roster::from_event(&event);
    let applied = trust.apply_roster(&event, T0);
    if let (Ok(roster), Ok(true)) = (&roster, &applied) {
        for e in node_events() {
            let entry = roster.entry(e.author());
            let expect = entry.is_some_and(|en| en.allows_kind(e.kind()) && en.valid_at(e.time()));
            assert_eq!(
                trust.decide(e, T0) == Decision::Accept,
                expect,
                "decision disagrees with the roster entry {entry:?} for {}",
                e.kind()
            );
        }
    }
});
