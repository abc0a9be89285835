//! The four fields of a stored event that decide whether trust still vouches for it
//! (community, kind, author, author time), read straight from the payload's CBOR without
//! building the body. A node re-checks them each time it serves a stored event, and parsing
//! whole bodies for that was a quarter of a catch-up responder's CPU.
//!
//! Only for bytes this process verified before: nothing here checks canonical form, and
//! anything it does not recognise answers `None`, for the caller to take the full parse.

use crate::PublicKeyBytes;

/// What [`head`] reads of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head<'a> {
    pub community: &'a str,
    pub kind: &'a str,
    pub author: PublicKeyBytes,
    pub time: u64,
}

/// Deeper nesting than a body may hold (see `body::check_data_model`) is not walked.
const MAX_DEPTH: usize = 64;

/// The head of a body's CBOR bytes; `None` for anything but a map of text keys holding the
/// four fields once each with their types, and nothing after it.
pub fn head(payload: &[u8]) -> Option<Head<'_>> {
    let mut r = Reader(payload);
    let (5, entries) = r.arg()? else {
        return None;
    };
    let (mut community, mut kind, mut author, mut time) = (None, None, None, None);
    for _ in 0..entries {
        let (3, len) = r.arg()? else {
            return None;
        };
        let key = r.take(len)?;
        let slot_taken = match key {
            b"community" => community.replace(r.text()?).is_some(),
            b"kind" => kind.replace(r.text()?).is_some(),
            b"author" => author.replace(r.author()?).is_some(),
            b"time" => match r.arg()? {
                (0, t) => time.replace(t).is_some(),
                _ => return None,
            },
            _ => {
                r.skip(0)?;
                false
            }
        };
        if slot_taken {
            return None;
        }
    }
    if !r.0.is_empty() {
        return None;
    }
    Some(Head {
        community: community?,
        kind: kind?,
        author: author?,
        time: time?,
    })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// An item's head: (major type, argument). Indefinite lengths and reserved values are
    /// refused.
    fn arg(&mut self) -> Option<(u8, u64)> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        let (major, info) = (first >> 5, first & 0x1f);
        let value = match info {
            0..=23 => u64::from(info),
            24 => u64::from(u8::from_be_bytes(*self.chunk::<1>()?)),
            25 => u64::from(u16::from_be_bytes(*self.chunk::<2>()?)),
            26 => u64::from(u32::from_be_bytes(*self.chunk::<4>()?)),
            27 => u64::from_be_bytes(*self.chunk::<8>()?),
            _ => return None,
        };
        Some((major, value))
    }

    fn chunk<const N: usize>(&mut self) -> Option<&'a [u8; N]> {
        let (c, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(c)
    }

    fn take(&mut self, len: u64) -> Option<&'a [u8]> {
        let len = usize::try_from(len).ok()?;
        let (taken, rest) = (self.0.get(..len)?, self.0.get(len..)?);
        self.0 = rest;
        Some(taken)
    }

    fn text(&mut self) -> Option<&'a str> {
        let (3, len) = self.arg()? else {
            return None;
        };
        std::str::from_utf8(self.take(len)?).ok()
    }

    fn author(&mut self) -> Option<PublicKeyBytes> {
        let (2, 32) = self.arg()? else {
            return None;
        };
        self.take(32)?.try_into().ok()
    }

    /// Skips one item, whatever it holds. Each item takes at least a byte, so a huge count
    /// ends at the end of the bytes.
    fn skip(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        let (major, value) = self.arg()?;
        match major {
            0 | 1 | 7 => Some(()),
            2 | 3 => self.take(value).map(drop),
            4 => (0..value).try_for_each(|_| self.skip(depth + 1)),
            5 => (0..value).try_for_each(|_| {
                self.skip(depth + 1)?;
                self.skip(depth + 1)
            }),
            _ => self.skip(depth + 1), // 6: a tag and the item it tags
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{Body, EventId, Link};
    use ciborium::Value;

    fn body(data: Value, links: Vec<Link>) -> Body {
        Body {
            v: 1,
            kind: "artifact.created".into(),
            community: "odl".into(),
            author: [7; 32],
            time: 1_795_000_000_123,
            seq: u64::MAX,
            links,
            data,
        }
    }

    #[test]
    fn the_head_is_what_the_full_parse_reads() {
        let t = |s: &str| Value::Text(s.into());
        let datas = [
            Value::Map(vec![]),
            Value::Map(vec![(t("identity"), t("pkg:generic/x@1"))]),
            Value::Map(vec![
                (
                    t("a"),
                    Value::Array(vec![Value::Integer((-5).into()), Value::Bool(true)]),
                ),
                (
                    t("n"),
                    Value::Map(vec![(t("deep"), Value::Map(vec![(t("x"), Value::Null)]))]),
                ),
                (t("b"), Value::Bytes(vec![0; 300])),
                (t("u"), t("ünïcødé ✓")),
                (t("big"), Value::Integer(u64::MAX.into())),
                (t("f"), Value::Float(1.5)),
            ]),
        ];
        for data in datas {
            let links = vec![Link::new("CAUSE", EventId([9; 32]))];
            let b = body(data, links);
            let bytes = b.to_bytes().unwrap();
            let full = Body::from_bytes(&bytes).unwrap();
            let h = head(&bytes).unwrap();
            assert_eq!(
                (h.community, h.kind, h.author, h.time),
                (
                    full.community.as_str(),
                    full.kind.as_str(),
                    full.author,
                    full.time
                )
            );
        }
    }

    #[test]
    fn anything_else_answers_none_without_panicking() {
        let bytes = body(Value::Map(vec![]), vec![]).to_bytes().unwrap();
        for cut in 0..bytes.len() {
            assert_eq!(head(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(head(&trailing), None);
        assert_eq!(head(&[0xbf, 0xff]), None); // an indefinite map
        assert_eq!(head(&[0xa1, 0x01, 0x01]), None); // an integer key
        // A duplicated field in an otherwise whole body is refused, whichever copy a reader
        // would take.
        let Value::Map(mut entries) = body(Value::Map(vec![]), vec![]).to_value() else {
            unreachable!()
        };
        assert!(head(&crate::cbor::to_vec(&Value::Map(entries.clone())).unwrap()).is_some());
        entries.push((
            Value::Text("kind".into()),
            Value::Text("trust.roster".into()),
        ));
        assert_eq!(
            head(&crate::cbor::to_vec(&Value::Map(entries)).unwrap()),
            None
        );
        // Nesting past the limit is refused, not recursed into.
        let mut deep = vec![0xa1, 0x61, b'x'];
        deep.extend(std::iter::repeat_n(0x81, 10_000));
        assert_eq!(head(&deep), None);
    }
}
