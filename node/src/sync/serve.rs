//! The responder side of catch-up: answers reconciliation messages, fetches and offers.
//!
//! The responder is stateless between messages (negentropy allows it); to avoid rebuilding a
//! topic's item set for every round trip of a catch-up, sealed sets are built one at a time and
//! shared for a short while, within a byte budget ([`super::cache`]).

use super::cache::SetCache;
use super::{FETCH_PAGE, FRAME_LIMIT, MAX_RESPONSE_EVENT_BYTES, SyncError};
use crate::admit::{Admission, Via};
use crate::store::{Store, StoreError};
use crate::sync::protocol::{
    MAX_DIGEST_TOPICS, MAX_EVENTS_PER_FRAME, MAX_TOPICS_PER_FRAME, Request, Response, TopicMessage,
};
use fedci_proto::{EventId, Topic};
use libp2p::PeerId;
use negentropy::{Id, Negentropy, NegentropyStorageVector};
use serde_bytes::ByteBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Clone, Default)]
pub struct Responder {
    cache: Arc<Mutex<SetCache>>,
    building: Arc<tokio::sync::Mutex<()>>,
    /// Test fixture (`run --tamper-relay`): serve forged copies of fetched events.
    #[cfg(feature = "test-hooks")]
    pub tamper: bool,
}

impl Responder {
    /// Answers a reconcile or fetch request (offers are handled by the caller).
    pub async fn answer(&self, store: &Store, request: Request) -> Response {
        match request {
            Request::Reconcile { topics } => self.reconcile(store, topics).await,
            Request::Digest { topics, combined } => digest(store, topics, &combined).await,
            #[cfg(feature = "test-hooks")]
            Request::Fetch { ids } if self.tamper => forged(fetch(store, ids).await),
            Request::Fetch { ids } => fetch(store, ids).await,
            Request::Offer { .. } => Response::Error {
                message: "offers are handled elsewhere".into(),
            },
        }
    }

