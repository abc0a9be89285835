//! The admission policy on a real store: forged copies cost the sender and are never
//! remembered by id; refusals for what the payload says are, until trust changes.

use super::*;
use crate::metrics::Metrics;
use ciborium::Value;
use fedci_keys::{Roster, RosterEntry, SecretKey};
use fedci_proto::{Body, sign};

const T0: u64 = 1_795_000_000_000;

fn event(author: &SecretKey, n: u64) -> Event {
    let t = |s: &str| Value::Text(s.into());
    let body = Body {
        v: 1,
        kind: "artifact.created".into(),
        community: "odl".into(),
        author: author.public().to_bytes(),
        time: T0 + n,
        seq: n,
        links: vec![],
        data: Value::Map(vec![(t("identity"), t(&format!("pkg:generic/admit@{n}")))]),
    };
    sign(&body, author.signing_key()).unwrap()
}

/// A store pinning odl's root, with a roster authorising `node`.
async fn store(dir: &std::path::Path, root: &SecretKey, node: &SecretKey) -> Admission {
    let (store, _writer) =
        Store::open(&dir.join("s.redb"), None, Arc::new(Metrics::default())).unwrap();
    store
        .pin("odl".into(), root.public(), "opnfv")
        .await
        .unwrap();
    let roster = Roster {
        community: "odl".into(),
        serial: 1,
        entries: vec![RosterEntry::any_kind(node.public())],
        ended: vec![],
    };
    let signed = roster.sign(root, T0, None).unwrap();
    store.ingest(vec![signed], "test").await.unwrap();
    Admission::new(store, Interests::new("opnfv", Vec::new()))
}

fn fetch_of(e: &Event) -> Via {
    Via::Fetch {
        requested: [e.id()].into_iter().collect(),
    }
}

#[tokio::test]
async fn a_forged_copy_never_blocks_the_genuine_event() {
    let dir = tempfile::tempdir().unwrap();
    let (root, node) = (
        SecretKey::from_seed(&[1; 32]),
        SecretKey::from_seed(&[2; 32]),
    );
    let admission = store(dir.path(), &root, &node).await;
    let genuine = event(&node, 1);
    let mut forged = genuine.raw().to_vec();
    *forged.last_mut().unwrap() ^= 1;
    let peer = PeerId::random();

    let v = admission
        .admit(peer, fetch_of(&genuine), vec![forged])
        .await;
    assert_eq!((v.forged, v.stored), (1, 0));
    assert!(v.misbehaved());
    assert_eq!(
        admission.refused_ids(),
        0,
        "a signature failure is not remembered by id"
    );
    assert_eq!(
        admission.not_refused(vec![genuine.id()]),
        vec![genuine.id()]
    );

    let v = admission
        .admit(peer, fetch_of(&genuine), vec![genuine.raw().to_vec()])
        .await;
    assert_eq!((v.forged, v.stored), (0, 1));
    assert!(!v.misbehaved());
}

#[tokio::test]
async fn payload_refusals_are_remembered_until_trust_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (root, node) = (
        SecretKey::from_seed(&[1; 32]),
        SecretKey::from_seed(&[2; 32]),
    );
    let admission = store(dir.path(), &root, &node).await;
    let stranger = SecretKey::from_seed(&[3; 32]);
    let untrusted = event(&stranger, 7);
    let peer = PeerId::random();

    let v = admission
        .admit(peer, Via::Offer, vec![untrusted.raw().to_vec()])
        .await;
    assert_eq!((v.refused, v.forged, v.stored), (1, 0, 0));
    assert!(
        !v.misbehaved(),
        "a relay cannot know the author is not authorised"
    );
    assert!(admission.not_refused(vec![untrusted.id()]).is_empty());
    // Offered again: skipped before verification.
    let v = admission
        .admit(peer, Via::Offer, vec![untrusted.raw().to_vec()])
        .await;
    assert_eq!((v.refused, v.stored), (1, 0));

    // A new roster authorising the stranger changes trust: the memory is cleared.
    let roster = Roster {
        community: "odl".into(),
        serial: 2,
        entries: vec![
            RosterEntry::any_kind(node.public()),
            RosterEntry::any_kind(stranger.public()),
        ],
        ended: vec![],
    };
    let signed = roster.sign(&root, T0 + 1, None).unwrap();
    admission
        .store()
        .ingest(vec![signed], "test")
        .await
        .unwrap();
    assert_eq!(
        admission.not_refused(vec![untrusted.id()]),
        vec![untrusted.id()]
    );
    let v = admission
        .admit(peer, Via::Offer, vec![untrusted.raw().to_vec()])
        .await;
    assert_eq!(v.stored, 1);
}

