//! The COSE_Sign1 envelope (RFC 9052): signing, and decode + verify of received bytes.
//!
//! Protected header: `{1: -8 (EdDSA), 4: kid}` with kid = the author's Ed25519 key; unprotected
//! header empty; payload = canonical body bytes; detached payloads are not used. We emit the
//! tagged form (tag 18) and accept both forms, but the envelope must re-encode to exactly the
//! bytes received, so trailing bytes and non-canonical framing are refused. Verification works
//! on the bytes as they arrived: the Sig_structure uses the protected header bytes as received.

use crate::body::{Body, BodyError};
use crate::frame;
use crate::vocab::{self, VocabError};
use crate::{EventId, PublicKeyBytes};
use coset::{CborSerializable, CoseSign1, TaggedCborSerializable, iana};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

/// Largest accepted envelope, in bytes.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// A decoded, signature-verified and vocabulary-checked event, with the bytes it came from.
#[derive(Clone)]
pub struct Event {
    id: EventId,
    body: Body,
    raw: Vec<u8>,
}

impl Event {
    /// Decodes and verifies an envelope exactly as received. Never panics.
    pub fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
        Self::parse(bytes, true)
    }

    /// Decodes bytes that this process verified before (e.g. read back from its own store):
    /// the envelope and body are parsed and checked for canonical form, but the signature
    /// and the vocabulary are not checked again. Never use it on bytes from outside.
    pub fn from_trusted_bytes(bytes: &[u8]) -> Result<Event, DecodeError> {
        Self::parse(bytes, false)
    }

    fn parse(bytes: &[u8], verify: bool) -> Result<Event, DecodeError> {
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(DecodeError::TooLarge(bytes.len()));
        }
        // The shape fedci writes is read straight from the bytes; anything else takes the
        // full COSE parse, which decides the same for that shape and names every other error.
        if let Some(parts) = frame::split(bytes) {
            return finish(bytes, parts.kid, parts.payload, verify, || {
                signature_valid(
                    parts.kid,
                    &frame::to_be_signed(parts.protected, parts.payload),
                    parts.signature,
                )
            });
        }
        let (sign1, tagged) = parse_cose(bytes)?;
        let reencoded = if tagged {
            sign1.clone().to_tagged_vec()
        } else {
            sign1.clone().to_vec()
        };
        if reencoded.as_deref().ok() != Some(bytes) {
            return Err(DecodeError::NonCanonicalEnvelope);
        }
        let kid = check_headers(&sign1)?;
        let payload = sign1
            .payload
            .as_deref()
            .ok_or(DecodeError::DetachedPayload)?;
        finish(bytes, &kid, payload, verify, || {
            author_key(&kid)?; // a bad key is named before a bad signature's length
            let sig = <&[u8; 64]>::try_from(sign1.signature.as_slice())
                .map_err(|_| DecodeError::BadSignature)?;
            signature_valid(&kid, &sign1.tbs_data(b""), sig)
        })
    }

    /// The id of an envelope's payload without verifying anything: for dedupe and remembered
    /// refusals before the full decode (never a gossip message id: it leaves the signature
    /// out). None if the bytes are not a COSE_Sign1 with a payload.
    pub fn id_of(bytes: &[u8]) -> Option<EventId> {
        if bytes.len() > MAX_EVENT_BYTES {
            return None;
        }
        if let Some(parts) = frame::split(bytes) {
            return Some(EventId::of_payload(parts.payload));
        }
        let (sign1, _) = parse_cose(bytes).ok()?;
        sign1.payload.as_deref().map(EventId::of_payload)
    }

    /// The head of an envelope's body ([`crate::head`]) without verifying or decoding the
    /// rest; `None` for anything but fedci's own envelope shape around a body it can read.
    /// Only for bytes this process verified before (its own store): nothing is checked, so
    /// on bytes from outside the fields are only what they claim.
    pub fn head_of_trusted(bytes: &[u8]) -> Option<crate::Head<'_>> {
        crate::head::head(frame::split(bytes)?.payload)
    }

    pub fn id(&self) -> EventId {
        self.id
    }

    pub fn body(&self) -> &Body {
        &self.body
    }

    /// The envelope bytes exactly as signed or received: what is stored and forwarded.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    pub fn into_raw(self) -> Vec<u8> {
        self.raw
    }

    pub fn kind(&self) -> &str {
        &self.body.kind
    }

    pub fn community(&self) -> &str {
        &self.body.community
    }

    pub fn author(&self) -> &PublicKeyBytes {
        &self.body.author
    }

    pub fn time(&self) -> u64 {
        self.body.time
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event")
            .field("id", &self.id)
            .field("kind", &self.body.kind)
            .field("community", &self.body.community)
            .field("bytes", &self.raw.len())
            .finish()
    }
}

