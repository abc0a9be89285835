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
