//! The responder side of catch-up: answers reconciliation messages, fetches and offers.
//!
//! The responder is stateless between messages (negentropy allows it). It reconciles spans of
//! a topic (author-time ranges the initiator narrowed down with [`Request::Epochs`]) and
//! refuses to build a set of more than [`MAX_SPAN_ITEMS`] events or [`MAX_SPAN_BYTES`] of
//! them (ids are hashed from the events' bytes), so its memory and work do not grow with the
//! store. To avoid rebuilding a span's set for every round trip, sealed sets are
//! built one at a time and shared for a short while, within a byte budget ([`super::cache`]).

use super::cache::SetCache;
use super::{FETCH_PAGE, FRAME_LIMIT, MAX_RESPONSE_EVENT_BYTES, SyncError};
use crate::admit::{Admission, Via};
use crate::store::epochs::MAX_SPAN_BYTES;
use crate::store::{Store, StoreError};
use crate::sync::protocol::{
    EpochBucket, EpochQuery, MAX_DIGEST_TOPICS, MAX_EPOCH_BUCKETS, MAX_EPOCH_RANGES,
    MAX_EVENTS_PER_FRAME, MAX_SPAN_ITEMS, MAX_TOPICS_PER_FRAME, Request, Response, TopicMessage,
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
    /// Most events of a span it builds a set of: [`MAX_SPAN_ITEMS`] unless a test lowers it.
    span_limit: Option<usize>,
    /// Test fixture (`run --tamper-relay`): serve forged copies of fetched events.
    #[cfg(feature = "test-hooks")]
    pub tamper: bool,
}

impl Responder {
    /// The same responder, refusing spans of more than `limit` events.
    #[cfg(test)]
    pub fn with_span_limit(mut self, limit: usize) -> Self {
        self.span_limit = Some(limit);
        self
    }

    /// Answers a reconcile or fetch request (offers are handled by the caller).
    pub async fn answer(&self, store: &Store, request: Request) -> Response {
        match request {
            Request::Reconcile { topics } => self.reconcile(store, topics).await,
            Request::Digest { topics, combined } => digest(store, topics, &combined).await,
            Request::Epochs { width, topics } => epochs(store, width, topics).await,
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
            let span = tm.span.unwrap_or(WHOLE);
            let storage = match self.storage(store, &tm.topic, span).await {
                Ok(Some(s)) => s,
                Ok(None) => {
                    out.push(TopicMessage {
                        topic: tm.topic,
                        message: ByteBuf::new(),
                        span: tm.span,
                        too_large: true,
                    });
                    continue;
                }
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
                    span: tm.span,
                    too_large: false,
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

    /// The sealed set of `topic`'s events in `span`, shared or built; `None` when the span
    /// holds more than [`MAX_SPAN_ITEMS`].
    async fn storage(
        &self,
        store: &Store,
        topic: &str,
        span: (u64, u64),
    ) -> Result<Option<Arc<NegentropyStorageVector>>, SyncError> {
        let key = format!("{topic} {}-{}", span.0, span.1);
        let version = store.last_seq();
        let hit = |now| {
            self.cache
                .lock()
                .ok()
                .and_then(|c| c.get(&key, version, now))
        };
        if let Some(s) = hit(Instant::now()) {
            return Ok(Some(s));
        }
        // One build at a time: requests arriving together share its result instead of each
        // holding a copy of the set.
        let _building = self.building.lock().await;
        if let Some(s) = hit(Instant::now()) {
            return Ok(Some(s));
        }
        let limit = self.span_limit.unwrap_or(MAX_SPAN_ITEMS);
        let Some(storage) = build_storage(store, topic, span, limit).await? else {
            return Ok(None);
        };
        let storage = Arc::new(storage);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(&key, version, Instant::now(), storage.clone());
            store
                .metrics()
                .sync_cache_bytes
                .store(cache.bytes() as u64, Relaxed);
        }
        Ok(Some(storage))
    }
}

/// The span of a whole topic.
pub const WHOLE: (u64, u64) = (0, u64::MAX);

/// Loads and seals the (time, id) set of `topic`'s events in `span`, straight from the store
/// into one vector; `None` when the span holds more than `limit` events.
pub async fn build_storage(
    store: &Store,
    topic: &str,
    span: (u64, u64),
    limit: usize,
) -> Result<Option<NegentropyStorageVector>, SyncError> {
    let topic = topic.to_string();
    let metrics = store.metrics().clone();
    store
        .read(move |s| {
            let mut storage = NegentropyStorageVector::new();
            let mut failed = None;
            let counted =
                s.each_topic_item_between(&topic, span, (limit, MAX_SPAN_BYTES), |time, id| {
                    if let Err(e) = storage.insert(time, Id::from_byte_array(id)) {
                        failed.get_or_insert(e);
                    }
                })?;
            let Some(n) = counted else {
                return Ok(Ok(None));
            };
            metrics.sync_set_items_max.fetch_max(n as u64, Relaxed);
            // Sealing sorts: CPU work that stays off the async runtime with the read.
            Ok(match failed {
                Some(e) => Err(e),
                None => storage.seal().map(|()| Some(storage)),
            })
        })
        .await?
        .map_err(SyncError::from)
}

/// Answers an [`Request::Epochs`]: each topic's buckets of `width` epochs in its ranges.
async fn epochs(store: &Store, width: u64, topics: Vec<EpochQuery>) -> Response {
    let ranges: usize = topics.iter().map(|q| q.ranges.len()).sum();
    if topics.len() > MAX_TOPICS_PER_FRAME || ranges > MAX_EPOCH_RANGES || width == 0 {
        return Response::Error {
            message: format!(
                "an epochs request holds at most {MAX_TOPICS_PER_FRAME} topics and \
                 {MAX_EPOCH_RANGES} ranges, of a width of at least 1"
            ),
        };
    }
    if let Some(q) = topics.iter().find(|q| Topic::parse(&q.topic).is_none()) {
        return Response::Error {
            message: format!("not a topic: {:?}", q.topic),
        };
    }
    let answer = store
        .read(move |s| {
            let mut left = MAX_EPOCH_BUCKETS;
            let mut out = Vec::with_capacity(topics.len());
            for q in &topics {
                let Some(buckets) = s.epoch_buckets(&q.topic, &q.ranges, width, left)? else {
                    return Ok(Err(format!("more than {MAX_EPOCH_BUCKETS} buckets")));
                };
                left -= buckets.len();
                out.push(
                    buckets
                        .into_iter()
                        .map(|b| EpochBucket {
                            start: b.start,
                            count: b.count,
                            fingerprint: ByteBuf::from(b.fingerprint.to_vec()),
                        })
                        .collect(),
                );
            }
            Ok(Ok(out))
        })
        .await;
    match answer {
        Ok(Ok(topics)) => Response::Epochs { topics },
        Ok(Err(message)) => Response::Error { message },
        Err(e) => Response::Error {
            message: e.to_string(),
        },
    }
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
