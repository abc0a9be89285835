//! Validation of one gossip message, off the swarm task: decode and verify, check it belongs
//! on its topic and to our interests, then the one ingest path (trust decision, store).
//! Only after the store has committed do we tell gossipsub to forward it.

use crate::interests::Interests;
use crate::store::{IngestError, Outcome, Store};
use fedci_proto::{Event, Topic};
use libp2p::PeerId;
use libp2p::gossipsub::{MessageAcceptance, MessageId};

/// The verdict on one message, sent back to the swarm task.
#[derive(Debug)]
pub struct Verdict {
    pub message_id: MessageId,
    pub source: PeerId,
    pub acceptance: MessageAcceptance,
    /// The stored event, when it was new (for tamper-mode fixtures and stats).
    pub stored: Option<Event>,
}

pub async fn validate(
    store: Store,
    interests: Interests,
    source: PeerId,
    topic: String,
    data: Vec<u8>,
) -> (MessageAcceptance, Option<Event>) {
    let metrics = store.metrics().clone();
    // Verification is CPU work (tens of µs): keep it off the async runtime's threads.
    let decoded = tokio::task::spawn_blocking(move || Event::decode(&data)).await;
    let event = match decoded {
        Ok(Ok(e)) => e,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "gossip: undecodable or forged event");
            metrics.reject("gossip", e.code());
            return (MessageAcceptance::Reject, None);
        }
        Err(_) => return (MessageAcceptance::Ignore, None),
    };
    if Topic::for_event(event.community(), event.kind()).to_string() != topic {
        metrics.reject("gossip", "wrong_topic");
        return (MessageAcceptance::Reject, None);
    }
    if !interests.wants(&event, &store.trust()) {
        return (MessageAcceptance::Ignore, None);
    }
    match store.ingest(vec![event.clone()], "gossip").await {
        Ok(outcomes) => match outcomes.into_iter().next() {
            Some(Outcome::Stored { .. }) => (MessageAcceptance::Accept, Some(event)),
            Some(Outcome::Duplicate) | None => (MessageAcceptance::Ignore, None),
            // Only the author knows for sure whether it is authorised: a relay may forward an
            // event signed under a roster that has not reached us yet. So a trust refusal
            // costs the forwarder only when it is the author itself.
            Some(Outcome::Rejected(IngestError::Untrusted(r)))
                if r.is_misbehaviour() && author_peer(&event) == Some(source) =>
            {
                tracing::debug!(id = %event.id().short(), reason = r.code(), "gossip: author not authorised");
                (MessageAcceptance::Reject, None)
            }
            Some(Outcome::Rejected(_)) => (MessageAcceptance::Ignore, None),
        },
        Err(e) => {
            tracing::warn!(error = %e, "gossip: store unavailable");
            (MessageAcceptance::Ignore, None)
        }
    }
}

/// The libp2p peer id of an event's author: a node's libp2p identity is its node key.
fn author_peer(event: &Event) -> Option<PeerId> {
    let key = libp2p::identity::ed25519::PublicKey::try_from_bytes(event.author()).ok()?;
    Some(PeerId::from_public_key(&libp2p::identity::PublicKey::from(
        key,
    )))
}