    async fn reconcile(&self, store: &Store, topics: Vec<TopicMessage>) -> Response {
        if topics.len() > MAX_TOPICS_PER_FRAME {
            return Response::Error {
                message: format!("more than {MAX_TOPICS_PER_FRAME} topics"),
            };
        }
        let mut out = Vec::with_capacity(topics.len());
        for tm in topics {
            if Topic::parse(&tm.topic).is_none() {
                return Response::Error {
                    message: format!("not a topic: {:?}", tm.topic),
                };
            }
            let storage = match self.storage(store, &tm.topic).await {
                Ok(s) => s,
                Err(e) => {
                    return Response::Error {
                        message: e.to_string(),
                    };
                }
            };
            let message = tm.message.into_vec();
            let reply = tokio::task::spawn_blocking(move || {
                Negentropy::borrowed(storage.as_ref(), FRAME_LIMIT)
                    .and_then(|mut n| n.reconcile(&message))
                    .map_err(|e| format!("{e:?}"))
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
            match reply {
                Ok(message) => out.push(TopicMessage {
                    topic: tm.topic,
                    message: ByteBuf::from(message),
                }),
                Err(e) => {
                    return Response::Error {
                        message: format!("reconcile {}: {e}", tm.topic),
                    };
                }
            }
        }
        Response::Reconcile { topics: out }
    }

    async fn storage(
        &self,
        store: &Store,
        topic: &str,
    ) -> Result<Arc<NegentropyStorageVector>, SyncError> {
        let version = store.last_seq();
        let hit = |now| {
            self.cache
                .lock()
                .ok()
                .and_then(|c| c.get(topic, version, now))
        };
        if let Some(s) = hit(Instant::now()) {
            return Ok(s);
        }
        // One build at a time: requests arriving together share its result instead of each
        // holding a copy of the set.
        let _building = self.building.lock().await;
        if let Some(s) = hit(Instant::now()) {
            return Ok(s);
        }
        let storage = Arc::new(build_storage(store, topic).await?);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(topic, version, Instant::now(), storage.clone());
            store
                .metrics()
                .sync_cache_bytes
                .store(cache.bytes() as u64, Relaxed);
        }
        Ok(storage)
    }
}

/// Loads and seals a topic's (time, id) set, straight from the store into one vector of the
/// exact size.
pub async fn build_storage(
    store: &Store,
    topic: &str,
) -> Result<NegentropyStorageVector, SyncError> {
    let topic = topic.to_string();
    store
        .read(move |s| {
            let (count, _) = s.topic_digest(&topic)?;
            let mut storage = NegentropyStorageVector::with_capacity(count as usize);
            let mut failed = None;
            s.each_topic_item(&topic, |time, id| {
                if let Err(e) = storage.insert(time, Id::from_byte_array(id)) {
                    failed.get_or_insert(e);
                }
            })?;
            // Sealing sorts: CPU work that stays off the async runtime with the read.
            Ok(match failed {
                Some(e) => Err(e),
                None => storage.seal().map(|()| storage),
            })
        })
        .await?
        .map_err(SyncError::from)
}

/// This node's fingerprints of `topics`, in order.
pub async fn fingerprints(store: &Store, topics: Vec<String>) -> Result<Vec<[u8; 16]>, StoreError> {
    store
        .read(move |s| topics.iter().map(|t| Ok(s.topic_digest(t)?.1)).collect())
        .await
}

async fn digest(store: &Store, topics: Vec<String>, combined: &[u8]) -> Response {
    if topics.len() > MAX_DIGEST_TOPICS {
        return Response::Error {
            message: format!("more than {MAX_DIGEST_TOPICS} topics"),
        };
    }
    match fingerprints(store, topics).await {
        Ok(fps) if crate::store::digest::combine(&fps)[..] == *combined => Response::Digest {
            same: true,
            fingerprints: Vec::new(),
        },
        Ok(fps) => Response::Digest {
            same: false,
            fingerprints: fps.iter().map(|f| ByteBuf::from(f.to_vec())).collect(),
        },
        Err(e) => Response::Error {
            message: e.to_string(),
        },
    }
}

async fn fetch(store: &Store, ids: Vec<ByteBuf>) -> Response {
    if ids.len() > MAX_EVENTS_PER_FRAME.max(FETCH_PAGE) {
        return Response::Error {
            message: format!("more than {MAX_EVENTS_PER_FRAME} ids"),
        };
    }
    let ids: Vec<EventId> = ids
        .iter()
        .filter_map(|b| EventId::try_from(b.as_slice()).ok())
        .collect();
    match store
        .read(move |s| s.get_vouched(&ids, MAX_RESPONSE_EVENT_BYTES))
        .await
    {
        Ok((raws, withheld)) => Response::Events {
            events: raws.into_iter().map(ByteBuf::from).collect(),
            withheld: withheld
                .iter()
                .map(|id| ByteBuf::from(id.0.to_vec()))
                .collect(),
        },
        Err(e) => Response::Error {
            message: e.to_string(),
        },
    }
}

/// A fetch answer as the tampering relay fixture serves it: forged copies, nothing withheld.
#[cfg(feature = "test-hooks")]
fn forged(answer: Response) -> Response {
    match answer {
        Response::Events { events, .. } => Response::Events {
            events: events
                .iter()
                .filter_map(|r| fedci_proto::Event::from_trusted_bytes(r).ok())
                .filter_map(|e| fedci_proto::envelope::tampered_copy(&e).ok())
                .map(ByteBuf::from)
                .collect(),
            withheld: Vec::new(),
        },
        other => other,
    }
}

/// Takes events a peer offers through the one admission path. Returns the answer and
/// whether the peer misbehaved (offered what fails verification), for the swarm task to
/// penalise.
pub async fn take_offer(
    admission: &Admission,
    peer: PeerId,
    events: Vec<ByteBuf>,
) -> (Response, bool) {
    if events.len() > MAX_EVENTS_PER_FRAME {
        let refused = Response::Error {
            message: format!("more than {MAX_EVENTS_PER_FRAME} events"),
        };
        return (refused, true);
    }
    let raws = events.into_iter().map(ByteBuf::into_vec).collect();
    let verdict = admission.admit(peer, Via::Offer, raws).await;
    if verdict.forged > 0 {
        tracing::warn!(%peer, forged = verdict.forged, "peer offered events that fail verification");
    }
    let taken = Response::Taken {
        stored: u32::try_from(verdict.stored).unwrap_or(u32::MAX),
    };
    (taken, verdict.misbehaved())
}
