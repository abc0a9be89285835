//! The event body: the signed payload, as a typed struct and as canonical CBOR.
//!
//! Field names and types are the format; see DESIGN.md "Events". Unknown top-level fields are
//! refused so that a v1 body means exactly one thing. `data` is restricted to values that have a
//! JSON view (text keys, no tags, finite floats) so every event can be shown on the socket API.

use crate::cbor::{self, CborError};
use crate::{EventId, PublicKeyBytes};
use ciborium::Value;

/// The body format version this crate reads and writes.
pub const FORMAT_VERSION: u64 = 1;

/// More links than this in one event is refused: links are ids, not content.
pub const MAX_LINKS: usize = 1024;

/// A typed link from this event to another one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Link {
    /// Relation, e.g. `CAUSE`, `ELEMENT`, `SUBJECT` (upper case, `_`).
    pub rel: String,
    /// The id of the linked event; it may not be known yet (a dangling link).
    pub target: EventId,
}

impl Link {
    pub fn new(rel: impl Into<String>, target: EventId) -> Self {
        Link {
            rel: rel.into(),
            target,
        }
    }
}

/// The payload of a signed event.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    /// Format version, [`FORMAT_VERSION`].
    pub v: u64,
    /// `artifact.created`, …, or a custom `x-<org>.<name>`.
    pub kind: String,
    /// The community that speaks, e.g. `odl`.
    pub community: String,
    /// Ed25519 public key of the signing key; equals the COSE `kid`.
    pub author: PublicKeyBytes,
    /// Author's clock, milliseconds since the Unix epoch.
    pub time: u64,
    /// Per-author counter: lets consumers see gaps; never used to reject.
    pub seq: u64,
    pub links: Vec<Link>,
    /// Kind-specific map, checked against the kind's schema by [`crate::vocab`].
    pub data: Value,
}

/// Why a CBOR payload is not a valid v1 body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error(transparent)]
    Cbor(#[from] CborError),
    #[error("body is not a CBOR map")]
    NotAMap,
    #[error("body is missing field `{0}`")]
    MissingField(&'static str),
    #[error("body field `{field}` must be {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("body has unknown field `{0}`")]
    UnknownField(String),
    #[error("unknown format version {0} (this node reads version {FORMAT_VERSION})")]
    UnknownVersion(u64),
    #[error(
        "community name {0:?} is invalid: 1-32 of a-z, 0-9, '-', starting with a letter or digit"
    )]
    BadCommunity(String),
    #[error("link rel {0:?} is invalid: 1-64 of A-Z, 0-9, '_'")]
    BadRel(String),
    #[error("too many links ({0}, at most {MAX_LINKS})")]
    TooManyLinks(usize),
    #[error("data {0}")]
    BadData(String),
}

/// The fields of a body, every one required.
pub const FIELDS: [&str; 8] = [
    "v",
    "kind",
    "community",
    "author",
    "time",
    "seq",
    "links",
    "data",
];

impl Body {
    /// The body as a CBOR value (map order is fixed later by canonical encoding).
    pub fn to_value(&self) -> Value {
        let links = self
            .links
            .iter()
            .map(|l| {
                Value::Map(vec![
                    (text("rel"), text(&l.rel)),
                    (text("target"), Value::Bytes(l.target.0.to_vec())),
                ])
            })
            .collect();
        Value::Map(vec![
            (text("v"), Value::Integer(self.v.into())),
            (text("kind"), text(&self.kind)),
            (text("community"), text(&self.community)),
            (text("author"), Value::Bytes(self.author.to_vec())),
            (text("time"), Value::Integer(self.time.into())),
            (text("seq"), Value::Integer(self.seq.into())),
            (text("links"), Value::Array(links)),
            (text("data"), self.data.clone()),
        ])
    }

    /// Canonical CBOR bytes of the body: what gets signed and hashed.
    pub fn to_bytes(&self) -> Result<Vec<u8>, BodyError> {
        Ok(cbor::to_canonical_vec(&self.to_value())?)
    }

