//! The JSON view of events, for the socket API and the CLI.
//!
//! CBOR → JSON is total on the data model bodies allow: byte strings become lowercase hex
//! strings, everything else maps one to one. JSON → CBOR (publishing) turns integers into CBOR
//! integers and other numbers into floats; strings stay strings, so hex written in JSON stays
//! text. JSON → CBOR → JSON is therefore lossless.

use crate::{Event, EventId};
use ciborium::Value;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// An event as JSON: the body's fields plus its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventJson {
    pub id: EventId,
    pub kind: String,
    pub community: String,
    /// Author public key, hex.
    pub author: String,
    /// Author's clock, ms since epoch.
    pub time: u64,
    pub seq: u64,
    pub links: Vec<LinkJson>,
    pub data: Json,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkJson {
    pub rel: String,
    pub target: EventId,
}

impl EventJson {
    pub fn from_event(event: &Event) -> Self {
        let b = event.body();
        EventJson {
            id: event.id(),
            kind: b.kind.clone(),
            community: b.community.clone(),
            author: hex::encode(b.author),
            time: b.time,
            seq: b.seq,
            links: b
                .links
                .iter()
                .map(|l| LinkJson {
                    rel: l.rel.clone(),
                    target: l.target,
                })
                .collect(),
            data: cbor_to_json(&b.data),
        }
    }
}

/// Why a JSON value cannot become event data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("event data must be a JSON object")]
    NotAnObject,
    #[error("number {0} cannot be represented")]
    BadNumber(String),
}

/// Converts CBOR data (as bodies allow it) to JSON. Byte strings become hex strings.
pub fn cbor_to_json(value: &Value) -> Json {
    match value {
        Value::Integer(i) => {
            let n = i128::from(*i);
            u64::try_from(n)
                .map(Json::from)
                .or_else(|_| i64::try_from(n).map(Json::from))
                .unwrap_or(Json::Null)
        }
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Bytes(b) => Json::String(hex::encode(b)),
        Value::Text(s) => Json::String(s.clone()),
        Value::Bool(b) => Json::Bool(*b),
        Value::Array(items) => Json::Array(items.iter().map(cbor_to_json).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| (k.as_text().unwrap_or_default().to_string(), cbor_to_json(v)))
                .collect(),
        ),
        // Bodies refuse tags and other simple values; show them as null if ever asked.
        _ => Json::Null,
    }
}

/// Converts JSON to CBOR.
pub fn json_to_cbor(value: &Json) -> Result<Value, JsonError> {
    Ok(match value {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::Integer(u.into())
            } else if let Some(i) = n.as_i64() {
                Value::Integer(i.into())
            } else {
                let f = n
                    .as_f64()
                    .ok_or_else(|| JsonError::BadNumber(n.to_string()))?;
                Value::Float(f)
            }
        }
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(items) => {
            Value::Array(items.iter().map(json_to_cbor).collect::<Result<_, _>>()?)
        }
        Json::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| Ok((Value::Text(k.clone()), json_to_cbor(v)?)))
                .collect::<Result<_, JsonError>>()?,
        ),
    })
}

/// Converts a JSON object into a CBOR data map.
pub fn json_to_data(value: &Json) -> Result<Value, JsonError> {
    if !value.is_object() {
        return Err(JsonError::NotAnObject);
    }
    json_to_cbor(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_cbor_json_is_lossless() {
        let j = json!({"a": 1, "b": -2, "c": 1.5, "d": "text", "e": [true, null], "f": {"g": 18446744073709551615u64}});
        assert_eq!(cbor_to_json(&json_to_data(&j).unwrap()), j);
        assert_eq!(json_to_data(&json!([1])), Err(JsonError::NotAnObject));
    }

    #[test]
    fn bytes_show_as_hex() {
        assert_eq!(cbor_to_json(&Value::Bytes(vec![0xab, 0x01])), json!("ab01"));
    }
}
