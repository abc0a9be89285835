//! Validation of one gossip message, off the swarm task: the one admission path (decode,
//! verify, topic and interests, ingest) and its verdict mapped to gossipsub's. Only after the
//! store has committed do we tell gossipsub to forward it.

use crate::admit::{Admission, Via};
use fedci_proto::Event;
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
    admission: Admission,
    source: PeerId,
    topic: String,
    data: Vec<u8>,
) -> (MessageAcceptance, Option<Event>) {
    let v = admission
        .admit(source, Via::Gossip { topic }, vec![data])
        .await;
    if v.misbehaved() {
        (MessageAcceptance::Reject, None)
    } else if v.stored > 0 {
        (MessageAcceptance::Accept, v.stored_event)
    } else {
        // Duplicates, events not for us, refusals a relay cannot know about, store trouble.
        (MessageAcceptance::Ignore, None)
    }
}
