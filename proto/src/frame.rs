//! The byte layout of the one envelope shape fedci writes, read and written without building a
//! CBOR tree.
//!
//! Every envelope a fedci node signs is, byte for byte:
//!
//! ```text
//! d2                                tag 18 (COSE_Sign1); absent in the untagged form
//! 84                                array of 4
//! 58 26 a2 01 27 04 58 20 <kid 32>  protected header {1: -8 (EdDSA), 4: kid}, a 38-byte bstr
//! a0                                unprotected header: the empty map
//! <bstr head> <payload>             the canonical body
//! 58 40 <signature 64>              Ed25519 signature
//! ```
//!
//! [`split`] recognises exactly that shape, with every bstr head of minimal length, and hands
//! back slices of the input. Anything else returns `None` and goes through the full COSE parse
//! (`envelope.rs`), which names the precise error. Why it is safe: the full parse accepts every
//! envelope of this shape (it re-encodes to the same bytes, its header holds alg EdDSA and a
//! 32-byte kid and nothing else) and finds the same kid, payload and signature in it, so the
//! fast path changes what a decode costs, never what it decides. `tests/frame.rs` checks the
//! parts and the Sig_structure against coset.
//!
//! Why it matters: every received event used to be parsed into a CBOR tree twice (once for
//! its id, once to decode) and re-encoded once to prove its framing canonical.

use crate::PublicKeyBytes;

/// Tag 18, the head of a tagged COSE_Sign1.
const TAG: u8 = 0xd2;
/// Array of 4 items.
const ARRAY4: u8 = 0x84;
/// The protected header up to the kid: bstr(38) { 1: -8, 4: bstr(32) ...
const PROTECTED_PREFIX: [u8; 8] = [0x58, 0x26, 0xa2, 0x01, 0x27, 0x04, 0x58, 0x20];
/// The empty unprotected header.
const EMPTY_MAP: u8 = 0xa0;
/// The head of a 64-byte bstr (the signature).
const SIG_HEAD: [u8; 2] = [0x58, 0x40];
/// `["Signature1", ` of the Sig_structure (RFC 9052 §4.4): array(4), text(10).
const SIG_STRUCTURE_PREFIX: &[u8] = b"\x84\x6aSignature1";
/// The empty external_aad of the Sig_structure.
const EMPTY_BSTR: u8 = 0x40;

/// The parts of an envelope of the one shape, borrowed from its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts<'a> {
    /// The protected header's bytes (inside their bstr): `a2 01 27 04 58 20 <kid>`.
    pub protected: &'a [u8],
    pub kid: &'a PublicKeyBytes,
    pub payload: &'a [u8],
    pub signature: &'a [u8; 64],
}

/// The parts of `bytes` if they are exactly an envelope of the one shape, tagged or not;
/// `None` for anything else, however valid.
pub fn split(bytes: &[u8]) -> Option<Parts<'_>> {
    let body = bytes.strip_prefix(&[TAG]).unwrap_or(bytes);
    let rest = body.strip_prefix(&[ARRAY4])?;
    let after_prefix = rest.strip_prefix(&PROTECTED_PREFIX)?;
    let (kid, rest) = after_prefix.split_first_chunk::<32>()?;
    let protected = &body[1 + 2..1 + PROTECTED_PREFIX.len() + 32];
    let rest = rest.strip_prefix(&[EMPTY_MAP])?;
    let (payload, rest) = bstr(rest)?;
    let rest = rest.strip_prefix(&SIG_HEAD)?;
    let signature: &[u8; 64] = rest.try_into().ok()?;
    Some(Parts {
        protected,
        kid,
        payload,
        signature,
    })
}

