//! What a stored event costs on disk (issue 16): its COSE bytes plus small fixed-width
//! indexes, whatever its size. Measured with redb's own page counts on a real file.

use super::Store;
use super::tests::{odl_event, trust_odl};
use crate::metrics::Metrics;
use ciborium::Value;
use fedci_keys::SecretKey;
use fedci_proto::Event;
use redb::{Database, ReadableDatabase, ReadableTableMetadata};
use std::sync::Arc;

/// An event of `node` whose data holds `pad` bytes of text.
fn event_of_size(node: &SecretKey, seq: u64, time: u64, pad: usize) -> Event {
    let text: String = (0..pad)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let data = Value::Map(vec![(Value::Text("pad".into()), Value::Text(text))]);
    odl_event(node, "x-test.size", (seq, time), data)
}

/// Bytes of every page the file's tables use.
fn pages_in_use(path: &std::path::Path) -> u64 {
    let db = Database::open(path).unwrap();
    let r = db.begin_read().unwrap();
    let mut pages = 0;
    for h in r.list_tables().unwrap() {
        let s = r.open_untyped_table(h).unwrap().stats().unwrap();
        pages += s.leaf_pages() + s.branch_pages();
    }
    for h in r.list_multimap_tables().unwrap() {
        let s = r.open_untyped_multimap_table(h).unwrap().stats().unwrap();
        pages += s.leaf_pages() + s.branch_pages();
    }
    pages * 4096
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_any_size_cost_at_most_1_3_times_their_bytes() {
    // Sizes where one row per page entry wasted most: just over a third, a half and the
    // whole of a 4 KiB page, and small ones between them.
    for pad in [1_100usize, 1_900, 2_100, 300] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let node = SecretKey::from_seed(&[2; 32]);
        let now = crate::now_ms();
        let (store, writer) = Store::open(&path, None, Arc::new(Metrics::default())).unwrap();
        trust_odl(
            &store,
            &SecretKey::from_seed(&[1; 32]),
            &[&node],
            now - 60_000,
        )
        .await;
        let mut cose = 0u64;
        let n = 2_000u64;
        for batch in 0..(n / 100) {
            let events: Vec<Event> = (0..100)
                .map(|i| {
                    let seq = batch * 100 + i + 1;
                    event_of_size(&node, seq, now - 30_000 + seq, pad)
                })
                .collect();
            cose += events.iter().map(|e| e.raw().len() as u64).sum::<u64>();
            store.ingest(events, "gossip").await.unwrap();
        }
        assert_eq!(store.count().unwrap(), n + 1, "every event stored");
        drop(store);
        writer.join();
        let pages = pages_in_use(&path);
        // Room for the tables that do not grow with events (pins, rosters, codes, meta).
        let fixed = 24 * 4096;
        let ratio = (pages - fixed.min(pages)) as f64 / cose as f64;
        assert!(
            ratio <= 1.3,
            "{n} events of {} bytes: {pages} bytes of pages, {ratio:.2}x their COSE bytes",
            cose / n
        );
    }
}
