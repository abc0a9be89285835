//! A whole catch-up round between two real stores, the peer's side answered by its real
//! [`Responder`] over a channel instead of libp2p: what the round finds, and that the sets it
//! builds stay the size of what differs, not of the topic (issue 19).

use super::*;
use crate::admit::Admission;
use crate::interests::Interests;
use crate::metrics::Metrics;
use crate::store::Store;
use ciborium::Value;
use fedci_keys::{Roster, RosterEntry, SecretKey};
use fedci_proto::{Body, Event, EventId, Topic, sign};
use std::error::Error as _;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

const MINUTE: u64 = 60_000;
const DAY: u64 = 24 * 60 * MINUTE;

fn keys() -> (SecretKey, SecretKey) {
    (
        SecretKey::from_seed(&[1; 32]),
        SecretKey::from_seed(&[2; 32]),
    )
}

fn event(author: &SecretKey, n: u64, time: u64) -> Event {
    let t = |s: &str| Value::Text(s.into());
    let body = Body {
        v: 1,
        kind: "artifact.created".into(),
        community: "odl".into(),
        author: author.public().to_bytes(),
        time,
        seq: n,
        links: vec![],
        data: Value::Map(vec![(t("identity"), t(&format!("pkg:generic/sync@{n}")))]),
    };
    sign(&body, author.signing_key()).unwrap()
}

fn topic() -> String {
    Topic::for_event("odl", "artifact.created").to_string()
}

/// A store in `dir` trusting odl's roster (signed `since` ms ago) and holding `events`.
async fn node(dir: &std::path::Path, since: u64, events: &[Event]) -> Admission {
    let (root, key) = keys();
    let (store, _writer) =
        Store::open(&dir.join("s.redb"), None, Arc::new(Metrics::default())).unwrap();
    store
        .pin("odl".into(), root.public(), "opnfv")
        .await
        .unwrap();
    let roster = Roster {
        community: "odl".into(),
        serial: 1,
        entries: vec![RosterEntry::any_kind(key.public())],
        ended: vec![],
    };
    let signed = roster.sign(&root, crate::now_ms() - since, None).unwrap();
    store.ingest(vec![signed], "test").await.unwrap();
    for chunk in events.chunks(500) {
        store.ingest(chunk.to_vec(), "test").await.unwrap();
    }
    Admission::new(store, Interests::new("opnfv", Vec::new()))
}

/// A requester whose every request `peer` answers, as the swarm task would hand it over.
fn wired(peer: Admission, responder: Responder) -> Requester {
    let (tx, mut rx) = mpsc::channel::<Outbound>(4);
    tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            let answer = match out.request {
                Request::Offer { events } => take_offer(&peer, PeerId::random(), events).await.0,
                other => responder.answer(peer.store(), other).await,
            };
            let _ = out.reply.send(Ok(answer));
        }
    });
    Requester::new(tx)
}

