//! `trust.roster` events: a community root key's list of node keys allowed to speak for it.
//!
//! data = `{serial: uint, keys: [{key: bstr32, kinds: [pattern], not_before?: ms, not_after?: ms}],
//! retired?: [{key: bstr32, at: ms}], revoked?: [{key: bstr32, since: ms}]}`.
//!
//! Rosters are history: each one is in force from its own time until the next serial's (see
//! [`crate::TrustStore`]), so a key left out of a newer roster is retired at that roster's time.
//! `retired` and `revoked` end a key explicitly and for good: they hold whatever roster an event
//! is judged by. Nodes that predate them still see the key's `not_after`, which the CLI sets to
//! the same end. Kind patterns are exact kinds, `family.*` or `*` (as in
//! [`fedci_proto::filter::kind_matches`]).

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

/// How a key was ended for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EndKind {
    /// Events timed up to and including `at` stay valid; later ones are refused.
    Retired,
    /// Compromised: events timed at or after `at` are refused, even those already stored.
    Revoked,
}

/// An explicit end of one key, carried by every later roster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyEnd {
    pub key: [u8; 32],
    pub how: EndKind,
    /// ms since the epoch: `at` of a retirement, `since` of a revocation.
    pub at: u64,
}

impl KeyEnd {
    /// True when an event of this key timed `time_ms` is no longer valid.
    pub fn ends(&self, time_ms: u64) -> bool {
        match self.how {
            EndKind::Retired => time_ms > self.at,
            EndKind::Revoked => time_ms >= self.at,
        }
    }
}

/// A community's roster as of one serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roster {
    pub community: String,
    /// Strictly increasing per community; the highest one seen is in force.
    pub serial: u64,
    pub entries: Vec<RosterEntry>,
    /// Keys ended for good (retired or revoked), carried forward by each newer roster.
    pub ended: Vec<KeyEnd>,
}

/// Why an event is not a usable roster.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosterError {
    #[error("event is a {0}, not a trust.roster")]
    NotARoster(String),
    #[error("roster entry has an invalid key")]
    BadKey,
    #[error("roster names a retired or revoked key without a readable time")]
    BadEnd,
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
        let mut data = vec![
            (t("serial"), Value::Integer(self.serial.into())),
            (t("keys"), Value::Array(keys)),
        ];
        for (how, name, field) in [
            (EndKind::Retired, "retired", "at"),
            (EndKind::Revoked, "revoked", "since"),
        ] {
            let list: Vec<Value> = self
                .ended
                .iter()
                .filter(|e| e.how == how)
                .map(|e| {
                    Value::Map(vec![
                        (t("key"), Value::Bytes(e.key.to_vec())),
                        (t(field), Value::Integer(e.at.into())),
                    ])
                })
                .collect();
            // Absent when empty: a roster without ends encodes exactly as before they existed.
            if !list.is_empty() {
                data.push((t(name), Value::Array(list)));
            }
        }
        Value::Map(data)
    }

    /// Ends `key` for good, and bounds its entry's `not_after` to the same end so that nodes
    /// which predate `retired`/`revoked` refuse its later events too.
    pub fn end_key(&mut self, key: &PublicKey, how: EndKind, at: u64) {
        let bytes = key.to_bytes();
        let exclusive_end = match how {
            EndKind::Retired => at.saturating_add(1),
            EndKind::Revoked => at,
        };
        for e in self.entries.iter_mut().filter(|e| e.key == *key) {
            e.not_after = Some(e.not_after.map_or(exclusive_end, |n| n.min(exclusive_end)));
        }
        self.ended.retain(|e| !(e.key == bytes && e.how == how));
        self.ended.push(KeyEnd {
            key: bytes,
            how,
            at,
        });
        self.ended.sort();
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
        // The maps of a list field, and the 32-byte `key` every one of them carries.
        let maps = |name| {
            map_get(data, name)
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[])
                .iter()
                .filter_map(Value::as_map)
        };
        let key_of = |m: &[(Value, Value)]| {
            map_get(m, "key")
                .and_then(Value::as_bytes)
                .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                .ok_or(RosterError::BadKey)
        };
        let mut entries = Vec::new();
        for m in maps("keys") {
            let key = key_of(m)?;
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
        let mut ended = Vec::new();
        for (how, name, field) in [
            (EndKind::Retired, "retired", "at"),
            (EndKind::Revoked, "revoked", "since"),
        ] {
            for m in maps(name) {
                let key = key_of(m)?;
                let at = uint(m, field).ok_or(RosterError::BadEnd)?;
                ended.push(KeyEnd { key, how, at });
            }
        }
        ended.sort();
        Ok(Roster {
            community: event.community().to_string(),
            serial,
            entries,
            ended,
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
            ended: vec![],
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

    #[test]
    fn ends_round_trip_and_bound_not_after_for_older_nodes() {
        let root = SecretKey::from_seed(&[1; 32]);
        let a = SecretKey::from_seed(&[2; 32]).public();
        let b = SecretKey::from_seed(&[3; 32]).public();
        let mut roster = Roster {
            community: "odl".into(),
            serial: 2,
            entries: vec![RosterEntry::any_kind(a), RosterEntry::any_kind(b)],
            ended: vec![],
        };
        roster.end_key(&a, EndKind::Retired, 100);
        roster.end_key(&b, EndKind::Revoked, 50);
        assert_eq!(roster.entry(&a.to_bytes()).unwrap().not_after, Some(101));
        assert_eq!(roster.entry(&b.to_bytes()).unwrap().not_after, Some(50));
        let event = roster.sign(&root, 200, None).unwrap();
        let decoded = Roster::from_event(&Event::decode(event.raw()).unwrap()).unwrap();
        assert_eq!(decoded, roster);
        let retired = decoded
            .ended
            .iter()
            .find(|e| e.key == a.to_bytes())
            .unwrap();
        assert!(!retired.ends(100) && retired.ends(101));
        let revoked = decoded
            .ended
            .iter()
            .find(|e| e.key == b.to_bytes())
            .unwrap();
        assert!(!revoked.ends(49) && revoked.ends(50));
    }

    #[test]
    fn a_roster_without_ends_encodes_as_before() {
        // Golden: the data map of a roster from before retire/revoke existed.
        let root = SecretKey::from_seed(&[1; 32]);
        let roster = Roster {
            community: "odl".into(),
            serial: 1,
            entries: vec![RosterEntry::any_kind(root.public())],
            ended: vec![],
        };
        let event = roster.sign(&root, 1, None).unwrap();
        let keys: Vec<_> = event
            .body()
            .data_map()
            .iter()
            .filter_map(|(k, _)| k.as_text())
            .collect();
        assert_eq!(keys, ["keys", "serial"]);
    }
}
