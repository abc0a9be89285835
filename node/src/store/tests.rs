//! Store behaviour that needs a real redb file but no daemon: the writer's own-seq tracking.

use super::{Outcome, Store};
use crate::metrics::Metrics;
use ciborium::Value;
use fedci_keys::{Roster, RosterEntry, SecretKey};
use fedci_proto::{Body, Event, sign};
use std::sync::Arc;

/// An odl event of `kind` that `node` signs, with `data`.
pub(super) fn odl_event(
    node: &SecretKey,
    kind: &str,
    (seq, time): (u64, u64),
    data: Value,
) -> Event {
    let body = Body {
        v: 1,
        kind: kind.into(),
        community: "odl".into(),
        author: node.public().to_bytes(),
        time,
        seq,
        links: vec![],
        data,
    };
    sign(&body, node.signing_key()).unwrap()
}

pub(super) fn own_event(node: &SecretKey, seq: u64, time: u64) -> Event {
    odl_event(node, "x-test.seq", (seq, time), Value::Map(vec![]))
}

/// odl's roster, signed by `root` at `time`, authorising `members` for any kind.
fn odl_roster(root: &SecretKey, members: &[&SecretKey], time: u64) -> Event {
    let roster = Roster {
        community: "odl".into(),
        serial: 1,
        entries: members
            .iter()
            .map(|k| RosterEntry::any_kind(k.public()))
            .collect(),
        ended: vec![],
    };
    roster.sign(root, time, None).unwrap()
}

/// Pins odl's `root` in `store` and puts in force its roster (signed at `time`) for
/// `members`.
pub(super) async fn trust_odl(store: &Store, root: &SecretKey, members: &[&SecretKey], time: u64) {
    store.pin("odl".into(), root.public(), "odl").await.unwrap();
    store
        .ingest(vec![odl_roster(root, members, time)], "test")
        .await
        .unwrap();
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
    trust_odl(&store, &root, &[&node], now - 60_000).await;

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

pub(super) fn linked(
    node: &SecretKey,
    kind: &str,
    time: u64,
    data: &[(&str, &str)],
    links: &[(&str, fedci_proto::EventId)],
) -> Event {
    let body = Body {
        v: 1,
        kind: kind.into(),
        community: "odl".into(),
        author: node.public().to_bytes(),
        time,
        seq: time,
        links: links
            .iter()
            .map(|(rel, t)| fedci_proto::Link::new(*rel, *t))
            .collect(),
        data: Value::Map(
            data.iter()
                .map(|(k, v)| (Value::Text((*k).into()), Value::Text((*v).into())))
                .collect(),
        ),
    };
    sign(&body, node.signing_key()).unwrap()
}

/// A store written before the promotion index existed gets it built when opened: the same
/// answer as a store that kept it from the start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotion_index_is_built_for_a_store_written_before_it() {
    use super::ArtifactFilter;
    use super::schema::*;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let (root, node) = (
        SecretKey::from_seed(&[1; 32]),
        SecretKey::from_seed(&[2; 32]),
    );
    let now = crate::now_ms();
    let (store, writer) = Store::open(&path, None, Arc::new(Metrics::default())).unwrap();
    store.pin("odl".into(), root.public(), "odl").await.unwrap();
    let roster = odl_roster(&root, &[&node], now - 60_000);
    let art = linked(
        &node,
        "artifact.created",
        now - 3,
        &[("identity", "pkg:generic/a@1")],
        &[],
    );
    let comp = linked(
        &node,
        "composition.defined",
        now - 2,
        &[("name", "b")],
        &[("ELEMENT", art.id())],
    );
    let conf = linked(
        &node,
        "confidence.modified",
        now - 1,
        &[("name", "acceptance"), ("value", "SUCCESS")],
        &[("SUBJECT", comp.id())],
    );
    // The confidence first: it reaches the artifact once the composition arrives.
    store
        .ingest(vec![roster, conf, art, comp], "test")
        .await
        .unwrap();
    let filter = ArtifactFilter {
        confidences: vec![("acceptance".into(), "SUCCESS".into())],
        ..ArtifactFilter::default()
    };
    let before = store.artifacts(&filter, 10, 1 << 20).unwrap();
    assert_eq!(before.artifacts.len(), 1, "{before:?}");
    drop(store);
    writer.join();

    // What a store of the previous version looks like: no index, no mark.
    {
        let db = redb::Database::open(&path).unwrap();
        let w = db.begin_write().unwrap();
        w.delete_table(CONF_REACH).unwrap();
        w.delete_table(ARTIFACTS_BY_CONF).unwrap();
        w.delete_table(ARTIFACTS_BY_TIME).unwrap();
        w.delete_table(LOCATIONS).unwrap();
        w.open_table(META)
            .unwrap()
            .remove("promotion_index_v1")
            .unwrap();
        w.commit().unwrap();
    }
    let (store, writer) = Store::open(&path, None, Arc::new(Metrics::default())).unwrap();
    let after = store.artifacts(&filter, 10, 1 << 20).unwrap();
    assert_eq!(after, before);
    drop(store);
    writer.join();
}

