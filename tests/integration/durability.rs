//! Acknowledged means durable: every publish the node answered 201 survives a SIGKILL.

use fedci_tests::Node;
use serde_json::json;
use std::collections::HashSet;

const THREADS: usize = 4;
const PER_THREAD: usize = 50;

#[test]
fn acknowledged_publishes_survive_kill9() {
    let mut node = Node::started("odl");
    let acked: Vec<String> = std::thread::scope(|s| {
        let node = &node;
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || {
                    (0..PER_THREAD)
                        .map(|n| node.publish("x-test.load", json!({"thread": t, "n": n}), &[]))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("publisher thread panicked"))
            .collect()
    });
    let unique: HashSet<&String> = acked.iter().collect();
    assert_eq!(
        unique.len(),
        THREADS * PER_THREAD,
        "acknowledged ids must be distinct"
    );
    let count_before = node.event_count();
    assert!(
        count_before >= acked.len() as u64,
        "status counts {count_before} events"
    );

    node.kill9();
    node.start();

    let held: HashSet<String> = node
        .query_all("kind=x-test.load")
        .iter()
        .map(|v| v["id"].as_str().expect("id").to_owned())
        .collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !held.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged events lost after kill -9: {lost:?}",
        lost.len()
    );
    assert_eq!(
        held.len(),
        acked.len(),
        "query after restart holds extra x-test.load events"
    );
    for id in &acked {
        let e = node.event(id);
        assert_eq!(e["kind"], "x-test.load", "{e}");
    }
    assert_eq!(
        node.event_count(),
        count_before,
        "status event count changed across the crash"
    );
}
