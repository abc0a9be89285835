//! Micro-benchmarks of the hot per-event functions: encode+sign and decode+verify.

#![allow(clippy::unwrap_used)] // tests and benches may unwrap

use ciborium::Value;
use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::{Signature, SigningKey, Verifier};
use fedci_proto::{Body, Event, EventId, Link, sign};
use std::hint::black_box;

/// A realistic event: an ODL artifact.created of ~500 bytes with two links.
fn body(key: &SigningKey) -> Body {
    let t = |s: &str| Value::Text(s.into());
    Body {
        v: 1,
        kind: "artifact.created".into(),
        community: "odl".into(),
        author: key.verifying_key().to_bytes(),
        time: 1_700_000_000_000,
        seq: 7,
        links: vec![
            Link::new("CAUSE", EventId([1; 32])),
            Link::new("PREVIOUS_VERSION", EventId([2; 32])),
        ],
        data: Value::Map(vec![
            (
                t("identity"),
                t("pkg:maven/org.opendaylight.integration/karaf@0.8.3"),
            ),
            (t("version"), t("0.8.3-SNAPSHOT-20180615")),
            (t("name"), t("opendaylight-distribution")),
            (
                t("digest"),
                t("sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
            ),
            (t("branch"), t("stable/oxygen")),
            (
                t("build_url"),
                t("https://jenkins.opendaylight.org/releng/job/autorelease-release-oxygen/412/"),
            ),
        ]),
    }
}

fn benches(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[3; 32]);
    let body = body(&key);
    let event = sign(&body, &key).unwrap();
    eprintln!("event size: {} bytes", event.raw().len());
    c.bench_function("encode+sign", |b| {
        b.iter(|| sign(black_box(&body), &key).unwrap())
    });
    c.bench_function("decode+verify", |b| {
        b.iter(|| Event::decode(black_box(event.raw())).unwrap())
    });
    let msg = [7u8; 300];
    let sig: Signature = ed25519_dalek::Signer::sign(&key, &msg);
    let vk = key.verifying_key();
    c.bench_function("ed25519 verify alone (reference)", |b| {
        b.iter(|| vk.verify(black_box(&msg), &sig).unwrap())
    });
    // Where decode+verify spends what verification does not.
    let author = key.verifying_key().to_bytes();
    c.bench_function("part: public key decompression", |b| {
        b.iter(|| ed25519_dalek::VerifyingKey::from_bytes(black_box(&author)).unwrap())
    });
    let payload = body.to_bytes().unwrap();
    c.bench_function("part: canonical body parse", |b| {
        b.iter(|| Body::from_bytes(black_box(&payload)).unwrap())
    });
}

criterion_group!(group, benches);
criterion_main!(group);
