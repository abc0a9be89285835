//! Property tests: round trips, bit flips, arbitrary bytes.

#![allow(clippy::unwrap_used)] // tests and benches may unwrap

mod common;

use ciborium::Value;
use common::{envelope, envelope_parts, good_protected, key, signature};
use fedci_proto::body::BodyError;
use fedci_proto::cbor::{CborError, to_canonical_vec};
use fedci_proto::vocab::VocabError;
use fedci_proto::{Body, DecodeError, Event, EventId, Link, sign};
use proptest::prelude::*;

use fedci_proto::body::FIELDS as BODY_FIELDS;

/// One field of a valid envelope changed.
#[derive(Debug, Clone)]
enum Mutation {
    /// Protected `alg` is another algorithm.
    Alg(i64),
    /// Protected header carries one more label.
    ExtraHeader(i64, String),
    /// Unprotected header is not empty.
    Unprotected(i64, String),
    /// `kid` is not 32 bytes.
    KidLength(usize),
    /// `kid` (and the signer) is another key than the body's author.
    OtherKid,
    /// One bit of the signature flipped.
    SignatureBit(usize),
    /// The signature is not 64 bytes.
    SignatureLength(usize),
    /// Payload is nil (detached).
    Detached,
    /// A body field is missing.
    MissingField(usize),
    /// Another format version.
    Version(u64),
    /// A field the format does not have.
    UnknownField(String),
    /// The body's map keys in declaration order instead of canonical order.
    NonCanonical,
    /// A kind that is neither v1 nor custom.
    UnknownKind(String),
    /// One byte after the envelope.
    Trailing(u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        // Registered algorithms other than EdDSA, or private-use ones (COSE readers refuse
        // unregistered values before any fedci check).
        prop_oneof![
            proptest::sample::select(vec![-7i64, -35, -36, -37, -38, -39, -257, 1, 2, 3, 5, 6, 7]),
            i64::MIN..-65536,
        ]
        .prop_map(Mutation::Alg),
        (100i64..10_000, "[a-z]{0,8}").prop_map(|(l, v)| Mutation::ExtraHeader(l, v)),
        (100i64..10_000, "[a-z]{0,8}").prop_map(|(l, v)| Mutation::Unprotected(l, v)),
        // coset itself refuses an empty kid, before any fedci check.
        (1usize..64)
            .prop_filter("not 32", |n| *n != 32)
            .prop_map(Mutation::KidLength),
        Just(Mutation::OtherKid),
        (0usize..512).prop_map(Mutation::SignatureBit),
        (0usize..128)
            .prop_filter("not 64", |n| *n != 64)
            .prop_map(Mutation::SignatureLength),
        Just(Mutation::Detached),
        (0usize..BODY_FIELDS.len()).prop_map(Mutation::MissingField),
        (2u64..u64::MAX).prop_map(Mutation::Version),
        "[a-z_]{1,12}"
            .prop_filter("not a field", |f| !BODY_FIELDS.contains(&f.as_str()))
            .prop_map(Mutation::UnknownField),
        Just(Mutation::NonCanonical),
        "[a-z]{1,8}\\.[a-z]{1,8}"
            .prop_filter("not a v1 kind", |k| fedci_proto::Kind::parse(k).is_none())
            .prop_map(Mutation::UnknownKind),
        any::<u8>().prop_map(Mutation::Trailing),
    ]
}

fn cbor(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).unwrap();
    out
}

fn protected(alg: i64, kid: Vec<u8>, extra: Option<(i64, String)>) -> Value {
    let mut m = vec![
        (Value::Integer(1.into()), Value::Integer(alg.into())),
        (Value::Integer(4.into()), Value::Bytes(kid)),
    ];
    if let Some((l, v)) = extra {
        m.push((Value::Integer(l.into()), Value::Text(v)));
    }
    Value::Map(m)
}

fn kid(seed: u8) -> Vec<u8> {
    key(seed).verifying_key().to_bytes().to_vec()
}

