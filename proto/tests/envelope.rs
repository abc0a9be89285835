//! Wire-format tests: golden bytes, interop with an independent COSE reading, and every way
//! received bytes can be bad.

#![allow(clippy::unwrap_used)] // tests and benches may unwrap

mod common;

use ciborium::Value;
use common::{envelope, golden_body, good_protected, key, t};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use fedci_proto::body::BodyError;
use fedci_proto::cbor::CborError;
use fedci_proto::{DecodeError, Event, EventId, MAX_EVENT_BYTES, sign};

const GOLDEN_HEX: &str = include_str!("golden/artifact_created.cose.hex");
const GOLDEN_ID: &str = include_str!("golden/artifact_created.id");

#[test]
fn golden_bytes_and_id_are_stable() {
    let event = sign(&golden_body(), &key(1)).unwrap();
    assert_eq!(
        hex::encode(event.raw()),
        GOLDEN_HEX.trim(),
        "wire format changed"
    );
    assert_eq!(event.id().to_hex(), GOLDEN_ID.trim(), "id changed");
    let decoded = Event::decode(&hex::decode(GOLDEN_HEX.trim()).unwrap()).unwrap();
    assert_eq!(decoded.body(), event.body());
    assert_eq!(
        decoded.body().to_bytes().unwrap(),
        golden_body().to_bytes().unwrap()
    );
    assert_eq!(decoded.id(), event.id());
}

/// Reads the envelope with plain ciborium, rebuilds the Sig_structure of RFC 9052 §4.4 by hand
/// and verifies with ed25519-dalek directly: no fedci or coset code on this path.
#[test]
fn cose_sign1_is_standard() {
    let raw = hex::decode(GOLDEN_HEX.trim()).unwrap();
    let value: Value = ciborium::from_reader(raw.as_slice()).unwrap();
    let Value::Tag(18, inner) = value else {
        panic!("not tag 18 (COSE_Sign1)")
    };
    let Value::Array(parts) = *inner else {
        panic!("not an array")
    };
    assert_eq!(parts.len(), 4);
    let protected = parts[0].as_bytes().unwrap().clone();
    assert_eq!(
        parts[1],
        Value::Map(vec![]),
        "unprotected header must be empty"
    );
    let payload = parts[2].as_bytes().unwrap().clone();
    let signature = parts[3].as_bytes().unwrap().clone();

    // Protected header: {1: -8, 4: kid}.
    let header: Value = ciborium::from_reader(protected.as_slice()).unwrap();
    let header = header.as_map().unwrap();
    assert_eq!(
        header[0],
        (Value::Integer(1.into()), Value::Integer((-8).into()))
    );
    let kid = header[1].1.as_bytes().unwrap();
    assert_eq!(header[1].0, Value::Integer(4.into()));
    assert_eq!(kid.as_slice(), key(1).verifying_key().as_bytes());

    let sig_structure = Value::Array(vec![
        t("Signature1"),
        Value::Bytes(protected),
        Value::Bytes(vec![]),
        Value::Bytes(payload.clone()),
    ]);
    let mut tbs = Vec::new();
    ciborium::into_writer(&sig_structure, &mut tbs).unwrap();
    let vk = VerifyingKey::from_bytes(kid.as_slice().try_into().unwrap()).unwrap();
    vk.verify(&tbs, &Signature::from_slice(&signature).unwrap())
        .unwrap();

    // The id is the SHA-256 of the payload bytes.
    assert_eq!(EventId::of_payload(&payload).to_hex(), GOLDEN_ID.trim());
}

fn payload() -> Vec<u8> {
    golden_body().to_bytes().unwrap()
}

#[test]
fn hand_built_envelope_decodes() {
    let bytes = envelope(good_protected(1), Value::Map(vec![]), payload(), 1);
    let decoded = Event::decode(&bytes).unwrap();
    assert_eq!(
        decoded.body().to_bytes().unwrap(),
        golden_body().to_bytes().unwrap()
    );
}

