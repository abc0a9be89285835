//! JSON request bodies, parsed strictly: a key that appears twice in one object (at any depth,
//! `data` included) is refused with 400 `duplicate_key` instead of the last one silently
//! winning, so what a client meant and what the node signs never differ.

use super::ApiError;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// Parses a request body as `T`, refusing duplicate object keys.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let bad_json =
        |e: serde_json::Error| ApiError::bad_request("bad_json", format!("request body: {e}"));
    match serde_json::from_slice::<NoDuplicates>(body) {
        Ok(NoDuplicates) => {}
        // Syntax errors get the ordinary message from the typed parse below.
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            return Err(ApiError::bad_request(
                "duplicate_key",
                format!("request body: {e}"),
            ));
        }
        Err(e) => return Err(bad_json(e)),
    }
    serde_json::from_slice(body).map_err(bad_json)
}

/// Any JSON value; fails (as a data error) on an object with a repeated key.
struct NoDuplicates;

impl<'de> de::Deserialize<'de> for NoDuplicates {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Walk)
    }
}

struct Walk;

impl<'de> Visitor<'de> for Walk {
    type Value = NoDuplicates;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_i64<E>(self, _: i64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_u64<E>(self, _: u64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_f64<E>(self, _: f64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_str<E>(self, _: &str) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_unit<E>(self) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NoDuplicates, A::Error> {
        while seq.next_element::<NoDuplicates>()?.is_some() {}
        Ok(NoDuplicates)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NoDuplicates, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            map.next_value::<NoDuplicates>()?;
        }
        Ok(NoDuplicates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_duplicates_at_any_depth() {
        let ok: serde_json::Value = parse(br#"{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}"#).unwrap();
        assert_eq!(ok["b"]["a"], 2);
        for body in [
            &br#"{"a":1,"a":2}"#[..],
            br#"{"data":{"x":1,"y":{"z":1,"z":2}}}"#,
            br#"[{"k":"v","k":"w"}]"#,
            br#"{"a\u0062":1,"ab":2}"#,
        ] {
            let e = parse::<serde_json::Value>(body).unwrap_err();
            assert_eq!(e.code, "duplicate_key", "{}", String::from_utf8_lossy(body));
        }
        assert_eq!(
            parse::<serde_json::Value>(b"{").unwrap_err().code,
            "bad_json"
        );
    }
}