    /// Parses canonical bytes into a body (structure and types; not the vocabulary).
    pub fn from_bytes(bytes: &[u8]) -> Result<Body, BodyError> {
        Body::from_value(cbor::from_canonical_slice(bytes)?)
    }

    /// Reads a body from a CBOR value, checking every field's presence and type.
    pub fn from_value(value: Value) -> Result<Body, BodyError> {
        let Value::Map(entries) = value else {
            return Err(BodyError::NotAMap);
        };
        for (k, _) in &entries {
            match k.as_text() {
                Some(name) if FIELDS.contains(&name) => {}
                Some(name) => return Err(BodyError::UnknownField(name.chars().take(64).collect())),
                None => return Err(BodyError::UnknownField("<non-text key>".into())),
            }
        }
        let get = |f: &'static str| cbor::map_get(&entries, f).ok_or(BodyError::MissingField(f));
        let v = uint(get("v")?, "v")?;
        if v != FORMAT_VERSION {
            return Err(BodyError::UnknownVersion(v));
        }
        let kind = get("kind")?
            .as_text()
            .ok_or(wrong("kind", "a text string"))?
            .to_string();
        let community = get("community")?
            .as_text()
            .ok_or(wrong("community", "a text string"))?
            .to_string();
        check_community(&community)?;
        let author = get("author")?
            .as_bytes()
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .ok_or(wrong("author", "a 32-byte string"))?;
        let time = uint(get("time")?, "time")?;
        let seq = uint(get("seq")?, "seq")?;
        let links = parse_links(get("links")?)?;
        let data = get("data")?.clone();
        if !data.is_map() {
            return Err(wrong("data", "a map"));
        }
        check_data_model(&data, 0)?;
        Ok(Body {
            v,
            kind,
            community,
            author,
            time,
            seq,
            links,
            data,
        })
    }

    /// Checks a typed body against the rules `from_value` applies to received ones, so a
    /// node never signs a body its peers would refuse.
    pub fn check_fields(&self) -> Result<(), BodyError> {
        if self.v != FORMAT_VERSION {
            return Err(BodyError::UnknownVersion(self.v));
        }
        check_community(&self.community)?;
        if self.links.len() > MAX_LINKS {
            return Err(BodyError::TooManyLinks(self.links.len()));
        }
        for l in &self.links {
            check_rel(&l.rel)?;
        }
        if !self.data.is_map() {
            return Err(wrong("data", "a map"));
        }
        check_data_model(&self.data, 0)
    }

    /// The data map's entries (empty if `data` is not a map, which `from_value` refuses).
    pub fn data_map(&self) -> &[(Value, Value)] {
        self.data.as_map().map(Vec::as_slice).unwrap_or(&[])
    }

    /// A text field of `data`, if present and text.
    pub fn data_str(&self, key: &str) -> Option<&str> {
        cbor::map_get(self.data_map(), key).and_then(Value::as_text)
    }
}

fn parse_links(value: &Value) -> Result<Vec<Link>, BodyError> {
    let items = value.as_array().ok_or(wrong("links", "an array"))?;
    if items.len() > MAX_LINKS {
        return Err(BodyError::TooManyLinks(items.len()));
    }
    items
        .iter()
        .map(|item| {
            let m = item
                .as_map()
                .filter(|m| m.len() == 2)
                .ok_or(wrong("links", "an array of {rel, target} maps"))?;
            let rel = cbor::map_get(m, "rel")
                .and_then(Value::as_text)
                .ok_or(wrong("links", "maps with a text `rel`"))?;
            check_rel(rel)?;
            let target = cbor::map_get(m, "target")
                .and_then(Value::as_bytes)
                .and_then(|b| EventId::try_from(b.as_slice()).ok())
                .ok_or(wrong("links", "maps with a 32-byte `target`"))?;
            Ok(Link::new(rel, target))
        })
        .collect()
}

/// Community names go into topic names, so they are kept to a small safe alphabet.
pub fn check_community(name: &str) -> Result<(), BodyError> {
    let ok = (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(BodyError::BadCommunity(name.chars().take(64).collect()))
    }
}