#[test]
fn each_way_of_being_bad_has_its_error() {
    let err = |b: &[u8]| Event::decode(b).unwrap_err();

    assert!(matches!(err(&[0xff, 0x00]), DecodeError::NotCbor(_)));
    assert!(matches!(
        err(&[0x83, 0x01, 0x02, 0x03]),
        DecodeError::NotCoseSign1(_)
    ));
    assert_eq!(
        err(&vec![0u8; MAX_EVENT_BYTES + 1]),
        DecodeError::TooLarge(MAX_EVENT_BYTES + 1)
    );

    let wrong_alg = Value::Map(vec![
        (Value::Integer(1.into()), Value::Integer((-7).into())),
        (
            Value::Integer(4.into()),
            Value::Bytes(key(1).verifying_key().to_bytes().to_vec()),
        ),
    ]);
    assert_eq!(
        err(&envelope(wrong_alg, Value::Map(vec![]), payload(), 1)),
        DecodeError::WrongAlgorithm
    );

    let unprotected = Value::Map(vec![(Value::Integer(4.into()), Value::Bytes(vec![1]))]);
    assert_eq!(
        err(&envelope(good_protected(1), unprotected, payload(), 1)),
        DecodeError::UnprotectedNotEmpty
    );

    // Non-canonical body: map keys in declaration order instead of canonical order.
    let mut unsorted = Vec::new();
    ciborium::into_writer(&golden_body().to_value(), &mut unsorted).unwrap();
    assert_eq!(
        err(&envelope(
            good_protected(1),
            Value::Map(vec![]),
            unsorted,
            1
        )),
        DecodeError::Body(BodyError::Cbor(CborError::NonCanonical))
    );

    // kid names key 2, body names key 1, signed by key 2.
    assert_eq!(
        err(&envelope(
            good_protected(2),
            Value::Map(vec![]),
            payload(),
            2
        )),
        DecodeError::KidMismatch
    );

    // Signed by the wrong key.
    assert_eq!(
        err(&envelope(
            good_protected(1),
            Value::Map(vec![]),
            payload(),
            3
        )),
        DecodeError::BadSignature
    );

    // Missing field, ill-typed field, unknown version.
    let mut b = golden_body().to_value();
    b.as_map_mut()
        .unwrap()
        .retain(|(k, _)| k.as_text() != Some("seq"));
    let p = fedci_proto::cbor::to_canonical_vec(&b).unwrap();
    assert_eq!(
        err(&envelope(good_protected(1), Value::Map(vec![]), p, 1)),
        DecodeError::Body(BodyError::MissingField("seq"))
    );

    let mut b = golden_body().to_value();
    for (k, v) in b.as_map_mut().unwrap() {
        if k.as_text() == Some("time") {
            *v = t("yesterday");
        }
    }
    let p = fedci_proto::cbor::to_canonical_vec(&b).unwrap();
    assert!(matches!(
        err(&envelope(good_protected(1), Value::Map(vec![]), p, 1)),
        DecodeError::Body(BodyError::WrongType { field: "time", .. })
    ));

    let mut body = golden_body();
    body.v = 2;
    let p = body.to_bytes().unwrap();
    assert_eq!(
        err(&envelope(good_protected(1), Value::Map(vec![]), p, 1)),
        DecodeError::Body(BodyError::UnknownVersion(2))
    );

    // Trailing bytes after a valid envelope.
    let mut trailing = envelope(good_protected(1), Value::Map(vec![]), payload(), 1);
    trailing.push(0x00);
    assert!(matches!(err(&trailing), DecodeError::NotCoseSign1(m) if m.contains("extraneous")));

    // Vocabulary: artifact.created without identity.
    let mut body = golden_body();
    body.data = Value::Map(vec![(t("version"), t("1"))]);
    let p = body.to_bytes().unwrap();
    assert!(matches!(
        err(&envelope(good_protected(1), Value::Map(vec![]), p, 1)),
        DecodeError::Vocab(_)
    ));
}

#[test]
fn sign_refuses_what_peers_would_refuse() {
    assert_eq!(
        sign(&golden_body(), &key(2)).unwrap_err(),
        DecodeError::KidMismatch
    );
    let mut body = golden_body();
    body.kind = "artifact.deleted".into();
    assert!(matches!(
        sign(&body, &key(1)).unwrap_err(),
        DecodeError::Vocab(_)
    ));
    let mut body = golden_body();
    body.data = Value::Map(vec![(t("identity"), t(&"x".repeat(MAX_EVENT_BYTES)))]);
    assert!(matches!(
        sign(&body, &key(1)).unwrap_err(),
        DecodeError::TooLarge(_)
    ));
}

/// Compiled with the `test-hooks` feature (on in workspace test runs: the tests enable it).
#[cfg(feature = "test-hooks")]
#[test]
fn tampered_copy_is_a_bad_signature() {
    let event = sign(&golden_body(), &key(1)).unwrap();
    let bad = fedci_proto::envelope::tampered_copy(&event).unwrap();
    assert_eq!(Event::decode(&bad).unwrap_err(), DecodeError::BadSignature);
    assert_ne!(
        Event::id_of(&bad),
        Some(event.id()),
        "a different message id, so gossip carries it"
    );
}
