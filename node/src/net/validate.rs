//! Validation of one gossip message, off the swarm task: decode and verify, check it belongs
//! on its topic and to our interests, then the one ingest path (trust decision, store).
//! Only after the store has committed do we tell gossipsub to forward it.

use super::interests::Interests;
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
    topic: String,
    data: Vec<u8>,
) -> (MessageAcceptance, Option<Event>) {
    let metrics = store.metrics().clone();
    let event = match Event::decode(&data) {
        Ok(e) => e,
        Err(e) => {
            tracing::debug!(error = %e, "gossip: undecodable or forged event");
            metrics.reject("gossip", e.code());
            return (MessageAcceptance::Reject, None);
        }
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
            Some(Outcome::Rejected(IngestError::Untrusted(r))) if !r.is_misbehaviour() => {
                (MessageAcceptance::Ignore, None)
            }
            Some(Outcome::Rejected(e)) => {
                tracing::debug!(id = %event.id().short(), reason = e.code(), "gossip: rejected event");
                (MessageAcceptance::Reject, None)
            }
        },
        Err(e) => {
            tracing::warn!(error = %e, "gossip: store unavailable");
            (MessageAcceptance::Ignore, None)
        }
    }
}
