//! `trust.roster` events: a community root key's list of node keys allowed to speak for it.
//!
//! data = `{serial: uint, keys: [{key: bstr32, kinds: [pattern], not_before?: ms, not_after?: ms}]}`.
//! A roster with a higher serial replaces the one before: a key left out is revoked, a key
//! given `not_after` is retired (its earlier events stay valid). Kind patterns are exact kinds,
//! `family.*` or `*` (as in [`fedci_proto::filter::kind_matches`]).

use crate::{PublicKey, SecretKey};
use ciborium::Value;
use fedci_proto::cbor::map_get;
use fedci_proto::filter::kind_matches;
use fedci_proto::vocab::Kind;
use fedci_proto::{Body, DecodeError, Event, EventId, Link, sign};

/// One authorised node key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterEntry {
    pub key: PublicKey,
    /// Kind patterns this key may publish.
    pub kinds: Vec<String>,
    /// Events timed before this (ms) are not authorised.
    pub not_before: Option<u64>,
    /// Events timed at or after this (ms) are not authorised.
    pub not_after: Option<u64>,
}

impl RosterEntry {
    /// A key allowed to publish every kind, with no time limits.
    pub fn any_kind(key: PublicKey) -> Self {
        RosterEntry {
            key,
            kinds: vec!["*".into()],
            not_before: None,
            not_after: None,
        }
    }

    pub fn allows_kind(&self, kind: &str) -> bool {
        self.kinds.iter().any(|p| kind_matches(p, kind))
    }

    pub fn valid_at(&self, time_ms: u64) -> bool {
        self.not_before.is_none_or(|t| time_ms >= t) && self.not_after.is_none_or(|t| time_ms < t)
    }
}

/// A community's roster as of one serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roster {
    pub community: String,
    /// Strictly increasing per community; the highest one seen is in force.
    pub serial: u64,
    pub entries: Vec<RosterEntry>,
}

/// Why an event is not a usable roster.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosterError {
    #[error("event is a {0}, not a trust.roster")]
    NotARoster(String),
    #[error("roster entry has an invalid key")]
    BadKey,
}

impl Roster {
    pub fn entry(&self, key: &[u8; 32]) -> Option<&RosterEntry> {
        self.entries.iter().find(|e| &e.key.to_bytes() == key)
    }

    fn to_data(&self) -> Value {
        let t = |s: &str| Value::Text(s.into());
        let keys = self
            .entries
            .iter()
            .map(|e| {
                let mut m = vec![
                    (t("key"), Value::Bytes(e.key.to_bytes().to_vec())),
                    (
                        t("kinds"),
                        Value::Array(e.kinds.iter().map(|k| t(k)).collect()),
                    ),
                ];
                if let Some(nb) = e.not_before {
                    m.push((t("not_before"), Value::Integer(nb.into())));
                }
                if let Some(na) = e.not_after {
                    m.push((t("not_after"), Value::Integer(na.into())));
                }
                Value::Map(m)
            })
            .collect();
        Value::Map(vec![
            (t("serial"), Value::Integer(self.serial.into())),
            (t("keys"), Value::Array(keys)),
        ])
    }

    /// Signs this roster with the community's root key as a `trust.roster` event.
    pub fn sign(
        &self,
        root: &SecretKey,
        time_ms: u64,
        previous: Option<EventId>,
    ) -> Result<Event, DecodeError> {
        let body = Body {
            v: fedci_proto::FORMAT_VERSION,
            kind: Kind::TrustRoster.as_str().into(),
            community: self.community.clone(),
            author: root.public().to_bytes(),
            time: time_ms,
            seq: self.serial,
            links: previous
                .map(|p| vec![Link::new("PREVIOUS_VERSION", p)])
                .unwrap_or_default(),
            data: self.to_data(),
        };
        sign(&body, root.signing_key())
    }

    /// Reads a roster from a verified `trust.roster` event (the vocabulary already checked
    /// the shape of `data`). Who signed it is the trust store's question, not this one's.
    pub fn from_event(event: &Event) -> Result<Roster, RosterError> {
        if event.kind() != Kind::TrustRoster.as_str() {
            return Err(RosterError::NotARoster(event.kind().to_string()));
        }
        let data = event.body().data_map();
        let uint = |m: &[(Value, Value)], k| {
            map_get(m, k)
                .and_then(Value::as_integer)
                .and_then(|i| u64::try_from(i).ok())
        };
        let serial = uint(data, "serial").unwrap_or(0);
        let mut entries = Vec::new();
        for e in map_get(data, "keys")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            let Some(m) = e.as_map() else { continue };
            let key = map_get(m, "key")
                .and_then(Value::as_bytes)
                .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                .ok_or(RosterError::BadKey)?;
            entries.push(RosterEntry {
                key: PublicKey::from_bytes(&key).map_err(|_| RosterError::BadKey)?,
                kinds: map_get(m, "kinds")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|k| k.as_text().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
                not_before: uint(m, "not_before"),
                not_after: uint(m, "not_after"),
            });
        }
        Ok(Roster {
            community: event.community().to_string(),
            serial,
            entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roster_round_trips_through_a_signed_event() {
        let root = SecretKey::from_seed(&[1; 32]);
        let node = SecretKey::from_seed(&[2; 32]);
        let roster = Roster {
            community: "odl".into(),
            serial: 3,
            entries: vec![RosterEntry {
                key: node.public(),
                kinds: vec!["artifact.*".into(), "confidence.modified".into()],
                not_before: Some(10),
                not_after: Some(20),
            }],
        };
        let event = roster.sign(&root, 15, Some(EventId([4; 32]))).unwrap();
        let decoded = Event::decode(event.raw()).unwrap();
        assert_eq!(Roster::from_event(&decoded).unwrap(), roster);
        let entry = roster.entry(&node.public().to_bytes()).unwrap();
        assert!(entry.allows_kind("artifact.published"));
        assert!(!entry.allows_kind("composition.defined"));
        assert!(entry.valid_at(10) && entry.valid_at(19));
        assert!(!entry.valid_at(9) && !entry.valid_at(20));
    }
}
