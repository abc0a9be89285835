//! An event's row in the byte log ([`LOG`](super::schema::LOG)): a fixed header, then the
//! COSE bytes exactly as received. The header holds what the writer and readers need without
//! parsing the event: when it arrived here, the author's time and the kind (one byte for the
//! built-in kinds). The id is not stored: it is the hash of the payload, worked out when a
//! reader needs it (about a microsecond per KiB with SHA extensions), which saves 32 bytes an
//! event. Whatever reads many ids bounds the bytes it hashes (see `epochs::MAX_SPAN_BYTES`).

use super::StoreError;
use super::schema::Id;
use fedci_proto::Event;
use fedci_proto::vocab::{KINDS, Kind};

/// arrived_at (8) + time (8) + kind tag (1).
pub const HEADER: usize = 17;

/// The kind tag of a kind that is not built in (an `x-<org>.<name>` kind).
const CUSTOM: u8 = u8::MAX;

/// One stored event, read out of the log.
#[derive(Debug, Clone)]
pub struct Row {
    /// This node's clock (ms) when it stored the event; 0 when not recorded (events moved
    /// from a store written before arrival times were kept).
    pub arrived_at: u64,
    /// The author's claimed time (ms).
    pub time: u64,
    kind: u8,
    /// Header and COSE bytes, as read.
    bytes: Vec<u8>,
}

impl Row {
    /// Reads a row; a row shorter than its header is corruption, not input.
    pub fn parse(bytes: Vec<u8>) -> Result<Row, StoreError> {
        let corrupt = || StoreError::Corrupt(format!("event row of {} bytes", bytes.len()));
        let u64_at = |i: usize| -> Result<u64, StoreError> {
            let b: [u8; 8] = bytes
                .get(i..i + 8)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(corrupt)?;
            Ok(u64::from_le_bytes(b))
        };
        let (arrived_at, time) = (u64_at(0)?, u64_at(8)?);
        if bytes.len() <= HEADER {
            return Err(corrupt());
        }
        let kind = bytes.get(16).copied().ok_or_else(corrupt)?;
        Ok(Row {
            arrived_at,
            time,
            kind,
            bytes,
        })
    }

    /// The COSE bytes exactly as received.
    pub fn raw(&self) -> &[u8] {
        self.bytes.get(HEADER..).unwrap_or_default()
    }

    /// The COSE bytes, without copying them.
    pub fn into_raw(mut self) -> Vec<u8> {
        self.bytes.drain(..HEADER.min(self.bytes.len()));
        self.bytes
    }

    /// The event's id: the hash of its payload.
    pub fn id(&self) -> Result<Id, StoreError> {
        Event::id_of(self.raw())
            .map(|id| id.0)
            .ok_or_else(|| StoreError::Corrupt("a stored event without a payload".into()))
    }

    /// The built-in kind, or None for a custom kind.
    pub fn kind(&self) -> Option<Kind> {
        KINDS.get(usize::from(self.kind)).copied()
    }

    /// The kind's name: from the tag when built in, else from the event itself (custom kinds
    /// are not tagged).
    pub fn kind_name(&self) -> Result<String, StoreError> {
        match self.kind() {
            Some(k) => Ok(k.as_str().to_string()),
            None => Ok(self.event()?.kind().to_string()),
        }
    }

    /// The event itself. Stored bytes were verified when they came in.
    pub fn event(&self) -> Result<Event, StoreError> {
        Event::from_trusted_bytes(self.raw()).map_err(|e| match self.id() {
            Ok(id) => StoreError::Corrupt(format!("event {}: {e}", hex::encode(id))),
            Err(_) => StoreError::Corrupt(format!("stored event: {e}")),
        })
    }
}

/// The header of a row.
pub fn header(arrived_at: u64, time: u64, kind: &str) -> [u8; HEADER] {
    let tag = Kind::parse(kind)
        .and_then(|k| KINDS.iter().position(|x| *x == k))
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(CUSTOM);
    let mut header = [0u8; HEADER];
    header[..8].copy_from_slice(&arrived_at.to_le_bytes());
    header[8..16].copy_from_slice(&time.to_le_bytes());
    header[16] = tag;
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_reads_back_what_was_written() {
        let raw = b"cose bytes";
        for (kind, expect) in [
            ("artifact.created", Some(Kind::ArtifactCreated)),
            ("trust.roster", Some(Kind::TrustRoster)),
            ("x-acme.thing", None),
        ] {
            let mut buf = header(11, 22, kind).to_vec();
            buf.extend_from_slice(raw);
            let row = Row::parse(buf).expect("row");
            assert_eq!((row.arrived_at, row.time, row.kind()), (11, 22, expect));
            assert_eq!(row.raw(), &raw[..]);
            assert_eq!(row.into_raw(), raw.to_vec());
        }
        for short in [0, 10, HEADER] {
            assert!(matches!(
                Row::parse(vec![0u8; short]),
                Err(StoreError::Corrupt(_))
            ));
        }
    }
}
