//! Consumers, trace, status, trust, peers, metrics and the JSON 404/405.

use super::access::{Access, consumer_refusal};
use super::events::{check_consumer, parse_id};
use super::{ApiError, AppState};
use crate::store::{ConsumerOutcome, Direction};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use fedci_client::types::{
    AckRequest, BlockRequest, Blocked, ConsumerAck, ConsumerRemoved, EndHow, Ended, Pin, PinAnswer,
    PinRequest, RosterKey, RosterKeys, RosterSummary, Status, StoreHealth, StoreState, Trust,
};
use fedci_keys::PublicKey;
use serde::Deserialize;

pub async fn ack(
    State(st): State<AppState>,
    access: Access,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let name = check_consumer(&name)?;
    let req: AckRequest = json_body(&body)?;
    let caller = access.consumer_caller()?;
    match st.store.ack(name.clone(), req.arrival, caller).await? {
        ConsumerOutcome::Done { cursor } => Ok(Json(ConsumerAck {
            consumer: name,
            cursor,
        })
        .into_response()),
        refused => Err(consumer_refusal(&name, refused)),
    }
}

pub async fn consumers(State(st): State<AppState>) -> Result<Response, ApiError> {
    let all = st.store.read(|s| s.consumers()).await?;
    Ok(Json(all).into_response())
}

pub async fn remove_consumer(
    State(st): State<AppState>,
    access: Access,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let name = check_consumer(&name)?;
    let caller = access.consumer_caller()?;
    match st.store.remove_consumer(name.clone(), caller).await? {
        ConsumerOutcome::Done { .. } => Ok(Json(ConsumerRemoved {
            consumer: name,
            removed: true,
        })
        .into_response()),
        refused => Err(consumer_refusal(&name, refused)),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceParams {
    direction: Option<Direction>,
    depth: Option<u32>,
    format: Option<String>,
}

pub async fn trace(
    State(st): State<AppState>,
    Path(id): Path<String>,
    params: Result<Query<TraceParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let Query(p) = params.map_err(|e| ApiError::bad_request("bad_query", e.body_text()))?;
    let dir = p.direction.unwrap_or(Direction::Both);
    let depth = p.depth.unwrap_or(10);
    if p.format.as_deref() == Some("bundle") {
        return super::evidence::bundle(&st, id, dir, depth).await;
    }
    // Settled: a job the stream just triggered traces its event at once (see GET by id).
    let trace = st
        .store
        .read_settled(id, move |s| {
            s.trace(id, dir, depth, super::render::graph_node)
        })
        .await?;
    let trace = trace.ok_or_else(|| ApiError::not_found(format!("no event {id} on this node")))?;
    let graph = super::render::graph(trace);
    match p.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(graph).into_response()),
        "dot" => Ok((
            [(header::CONTENT_TYPE, "text/vnd.graphviz")],
            super::render::to_dot(&graph),
        )
            .into_response()),
        "mermaid" => Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            super::render::to_mermaid(&graph),
        )
            .into_response()),
        other => Err(ApiError::bad_request(
            "bad_format",
            format!("format {other:?}: use json, dot, mermaid or bundle"),
        )),
    }
}

/// Answers even while the store cannot be read (then without the counts), so a supervisor
/// always learns the store's state.
pub async fn status(State(st): State<AppState>) -> Result<Response, ApiError> {
    let counts = st
        .store
        .read(|s| {
            Ok((
                s.count()?,
                s.consumers()?,
                s.missing_count()?,
                s.topic_counts()?,
                s.untrusted_count()?,
            ))
        })
        .await;
    let (events, consumers, missing, topics, untrusted) = match counts {
        Ok((e, c, m, t, u)) => (Some(e), c, Some(m), t, Some(u)),
        Err(e) => {
            tracing::warn!(error = %e, "status: store unreadable");
            (None, Default::default(), None, Default::default(), None)
        }
    };
    let trust = st.store.trust();
    let health = st.store.health().view();
    let failure = health.failure;
    let out = Status {
        community: st.config.community.clone(),
        node_key: st.node_key.public().to_string(),
        root_key: trust.pinned(&st.config.community).map(|k| k.to_string()),
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_s: st.started.elapsed().as_secs(),
        events,
        untrusted_events: untrusted,
        last_arrival: st.store.last_seq(),
        dangling_link_targets: missing,
        topic_events: topics,
        consumers,
        pins: pins(&trust, false),
        rejected: st.metrics.rejected_by_reason(),
        store: StoreHealth {
            state: match failure {
                Some(_) => StoreState::Failing,
                None => StoreState::Ok,
            },
            error: failure.as_ref().map(|f| f.error.clone()),
            since_ms: failure.as_ref().map(|f| f.since_ms),
            retries: failure.as_ref().map(|f| f.retries),
        },
        network: st.net.as_ref().map(|n| n.status()),
    };
    Ok(Json(out).into_response())
}

