//! Shared fixtures for the proto tests: fixed keys and bodies.

#![allow(dead_code)]

use ciborium::Value;
use ed25519_dalek::SigningKey;
use fedci_proto::{Body, EventId, Link};

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub fn t(s: &str) -> Value {
    Value::Text(s.into())
}

/// The golden body: an ODL artifact.created with every optional field and a CAUSE link.
pub fn golden_body() -> Body {
    Body {
        v: 1,
        kind: "artifact.created".into(),
        community: "odl".into(),
        author: key(1).verifying_key().to_bytes(),
        time: 1_529_000_000_000,
        seq: 42,
        links: vec![Link::new("CAUSE", EventId([0xcc; 32]))],
        data: Value::Map(vec![
            (
                t("identity"),
                t("pkg:maven/org.opendaylight.integration/karaf@0.8.3"),
            ),
            (t("version"), t("0.8.3")),
            (t("name"), t("opendaylight")),
            (t("branch"), t("stable/oxygen")),
            (
                t("build_url"),
                t("https://jenkins.opendaylight.org/releng/job/autorelease-oxygen/42/"),
            ),
        ]),
    }
}

/// The protected header of a good envelope: `{1: -8 (EdDSA), 4: kid}` with key(seed)'s kid.
pub fn good_protected(seed: u8) -> Value {
    Value::Map(vec![
        (Value::Integer(1.into()), Value::Integer((-8).into())),
        (
            Value::Integer(4.into()),
            Value::Bytes(key(seed).verifying_key().to_bytes().to_vec()),
        ),
    ])
}

/// The Sig_structure signature (RFC 9052 §4.4) of key(seed) over protected bytes + payload.
pub fn signature(protected: &[u8], payload: &[u8], signer_seed: u8) -> Vec<u8> {
    use ed25519_dalek::Signer;
    let sig_structure = Value::Array(vec![
        t("Signature1"),
        Value::Bytes(protected.to_vec()),
        Value::Bytes(vec![]),
        Value::Bytes(payload.to_vec()),
    ]);
    let mut tbs = Vec::new();
    ciborium::into_writer(&sig_structure, &mut tbs).unwrap();
    key(signer_seed).sign(&tbs).to_bytes().to_vec()
}

/// A tagged COSE_Sign1 from its four parts, as given (no checks).
pub fn envelope_parts(
    protected: Vec<u8>,
    unprotected: Value,
    payload: Value,
    sig: Vec<u8>,
) -> Vec<u8> {
    let env = Value::Tag(
        18,
        Box::new(Value::Array(vec![
            Value::Bytes(protected),
            unprotected,
            payload,
            Value::Bytes(sig),
        ])),
    );
    let mut out = Vec::new();
    ciborium::into_writer(&env, &mut out).unwrap();
    out
}

/// Builds an envelope by hand, correctly signed by key(signer_seed), so tests can produce
/// every malformed variant with nothing else wrong.
pub fn envelope(
    protected: Value,
    unprotected: Value,
    payload: Vec<u8>,
    signer_seed: u8,
) -> Vec<u8> {
    let mut prot = Vec::new();
    ciborium::into_writer(&protected, &mut prot).unwrap();
    let sig = signature(&prot, &payload, signer_seed);
    envelope_parts(prot, unprotected, Value::Bytes(payload), sig)
}
