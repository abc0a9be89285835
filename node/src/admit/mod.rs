//! The one door between peers and the store. Gossip messages, offered events and fetch
//! answers all go through [`Admission::admit`]: decode and verify (off the async runtime),
//! check the event belongs where it came (its topic, or the ids we asked for), the interests
//! filter, the ingest (trust decision, store), and one [`Verdict`] on the peer that sent them.
//! The swarm task turns a verdict into the peer's penalty, the same way for all three paths.
//!
//! Events refused for what their payload says are remembered by id ([`refused`]), so catch-up
//! does not fetch and verify them again; envelope and signature failures only cost the sender.

pub mod refused;
#[cfg(test)]
mod tests;

use crate::interests::Interests;
use crate::store::{IngestError, Outcome, Store, StoreError};
use fedci_keys::RejectReason;
use fedci_keys::TrustStore;
use fedci_proto::envelope::DecodeError;
use fedci_proto::{Event, EventId, Topic};
use libp2p::PeerId;
use refused::RefusedIds;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

/// One event of at most [`VERIFY_IN_PLACE_BYTES`] is verified on the async runtime's own
/// thread; anything larger, and batches (offers, fetch answers), go to the blocking pool. A
/// gossip message is one event of typically under 1 KiB, 40–50 µs of CPU, about what the two
/// thread hand-offs cost: verifying it in place took 7–10 % off a receiver's CPU per event
/// (BENCHMARKS.md, session 12). The byte bound caps what one in-place decode can cost,
/// whatever a hostile envelope holds (many tiny CBOR items take the slower canonical path).
/// The callers are bounded: gossip validation tasks by `MAX_INFLIGHT_VALIDATIONS`
/// (`net/actor/mod.rs`), single-event offers and fetch answers by the inbound request and
/// catch-up slots. So a flood delays other tasks by at most that many small verifications
/// spread over the workers.
const VERIFY_IN_PLACE: usize = 1;
const VERIFY_IN_PLACE_BYTES: usize = 4 << 10;

/// How the events came.
#[derive(Debug)]
pub enum Via {
    /// One gossip message on this topic.
    Gossip { topic: String },
    /// A peer's `Offer`.
    Offer,
    /// An answer to our `Fetch` of these ids.
    Fetch { requested: HashSet<EventId> },
}

impl Via {
    /// The source label of metrics and the store.
    fn source(&self) -> &'static str {
        match self {
            Via::Gossip { .. } => "gossip",
            Via::Offer => "offer",
            Via::Fetch { .. } => "sync",
        }
    }
}

/// What one batch from one peer came to.
#[derive(Debug, Default)]
pub struct Verdict {
    pub stored: usize,
    pub duplicates: usize,
    /// Valid, but outside our interests or refused for what the payload says.
    pub refused: usize,
    /// Failed verification or did not belong where it came (wrong topic, not asked for).
    pub forged: usize,
    /// The sender itself authored an event it is not authorised to publish.
    pub unauthorised_author: bool,
    /// Ids of the events that verified (and of remembered refusals): what a fetch got.
    pub answered: HashSet<EventId>,
    /// The stored event of a gossip message (the tampering relay fixture re-publishes it).
    #[cfg(feature = "test-hooks")]
    pub stored_event: Option<Event>,
    pub store_error: Option<StoreError>,
}

impl Verdict {
    /// The one policy: a peer misbehaved if it sent anything that fails verification or does
    /// not belong, or authored what it may not. Refusals a relay cannot know about (an author
    /// under a roster we lack, a kind we do not want) are not its fault.
    pub fn misbehaved(&self) -> bool {
        self.forged > 0 || self.unauthorised_author
    }
}

/// The admission policy, shared by the swarm task, its validation tasks and catch-up rounds.
#[derive(Debug, Clone)]
pub struct Admission {
    store: Store,
    interests: Interests,
    refused: Arc<Mutex<RefusedIds>>,
}