/// Link relations are upper-case identifiers such as `PREVIOUS_VERSION`.
pub fn check_rel(rel: &str) -> Result<(), BodyError> {
    let ok = (1..=64).contains(&rel.len())
        && rel
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(BodyError::BadRel(rel.chars().take(64).collect()))
    }
}

/// Keeps `data` inside the JSON-representable subset of CBOR.
fn check_data_model(value: &Value, depth: usize) -> Result<(), BodyError> {
    if depth > 32 {
        return Err(BodyError::BadData("is nested more than 32 levels".into()));
    }
    match value {
        Value::Integer(i) => {
            let n = i128::from(*i);
            if n < i128::from(i64::MIN) {
                return Err(BodyError::BadData("has an integer below -2^63".into()));
            }
            Ok(())
        }
        Value::Float(f) if !f.is_finite() => {
            Err(BodyError::BadData("has a NaN or infinite float".into()))
        }
        Value::Bytes(_) | Value::Float(_) | Value::Text(_) | Value::Bool(_) | Value::Null => Ok(()),
        Value::Array(items) => items
            .iter()
            .try_for_each(|v| check_data_model(v, depth + 1)),
        Value::Map(entries) => entries.iter().try_for_each(|(k, v)| {
            if !k.is_text() {
                return Err(BodyError::BadData("has a map key that is not text".into()));
            }
            check_data_model(v, depth + 1)
        }),
        Value::Tag(..) => Err(BodyError::BadData("has a CBOR tag".into())),
        _ => Err(BodyError::BadData(
            "has an unsupported CBOR simple value".into(),
        )),
    }
}

fn uint(v: &Value, field: &'static str) -> Result<u64, BodyError> {
    v.as_integer()
        .and_then(|i| u64::try_from(i).ok())
        .ok_or(wrong(field, "an unsigned integer"))
}

fn wrong(field: &'static str, expected: &'static str) -> BodyError {
    BodyError::WrongType { field, expected }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Body {
        Body {
            v: 1,
            kind: "artifact.created".into(),
            community: "odl".into(),
            author: [7; 32],
            time: 1_700_000_000_000,
            seq: 3,
            links: vec![Link::new("CAUSE", EventId([9; 32]))],
            data: Value::Map(vec![(text("identity"), text("pkg:maven/odl/dist@1"))]),
        }
    }

    #[test]
    fn round_trip() {
        let b = sample();
        assert_eq!(Body::from_bytes(&b.to_bytes().unwrap()).unwrap(), b);
    }

    #[test]
    fn typed_errors() {
        let mut v = sample().to_value();
        if let Value::Map(m) = &mut v {
            m.retain(|(k, _)| k.as_text() != Some("time"));
        }
        assert_eq!(Body::from_value(v), Err(BodyError::MissingField("time")));

        let mut b = sample();
        b.v = 2;
        assert_eq!(
            Body::from_bytes(&b.to_bytes().unwrap()),
            Err(BodyError::UnknownVersion(2))
        );

        let mut b = sample();
        b.community = "ODL".into();
        assert!(matches!(
            Body::from_bytes(&b.to_bytes().unwrap()),
            Err(BodyError::BadCommunity(_))
        ));

        let mut b = sample();
        b.data = Value::Integer(1.into());
        assert_eq!(
            Body::from_bytes(&b.to_bytes().unwrap()),
            Err(BodyError::WrongType {
                field: "data",
                expected: "a map"
            })
        );

        let mut b = sample();
        b.data = Value::Map(vec![(text("x"), Value::Tag(1, Box::new(Value::Null)))]);
        assert!(matches!(
            Body::from_bytes(&b.to_bytes().unwrap()),
            Err(BodyError::BadData(_))
        ));

        let mut v = sample().to_value();
        if let Value::Map(m) = &mut v {
            m.push((text("extra"), Value::Null));
        }
        assert_eq!(
            Body::from_value(v),
            Err(BodyError::UnknownField("extra".into()))
        );
    }
}
