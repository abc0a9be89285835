//! The fast envelope reader (`fedci_proto::frame`) against coset's full COSE parse: whatever
//! the fast path accepts, the full parse accepts with the same parts, and the Sig_structure it
//! builds is coset's byte for byte. This is what makes the fast path a cost change only.

#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use ciborium::Value;
use common::{golden_body, key};
use coset::{CborSerializable, CoseSign1, TaggedCborSerializable, iana};
use fedci_proto::{Event, frame, sign};
use proptest::prelude::*;

/// The golden event with a `version` of `len` bytes, so payloads of every size.
fn signed(len: usize) -> Vec<u8> {
    let mut body = golden_body();
    if let Value::Map(fields) = &mut body.data {
        fields[1].1 = Value::Text("9".repeat(len));
    }
    sign(&body, &key(1)).unwrap().into_raw()
}

/// What the full parse makes of `bytes`, when it accepts their COSE framing and headers.
fn full_parse(bytes: &[u8]) -> Option<CoseSign1> {
    let tagged = bytes.first() == Some(&0xd2);
    let sign1 = if tagged {
        CoseSign1::from_tagged_slice(bytes).ok()?
    } else {
        CoseSign1::from_slice(bytes).ok()?
    };
    let again = if tagged {
        sign1.clone().to_tagged_vec().ok()?
    } else {
        sign1.clone().to_vec().ok()?
    };
    (again == bytes).then_some(sign1)
}

/// The fast parts equal the full parse's, and the full parse's header checks pass.
fn assert_same_parts(bytes: &[u8], parts: frame::Parts<'_>) {
    let sign1 = full_parse(bytes).expect("the fast path accepted what the full parse refuses");
    assert!(sign1.unprotected.is_empty());
    let h = &sign1.protected.header;
    assert_eq!(
        h.alg,
        Some(coset::Algorithm::Assigned(iana::Algorithm::EdDSA))
    );
    let mut rest = h.clone();
    rest.alg = None;
    rest.key_id = Vec::new();
    assert!(rest.is_empty(), "headers beyond alg and kid");
    assert_eq!(h.key_id.as_slice(), parts.kid);
    assert_eq!(sign1.payload.as_deref(), Some(parts.payload));
    assert_eq!(sign1.signature.as_slice(), parts.signature);
    assert_eq!(
        sign1.protected.original_data.as_deref(),
        Some(parts.protected)
    );
    assert_eq!(
        sign1.tbs_data(b""),
        frame::to_be_signed(parts.protected, parts.payload)
    );
}

#[test]
fn events_of_every_payload_size_take_the_fast_path_with_coset_parts() {
    // Payload heads of one, two and three bytes all occur among these.
    for len in [1, 20, 100, 200, 300, 5_000, 60_000] {
        let raw = signed(len);
        let parts = frame::split(&raw).expect("fedci's own envelope");
        assert_same_parts(&raw, parts);
        assert_eq!(Event::decode(&raw).unwrap().raw(), raw);
    }
}

#[test]
fn the_untagged_form_takes_the_fast_path_too() {
    let raw = signed(50);
    let untagged = &raw[1..];
    assert_same_parts(untagged, frame::split(untagged).unwrap());
    assert_eq!(
        Event::decode(untagged).unwrap().id(),
        Event::decode(&raw).unwrap().id()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Bytes flipped, cut or spliced anywhere in a valid envelope: the fast path either
    /// refuses (and the full parse decides) or agrees with the full parse on every part.
    #[test]
    fn whatever_the_fast_path_accepts_the_full_parse_accepts_the_same(
        len in 1usize..400,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        let mut raw = signed(len);
        for (at, byte, op) in edits {
            let i = at.index(raw.len() + 1);
            match op {
                0 if i < raw.len() => raw[i] = byte,
                1 => raw.insert(i, byte),
                _ if i < raw.len() => { raw.remove(i); }
                _ => {}
            }
        }
        if let Some(parts) = frame::split(&raw) {
            assert_same_parts(&raw, parts);
        }
    }

    /// Arbitrary bytes behind the fast path's fixed prefix.
    #[test]
    fn arbitrary_tails_never_fool_the_fast_path(tail in proptest::collection::vec(any::<u8>(), 0..200)) {
        let raw = signed(10);
        let mut bytes = raw[..44].to_vec();
        bytes.extend(tail);
        if let Some(parts) = frame::split(&bytes) {
            assert_same_parts(&bytes, parts);
        }
    }
}
