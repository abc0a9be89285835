//! Store behaviour that needs a real redb file but no daemon: the writer's own-seq tracking.

use super::{Outcome, Store};
use crate::metrics::Metrics;
use ciborium::Value;
use fedci_keys::{Roster, RosterEntry, SecretKey};
use fedci_proto::{Body, Event, sign};
use std::sync::Arc;

fn own_event(node: &SecretKey, seq: u64, time: u64) -> Event {
    let body = Body {
        v: 1,
        kind: "x-test.seq".into(),
        community: "odl".into(),
        author: node.public().to_bytes(),
        time,
        seq,
        links: vec![],
        data: Value::Map(vec![]),
    };
    sign(&body, node.signing_key()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_event_with_the_largest_seq_neither_panics_nor_breaks_later_publishes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let (root, node) = (
        SecretKey::from_seed(&[1; 32]),
        SecretKey::from_seed(&[2; 32]),
    );
    let now = crate::now_ms();
    let own = Some(node.public().to_bytes());
    let (store, writer) = Store::open(&path, own, Arc::new(Metrics::default())).unwrap();
    store.pin("odl".into(), root.public(), "odl").await.unwrap();
    let roster = Roster {
        community: "odl".into(),
        serial: 1,
        entries: vec![RosterEntry::any_kind(node.public())],
        ended: vec![],
    };
    let roster = roster.sign(&root, now - 60_000, None).unwrap();
    store.ingest(vec![roster], "test").await.unwrap();

    // Posted raw: an event of our own key at seq = u64::MAX.
    let out = store
        .ingest(vec![own_event(&node, u64::MAX, now)], "api_raw")
        .await;
    assert!(
        matches!(out.as_deref(), Ok([Outcome::Stored { .. }])),
        "{out:?}"
    );
    // The writer is still alive and publishing goes on.
    let seq = store.next_own_seq();
    let out = store
        .ingest(vec![own_event(&node, seq, now + 1)], "api")
        .await;
    assert!(
        matches!(out.as_deref(), Ok([Outcome::Stored { .. }])),
        "{out:?}"
    );
    drop(store);
    writer.join();

    // After a restart the counter stays at its ceiling instead of wrapping to 0.
    let (store, writer) = Store::open(&path, own, Arc::new(Metrics::default())).unwrap();
    assert_eq!(store.next_own_seq(), u64::MAX);
    assert_eq!(store.next_own_seq(), u64::MAX);
    let out = store
        .ingest(vec![own_event(&node, u64::MAX, now + 2)], "api")
        .await;
    assert!(
        matches!(out.as_deref(), Ok([Outcome::Stored { .. }])),
        "{out:?}"
    );
    drop(store);
    writer.join();
}
