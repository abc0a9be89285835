//! Property tests: round trips, bit flips, arbitrary bytes.

#![allow(clippy::unwrap_used)] // tests and benches may unwrap

mod common;

use ciborium::Value;
use common::key;
use fedci_proto::{Body, Event, EventId, Link, sign};
use proptest::prelude::*;

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

    #[test]
    fn arbitrary_cbor_in_an_envelope_shape_never_panics(v in data_value()) {
        let env = Value::Tag(18, Box::new(Value::Array(vec![
            Value::Bytes(vec![0xa0]), Value::Map(vec![]), Value::Bytes(fedci_proto::cbor::to_vec(&v).unwrap()), Value::Bytes(vec![0; 64]),
        ])));
        let _ = Event::decode(&fedci_proto::cbor::to_vec(&env).unwrap());
        let _ = Body::from_value(v);
    }
}