/// A bstr with a minimal head at the start of `b`: its content and what follows it. Payloads
/// are under 64 KiB (`MAX_EVENT_BYTES`), so a head of more than two length bytes is refused
/// here (the full parse decides about it).
fn bstr(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&head, rest) = b.split_first()?;
    let (len, rest) = match head {
        0x40..=0x57 => (usize::from(head - 0x40), rest),
        0x58 => {
            let (&n, rest) = rest.split_first()?;
            (usize::from(n), rest)
        }
        0x59 => {
            let (n, rest) = rest.split_first_chunk::<2>()?;
            (usize::from(u16::from_be_bytes(*n)), rest)
        }
        _ => return None,
    };
    if head_len(len) != b.len() - rest.len() {
        return None; // not minimal
    }
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// Length of a minimal bstr head for `len` bytes of content.
fn head_len(len: usize) -> usize {
    match len {
        0..=23 => 1,
        24..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// Appends a minimal bstr head for `len` bytes of content.
fn push_head(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=23 => out.push(0x40 | len as u8),
        24..=0xff => out.extend_from_slice(&[0x58, len as u8]),
        0x100..=0xffff => {
            out.push(0x59);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0x5a);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
        _ => {
            out.push(0x5b);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
}

/// The protected header of the one shape for `kid`, as a bstr's content.
pub fn protected(kid: &PublicKeyBytes) -> [u8; 38] {
    let mut out = [0u8; 38];
    out[..6].copy_from_slice(&PROTECTED_PREFIX[2..]);
    out[6..].copy_from_slice(kid);
    out
}

/// The bytes an Ed25519 signature covers: the Sig_structure
/// `["Signature1", protected, h'', payload]` of RFC 9052 §4.4, with an empty external_aad.
pub fn to_be_signed(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(SIG_STRUCTURE_PREFIX.len() + protected.len() + payload.len() + 8);
    out.extend_from_slice(SIG_STRUCTURE_PREFIX);
    push_head(&mut out, protected.len());
    out.extend_from_slice(protected);
    out.push(EMPTY_BSTR);
    push_head(&mut out, payload.len());
    out.extend_from_slice(payload);
    out
}

/// The tagged envelope of the one shape.
pub fn write(kid: &PublicKeyBytes, payload: &[u8], signature: &[u8; 64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + PROTECTED_PREFIX.len() + 32 + 1 + 3 + payload.len() + 66);
    out.extend_from_slice(&[TAG, ARRAY4]);
    out.extend_from_slice(&PROTECTED_PREFIX);
    out.extend_from_slice(kid);
    out.push(EMPTY_MAP);
    push_head(&mut out, payload.len());
    out.extend_from_slice(payload);
    out.extend_from_slice(&SIG_HEAD);
    out.extend_from_slice(signature);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn heads_are_minimal_and_read_back() {
        for len in [0usize, 1, 23, 24, 255, 256, 4000, 65535] {
            let mut b = Vec::new();
            push_head(&mut b, len);
            assert_eq!(b.len(), head_len(len), "len {len}");
            b.extend(std::iter::repeat_n(7u8, len));
            b.push(1);
            let (content, rest) = bstr(&b).unwrap();
            assert_eq!((content.len(), rest), (len, &[1u8][..]));
        }
    }

    #[test]
    fn a_non_minimal_or_short_bstr_is_not_read() {
        assert_eq!(bstr(&[0x58, 3, 1, 2, 3]), None); // 3 fits in the head byte
        assert_eq!(bstr(&[0x59, 0, 30]), None); // 30 fits in one length byte
        assert_eq!(bstr(&[0x45, 1, 2]), None); // 5 announced, 2 present
        assert_eq!(bstr(&[0x5a, 0, 0, 0, 1, 9]), None); // longer heads go the full way
    }

    #[test]
    fn written_envelopes_split_back_to_their_parts() {
        let kid = [9u8; 32];
        for len in [0usize, 23, 24, 300, 60_000] {
            let payload = vec![5u8; len];
            let raw = write(&kid, &payload, &[3; 64]);
            let p = split(&raw).unwrap();
            assert_eq!(
                (p.kid, p.payload, p.signature),
                (&kid, &payload[..], &[3u8; 64])
            );
            assert_eq!(p.protected, &protected(&kid)[..]);
            // The untagged form splits the same; one byte more or less does not split.
            assert_eq!(split(&raw[1..]), Some(p));
            let mut longer = raw.clone();
            longer.push(0);
            assert_eq!(split(&longer), None);
            assert_eq!(split(&raw[..raw.len() - 1]), None);
        }
    }
}
