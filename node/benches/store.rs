//! Store micro-benchmark: committing batches of verified events through the writer
//! (trust decision, dedupe, every index, one fsynced commit per batch).

#![allow(clippy::unwrap_used)] // benches may unwrap

use ciborium::Value;
use criterion::{Criterion, criterion_group, criterion_main};
use fedci_keys::{Roster, RosterEntry, SecretKey};
use fedci_node::metrics::Metrics;
use fedci_node::store::Store;
use fedci_proto::{Body, Event, sign};
use std::sync::Arc;

fn events(node: &SecretKey, n: usize, offset: usize) -> Vec<Event> {
    let t = |s: &str| Value::Text(s.into());
    (0..n)
        .map(|i| {
            let body = Body {
                v: 1,
                kind: "artifact.created".into(),
                community: "odl".into(),
                author: node.public().to_bytes(),
                time: 1_795_000_000_000 + (offset + i) as u64,
                seq: (offset + i) as u64,
                links: vec![],
                data: Value::Map(vec![
                    (
                        t("identity"),
                        t(&format!(
                            "pkg:maven/org.opendaylight/karaf@0.8.3-{}",
                            offset + i
                        )),
                    ),
                    (t("branch"), t("stable/oxygen")),
                    (
                        t("build_url"),
                        t("https://jenkins.opendaylight.org/releng/job/autorelease/412/"),
                    ),
                ]),
            };
            sign(&body, node.signing_key()).unwrap()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (root, node) = (
        SecretKey::from_seed(&[1; 32]),
        SecretKey::from_seed(&[2; 32]),
    );
    let (store, _writer) = Store::open(
        &dir.path().join("s.redb"),
        None,
        Arc::new(Metrics::default()),
    )
    .unwrap();
    let roster = Roster {
        community: "odl".into(),
        serial: 1,
        entries: vec![RosterEntry::any_kind(node.public())],
        ended: vec![],
    };
    rt.block_on(async {
        store.pin("odl".into(), root.public(), "odl").await.unwrap();
        store
            .ingest(
                vec![roster.sign(&root, 1_795_000_000_000, None).unwrap()],
                "bench",
            )
            .await
            .unwrap();
    });
    let batch = 256;
    let pool = events(&node, 200 * batch, 0);
    let mut next = 0usize;
    let mut group = c.benchmark_group("store");
    group.throughput(criterion::Throughput::Elements(batch as u64));
    group.sample_size(20);
    group.bench_function("ingest batch of 256 (one commit)", |b| {
        b.iter(|| {
            let start = (next * batch) % pool.len();
            next += 1;
            let chunk = pool[start..start + batch].to_vec();
            rt.block_on(store.ingest(chunk, "bench")).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
