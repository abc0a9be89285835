//! The position reservation across restarts (see the DESIGN NOTE in `writer/announce.rs`): a
//! store reopened after a crash continues above what it may have announced, and a store
//! written before reservations existed opens and continues where it stopped.

use super::schema::META;
use super::tests::{own_event, trust_odl};
use super::{Outcome, Store, WriterThread};
use crate::metrics::Metrics;
use fedci_keys::SecretKey;
use redb::ReadableDatabase;
use std::path::Path;
use std::sync::Arc;

/// This node's key (the root key of its community is `[1; 32]`).
fn node_key() -> SecretKey {
    SecretKey::from_seed(&[2; 32])
}

/// Opens the store at `path` as this node's.
fn open(path: &Path) -> (Store, WriterThread) {
    let own = Some(node_key().public().to_bytes());
    Store::open(path, own, Arc::new(Metrics::default())).unwrap()
}

/// A new store at `path` with odl pinned and this node on its roster.
async fn open_trusted(path: &Path) -> (Store, WriterThread) {
    let (store, writer) = open(path);
    let root = SecretKey::from_seed(&[1; 32]);
    trust_odl(&store, &root, &[&node_key()], crate::now_ms() - 60_000).await;
    (store, writer)
}

/// Stores `n` events of this node's own key; returns their arrival seqs.
async fn publish(store: &Store, node: &SecretKey, n: usize) -> Vec<u64> {
    let now = crate::now_ms();
    let mut seqs = Vec::new();
    for i in 0..n {
        let e = own_event(node, store.next_own_seq(), now + i as u64);
        match store.ingest(vec![e], "api").await.unwrap().as_slice() {
            [Outcome::Stored { seq }] => seqs.push(*seq),
            other => panic!("{other:?}"),
        }
    }
    seqs
}

fn meta(path: &Path, key: &str) -> Option<u64> {
    let db = redb::Database::create(path).unwrap();
    let r = db.begin_read().unwrap();
    r.open_table(META)
        .unwrap()
        .get(key)
        .unwrap()
        .map(|g| g.value())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_continues_above_the_reservation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let node = node_key();
    let (store, writer) = open_trusted(&path).await;
    let before = publish(&store, &node, 5).await;
    // Each was announced: the feed holds them, in arrival order.
    let fed: Vec<u64> = store
        .feed_after(before[0] - 1, 100)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(fed, before, "the live feed holds what was stored");
    let own_before = store.next_own_seq();
    // The writer stops with nothing in flight; what the crash case leaves behind is the same
    // committed file: positions up to the reservation may have been announced.
    drop(store);
    writer.join();
    let reserved = meta(&path, "reserved_seq").expect("reserved_seq written");
    let reserved_own = meta(&path, "reserved_own_seq").expect("reserved_own_seq written");
    let last = *before.last().unwrap();
    assert!(reserved > last, "reserved {reserved} ≤ last stored {last}");
    assert!(
        reserved_own > own_before,
        "own seq reservation {reserved_own}"
    );

    let (store, writer) = open(&path);
    assert_eq!(
        store.last_seq(),
        last,
        "last committed position after reopen"
    );
    assert_eq!(
        store.next_own_seq(),
        reserved_own,
        "own seqs continue at the reservation"
    );
    let after = publish(&store, &node, 2).await;
    assert_eq!(
        after[0], reserved,
        "the first position after a restart is the reservation, never one that may have been \
         announced"
    );
    assert!(after[1] > after[0]);
    // An ack cannot reach past what is stored, even into the gap below the reservation.
    let acked = store
        .ack("c".into(), u64::MAX, super::Caller::Admin { uid: None })
        .await
        .unwrap();
    assert_eq!(acked, super::ConsumerOutcome::Done { cursor: after[1] });
    drop(store);
    writer.join();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_without_reservation_keys_opens_and_continues_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let node = node_key();
    let (store, writer) = open_trusted(&path).await;
    let before = publish(&store, &node, 3).await;
    let own_next = store.next_own_seq();
    drop(store);
    writer.join();
    // As the previous version left it: counters, no reservation.
    {
        let db = redb::Database::create(&path).unwrap();
        let w = db.begin_write().unwrap();
        {
            let mut m = w.open_table(META).unwrap();
            m.remove("reserved_seq").unwrap();
            m.remove("reserved_own_seq").unwrap();
        }
        w.commit().unwrap();
    }
    let next = meta(&path, "next_seq").unwrap();
    let stored_own = meta(&path, "own_seq").unwrap();
    assert!(meta(&path, "reserved_seq").is_none());

    let (store, writer) = open(&path);
    assert_eq!(store.last_seq(), *before.last().unwrap());
    let own_seq = store.next_own_seq();
    assert_eq!(
        own_seq, stored_own,
        "own seq continues from what was stored"
    );
    assert!(own_seq < own_next + 1);
    let after = publish(&store, &node, 1).await;
    assert_eq!(
        after,
        vec![next],
        "arrival continues at the stored next_seq"
    );
    // Every event written before is still there.
    for seq in before {
        assert!(store.arrived_at(seq).unwrap().is_some(), "event at {seq}");
    }
    // And the reservation is now in place.
    drop(store);
    writer.join();
    assert!(meta(&path, "reserved_seq").unwrap() > next);
}

/// Events in the feed were authorised under the trust of their announce: a trust change sends
/// streams back to the store, which checks the trust in force (a re-pin hides a community).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trust_change_empties_the_feed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let node = node_key();
    let (store, writer) = open_trusted(&path).await;
    let seqs = publish(&store, &node, 3).await;
    // The roster's own commit changed trust and emptied the feed: only the events are left.
    assert_eq!(store.feed_size().0, 3, "the three events are in the feed");
    let other = SecretKey::from_seed(&[3; 32]);
    assert!(
        store
            .pin("opnfv".into(), other.public(), "odl")
            .await
            .unwrap()
    );
    assert_eq!(store.feed_size(), (0, 0), "the feed is empty after the pin");
    assert!(
        store.feed_after(seqs[0] - 1, 100).is_none(),
        "a stream behind the change is sent to the store"
    );
    drop(store);
    writer.join();
}
