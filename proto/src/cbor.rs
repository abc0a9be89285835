//! Deterministic CBOR (RFC 8949 §4.2.1) over ciborium's `Value`.
//!
//! ciborium neither sorts map keys nor rejects non-canonical input, so fedci produces canonical
//! bytes on purpose ([`to_canonical_vec`]) and checks received bytes by re-encoding them
//! ([`from_canonical_slice`]): a body is canonical exactly when decoding and re-encoding it in
//! canonical form gives back the same bytes. That also rejects indefinite lengths, non-minimal
//! integer heads, unsorted or duplicate keys and trailing bytes.

use ciborium::Value;
use std::cmp::Ordering;

/// Why bytes are not a canonical CBOR item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CborError {
    #[error("not CBOR: {0}")]
    Malformed(String),
    #[error("CBOR is not in deterministic encoding (RFC 8949 §4.2.1)")]
    NonCanonical,
    #[error("map has a duplicate key")]
    DuplicateKey,
    #[error("CBOR encoding failed: {0}")]
    Encode(String),
}

/// Decodes one CBOR item and requires the bytes to be its canonical encoding.
pub fn from_canonical_slice(bytes: &[u8]) -> Result<Value, CborError> {
    let value: Value =
        ciborium::from_reader(bytes).map_err(|e| CborError::Malformed(e.to_string()))?;
    // The value as decoded keeps the input's key order, so the bytes are canonical exactly
    // when every map's keys are strictly ascending (sorted, no duplicates) and the value
    // re-encodes to them: then sorting would change nothing. Checked without copying the
    // value or encoding every key; on any doubt the full check below names the error.
    if keys_strictly_ascending(&value) && to_vec(&value)? == bytes {
        return Ok(value);
    }
    let mut sorted = value.clone();
    canonicalize(&mut sorted)?;
    if to_vec(&sorted)? != bytes {
        return Err(CborError::NonCanonical);
    }
    Ok(value)
}

/// Whether every map in `value` has its keys in strictly ascending order of their encodings.
fn keys_strictly_ascending(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().all(keys_strictly_ascending),
        Value::Tag(_, inner) => keys_strictly_ascending(inner),
        Value::Map(entries) => {
            entries
                .windows(2)
                .all(|w| key_order(&w[0].0, &w[1].0) == Some(Ordering::Less))
                && entries
                    .iter()
                    .all(|(k, v)| keys_strictly_ascending(k) && keys_strictly_ascending(v))
        }
        _ => true,
    }
}

/// The order of two keys' encodings: for two text keys, shorter first then bytewise (the
/// length is in the head), without encoding them; otherwise by encoding. None if a key
/// cannot be encoded.
fn key_order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Text(a), Value::Text(b)) => Some(
            a.len()
                .cmp(&b.len())
                .then_with(|| a.as_bytes().cmp(b.as_bytes())),
        ),
        _ => Some(cmp_encoded(&key_bytes(a).ok()?, &key_bytes(b).ok()?)),
    }
}

/// Encodes a value canonically: map keys sorted (recursively), duplicate keys refused.
pub fn to_canonical_vec(value: &Value) -> Result<Vec<u8>, CborError> {
    let mut sorted = value.clone();
    canonicalize(&mut sorted)?;
    to_vec(&sorted)
}

/// Encodes a value as it is (no sorting). ciborium always writes definite lengths, minimal
/// integer heads and the shortest float that keeps the value.
pub fn to_vec(value: &Value) -> Result<Vec<u8>, CborError> {
    let mut out = Vec::with_capacity(256);
    ciborium::into_writer(value, &mut out).map_err(|e| CborError::Encode(e.to_string()))?;
    Ok(out)
}

/// Sorts every map by the bytewise order of its keys' encodings (RFC 8949 §4.2.1).
pub fn canonicalize(value: &mut Value) -> Result<(), CborError> {
    match value {
        Value::Array(items) => items.iter_mut().try_for_each(canonicalize),
        Value::Tag(_, inner) => canonicalize(inner),
        Value::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                canonicalize(k)?;
                canonicalize(v)?;
            }
            let mut keyed = entries
                .drain(..)
                .map(|(k, v)| Ok((key_bytes(&k)?, k, v)))
                .collect::<Result<Vec<_>, CborError>>()?;
            keyed.sort_by(|a, b| cmp_encoded(&a.0, &b.0));
            if keyed.windows(2).any(|w| w[0].0 == w[1].0) {
                return Err(CborError::DuplicateKey);
            }
            entries.extend(keyed.into_iter().map(|(_, k, v)| (k, v)));
            Ok(())
        }
        _ => Ok(()),
    }
}

fn key_bytes(key: &Value) -> Result<Vec<u8>, CborError> {
    to_vec(key)
}

