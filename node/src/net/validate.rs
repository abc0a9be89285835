//! Validation of one gossip message, off the swarm task: the one admission path (decode,
//! verify, topic and interests, ingest) and its verdict mapped to gossipsub's. We tell
//! gossipsub to forward it once the store's writer has decided to store it (its announce
//! point), before the commit: see the DESIGN NOTE in `store/writer/announce.rs`.

use crate::admit::{Admission, Via};
use libp2p::PeerId;
use libp2p::gossipsub::{MessageAcceptance, MessageId};

/// The verdict on one message, sent back to the swarm task.
#[derive(Debug)]
pub struct Verdict {
    pub message_id: MessageId,
    pub source: PeerId,
    pub acceptance: MessageAcceptance,
    /// The stored event, when it was new: the tampering relay fixture re-publishes it.
    #[cfg(feature = "test-hooks")]
    pub stored: Option<fedci_proto::Event>,
}

pub async fn validate(
    admission: Admission,
    message_id: MessageId,
    source: PeerId,
    topic: String,
    data: Vec<u8>,
) -> Verdict {
    let v = admission
        .admit(source, Via::Gossip { topic }, vec![data])
        .await;
    let acceptance = if v.misbehaved() {
        MessageAcceptance::Reject
    } else if v.stored > 0 {
        MessageAcceptance::Accept
    } else {
        // Duplicates, events not for us, refusals a relay cannot know about, store trouble.
        MessageAcceptance::Ignore
    };
    Verdict {
        #[cfg(feature = "test-hooks")]
        stored: v
            .stored_event
            .filter(|_| matches!(acceptance, MessageAcceptance::Accept)),
        message_id,
        source,
        acceptance,
    }
}