async fn holds(a: &Admission, id: EventId) -> bool {
    a.store().read(move |s| s.get(&id)).await.unwrap().is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differences_months_apart_are_found_and_only_their_spans_are_built() {
    let (_, key) = keys();
    let now = crate::now_ms();
    // Three clusters of 100 events a minute apart: 50 days ago, 20 days ago, the last hours.
    let all: Vec<Event> = [now - 50 * DAY, now - 20 * DAY, now - 200 * MINUTE]
        .iter()
        .enumerate()
        .flat_map(|(c, &start)| {
            let key = &key;
            (0..100u64).map(move |i| event(key, c as u64 * 100 + i, start + i * MINUTE))
        })
        .collect();
    // The peer lacks one event of each cluster; we lack two others and hold one it lacks.
    let peer_lacks = [5, 150, 299];
    let we_lack = [40, 260];
    let ours_only = event(&key, 1_000, now - 49 * DAY);
    let theirs: Vec<Event> = (0..300)
        .filter(|i| !peer_lacks.contains(i))
        .map(|i| all[i].clone())
        .collect();
    let mut ours: Vec<Event> = (0..300)
        .filter(|i| !we_lack.contains(i))
        .map(|i| all[i].clone())
        .collect();
    ours.push(ours_only.clone());
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let peer = node(d1.path(), 60 * DAY, &theirs).await;
    let us = node(d2.path(), 60 * DAY, &ours).await;
    let req = wired(peer.clone(), Responder::default());

    let stats = sync_with(PeerId::random(), &req, &us, vec![topic()], true).await;

    assert_eq!(stats.error, None, "{stats:?}");
    assert_eq!((stats.need, stats.stored), (2, 2), "{stats:?}");
    // What the peer lacks: three of the cluster events (offered), and our own one.
    assert_eq!(stats.have, 4, "{stats:?}");
    for i in we_lack {
        assert!(holds(&us, all[i].id()).await, "we still lack event {i}");
    }
    for i in peer_lacks {
        assert!(
            holds(&peer, all[i].id()).await,
            "the peer still lacks event {i}"
        );
    }
    assert!(holds(&peer, ours_only.id()).await);
    // The sets built were those of the five differing minutes, not of the 300-event topic.
    assert!(stats.largest_set <= 2, "{stats:?}");

    // In agreement now: the next round is the one digest round trip.
    let again = sync_with(PeerId::random(), &req, &us, vec![topic()], true).await;
    assert_eq!(
        (again.round_trips, again.need, again.have),
        (1, 0, 0),
        "{again:?}"
    );
}

/// A peer that is reconciling or fetching with us in a round of its own takes what it lacks
/// itself: our round does not offer it the same events (each would cost it a second
/// verification). Another peer is still offered them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_catching_up_from_us_is_not_offered_what_it_fetches_itself() {
    let (_, key) = keys();
    let start = crate::now_ms() - 10 * MINUTE;
    let events: Vec<Event> = (0..20).map(|i| event(&key, i, start + i * 1000)).collect();
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let peer = node(d1.path(), DAY, &[]).await;
    let us = node(d2.path(), DAY, &events).await;
    let req = wired(peer.clone(), Responder::default());
    let (catching_up, other) = (PeerId::random(), PeerId::random());
    // The peer keeps asking, as one in a round of its own does, however slow this machine.
    let asking = {
        let req = req.clone();
        tokio::spawn(async move {
            loop {
                req.note_round_request(catching_up);
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        })
    };

    let stats = sync_with(catching_up, &req, &us, vec![topic()], true).await;
    asking.abort();
    assert_eq!(stats.error, None, "{stats:?}");
    assert_eq!((stats.have, stats.offered), (20, 0), "{stats:?}");
    assert!(!holds(&peer, events[0].id()).await);

    let stats = sync_with(other, &req, &us, vec![topic()], true).await;
    assert_eq!((stats.have, stats.offered), (20, 20), "{stats:?}");
    for e in &events {
        assert!(holds(&peer, e.id()).await);
    }
}

/// A round that only fetches, with a peer holding nothing (a late joiner, seen from the node
/// it joins), has nothing to look for: no set is built on either side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_only_round_with_an_empty_peer_builds_no_set() {
    let (_, key) = keys();
    let start = crate::now_ms() - 100 * MINUTE;
    let events: Vec<Event> = (0..300)
        .map(|i| event(&key, i, start + i * 20_000))
        .collect();
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let peer = node(d1.path(), DAY, &[]).await;
    let us = node(d2.path(), DAY, &events).await;
    let req = wired(peer.clone(), Responder::default());

    let stats = sync_with(PeerId::random(), &req, &us, vec![topic()], false).await;
    assert_eq!(stats.error, None, "{stats:?}");
    assert_eq!(
        (stats.need, stats.have, stats.largest_set),
        (0, 0, 0),
        "{stats:?}"
    );
    assert_eq!(peer.store().metrics().sync_set_items_max.load(Relaxed), 0);

    // A round that offers still finds all 300.
    let stats = sync_with(PeerId::random(), &req, &us, vec![topic()], true).await;
    assert_eq!((stats.have, stats.offered), (300, 300), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_span_too_large_for_the_responder_is_halved_until_it_fits() {
    let (_, key) = keys();
    let start = crate::now_ms() - 10 * MINUTE;
    // 200 events within one second: one epoch, past the responder's limit of 16.
    let events: Vec<Event> = (0..200).map(|i| event(&key, i, start + i * 5)).collect();
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let peer = node(d1.path(), DAY, &events).await;
    let us = node(d2.path(), DAY, &[]).await;
    let req = wired(peer.clone(), Responder::default().with_span_limit(16));

    let stats = sync_with(PeerId::random(), &req, &us, vec![topic()], false).await;

    assert_eq!(stats.error, None, "{stats:?}");
    assert_eq!(stats.stored, 200, "{stats:?}");
    for e in &events {
        assert!(holds(&us, e.id()).await);
    }
    let built = peer.store().metrics().sync_set_items_max.load(Relaxed);
    assert!(built <= 16, "the responder built a set of {built} events");
}

/// A failed request reaches the round with libp2p's own failure, not its text.
#[tokio::test]
async fn a_failed_request_keeps_its_cause() {
    let (tx, mut rx) = mpsc::channel::<Outbound>(1);
    let req = Requester::new(tx);
    tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            let _ = out.reply.send(Err(OutboundFailure::Timeout));
        }
    });
    let e = req
        .call(PeerId::random(), Request::Fetch { ids: Vec::new() })
        .await
        .expect_err("the request failed");
    assert!(
        matches!(
            e,
            SyncError::Request(RequestError::Outbound(OutboundFailure::Timeout))
        ),
        "{e:?}"
    );
    let cause = e.source().expect("a request error has a source");
    assert!(cause.to_string().contains("Timeout"), "{cause}");
}

#[test]
fn a_store_error_is_the_source() {
    let e = SyncError::from(StoreError::Closed);
    let source = e.source().expect("the store error is kept");
    assert!(source.downcast_ref::<StoreError>().is_some(), "{source:?}");
}