impl Admission {
    pub fn new(store: Store, interests: Interests) -> Self {
        Admission {
            store,
            interests,
            refused: Arc::default(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn interests(&self) -> &Interests {
        &self.interests
    }

    /// `ids` without those remembered as refused under the current trust.
    pub fn not_refused(&self, mut ids: Vec<EventId>) -> Vec<EventId> {
        let trust = self.store.trust();
        {
            let mut r = self.memory();
            r.sync_trust(&trust);
            ids.retain(|id| !r.contains(id));
        }
        self.publish_size();
        ids
    }

    /// Ids remembered as refused.
    pub fn refused_ids(&self) -> usize {
        self.memory().len()
    }

    /// The memory; a panic elsewhere while holding it leaves a set that is still consistent.
    fn memory(&self) -> MutexGuard<'_, RefusedIds> {
        self.refused.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish_size(&self) {
        let n = self.refused_ids() as u64;
        let m = self.store.metrics();
        m.refused_ids.store(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// Remembers a refusal decided under `trust`; if trust has changed since, the refusal may
    /// no longer hold and is not remembered.
    fn remember(&self, id: EventId, trust: &Arc<TrustStore>) {
        let mut r = self.memory();
        if r.is_under(trust) {
            r.insert(id);
        }
    }

    /// Decodes, filters and ingests `raws` from `peer`; never fails (store errors are in the
    /// verdict).
    pub async fn admit(&self, peer: PeerId, via: Via, raws: Vec<Vec<u8>>) -> Verdict {
        let source = via.source();
        let metrics = self.store.metrics().clone();
        let trust = self.store.trust();
        let mut verdict = Verdict::default();
        // Remembered refusals are skipped before any verification.
        let fresh: Vec<(Option<EventId>, Vec<u8>)> = {
            let mut out = Vec::with_capacity(raws.len());
            let mut r = self.memory();
            r.sync_trust(&trust);
            for raw in raws {
                let id = Event::id_of(&raw);
                match id {
                    Some(id) if r.contains(&id) => {
                        verdict.refused += 1;
                        verdict.answered.insert(id);
                    }
                    _ => out.push((id, raw)),
                }
            }
            out
        };
        // An offer is unasked: a copy of what we hold, byte for byte, is not verified again
        // (those very bytes were, when they came). Any other envelope around a held payload
        // is verified as usual, so a forged copy still costs its sender.
        let fresh = match via {
            Via::Offer => self.drop_held(fresh, &mut verdict).await,
            _ => fresh,
        };
        let in_place = fresh.len() <= VERIFY_IN_PLACE
            && fresh
                .iter()
                .all(|(_, raw)| raw.len() <= VERIFY_IN_PLACE_BYTES);
        // Verification is CPU work: a batch of it is kept off the async runtime.
        let verify = move || {
            fresh
                .into_iter()
                .map(|(id, raw)| (id, Event::decode(&raw)))
                .collect::<Vec<_>>()
        };
        let decoded = if in_place {
            verify()
        } else {
            tokio::task::spawn_blocking(verify)
                .await
                .unwrap_or_default()
        };
        let mut wanted = Vec::new();
        for (id, result) in decoded {
            let event = match result {
                Ok(e) => e,
                Err(e) => {
                    tracing::debug!(%peer, source, error = %e, "peer sent an event that fails verification");
                    metrics.reject(source, e.code());
                    verdict.forged += 1;
                    if let Some(id) = id.filter(|_| is_payload_property(&e)) {
                        self.remember(id, &trust);
                    }
                    continue;
                }
            };
            let belongs = match &via {
                Via::Gossip { topic } => {
                    Topic::for_event(event.community(), event.kind()).to_string() == *topic
                }
                Via::Fetch { requested } => requested.contains(&event.id()),
                Via::Offer => true,
            };
            if !belongs {
                metrics.reject(source, "misplaced");
                verdict.forged += 1;
                continue;
            }
            verdict.answered.insert(event.id());
            if self.interests.wants(&event, &trust) {
                wanted.push(event);
            } else {
                verdict.refused += 1;
                self.remember(event.id(), &trust);
            }
        }
        if !wanted.is_empty() {
            self.ingest(peer, &via, wanted, &trust, &mut verdict).await;
        }
        self.publish_size();
        verdict
    }

    /// `raws` without exact copies of events the store holds, which are counted as
    /// duplicates. On a store error all are kept: the writer decides as it always did.
    async fn drop_held(
        &self,
        raws: Vec<(Option<EventId>, Vec<u8>)>,
        verdict: &mut Verdict,
    ) -> Vec<(Option<EventId>, Vec<u8>)> {
        if raws.iter().all(|(id, _)| id.is_none()) {
            return raws;
        }
        // The bytes go to the read and come back: no copy of an offer's events is made.
        let looked = self
            .store
            .read(move |s| {
                let items = raws
                    .iter()
                    .filter_map(|(id, raw)| id.map(|id| (id, raw.as_slice())));
                let held = s.holds_exactly(items);
                Ok((raws, held))
            })
            .await;
        let (raws, held) = match looked {
            Ok((raws, Ok(held))) => (raws, held),
            Ok((raws, Err(_))) => return raws,
            Err(e) => {
                // The store is gone: nothing could be stored either.
                verdict.store_error = Some(e);
                return Vec::new();
            }
        };
        let mut held = held.into_iter();
        let metrics = self.store.metrics();
        let mut out = Vec::with_capacity(raws.len());
        for (id, raw) in raws {
            match id {
                Some(id) if held.next() == Some(true) => {
                    verdict.duplicates += 1;
                    verdict.answered.insert(id);
                    metrics
                        .events_duplicate
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                _ => out.push((id, raw)),
            }
        }
        out
    }

    async fn ingest(
        &self,
        peer: PeerId,
        via: &Via,
        events: Vec<Event>,
        trust: &Arc<TrustStore>,
        verdict: &mut Verdict,
    ) {
        #[cfg(feature = "test-hooks")]
        let keep = match via {
            Via::Gossip { .. } => events.first().cloned(),
            _ => None,
        };
        // The author's peer id is worked out only for a refusal that may be its fault: it
        // costs a key decompression, a tenth of a verification.
        let facts: Vec<(EventId, [u8; 32])> =
            events.iter().map(|e| (e.id(), *e.author())).collect();
        // A gossip message is forwarded on the writer's decision, before its commit (see the
        // DESIGN NOTE in `store/writer/announce.rs`); catch-up's answers wait for the commit.
        let ingested = match via {
            Via::Gossip { .. } => self.store.ingest_early(events, via.source()).await,
            _ => self.store.ingest(events, via.source()).await,
        };
        let outcomes = match ingested {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(error = %e, "store unavailable; events from peers dropped");
                verdict.store_error = Some(e);
                return;
            }
        };
        // The store decided under the trust in force at its commit: the refusals are known to
        // hold under `trust` only if trust did not change meanwhile.
        let same_trust = Arc::ptr_eq(trust, &self.store.trust());
        for ((id, author), outcome) in facts.into_iter().zip(outcomes) {
            match outcome {
                Outcome::Stored { .. } => {
                    verdict.stored += 1;
                    #[cfg(feature = "test-hooks")]
                    {
                        verdict.stored_event = keep.clone();
                    }
                }
                Outcome::Duplicate => verdict.duplicates += 1,
                Outcome::Rejected(IngestError::Untrusted(r)) => {
                    verdict.refused += 1;
                    if r != RejectReason::FutureTime && same_trust {
                        self.remember(id, trust);
                    }
                    // Only the author knows for sure whether it is authorised: a relay may
                    // forward an event signed under a roster that has not reached us yet.
                    if r.is_misbehaviour() && author_peer(&author) == Some(peer) {
                        tracing::debug!(%peer, id = %id.short(), reason = r.code(), "peer authored an event it may not");
                        verdict.unauthorised_author = true;
                    }
                }
                Outcome::Rejected(IngestError::LinkTarget(_)) => verdict.refused += 1,
            }
        }
    }
}

/// Decode failures that hold for every envelope around the same payload (so for its id).
fn is_payload_property(e: &DecodeError) -> bool {
    matches!(e, DecodeError::Body(_) | DecodeError::Vocab(_))
}

/// The libp2p peer id of an event's author: a node's libp2p identity is its node key.
fn author_peer(author: &[u8; 32]) -> Option<PeerId> {
    let key = libp2p::identity::ed25519::PublicKey::try_from_bytes(author).ok()?;
    Some(PeerId::from_public_key(&libp2p::identity::PublicKey::from(
        key,
    )))
}