/// Bytewise lexicographic order of encodings. For text keys this is "shorter first, then
/// bytewise", because the length lives in the head.
fn cmp_encoded(a: &[u8], b: &[u8]) -> Ordering {
    a.cmp(b)
}

/// Looks up a text key in a map value.
pub fn map_get<'a>(entries: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    entries
        .iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn sorts_text_keys_shorter_first_then_bytewise() {
        let v = Value::Map(vec![
            (text("community"), Value::Null),
            (text("time"), Value::Null),
            (text("v"), Value::Null),
            (text("data"), Value::Null),
            (text("kind"), Value::Null),
        ]);
        let bytes = to_canonical_vec(&v).unwrap();
        let back = from_canonical_slice(&bytes).unwrap();
        let keys: Vec<_> = back
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_text().unwrap().to_string())
            .collect();
        assert_eq!(keys, ["v", "data", "kind", "time", "community"]);
    }

    #[test]
    fn rejects_unsorted_duplicate_indefinite_nonminimal_and_trailing() {
        // {"b": 1, "a": 2}: unsorted.
        assert_eq!(
            from_canonical_slice(&[0xa2, 0x61, b'b', 0x01, 0x61, b'a', 0x02]),
            Err(CborError::NonCanonical)
        );
        // {"a": 1, "a": 2}: duplicate key.
        assert_eq!(
            from_canonical_slice(&[0xa2, 0x61, b'a', 0x01, 0x61, b'a', 0x02]),
            Err(CborError::DuplicateKey)
        );
        // Indefinite-length map {_ "a": 1}.
        assert_eq!(
            from_canonical_slice(&[0xbf, 0x61, b'a', 0x01, 0xff]),
            Err(CborError::NonCanonical)
        );
        // 1 encoded in two bytes instead of one.
        assert_eq!(
            from_canonical_slice(&[0x18, 0x01]),
            Err(CborError::NonCanonical)
        );
        // Trailing byte.
        assert_eq!(
            from_canonical_slice(&[0x01, 0x01]),
            Err(CborError::NonCanonical)
        );
        // A canonical item passes.
        assert_eq!(from_canonical_slice(&[0x01]), Ok(Value::Integer(1.into())));
    }

    #[test]
    fn floats_take_their_shortest_form() {
        let bytes = to_canonical_vec(&Value::Float(1.5)).unwrap();
        assert_eq!(bytes, [0xf9, 0x3e, 0x00]);
        assert!(from_canonical_slice(&[0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn huge_declared_lengths_are_errors_not_allocations() {
        // A byte string that claims 2^63 bytes.
        let bytes = [0x5b, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x00];
        assert!(matches!(
            from_canonical_slice(&bytes),
            Err(CborError::Malformed(_))
        ));
        // An array that claims 2^32 items.
        let bytes = [0x9b, 0, 0, 0, 1, 0, 0, 0, 0];
        assert!(matches!(
            from_canonical_slice(&bytes),
            Err(CborError::Malformed(_))
        ));
    }

    /// The check as it was before the fast path: sort a copy, re-encode, compare.
    fn reference(bytes: &[u8]) -> Result<Value, CborError> {
        let value: Value =
            ciborium::from_reader(bytes).map_err(|e| CborError::Malformed(e.to_string()))?;
        let mut sorted = value.clone();
        canonicalize(&mut sorted)?;
        if to_vec(&sorted)? != bytes {
            return Err(CborError::NonCanonical);
        }
        Ok(value)
    }

    fn any_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let key = prop_oneof![
            "[a-c]{0,3}".prop_map(Value::Text),
            "[a-c]{22,26}".prop_map(Value::Text),
            (-3i64..300).prop_map(|i| Value::Integer(i.into())),
            proptest::collection::vec(any::<u8>(), 0..3).prop_map(Value::Bytes),
        ];
        let leaf = prop_oneof![
            key.clone(),
            Just(Value::Null),
            Just(Value::Bool(true)),
            Just(Value::Float(1.5)),
        ];
        leaf.prop_recursive(3, 24, 5, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::vec((key.clone(), inner.clone()), 0..5).prop_map(Value::Map),
                inner.prop_map(|v| Value::Tag(7, Box::new(v))),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        /// Values encoded as they are (maps unsorted, duplicate keys, mixed key types) and
        /// canonically: the fast check decides exactly as the reference does.
        #[test]
        fn the_fast_check_decides_as_the_reference(v in any_value()) {
            for bytes in [to_vec(&v).unwrap(), to_canonical_vec(&v).unwrap_or_default()] {
                proptest::prop_assert_eq!(from_canonical_slice(&bytes), reference(&bytes));
            }
        }
    }
}