/// Signs a body with `key`. The body must name `key`'s public key as author and pass the
/// vocabulary: a node never signs an event its peers would refuse.
pub fn sign(body: &Body, key: &SigningKey) -> Result<Event, DecodeError> {
    let author = key.verifying_key().to_bytes();
    if body.author != author {
        return Err(DecodeError::KidMismatch);
    }
    vocab::validate(body)?;
    // Keep the body as a reader will see it: data maps in canonical order. Checking the data
    // model here too means we never sign what a receiver's `Body::from_bytes` would refuse.
    let mut body = body.clone();
    crate::cbor::canonicalize(&mut body.data).map_err(BodyError::from)?;
    let payload = body.to_bytes()?;
    if payload.len() > MAX_EVENT_BYTES {
        return Err(DecodeError::TooLarge(payload.len()));
    }
    body.check_fields()?;
    let signature = key
        .sign(&frame::to_be_signed(&frame::protected(&author), &payload))
        .to_bytes();
    let id = EventId::of_payload(&payload);
    let raw = frame::write(&author, &payload, &signature);
    if raw.len() > MAX_EVENT_BYTES {
        return Err(DecodeError::TooLarge(raw.len()));
    }
    Ok(Event { id, body, raw })
}

/// Fault injection for tests: the event with its `seq` changed and its original signature, so
/// the bytes are a well-formed envelope whose signature does not verify. A relay that
/// tampers with what it forwards produces exactly this.
#[cfg(feature = "test-hooks")]
pub fn tampered_copy(event: &Event) -> Result<Vec<u8>, DecodeError> {
    let mut body = event.body().clone();
    body.seq ^= 1;
    let (mut sign1, _) = parse_cose(event.raw())?;
    sign1.payload = Some(body.to_bytes()?);
    sign1
        .to_tagged_vec()
        .map_err(|e| DecodeError::NotCoseSign1(e.to_string()))
}

/// The body checks shared by both parsing paths, then (when `verify`) the signature and the
/// vocabulary.
fn finish(
    bytes: &[u8],
    kid: &PublicKeyBytes,
    payload: &[u8],
    verify: bool,
    check_signature: impl FnOnce() -> Result<(), DecodeError>,
) -> Result<Event, DecodeError> {
    let body = Body::from_bytes(payload)?;
    if body.author != *kid {
        return Err(DecodeError::KidMismatch);
    }
    if verify {
        check_signature()?;
        vocab::validate(&body)?;
    }
    Ok(Event {
        id: EventId::of_payload(payload),
        body,
        raw: bytes.to_vec(),
    })
}

fn signature_valid(
    kid: &PublicKeyBytes,
    to_be_signed: &[u8],
    signature: &[u8; 64],
) -> Result<(), DecodeError> {
    let key = author_key(kid)?;
    let sig = Signature::from_bytes(signature);
    // Cofactorless verification, the same on every node, so every node reaches the same
    // verdict on the same bytes. Signature malleability cannot change an event's id: the id
    // covers the payload only.
    key.verify(to_be_signed, &sig)
        .map_err(|_| DecodeError::BadSignature)
}

/// Decompressed author keys, per thread: a node sees few authors, and decompression (a field
/// square root) is a tenth of a verification.
const KEY_CACHE_ENTRIES: usize = 1024;

thread_local! {
    static KEYS: std::cell::RefCell<std::collections::HashMap<PublicKeyBytes, VerifyingKey>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

fn author_key(kid: &PublicKeyBytes) -> Result<VerifyingKey, DecodeError> {
    if let Some(k) = KEYS.with(|c| c.borrow().get(kid).copied()) {
        return Ok(k);
    }
    let key = VerifyingKey::from_bytes(kid).map_err(|_| DecodeError::BadKey)?;
    if key.is_weak() {
        return Err(DecodeError::BadKey);
    }
    KEYS.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= KEY_CACHE_ENTRIES {
            c.clear();
        }
        c.insert(*kid, key);
    });
    Ok(key)
}

