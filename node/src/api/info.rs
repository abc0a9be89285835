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
use fedci_keys::PublicKey;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AckRequest {
    arrival: u64,
}

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
        ConsumerOutcome::Done { cursor } => {
            Ok(Json(json!({"consumer": name, "cursor": cursor})).into_response())
        }
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
        ConsumerOutcome::Done { .. } => {
            Ok(Json(json!({"consumer": name, "removed": true})).into_response())
        }
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
    let graph = st.store.read(move |s| s.trace(id, dir, depth)).await?;
    let graph = graph.ok_or_else(|| ApiError::not_found(format!("no event {id} on this node")))?;
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
        Ok((e, c, m, t, u)) => (json!(e), json!(c), json!(m), json!(t), json!(u)),
        Err(e) => {
            tracing::warn!(error = %e, "status: store unreadable");
            (json!(null), json!({}), json!(null), json!({}), json!(null))
        }
    };
    let trust = st.store.trust();
    let pins = pins_json(&trust, false);
    let mut out = json!({
        "community": st.config.community,
        "node_key": st.node_key.public().to_string(),
        "root_key": trust.pinned(&st.config.community).map(|k| k.to_string()),
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": st.started.elapsed().as_secs(),
        "events": events,
        // Stored events the trust of now no longer authorises: not served in lists or streams.
        "untrusted_events": untrusted,
        "last_arrival": st.store.last_seq(),
        "dangling_link_targets": missing,
        "topic_events": topics,
        "consumers": consumers,
        "pins": pins,
        "rejected": st.metrics.rejected_by_reason(),
        "store": st.store.health().view(),
    });
    if let Some(net) = &st.net {
        out["network"] = net.status();
    }
    Ok(Json(out).into_response())
}

pub async fn trust(State(st): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(json!({"pins": pins_json(&st.store.trust(), true)})).into_response())
}

/// Pinned communities with the roster in force: `keys` is the count, or with `detail` the
/// entries themselves.
pub fn pins_json(trust: &fedci_keys::TrustStore, detail: bool) -> Vec<serde_json::Value> {
    trust
        .pins()
        .map(|(c, k)| {
            let roster = trust.roster(c).map(|(r, id)| {
                let keys = if detail {
                    json!(
                        r.entries
                            .iter()
                            .map(|e| json!({
                                "key": e.key.to_string(), "kinds": e.kinds,
                                "not_before": e.not_before, "not_after": e.not_after,
                            }))
                            .collect::<Vec<_>>()
                    )
                } else {
                    json!(r.entries.len())
                };
                let mut roster = json!({"serial": r.serial, "id": id, "keys": keys});
                if detail && !r.ended.is_empty() {
                    roster["ended"] = json!(
                        r.ended
                            .iter()
                            .map(|e| json!({
                                "key": hex::encode(e.key),
                                "how": match e.how {
                                    fedci_keys::EndKind::Retired => "retired",
                                    fedci_keys::EndKind::Revoked => "revoked",
                                },
                                "at": e.at,
                            }))
                            .collect::<Vec<_>>()
                    );
                }
                roster
            });
            json!({"community": c, "root": k.to_string(), "roster": roster})
        })
        .collect()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PinRequest {
    community: String,
    key: String,
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
    Ok(
        Json(json!({"community": req.community, "root": key.to_string(), "changed": changed}))
            .into_response(),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockRequest {
    peer_id: String,
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
    Ok(Json(json!({"peer_id": req.peer_id, "blocked": blocked})).into_response())
}

pub async fn metrics(State(st): State<AppState>) -> Result<Response, ApiError> {
    let mut gauges = vec![(
        "fedci_last_arrival",
        "Arrival seq of the newest event.",
        st.store.last_seq(),
    )];
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
