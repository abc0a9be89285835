//! The move from the first format, on a store the previous version wrote (the fixture of
//! the integration tests), compared with what the old tables held.

use super::*;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::store::epochs::Bucket;
use fedci_proto::EventId;
use redb::ReadableTableMetadata;
use std::collections::BTreeMap;
use std::sync::Arc;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/store-v1/store.redb"
);

/// What the old tables held.
#[derive(Debug)]
struct Old {
    /// (arrival, id, raw, arrived_at) in arrival order.
    events: Vec<(u64, Id, Vec<u8>, Option<u64>)>,
    sums: BTreeMap<String, (u64, [u8; 32])>,
    epochs: BTreeMap<String, Vec<Bucket>>,
    consumers: BTreeMap<String, u64>,
}

fn copy_fixture(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::copy(FIXTURE, &path).unwrap();
    path
}

fn read_old(path: &std::path::Path) -> Old {
    let db = Database::create(path).unwrap();
    let r = db.begin_read().unwrap();
    let (arrivals, events, at) = (
        r.open_table(v1::ARRIVALS).unwrap(),
        r.open_table(v1::EVENTS).unwrap(),
        r.open_table(v1::ARRIVED_AT).unwrap(),
    );
    let mut old = Old {
        events: Vec::new(),
        sums: BTreeMap::new(),
        epochs: BTreeMap::new(),
        consumers: BTreeMap::new(),
    };
    for item in arrivals.iter().unwrap() {
        let (seq, id) = item.unwrap();
        let (seq, id) = (seq.value(), *id.value());
        let raw = events.get(&id).unwrap().unwrap().value().to_vec();
        let at = at.get(seq).unwrap().map(|g| g.value());
        old.events.push((seq, id, raw, at));
    }
    for item in r.open_table(TOPIC_SUMS).unwrap().iter().unwrap() {
        let (k, v) = item.unwrap();
        old.sums.insert(k.value().to_string(), v.value());
    }
    for item in r.open_table(TOPIC_EPOCHS).unwrap().iter().unwrap() {
        let (k, v) = item.unwrap();
        let ((topic, epoch), (count, sum)) = (k.value(), v.value());
        old.epochs
            .entry(topic.to_string())
            .or_default()
            .push(Bucket {
                start: epoch,
                count,
                fingerprint: crate::store::digest::fingerprint(count, &sum),
            });
    }
    for item in r.open_table(CONSUMERS).unwrap().iter().unwrap() {
        let (k, v) = item.unwrap();
        old.consumers.insert(k.value().to_string(), v.value());
    }
    old
}

/// The file's tables, by name.
fn tables(path: &std::path::Path) -> (Database, Vec<String>) {
    let db = Database::create(path).unwrap();
    let r = db.begin_read().unwrap();
    let names = r
        .list_tables()
        .unwrap()
        .map(|t| t.name().to_string())
        .collect();
    drop(r);
    (db, names)
}

/// Opens the store (finishing any move) and checks it answers what the old tables held.
fn check_against(path: &std::path::Path, old: &Old) {
    let (store, writer) = Store::open(path, None, Arc::new(Metrics::default())).unwrap();
    assert_eq!(store.count().unwrap(), old.events.len() as u64);
    for (seq, id, raw, at) in &old.events {
        let got = store
            .get(&EventId(*id))
            .unwrap()
            .expect("every old event is held");
        assert_eq!(got.seq, *seq, "arrival of {}", hex::encode(id));
        assert_eq!(got.event.raw(), raw.as_slice());
        assert_eq!(store.arrived_at(*seq).unwrap(), *at);
    }
    let last = old.events.last().map(|e| e.0).unwrap();
    assert_eq!(store.last_seq(), last);
    // Catch-up fingerprints describe the same sets, so peers still agree with this node.
    for (topic, (count, sum)) in &old.sums {
        let want = (*count, crate::store::digest::fingerprint(*count, sum));
        assert_eq!(store.topic_digest(topic).unwrap(), want, "{topic}");
        let buckets = store
            .epoch_buckets(topic, &[(0, u64::MAX)], 1, 100_000)
            .unwrap()
            .unwrap();
        assert_eq!(&buckets, &old.epochs[topic], "{topic}");
    }
    assert_eq!(store.consumers().unwrap(), old.consumers);
    drop(store);
    writer.join();

    let (db, names) = tables(path);
    let r = db.begin_read().unwrap();
    for gone in v1::DROPPED {
        assert!(
            !names.iter().any(|n| n == gone),
            "{gone} still in {names:?}"
        );
    }
    let meta = r.open_table(META).unwrap();
    assert_eq!(meta.get("schema").unwrap().unwrap().value(), SCHEMA_VERSION);
    assert!(meta.get(CURSOR).unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_of_the_previous_version_is_moved_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_fixture(dir.path(), "s.redb");
    let old = read_old(&path);
    assert_eq!(old.events.len(), 254, "the fixture");
    assert!(old.events.iter().any(|e| e.3.is_some()));
    check_against(&path, &old);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_stopped_midway_resumes_and_ends_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_fixture(dir.path(), "s.redb");
    let old = read_old(&path);
    {
        // Two commits of 50, then the process "dies": the next open continues.
        let db = Database::create(&path).unwrap();
        let moved = run_chunks(&db, 50, 2).unwrap();
        assert_eq!(
            moved,
            Moved {
                events: 100,
                chunks: 2
            }
        );
        let r = db.begin_read().unwrap();
        assert_eq!(r.open_table(EVENTS).unwrap().len().unwrap(), 100);
        let cursor = r
            .open_table(META)
            .unwrap()
            .get(CURSOR)
            .unwrap()
            .unwrap()
            .value();
        assert_eq!(cursor, old.events[99].0);
    }
    check_against(&path, &old);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_of_a_newer_format_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    {
        let db = Database::create(&path).unwrap();
        let w = db.begin_write().unwrap();
        w.open_table(META)
            .unwrap()
            .insert("schema", SCHEMA_VERSION + 1)
            .unwrap();
        w.commit().unwrap();
    }
    match Store::open(&path, None, Arc::new(Metrics::default())) {
        Err(StoreError::NewerFormat(v)) => assert_eq!(v, SCHEMA_VERSION + 1),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a store of a newer format was opened"),
    }
    // Nothing was created or moved in it.
    let (_, names) = tables(&path);
    assert_eq!(names, ["meta_v1"]);
}