/// The body as a CBOR map with `edit` applied, canonically encoded.
fn edited(b: &Body, edit: impl FnOnce(&mut Vec<(Value, Value)>)) -> Vec<u8> {
    let mut v = b.to_value();
    edit(v.as_map_mut().unwrap());
    to_canonical_vec(&v).unwrap()
}

impl Mutation {
    /// The mutated envelope (signed by the right key unless the signature is the point) and
    /// the error it must get.
    fn apply(&self, b: &Body) -> (Vec<u8>, DecodeError) {
        let payload = b.to_bytes().unwrap();
        let none = || Value::Map(vec![]);
        match self.clone() {
            Mutation::Alg(a) => (
                envelope(protected(a, kid(1), None), none(), payload, 1),
                DecodeError::WrongAlgorithm,
            ),
            Mutation::ExtraHeader(l, v) => (
                envelope(protected(-8, kid(1), Some((l, v))), none(), payload, 1),
                DecodeError::UnexpectedHeader,
            ),
            Mutation::Unprotected(l, v) => (
                envelope(
                    good_protected(1),
                    Value::Map(vec![(Value::Integer(l.into()), Value::Text(v))]),
                    payload,
                    1,
                ),
                DecodeError::UnprotectedNotEmpty,
            ),
            Mutation::KidLength(n) => (
                envelope(protected(-8, vec![7; n], None), none(), payload, 1),
                DecodeError::BadKid,
            ),
            Mutation::OtherKid => (
                envelope(good_protected(2), none(), payload, 2),
                DecodeError::KidMismatch,
            ),
            Mutation::SignatureBit(i) => {
                let prot = cbor(&good_protected(1));
                let mut sig = signature(&prot, &payload, 1);
                sig[i / 8] ^= 1 << (i % 8);
                (
                    envelope_parts(prot, none(), Value::Bytes(payload), sig),
                    DecodeError::BadSignature,
                )
            }
            Mutation::SignatureLength(n) => {
                let prot = cbor(&good_protected(1));
                let mut sig = signature(&prot, &payload, 1);
                sig.resize(n, 0);
                (
                    envelope_parts(prot, none(), Value::Bytes(payload), sig),
                    DecodeError::BadSignature,
                )
            }
            Mutation::Detached => {
                let prot = cbor(&good_protected(1));
                let sig = signature(&prot, &payload, 1);
                (
                    envelope_parts(prot, none(), Value::Null, sig),
                    DecodeError::DetachedPayload,
                )
            }
            Mutation::MissingField(i) => {
                let field = BODY_FIELDS[i];
                let p = edited(b, |m| m.retain(|(k, _)| k.as_text() != Some(field)));
                (
                    envelope(good_protected(1), none(), p, 1),
                    DecodeError::Body(BodyError::MissingField(field)),
                )
            }
            Mutation::Version(v) => {
                let p = edited(b, |m| {
                    for (k, val) in m.iter_mut() {
                        if k.as_text() == Some("v") {
                            *val = Value::Integer(v.into());
                        }
                    }
                });
                (
                    envelope(good_protected(1), none(), p, 1),
                    DecodeError::Body(BodyError::UnknownVersion(v)),
                )
            }
            Mutation::UnknownField(f) => {
                let p = edited(b, |m| m.push((Value::Text(f.clone()), Value::Null)));
                (
                    envelope(good_protected(1), none(), p, 1),
                    DecodeError::Body(BodyError::UnknownField(f)),
                )
            }
            Mutation::NonCanonical => (
                envelope(good_protected(1), none(), cbor(&b.to_value()), 1),
                DecodeError::Body(BodyError::Cbor(CborError::NonCanonical)),
            ),
            Mutation::UnknownKind(k) => {
                let mut other = b.clone();
                other.kind = k.clone();
                (
                    envelope(good_protected(1), none(), other.to_bytes().unwrap(), 1),
                    DecodeError::Vocab(VocabError::UnknownKind(k)),
                )
            }
            Mutation::Trailing(byte) => {
                let mut raw = envelope(good_protected(1), none(), payload, 1);
                raw.push(byte);
                // Trailing bytes are refused by the COSE reader itself.
                let err = Event::decode(&raw).unwrap_err();
                let want = match err {
                    DecodeError::NotCoseSign1(m) if m.contains("extraneous") => {
                        DecodeError::NotCoseSign1(m)
                    }
                    other => panic!("trailing byte {byte:#x}: {other:?}"),
                };
                (raw, want)
            }
        }
    }
}

