//! An event's row in [`EVENTS`](super::schema::EVENTS): a fixed header, then the COSE bytes
//! exactly as received. The header holds what the writer and readers need without parsing
//! the event: when it arrived here, the author's time, the kind (one byte for the built-in
//! kinds) and the id.

use super::StoreError;
use super::schema::Id;
use fedci_proto::vocab::{KINDS, Kind};

/// arrived_at (8) + time (8) + kind tag (1) + id (32).
pub const HEADER: usize = 49;

/// The kind tag of a kind that is not built in (an `x-<org>.<name>` kind).
const CUSTOM: u8 = u8::MAX;

/// One stored event, borrowed from its row.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// This node's clock (ms) when it stored the event; 0 when not recorded (events moved
    /// from a store written before arrival times were kept).
    pub arrived_at: u64,
    /// The author's claimed time (ms).
    pub time: u64,
    kind: u8,
    pub id: &'a Id,
    pub raw: &'a [u8],
}

impl<'a> Row<'a> {
    /// Reads a row; a row shorter than its header is corruption, not input.
    pub fn parse(bytes: &'a [u8]) -> Result<Row<'a>, StoreError> {
        let corrupt = || StoreError::Corrupt(format!("event row of {} bytes", bytes.len()));
        let (head, raw) = bytes.split_at_checked(HEADER).ok_or_else(corrupt)?;
        let u64_at = |i: usize| -> Result<u64, StoreError> {
            let b: [u8; 8] = head
                .get(i..i + 8)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(corrupt)?;
            Ok(u64::from_le_bytes(b))
        };
        let id: &Id = head
            .get(17..HEADER)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(corrupt)?;
        Ok(Row {
            arrived_at: u64_at(0)?,
            time: u64_at(8)?,
            kind: head.get(16).copied().ok_or_else(corrupt)?,
            id,
            raw,
        })
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
    pub fn event(&self) -> Result<fedci_proto::Event, StoreError> {
        fedci_proto::Event::from_trusted_bytes(self.raw)
            .map_err(|e| StoreError::Corrupt(format!("event {}: {e}", hex::encode(self.id))))
    }
}

/// Writes a row into `out`, which must be [`HEADER`] + `raw.len()` long.
pub fn write(out: &mut [u8], arrived_at: u64, time: u64, kind: &str, id: &Id, raw: &[u8]) {
    let tag = Kind::parse(kind)
        .and_then(|k| KINDS.iter().position(|x| *x == k))
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(CUSTOM);
    let (head, body) = out.split_at_mut(HEADER.min(out.len()));
    let mut header = [0u8; HEADER];
    header[..8].copy_from_slice(&arrived_at.to_le_bytes());
    header[8..16].copy_from_slice(&time.to_le_bytes());
    header[16] = tag;
    header[17..].copy_from_slice(id);
    head.copy_from_slice(&header[..head.len()]);
    let n = body.len().min(raw.len());
    body[..n].copy_from_slice(&raw[..n]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_reads_back_what_was_written() {
        let id = [7u8; 32];
        let raw = b"cose bytes";
        for (kind, expect) in [
            ("artifact.created", Some(Kind::ArtifactCreated)),
            ("trust.roster", Some(Kind::TrustRoster)),
            ("x-acme.thing", None),
        ] {
            let mut buf = vec![0u8; HEADER + raw.len()];
            write(&mut buf, 11, 22, kind, &id, raw);
            let row = Row::parse(&buf).expect("row");
            assert_eq!((row.arrived_at, row.time, row.kind()), (11, 22, expect));
            assert_eq!((row.id, row.raw), (&id, &raw[..]));
        }
        assert!(matches!(
            Row::parse(&[0u8; 10]),
            Err(StoreError::Corrupt(_))
        ));
    }
}
