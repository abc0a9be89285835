//! `head` (the four fields serving re-checks trust on, read without parsing the body) against
//! the full parse: on every body the full parse accepts, in canonical or any other order, among
//! generated body-like maps with missing, duplicated, extra and mistyped fields, nested maps
//! holding "kind" and "time" keys, tags, floats and large integers, and on mutated and random
//! bytes, `head` reads the same fields; it never panics.

#![allow(clippy::unwrap_used)] // tests may unwrap

use ciborium::Value;
use fedci_proto::head::head;
use fedci_proto::{Body, cbor};
use proptest::prelude::*;

fn t(s: &str) -> Value {
    Value::Text(s.into())
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop_oneof![
            Just("kind"),
            Just("time"),
            Just("author"),
            Just("community"),
            Just("x"),
            Just("v")
        ]
        .prop_map(t),
        any::<u64>().prop_map(|i| Value::Integer(i.into())),
        (-1000i64..0).prop_map(|i| Value::Integer(i.into())),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
        Just(Value::Bytes(vec![3; 32])),
        Just(Value::Null),
        Just(Value::Bool(false)),
        prop_oneof![Just(1.5f64), Just(1e300), Just(0.1)].prop_map(Value::Float),
    ]
}

fn any_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![leaf(), Just(t("kind")), Just(t("time"))],
                    inner.clone()
                ),
                0..4
            )
            .prop_map(Value::Map),
            (0u64..30, inner).prop_map(|(n, v)| Value::Tag(n, Box::new(v))),
        ]
    })
}

fn field_value(name: &'static str) -> BoxedStrategy<Value> {
    let good: Value = match name {
        "v" => Value::Integer(1.into()),
        "kind" => t("artifact.created"),
        "community" => t("odl"),
        "author" => Value::Bytes(vec![7; 32]),
        "time" => Value::Integer(1_795_000_000_123u64.into()),
        "seq" => Value::Integer(5.into()),
        "links" => Value::Array(vec![]),
        _ => Value::Map(vec![]),
    };
    prop_oneof![4 => Just(good), 1 => any_value()].boxed()
}

fn body_like() -> impl Strategy<Value = Value> {
    let names = fedci_proto::body::FIELDS;
    let fields: Vec<_> = names
        .iter()
        .map(|n| (any::<u8>(), field_value(n)))
        .collect();
    (
        fields,
        prop::collection::vec((any_value(), any_value()), 0..2),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(move |(fs, extra, add_extra, time)| {
            let mut m: Vec<(Value, Value)> = Vec::new();
            for (i, (drop, v)) in fs.into_iter().enumerate() {
                if drop < 8 {
                    continue;
                }
                let v = if names[i] == "time" && matches!(v, Value::Integer(_)) && drop % 2 == 0 {
                    Value::Integer(time.into())
                } else {
                    v
                };
                m.push((t(names[i]), v));
                if drop == 255 {
                    m.push((t(names[i]), field_value_dup(names[i])));
                }
            }
            if add_extra {
                m.extend(extra);
            }
            Value::Map(m)
        })
}

fn field_value_dup(name: &str) -> Value {
    match name {
        "kind" => t("trust.roster"),
        "community" => t("zzz"),
        "author" => Value::Bytes(vec![8; 32]),
        "time" => Value::Integer(1.into()),
        _ => Value::Null,
    }
}

fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let h = head(bytes);
    if let Ok(b) = Body::from_bytes(bytes) {
        let h =
            h.ok_or_else(|| TestCaseError::fail(format!("no head for a valid body {bytes:02x?}")))?;
        prop_assert_eq!(
            (h.community, h.kind, h.author, h.time),
            (b.community.as_str(), b.kind.as_str(), b.author, b.time)
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn head_agrees_with_the_full_parse(v in body_like()) {
        if let Ok(bytes) = cbor::to_vec(&v) {
            check(&bytes)?;
        }
        if let Ok(bytes) = cbor::to_canonical_vec(&v) {
            check(&bytes)?;
        }
    }

    #[test]
    fn mutated_valid_bodies(
        data in any_value(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        let b = Body {
            v: 1,
            kind: "artifact.created".into(),
            community: "odl".into(),
            author: [7; 32],
            time: 1_795_000_000_123,
            seq: 9,
            links: vec![],
            data: Value::Map(vec![(t("d"), data)]),
        };
        let Ok(mut bytes) = b.to_bytes() else {
            return Ok(());
        };
        for (i, byte, op) in edits {
            let n = bytes.len();
            match op {
                0 => {
                    let i = i.index(n);
                    bytes[i] = byte;
                }
                1 => bytes.insert(i.index(n + 1), byte),
                _ => {
                    if n > 0 {
                        bytes.remove(i.index(n));
                    }
                }
            }
        }
        check(&bytes)?;
    }

    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        check(&bytes)?;
    }
}

/// Counts claiming u64::MAX items and 64 KiB of nesting end at the end of the bytes or at the
/// depth limit.
#[test]
fn huge_counts_and_deep_nesting_answer_none() {
    let mut v = vec![0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    for _ in 0..30_000 {
        v.extend([
            0x61, b'x', 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ]);
    }
    assert_eq!(head(&v), None);
    for nest in [0xc1, 0x9b] {
        let mut w = vec![0xa1, 0x61, b'x'];
        w.extend(std::iter::repeat_n(nest, 65_536));
        assert_eq!(head(&w), None);
    }
}
