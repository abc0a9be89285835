//! Event ids: SHA-256 of the exact payload bytes, shown as lowercase hex.

use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// The id of an event: SHA-256 over its payload bytes as they were signed and received.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(pub [u8; 32]);

impl EventId {
    /// Hashes payload bytes into an id. Never re-encode a body before hashing it.
    pub fn of_payload(payload: &[u8]) -> Self {
        EventId(Sha256::digest(payload).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A short prefix for logs and human output.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..6])
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({})", self.short())
    }
}

/// Why a string is not an event id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an event id (64 hex characters): {0:?}")]
pub struct IdParseError(pub String);

impl FromStr for EventId {
    type Err = IdParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut out).map_err(|_| IdParseError(truncate(s)))?;
        Ok(EventId(out))
    }
}

impl TryFrom<&[u8]> for EventId {
    type Error = IdParseError;

    fn try_from(b: &[u8]) -> Result<Self, Self::Error> {
        <[u8; 32]>::try_from(b)
            .map(EventId)
            .map_err(|_| IdParseError(format!("{} bytes", b.len())))
    }
}

impl serde::Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_errors() {
        let id = EventId::of_payload(b"abc");
        assert_eq!(
            id.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(id.to_hex().parse::<EventId>().unwrap(), id);
        assert!("xyz".parse::<EventId>().is_err());
        assert!("ba78".parse::<EventId>().is_err());
        assert!(EventId::try_from(&[0u8; 31][..]).is_err());
    }
}