fn data_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(|i| Value::Integer(i.into())),
        any::<u64>().prop_map(|i| Value::Integer(i.into())),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::Float),
        ".{0,20}".prop_map(Value::Text),
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(Value::Bytes),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z]{1,8}", inner, 0..6).prop_map(|m| Value::Map(
                m.into_iter().map(|(k, v)| (Value::Text(k), v)).collect()
            )),
        ]
    })
}

fn body() -> impl Strategy<Value = Body> {
    (
        "[a-z0-9]{1,8}",
        "[a-z]{1,8}",
        any::<u64>(),
        any::<u64>(),
        proptest::collection::vec(("[A-Z_]{1,12}", any::<[u8; 32]>()), 0..4),
        proptest::collection::btree_map("[a-z_]{1,10}", data_value(), 0..6),
    )
        .prop_map(|(community, org, time, seq, links, data)| Body {
            v: 1,
            kind: format!("x-{org}.event"),
            community,
            author: key(1).verifying_key().to_bytes(),
            time,
            seq,
            links: links
                .into_iter()
                .map(|(r, t)| Link::new(r, EventId(t)))
                .collect(),
            data: Value::Map(data.into_iter().map(|(k, v)| (Value::Text(k), v)).collect()),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn encode_decode_round_trip(b in body()) {
        let event = sign(&b, &key(1)).unwrap();
        let back = Event::decode(event.raw()).unwrap();
        prop_assert_eq!(back.id(), event.id());
        prop_assert_eq!(back.raw(), event.raw());
        // Maps come back in canonical order; compare after re-encoding.
        prop_assert_eq!(back.body().to_bytes().unwrap(), b.to_bytes().unwrap());
    }

    #[test]
    fn any_single_flipped_bit_is_rejected(b in body(), pos in any::<proptest::sample::Index>(), bit in 0u8..8) {
        let event = sign(&b, &key(1)).unwrap();
        let mut raw = event.raw().to_vec();
        let i = pos.index(raw.len());
        raw[i] ^= 1 << bit;
        prop_assert!(Event::decode(&raw).is_err(), "flip of bit {} in byte {} accepted", bit, i);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Event::decode(&bytes);
    }

    /// Arbitrary CBOR as the payload of an envelope that is right in every other way (good
    /// headers, correct signature): the decoder gets to the body and refuses it as a body.
    #[test]
    fn arbitrary_payload_in_a_good_envelope_is_refused_as_a_body(v in data_value()) {
        let payload = fedci_proto::cbor::to_vec(&v).unwrap();
        let env = envelope(good_protected(1), Value::Map(vec![]), payload.clone(), 1);
        let verdict = Event::decode(&env);
        match Body::from_bytes(&payload) {
            Err(e) => prop_assert_eq!(verdict.unwrap_err(), DecodeError::Body(e)),
            Ok(_) => prop_assert!(verdict.is_ok() || matches!(verdict, Err(DecodeError::KidMismatch | DecodeError::Vocab(_)))),
        }
        let _ = Body::from_value(v);
    }

    /// A valid envelope with one thing changed, and everything else (signature included)
    /// made right again, is refused with that thing's own error.
    #[test]
    fn each_mutated_field_has_its_error(b in body(), m in mutation()) {
        let good = sign(&b, &key(1)).unwrap();
        prop_assert!(Event::decode(good.raw()).is_ok());
        let (bytes, want) = m.apply(&b);
        prop_assert_eq!(Event::decode(&bytes).unwrap_err(), want, "{:?}", m);
    }
}