pub async fn trust(State(st): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(Trust {
        pins: pins(&st.store.trust(), true),
    })
    .into_response())
}

/// Pinned communities with the roster in force: `keys` is the count, or with `detail` the
/// entries themselves (and the keys that ended).
pub fn pins(trust: &fedci_keys::TrustStore, detail: bool) -> Vec<Pin> {
    trust
        .pins()
        .map(|(c, k)| {
            let roster = trust.roster(c).map(|(r, id)| {
                let keys = if detail {
                    RosterKeys::Entries(
                        r.entries
                            .iter()
                            .map(|e| RosterKey {
                                key: e.key.to_string(),
                                kinds: e.kinds.clone(),
                                not_before: e.not_before,
                                not_after: e.not_after,
                            })
                            .collect(),
                    )
                } else {
                    RosterKeys::Count(r.entries.len())
                };
                let ended = (detail && !r.ended.is_empty()).then(|| {
                    r.ended
                        .iter()
                        .map(|e| Ended {
                            key: hex::encode(e.key),
                            how: match e.how {
                                fedci_keys::EndKind::Retired => EndHow::Retired,
                                fedci_keys::EndKind::Revoked => EndHow::Revoked,
                            },
                            at: e.at,
                        })
                        .collect()
                });
                RosterSummary {
                    serial: r.serial,
                    id,
                    keys,
                    ended,
                }
            });
            Pin {
                community: c.to_string(),
                root: k.to_string(),
                roster,
            }
        })
        .collect()
}

pub async fn pin(State(st): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let req: PinRequest = json_body(&body)?;
    fedci_proto::body::check_community(&req.community)
        .map_err(|e| ApiError::bad_request("bad_community", e.to_string()))?;
    let key: PublicKey = req
        .key
        .parse()
        .map_err(|e: fedci_keys::KeyError| ApiError::bad_request("bad_key", e.to_string()))?;
    let changed = st
        .store
        .pin(req.community.clone(), key, &st.config.community)
        .await?;
    Ok(Json(PinAnswer {
        community: req.community,
        root: key.to_string(),
        changed,
    })
    .into_response())
}

pub async fn block_peer(State(st): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    set_blocked(&st, &body, true)
}

pub async fn unblock_peer(State(st): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    set_blocked(&st, &body, false)
}

fn set_blocked(st: &AppState, body: &[u8], blocked: bool) -> Result<Response, ApiError> {
    let req: BlockRequest = json_body(body)?;
    let Some(net) = &st.net else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_network",
            "this node runs without a network",
        ));
    };
    net.block(&req.peer_id, blocked)
        .map_err(|e| ApiError::bad_request("bad_peer", e))?;
    Ok(Json(Blocked {
        peer_id: req.peer_id,
        blocked,
    })
    .into_response())
}

pub async fn metrics(State(st): State<AppState>) -> Result<Response, ApiError> {
    let mut gauges = vec![(
        "fedci_last_arrival",
        "Arrival seq of the newest committed event (positions have gaps: no count).",
        st.store.last_seq(),
    )];
    let (cache, cache_limit) = st.store.cache_bytes();
    gauges.push((
        "fedci_store_cache_bytes",
        "Bytes held by the database's page cache.",
        cache,
    ));
    gauges.push((
        "fedci_store_cache_limit_bytes",
        "Bound of the database's page cache.",
        cache_limit,
    ));
    gauges.push((
        "fedci_store_unsynced",
        "1 while events received by gossip are committed but not yet fsynced (at most about a second).",
        st.metrics.store_unsynced.load(std::sync::atomic::Ordering::Relaxed),
    ));
    let (feed_events, feed_bytes) = st.store.feed_size();
    gauges.push((
        "fedci_stream_feed_events",
        "Events held by the live streams' feed (announced before their commit).",
        feed_events as u64,
    ));
    gauges.push((
        "fedci_stream_feed_bytes",
        "Bytes of events held by the live streams' feed.",
        feed_bytes as u64,
    ));
    // Metrics must answer while the store is failing: that is when they matter.
    if let Ok(events) = st.store.read(|s| s.count()).await {
        gauges.push(("fedci_events", "Events held in the store.", events));
    }
    let text = st.metrics.render(&gauges);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see the README's socket API section")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this endpoint",
    )
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    super::strict_json::parse(body)
}