/// An event of our own key whose data carries `pad` bytes, so a few thousand fill the cache.
pub(super) fn padded_event(node: &SecretKey, seq: u64, time: u64, pad: usize) -> Event {
    let body = Body {
        v: 1,
        kind: "x-test.pad".into(),
        community: "odl".into(),
        author: node.public().to_bytes(),
        time,
        seq,
        links: vec![],
        data: Value::Map(vec![(
            Value::Text("pad".into()),
            Value::Text(format!("{seq:0>pad$}")),
        )]),
    };
    sign(&body, node.signing_key()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_cache_filled_past_its_bound_stays_within_it() {
    let dir = tempfile::tempdir().unwrap();
    let (root, node) = (
        SecretKey::from_seed(&[1; 32]),
        SecretKey::from_seed(&[2; 32]),
    );
    let now = crate::now_ms();
    let own = Some(node.public().to_bytes());
    let path = dir.path().join("s.redb");
    let (store, writer) = Store::open(&path, own, Arc::new(Metrics::default())).unwrap();
    trust_odl(&store, &root, &[&node], now - 60_000).await;
    let (_, bound) = store.cache_bytes();
    // 16 MiB, not the 64 MiB that was half of a loaded node's memory (issue 19).
    assert_eq!(bound, 16 << 20);
    // Twice the bound in event bytes alone, written and then read back.
    let pad = 8 << 10;
    let total = 2 * bound as usize / pad;
    let mut ids = Vec::new();
    for chunk in (0..total as u64).collect::<Vec<_>>().chunks(128) {
        let events: Vec<Event> = chunk
            .iter()
            .map(|i| padded_event(&node, store.next_own_seq(), now - 1000 + i, pad))
            .collect();
        ids.extend(events.iter().map(Event::id));
        store.ingest(events, "api").await.unwrap();
        assert!(store.cache_bytes().0 <= bound, "{:?}", store.cache_bytes());
    }
    let read = store
        .read(move |s| {
            let mut n = 0;
            for id in &ids {
                n += usize::from(s.get_raw(id)?.is_some());
            }
            Ok(n)
        })
        .await
        .unwrap();
    assert_eq!(read, total);
    let (used, bound) = store.cache_bytes();
    assert!(used <= bound, "cache holds {used} bytes, bound {bound}");
    assert!(
        used > bound / 2,
        "the test did not fill the cache: {used} of {bound}"
    );
    drop(store);
    writer.join();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epoch_fingerprints_count_each_epoch_and_sum_into_coarser_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let node = SecretKey::from_seed(&[2; 32]);
    let now = crate::now_ms();
    let own = Some(node.public().to_bytes());
    let (store, writer) = Store::open(&path, own, Arc::new(Metrics::default())).unwrap();
    let root = SecretKey::from_seed(&[1; 32]);
    trust_odl(&store, &root, &[&node], now - 10 * 86_400_000).await;
    // Events a day apart and within one minute: several epochs, some holding many.
    let events: Vec<Event> = (0..40u64)
        .map(|i| own_event(&node, i + 1, now - (i % 4) * 86_400_000 - i))
        .collect();
    let events_bytes: u64 = events.iter().map(|e| e.raw().len() as u64).sum();
    store.ingest(events, "test").await.unwrap();
    let topic = fedci_proto::Topic::for_event("odl", "x-test.seq").to_string();
    let all = [(0, u64::MAX)];
    let before = store.epoch_buckets(&topic, &all, 1, 1000).unwrap().unwrap();
    assert_eq!(before.len(), 4, "{before:?}");
    assert_eq!(before.iter().map(|b| b.count).sum::<u64>(), 40);
    let items = store
        .each_topic_item_between(&topic, (0, u64::MAX), (1000, u64::MAX), |_, _| {})
        .unwrap();
    assert_eq!(items, Some(40));
    // A set is bounded by the bytes of its events as well as by their number.
    let bytes: u64 = events_bytes;
    let within = |max_bytes| {
        store
            .each_topic_item_between(&topic, (0, u64::MAX), (1000, max_bytes), |_, _| {})
            .unwrap()
    };
    assert_eq!(within(bytes), Some(40));
    assert_eq!(within(bytes - 1), None);
    // Coarser buckets are sums of the fine ones.
    let coarse = store
        .epoch_buckets(&topic, &all, 1 << 15, 1000)
        .unwrap()
        .unwrap();
    assert_eq!(coarse.iter().map(|b| b.count).sum::<u64>(), 40);
    assert_eq!(store.epoch_buckets(&topic, &all, 1, 3).unwrap(), None);
    drop(store);
    writer.join();
}