/// An event its author may not publish (a key odl's roster does not name) is the fault of
/// the peer only when that peer is its author: a relay cannot know every roster.
#[tokio::test]
async fn an_unauthorised_event_is_held_against_its_author_not_a_relay() {
    let dir = tempfile::tempdir().unwrap();
    let (root, node, stranger) = (
        SecretKey::from_seed(&[1; 32]),
        SecretKey::from_seed(&[2; 32]),
        SecretKey::from_seed(&[3; 32]),
    );
    let admission = store(dir.path(), &root, &node).await;
    let author = PeerId::from_public_key(&libp2p::identity::PublicKey::from(
        libp2p::identity::ed25519::PublicKey::try_from_bytes(&stranger.public().to_bytes())
            .unwrap(),
    ));
    let e = event(&stranger, 1);

    let v = admission
        .admit(PeerId::random(), fetch_of(&e), vec![e.raw().to_vec()])
        .await;
    assert_eq!((v.refused, v.stored), (1, 0));
    assert!(!v.misbehaved(), "a relay is not blamed");

    let e = event(&stranger, 2);
    let v = admission
        .admit(author, fetch_of(&e), vec![e.raw().to_vec()])
        .await;
    assert_eq!((v.refused, v.stored), (1, 0));
    assert!(v.unauthorised_author && v.misbehaved(), "{v:?}");
}

/// An offer is unasked: an exact copy of an event the store holds is counted a duplicate
/// without being verified again; any other envelope around a held payload is verified as
/// usual, so a forged copy still costs the sender.
#[tokio::test]
async fn an_offer_of_held_events_is_not_verified_again() {
    let dir = tempfile::tempdir().unwrap();
    let (root, node) = (
        SecretKey::from_seed(&[1; 32]),
        SecretKey::from_seed(&[2; 32]),
    );
    let admission = store(dir.path(), &root, &node).await;
    let (held, new) = (event(&node, 1), event(&node, 2));
    admission
        .store()
        .ingest(vec![held.clone()], "test")
        .await
        .unwrap();
    let peer = PeerId::random();

    // The same store behind a node that no longer wants odl's artifacts: a held event that
    // went through the whole path would come out refused by the interests, not a duplicate.
    let narrow = Admission::new(
        admission.store().clone(),
        Interests::new(
            "opnfv",
            vec![crate::config::Interest {
                community: "opnfv".into(),
                kinds: vec!["*".into()],
            }],
        ),
    );
    let v = narrow
        .admit(peer, Via::Offer, vec![held.raw().to_vec()])
        .await;
    assert_eq!((v.duplicates, v.refused), (1, 0), "{v:?}");

    let v = admission
        .admit(
            peer,
            Via::Offer,
            vec![held.raw().to_vec(), new.raw().to_vec()],
        )
        .await;
    assert_eq!((v.duplicates, v.stored, v.forged), (1, 1, 0), "{v:?}");
    let duplicates = || {
        admission
            .store()
            .metrics()
            .events_duplicate
            .load(std::sync::atomic::Ordering::Relaxed)
    };
    assert_eq!(duplicates(), 2);

    // The held payload in an envelope whose signature does not verify: the same id, other
    // bytes. It is verified, and fails.
    let mut resigned = held.raw().to_vec();
    *resigned.last_mut().unwrap() ^= 1;
    let v = admission.admit(peer, Via::Offer, vec![resigned]).await;
    assert_eq!((v.forged, v.duplicates, v.stored), (1, 0, 0), "{v:?}");
    assert!(v.misbehaved());
    assert_eq!(duplicates(), 2);
}
