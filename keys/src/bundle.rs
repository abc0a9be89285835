//! Evidence bundles on the wire: a CBOR sequence (RFC 8742, `application/cbor-seq`) whose items
//! are exact COSE_Sign1 event bytes. Splitting finds item boundaries by walking CBOR headers
//! only, so nothing is decoded, allocated or re-encoded before `Event::decode` sees the bytes.

use fedci_proto::MAX_EVENT_BYTES;

/// Media type of a bundle.
pub const MEDIA_TYPE: &str = "application/cbor-seq";
/// Most items one bundle may hold.
pub const MAX_ITEMS: usize = 20_000;
/// Largest bundle accepted, in bytes.
pub const MAX_BUNDLE_BYTES: usize = 256 << 20;
/// Deepest nesting walked inside one item (a COSE_Sign1 needs 3).
const MAX_DEPTH: u32 = 16;

/// Why bytes are not a bundle of events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("bundle is {0} bytes, more than the {MAX_BUNDLE_BYTES} accepted")]
    TooLarge(usize),
    #[error("bundle holds more than {MAX_ITEMS} items")]
    TooManyItems,
    #[error("item {item} (at byte {offset}) is not a complete CBOR data item")]
    Truncated { item: usize, offset: usize },
    #[error("item {item} (at byte {offset}) is malformed CBOR: {why}")]
    Malformed {
        item: usize,
        offset: usize,
        why: &'static str,
    },
    #[error(
        "item {item} (at byte {offset}) is larger than an event may be ({MAX_EVENT_BYTES} bytes)"
    )]
    ItemTooLarge { item: usize, offset: usize },
}

/// Joins event bytes into a bundle: a CBOR sequence is simply the items back to back.
pub fn write(items: &[&[u8]]) -> Vec<u8> {
    items.concat()
}

/// Splits a bundle into its items, each the exact bytes of one CBOR data item.
pub fn split(bytes: &[u8]) -> Result<Vec<&[u8]>, BundleError> {
    if bytes.len() > MAX_BUNDLE_BYTES {
        return Err(BundleError::TooLarge(bytes.len()));
    }
    let mut items = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        if items.len() >= MAX_ITEMS {
            return Err(BundleError::TooManyItems);
        }
        let item = items.len();
        let mut pos = offset;
        skip_item(bytes, &mut pos, 0).map_err(|e| match e {
            Skip::Truncated => BundleError::Truncated { item, offset },
            Skip::Malformed(why) => BundleError::Malformed { item, offset, why },
        })?;
        if pos - offset > MAX_EVENT_BYTES {
            return Err(BundleError::ItemTooLarge { item, offset });
        }
        items.push(&bytes[offset..pos]);
        offset = pos;
    }
    Ok(items)
}

enum Skip {
    Truncated,
    Malformed(&'static str),
}

/// The argument of a CBOR head; None for an indefinite length.
fn head(b: &[u8], pos: &mut usize) -> Result<(u8, Option<u64>), Skip> {
    let first = *b.get(*pos).ok_or(Skip::Truncated)?;
    *pos += 1;
    let (major, info) = (first >> 5, first & 0x1f);
    let n = match info {
        0..=23 => return Ok((major, Some(u64::from(info)))),
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        31 => return Ok((major, None)),
        _ => return Err(Skip::Malformed("reserved additional information")),
    };
    let end = pos.checked_add(n).ok_or(Skip::Truncated)?;
    let raw = b.get(*pos..end).ok_or(Skip::Truncated)?;
    *pos = end;
    Ok((
        major,
        Some(raw.iter().fold(0u64, |a, x| (a << 8) | u64::from(*x))),
    ))
}

fn skip_item(b: &[u8], pos: &mut usize, depth: u32) -> Result<(), Skip> {
    if depth > MAX_DEPTH {
        return Err(Skip::Malformed("nested too deeply"));
    }
    let (major, arg) = head(b, pos)?;
    match (major, arg) {
        (0 | 1, Some(_)) | (7, Some(_)) => Ok(()),
        (0 | 1 | 6, None) => Err(Skip::Malformed("indefinite length on a type without one")),
        (7, None) => Err(Skip::Malformed("unexpected break")),
        (2 | 3, Some(len)) => skip_bytes(b, pos, len),
        (2 | 3, None) => loop {
            if b.get(*pos) == Some(&0xff) {
                *pos += 1;
                return Ok(());
            }
            let (m, len) = head(b, pos)?;
            match len {
                Some(len) if m == major => skip_bytes(b, pos, len)?,
                _ => return Err(Skip::Malformed("bad chunk in an indefinite string")),
            }
        },
        (4 | 5, Some(n)) => {
            let per = if major == 5 { 2 } else { 1 };
            // Each item takes at least one byte: a count beyond what is left is truncation,
            // caught before looping over it.
            let count = n.checked_mul(per).ok_or(Skip::Truncated)?;
            if count > (b.len() - *pos) as u64 {
                return Err(Skip::Truncated);
            }
            for _ in 0..count {
                skip_item(b, pos, depth + 1)?;
            }
            Ok(())
        }
        (4 | 5, None) => loop {
            if b.get(*pos) == Some(&0xff) {
                *pos += 1;
                return Ok(());
            }
            skip_item(b, pos, depth + 1)?;
        },
        (6, Some(_)) => skip_item(b, pos, depth + 1),
        _ => Err(Skip::Malformed("unknown major type")),
    }
}

fn skip_bytes(b: &[u8], pos: &mut usize, len: u64) -> Result<(), Skip> {
    let len = usize::try_from(len).map_err(|_| Skip::Truncated)?;
    let end = pos.checked_add(len).ok_or(Skip::Truncated)?;
    if end > b.len() {
        return Err(Skip::Truncated);
    }
    *pos = end;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_a_sequence_back_into_its_items() {
        // 1, "ab", [1, {"a": h'00'}], 18([h'', {}, null, h'01']), indefinite "a"+"b"
        let items: [&[u8]; 5] = [
            &[0x01],
            &[0x62, b'a', b'b'],
            &[0x82, 0x01, 0xa1, 0x61, b'a', 0x41, 0x00],
            &[0xd2, 0x84, 0x40, 0xa0, 0xf6, 0x41, 0x01],
            &[0x7f, 0x61, b'a', 0x61, b'b', 0xff],
        ];
        let bundle = write(&items);
        assert_eq!(split(&bundle).unwrap(), items);
        assert!(split(&[]).unwrap().is_empty());
    }

    #[test]
    fn refuses_truncated_and_malformed_items_without_panicking() {
        assert_eq!(
            split(&[0x01, 0x82, 0x01]),
            Err(BundleError::Truncated { item: 1, offset: 1 })
        );
        // An array claiming 2^64-1 items in 9 bytes.
        assert!(matches!(
            split(&[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Err(BundleError::Truncated { .. })
        ));
        assert!(matches!(split(&[0x1c]), Err(BundleError::Malformed { .. })));
        assert!(matches!(split(&[0xff]), Err(BundleError::Malformed { .. })));
        let deep = vec![0x81; 100];
        assert!(matches!(split(&deep), Err(BundleError::Malformed { .. })));
        let big = [&[0x5a, 0x00, 0x01, 0x00, 0x01][..], &vec![0; 65537]].concat();
        assert!(matches!(split(&big), Err(BundleError::ItemTooLarge { .. })));
    }
}