fn parse_cose(bytes: &[u8]) -> Result<(CoseSign1, bool), DecodeError> {
    // Tag 18 (COSE_Sign1) is the one-byte head 0xd2; an untagged Sign1 starts with an array.
    let tagged = bytes.first() == Some(&0xd2);
    let parsed = if tagged {
        CoseSign1::from_tagged_slice(bytes)
    } else {
        CoseSign1::from_slice(bytes)
    };
    parsed.map(|s| (s, tagged)).map_err(|e| {
        // Tell "not CBOR at all" apart from "CBOR but not a COSE_Sign1" for clearer errors.
        match ciborium::from_reader::<ciborium::Value, _>(bytes) {
            Err(cbor) => DecodeError::NotCbor(cbor.to_string()),
            Ok(_) => DecodeError::NotCoseSign1(e.to_string()),
        }
    })
}

fn check_headers(sign1: &CoseSign1) -> Result<PublicKeyBytes, DecodeError> {
    if !sign1.unprotected.is_empty() {
        return Err(DecodeError::UnprotectedNotEmpty);
    }
    let h = &sign1.protected.header;
    if h.alg != Some(coset::Algorithm::Assigned(iana::Algorithm::EdDSA)) {
        return Err(DecodeError::WrongAlgorithm);
    }
    // Anything beyond alg and kid (crit, content type, IVs, counter signatures, …) is refused:
    // a v1 envelope means one thing.
    let mut rest = h.clone();
    rest.alg = None;
    rest.key_id = Vec::new();
    if !rest.is_empty() {
        return Err(DecodeError::UnexpectedHeader);
    }
    <[u8; 32]>::try_from(h.key_id.as_slice()).map_err(|_| DecodeError::BadKid)
}

/// Every way received bytes can fail to be a valid fedci event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("event is {0} bytes, over the {MAX_EVENT_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("not CBOR: {0}")]
    NotCbor(String),
    #[error("not a COSE_Sign1 structure: {0}")]
    NotCoseSign1(String),
    #[error("COSE envelope is not in canonical form (trailing bytes or non-canonical framing)")]
    NonCanonicalEnvelope,
    #[error("COSE algorithm must be EdDSA (-8)")]
    WrongAlgorithm,
    #[error("COSE protected header has fields other than alg and kid")]
    UnexpectedHeader,
    #[error("COSE unprotected header must be empty")]
    UnprotectedNotEmpty,
    #[error("COSE kid must be a 32-byte Ed25519 public key")]
    BadKid,
    #[error("COSE payload is detached; fedci events carry their payload")]
    DetachedPayload,
    #[error("invalid body: {0}")]
    Body(#[from] BodyError),
    #[error("COSE kid does not equal the body's author")]
    KidMismatch,
    #[error("author key is not a valid Ed25519 public key")]
    BadKey,
    #[error("signature does not verify")]
    BadSignature,
    #[error("vocabulary: {0}")]
    Vocab(#[from] VocabError),
}

impl DecodeError {
    /// A stable snake_case code for metrics and API error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::TooLarge(_) => "too_large",
            DecodeError::NotCbor(_) => "not_cbor",
            DecodeError::NotCoseSign1(_) => "not_cose_sign1",
            DecodeError::NonCanonicalEnvelope => "non_canonical_envelope",
            DecodeError::WrongAlgorithm => "wrong_algorithm",
            DecodeError::UnexpectedHeader => "unexpected_header",
            DecodeError::UnprotectedNotEmpty => "unprotected_not_empty",
            DecodeError::BadKid => "bad_kid",
            DecodeError::DetachedPayload => "detached_payload",
            DecodeError::Body(BodyError::Cbor(crate::cbor::CborError::NonCanonical)) => {
                "non_canonical_body"
            }
            DecodeError::Body(BodyError::UnknownVersion(_)) => "unknown_version",
            DecodeError::Body(_) => "bad_body",
            DecodeError::KidMismatch => "kid_mismatch",
            DecodeError::BadKey => "bad_key",
            DecodeError::BadSignature => "bad_signature",
            DecodeError::Vocab(_) => "vocabulary",
        }
    }
}
