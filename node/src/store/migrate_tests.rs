//! The moves from the first and the second format, each on a store the version before the
//! change wrote (the fixtures of the integration tests), compared with what the old tables
//! held.

use super::*;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::store::epochs::Bucket;
use fedci_proto::EventId;
use redb::ReadableTableMetadata;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A store the version before each change of format wrote.
#[derive(Debug, Clone, Copy)]
enum Fixture {
    V1,
    V2,
}

impl Fixture {
    fn path(self) -> &'static str {
        match self {
            Fixture::V1 => concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../tests/data/store-v1/store.redb"
            ),
            Fixture::V2 => concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../tests/data/store-v2/store.redb"
            ),
        }
    }

    fn from(self) -> Older {
        match self {
            Fixture::V1 => Older::V1,
            Fixture::V2 => Older::V2,
        }
    }
}

/// What the old tables held.
#[derive(Debug)]
struct Old {
    /// (arrival, id, raw, arrived_at) in arrival order.
    events: Vec<(u64, Id, Vec<u8>, Option<u64>)>,
    sums: BTreeMap<String, (u64, [u8; 32])>,
    epochs: BTreeMap<String, Vec<Bucket>>,
    consumers: BTreeMap<String, u64>,
    /// Entries of the promotion index's artifacts by time.
    artifacts: u64,
}

fn copy_fixture(dir: &std::path::Path, fixture: Fixture) -> std::path::PathBuf {
    let path = dir.join("s.redb");
    std::fs::copy(fixture.path(), &path).unwrap();
    path
}

/// (arrival, id, raw, arrived_at) of every event of a first-format store.
fn events_v1(r: &redb::ReadTransaction) -> Vec<(u64, Id, Vec<u8>, Option<u64>)> {
    let (arrivals, events, at) = (
        r.open_table(v1::ARRIVALS).unwrap(),
        r.open_table(v1::EVENTS).unwrap(),
        r.open_table(v1::ARRIVED_AT).unwrap(),
    );
    let mut out = Vec::new();
    for item in arrivals.iter().unwrap() {
        let (seq, id) = item.unwrap();
        let (seq, id) = (seq.value(), *id.value());
        let raw = events.get(&id).unwrap().unwrap().value().to_vec();
        let at = at.get(seq).unwrap().map(|g| g.value());
        out.push((seq, id, raw, at));
    }
    out
}

/// The same of a second-format store, read the way the second format's code read its rows.
fn events_v2(r: &redb::ReadTransaction) -> Vec<(u64, Id, Vec<u8>, Option<u64>)> {
    let mut out = Vec::new();
    for item in r.open_table(v2::EVENTS).unwrap().iter().unwrap() {
        let (seq, row) = item.unwrap();
        let row = row.value();
        let at = u64::from_le_bytes(row[..8].try_into().unwrap());
        let id: Id = row[17..49].try_into().unwrap();
        out.push((seq.value(), id, row[49..].to_vec(), (at != 0).then_some(at)));
    }
    out
}

fn read_old(path: &std::path::Path, fixture: Fixture) -> Old {
    let db = Database::create(path).unwrap();
    let r = db.begin_read().unwrap();
    let mut old = Old {
        events: match fixture {
            Fixture::V1 => events_v1(&r),
            Fixture::V2 => events_v2(&r),
        },
        sums: BTreeMap::new(),
        epochs: BTreeMap::new(),
        consumers: BTreeMap::new(),
        artifacts: r
            .open_table(redb::TableDefinition::<(u64, &Id), ()>::new(
                "artifacts_by_time_v1",
            ))
            .unwrap()
            .len()
            .unwrap(),
    };
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
fn check_against(path: &std::path::Path, old: &Old, fixture: Fixture) {
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
    assert_eq!(
        r.open_table(ARTIFACTS_BY_TIME).unwrap().len().unwrap(),
        old.artifacts,
        "artifacts by time, keyed by arrival now"
    );
    for gone in fixture.from().dropped() {
        assert!(
            !names.iter().any(|n| n == gone),
            "{gone} still in {names:?}"
        );
    }
    let meta = r.open_table(META).unwrap();
    assert_eq!(meta.get("schema").unwrap().unwrap().value(), SCHEMA_VERSION);
    for cursor in ["migrate_v1_after", "migrate_v2_after", "migrate_v3_after"] {
        assert!(meta.get(cursor).unwrap().is_none(), "{cursor}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_of_each_older_format_is_moved_whole() {
    for fixture in [Fixture::V1, Fixture::V2] {
        let dir = tempfile::tempdir().unwrap();
        let path = copy_fixture(dir.path(), fixture);
        let old = read_old(&path, fixture);
        assert_eq!(old.events.len(), 254, "the fixture {fixture:?}");
        assert!(old.events.iter().any(|e| e.3.is_some()));
        assert!(old.artifacts > 0, "{fixture:?} has artifacts");
        check_against(&path, &old, fixture);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_stopped_midway_resumes_and_ends_the_same() {
    for fixture in [Fixture::V1, Fixture::V2] {
        stopped_midway(fixture);
    }
}

fn stopped_midway(fixture: Fixture) {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_fixture(dir.path(), fixture);
    let old = read_old(&path, fixture);
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
            .get(fixture.from().cursor())
            .unwrap()
            .unwrap()
            .value();
        assert_eq!(cursor, old.events[99].0);
    }
    check_against(&path, &old, fixture);
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
