//! Helpers shared by the fuzz targets and the seed generator: the fixture node, the way one
//! input becomes several sync frames, envelopes signed around arbitrary payloads, and query
//! strings as a client would send them.

use coset::{CborSerializable, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable, iana};
use ed25519_dalek::{Signer, SigningKey};
use fedci_node::fuzzing::Fixture;
use std::sync::OnceLock;

/// The fixture node of this process, built on first use. Its store lives in a tmpfs (cheap
/// fsyncs) and its directory is removed at once: the open file outlives its name, and
/// nothing is left behind when libFuzzer exits.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let base = std::path::Path::new("/dev/shm");
        let base = if base.is_dir() {
            base.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("fedci-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("fixture directory");
        let f = Fixture::new(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        f
    })
}

/// The key the envelope target signs with: the golden event's author (`proto/tests/common`),
/// so seeds made from golden bodies reach the signature and vocabulary checks.
pub fn golden_key() -> SigningKey {
    SigningKey::from_bytes(&[1; 32])
}

/// A COSE_Sign1 (tagged) around `payload`, kid = `key`, correctly signed: the shape every
/// fedci envelope has, whatever the payload holds.
pub fn signed_envelope(payload: &[u8], key: &SigningKey) -> Vec<u8> {
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::EdDSA)
        .key_id(key.verifying_key().to_bytes().to_vec())
        .build();
    CoseSign1Builder::new()
        .protected(protected)
        .payload(payload.to_vec())
        .create_signature(b"", |tbs| key.sign(tbs).to_bytes().to_vec())
        .build()
        .to_tagged_vec()
        .unwrap_or_default()
}

/// The untagged form of an envelope, for seeds.
pub fn untagged(envelope: &[u8]) -> Vec<u8> {
    coset::CoseSign1::from_tagged_slice(envelope)
        .ok()
        .and_then(|s| s.to_vec().ok())
        .unwrap_or_default()
}

/// Splits one input into frames, each prefixed by its length (u16, little-endian); a short
/// tail is the last frame.
pub fn split_frames(mut data: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    while data.len() >= 2 && frames.len() < 64 {
        let n = usize::from(u16::from_le_bytes([data[0], data[1]]));
        let rest = &data[2..];
        let n = n.min(rest.len());
        frames.push(rest[..n].to_vec());
        data = &rest[n..];
    }
    if !data.is_empty() {
        frames.push(data.to_vec());
    }
    frames
}

/// The inverse of [`split_frames`], for seeds.
pub fn join_frames(frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in frames {
        let n = u16::try_from(f.len()).unwrap_or(u16::MAX);
        out.extend(n.to_le_bytes());
        out.extend(&f[..usize::from(n)]);
    }
    out
}

/// API paths the query target exercises; the input's first byte picks one.
pub const QUERY_PATHS: [&str; 3] = ["/v1/events", "/v1/stream", "/v1/trace/"];

/// Bytes as a query string on the wire: characters a URI allows stay, others are
/// percent-encoded (what curl or a client library sends for them).
pub fn query_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        let keep = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b);
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
