//! Publishing, fetching and querying events.

use super::dangling::PublishParams;
use super::limits::{ClientId, body_with_permit};
use super::{ApiError, AppState};
use crate::store::{IngestError, Outcome, PageLimit, StoreError, StoredEvent};
use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fedci_proto::json::{EventJson, json_to_data};
use fedci_proto::{Body, Event, EventId, Filter, Link, sign, vocab};

pub use fedci_client::types::PublishRequest;
use fedci_client::types::{EventItem, PublishStatus, Published, UntrustedReason};

/// A checked `POST /v1/events` body: everything the node signs except who, when and seq.
#[derive(Debug)]
pub struct Draft {
    pub kind: String,
    pub data: ciborium::Value,
    pub links: Vec<Link>,
}

impl Draft {
    /// Parses and checks a publish request body (kind, data model, links); the vocabulary's
    /// full check runs when the body is signed.
    pub fn parse(body: &[u8]) -> Result<Draft, ApiError> {
        // Strict: a key repeated in any object is refused (400 duplicate_key).
        let req: PublishRequest = super::strict_json::parse(body)?;
        vocab::check_kind(&req.kind)?;
        let data = json_to_data(&req.data).map_err(|e| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_data", e.to_string())
        })?;
        let links = req
            .links
            .iter()
            .map(|l| {
                let target = l
                    .target
                    .parse::<EventId>()
                    .map_err(|e| ApiError::bad_request("bad_link_target", e.to_string()))?;
                fedci_proto::body::check_rel(&l.rel).map_err(|e| {
                    ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "bad_link_rel",
                        e.to_string(),
                    )
                })?;
                Ok(Link::new(l.rel.clone(), target))
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok(Draft {
            kind: req.kind,
            data,
            links,
        })
    }

    /// The body this node signs for the draft.
    pub fn into_body(self, community: &str, author: [u8; 32], time: u64, seq: u64) -> Body {
        Body {
            v: fedci_proto::FORMAT_VERSION,
            kind: self.kind,
            community: community.to_string(),
            author,
            time,
            seq,
            links: self.links,
            data: self.data,
        }
    }
}

/// An event as lists and streams show it: no trust verdict (they carry only trusted events).
fn item(s: &StoredEvent) -> EventItem {
    EventItem {
        arrival: s.seq,
        event: EventJson::from_event(&s.event),
        arrived_at: None,
        trusted: None,
        untrusted_reason: None,
    }
}

/// The item with the current trust's verdict on it.
fn judged(s: &StoredEvent, trust: &fedci_keys::TrustStore) -> EventItem {
    let verdict = trust.authorise(&s.event);
    EventItem {
        trusted: Some(verdict.is_ok()),
        untrusted_reason: verdict.err().map(|r| UntrustedReason {
            code: r.code().to_string(),
            message: r.to_string(),
        }),
        ..item(s)
    }
}

pub async fn publish(
    State(st): State<AppState>,
    params: Result<Query<PublishParams>, QueryRejection>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request("bad_query", e.body_text()))?;
    let draft = Draft::parse(&body)?;
    let targets =
        super::dangling::check(&st, &draft.kind, &draft.links, params.strict_links).await?;
    let event = sign_new(&st, draft.kind, draft.data, draft.links, "api")?;
    let early = targets.all_held_and_allowed && may_gossip_now(&st, &event);
    store_new(&st, event, "api", targets.unknown, early).await
}

/// Whether a freshly signed event may be gossiped at once, before the writer has applied
/// it, because every check the writer makes of a local publish is already settled: the trust
/// in force authorises it, its links all point at held events of allowed kinds (checked by
/// the caller), the store takes writes, a new signature cannot be a duplicate, and its seq is
/// below the durably reserved own seqs (so a crash cannot give that seq to another event).
/// So the fanout does not wait for the publisher's writer, which may be in the middle of an
/// fsync (issue 16). The request is queued to the writer before the event leaves (see
/// `store_new`), so a client that goes away cannot leave an event out that the writer never
/// saw. What is left is a race with a trust change (a revocation committed in between) or a
/// store that fails in between: the writer then refuses an event that already left (peers
/// holding the new roster refuse it too), counted in `fedci_gossip_early_refused_total`; a
/// failed commit is the case the store's DESIGN NOTE covers (the event comes back through
/// catch-up).
fn may_gossip_now(st: &AppState, event: &Event) -> bool {
    st.outbound.is_some()
        && st.store.health().error().is_none()
        && st.store.own_seq_reserved(event.body().seq)
        && matches!(
            st.store.trust().decide(event, crate::now_ms()),
            fedci_keys::Decision::Accept
        )
}

/// Signs a new event of this node with its node key.
pub(super) fn sign_new(
    st: &AppState,
    kind: String,
    data: ciborium::Value,
    links: Vec<Link>,
    source: &'static str,
) -> Result<Event, ApiError> {
    let body = Draft { kind, data, links }.into_body(
        &st.config.community,
        st.node_key.public().to_bytes(),
        crate::now_ms(),
        st.store.next_own_seq(),
    );
    sign(&body, st.node_key.signing_key()).map_err(|e| {
        st.metrics.reject(source, e.code());
        ApiError::from(e)
    })
}

pub async fn publish_raw(State(st): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let event = Event::decode(&body).map_err(|e| {
        st.metrics.reject("api_raw", e.code());
        ApiError::from(e)
    })?;
    store_one(&st, event, "api_raw").await
}

/// Stores one event, hands it to the network if new, and answers with its id.
pub(super) async fn store_one(
    st: &AppState,
    event: Event,
    source: &'static str,
) -> Result<Response, ApiError> {
    store_new(st, event, source, Vec::new(), false).await
}

/// [`store_one`], naming in the answer the link targets found missing beforehand.
async fn store_new(
    st: &AppState,
    event: Event,
    source: &'static str,
    dangling: Vec<EventId>,
    gossip_early: bool,
) -> Result<Response, ApiError> {
    let id = event.id();
    let outcome = match (&st.outbound, gossip_early) {
        // Queued first: the writer decides it even if this request is dropped from here on.
        (Some(out), true) => {
            let pending = st.store.submit_ingest(vec![event.clone()], source).await?;
            if out.send(event).await.is_err() {
                tracing::warn!(id = %id.short(), "the network is gone: publish not gossiped");
            }
            pending.await.map_err(|_| StoreError::Closed)??
        }
        // Otherwise the writer gossips it once it passed every check, while the commit is
        // under way.
        _ => {
            st.store
                .ingest_announcing(vec![event], source, st.outbound.clone())
                .await?
        }
    };
    if gossip_early && !matches!(outcome.first(), Some(Outcome::Stored { .. })) {
        tracing::warn!(id = %id.short(), "an event gossiped before the writer was then refused by it");
        st.metrics
            .gossip_early_refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    match outcome.into_iter().next() {
        Some(Outcome::Stored { seq }) => Ok((
            StatusCode::CREATED,
            Json(Published {
                id,
                arrival: Some(seq),
                status: PublishStatus::Stored,
                dangling,
            }),
        )
            .into_response()),
        Some(Outcome::Duplicate) => {
            let arrival = st
                .store
                .read(move |s| Ok(s.get(&id)?.map(|e| e.seq)))
                .await?;
            Ok((
                StatusCode::OK,
                Json(Published {
                    id,
                    arrival,
                    status: PublishStatus::Duplicate,
                    dangling,
                }),
            )
                .into_response())
        }
        Some(Outcome::Rejected(IngestError::Untrusted(r))) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            r.code(),
            format!("event not trusted: {r}"),
        )),
        Some(Outcome::Rejected(IngestError::LinkTarget(v))) => Err(v.into()),
        None => Err(ApiError::internal("store returned no outcome")),
    }
}

pub async fn get_event(
    State(st): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    if let Some(format) = super::cloudevents::format_param(q.as_deref())? {
        return get_as(&st, id, format).await;
    }
    let want_cose = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/cose"));
    let (arrived_at, stored) = st
        .store
        .read_settled(id, move |s| {
            Ok(match s.get(&id)? {
                Some(e) => Some((s.arrived_at(e.seq)?, e)),
                None => None,
            })
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no event {id} on this node")))?;
    if want_cose {
        let raw = stored.event.into_raw();
        return Ok((
            [(
                header::CONTENT_TYPE,
                "application/cose; cose-type=\"cose-sign1\"",
            )],
            raw,
        )
            .into_response());
    }
    let item = EventItem {
        arrived_at,
        ..judged(&stored, &st.store.trust())
    };
    Ok(Json(item).into_response())
}

/// An event in an interop format, with the link targets the conversion may name.
async fn get_as(
    st: &AppState,
    id: EventId,
    format: crate::interop::Format,
) -> Result<Response, ApiError> {
    let found = st
        .store
        .read_settled(id, move |s| {
            let Some(e) = s.get(&id)? else {
                return Ok(None);
            };
            let mut targets = std::collections::HashMap::new();
            for l in &e.event.body().links {
                if let Some(t) = s.get(&l.target)? {
                    targets.insert(l.target, t.event);
                }
            }
            Ok(Some((e.event, targets)))
        })
        .await?;
    let (event, targets) =
        found.ok_or_else(|| ApiError::not_found(format!("no event {id} on this node")))?;
    Ok(super::cloudevents::render(format, &event, &targets))
}

pub async fn query(
    State(st): State<AppState>,
    client: Option<Extension<ClientId>>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(q.as_deref().unwrap_or(""))?;
    let limit = PageLimit {
        events: params
            .limit
            .unwrap_or(st.limits.page_events)
            .min(st.limits.page_events),
        bytes: st.limits.page_bytes,
    };
    let after = params.after.unwrap_or(0);
    let filter = params.filter;
    let format = params.format;
    let client = client.map_or(ClientId(None), |Extension(c)| c);
    let permit = st.limits.answer(client).await?;
    let page = st
        .store
        .read(move |s| s.query(&filter, after, limit, |ev| render_item(ev, format)))
        .await?;
    // Items are rendered once, as they are read; the page is their concatenation.
    let mut out = Vec::with_capacity(page.bytes + page.items.len() + 64);
    out.extend_from_slice(b"{\"events\":[");
    for (i, item) in page.items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    drop(page.items);
    out.extend_from_slice(
        format!(
            "],\"next_after\":{},\"complete\":{}}}",
            page.next_after, page.complete
        )
        .as_bytes(),
    );
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        body_with_permit(Bytes::from(out), permit),
    )
        .into_response())
}

/// An event as one JSON item of a page or a stream, with its size. In an interop format the
/// item is `{"arrival", "<format>": document}` (`null` when the format has no rendering).
pub fn render_item(
    ev: &StoredEvent,
    format: Option<crate::interop::Format>,
) -> Result<(Vec<u8>, usize), StoreError> {
    let json = match format {
        None => serde_json::to_vec(&item(ev)),
        Some(f) => serde_json::to_vec(&super::cloudevents::list_item(f, ev)),
    }
    .map_err(|e| StoreError::Corrupt(format!("event {}: {e}", ev.event.id())))?;
    let len = json.len();
    Ok((json, len))
}

pub fn parse_id(s: &str) -> Result<EventId, ApiError> {
    s.parse::<EventId>()
        .map_err(|e| ApiError::bad_request("bad_id", e.to_string()))
}

/// Query-string parameters shared by `/v1/events` and `/v1/stream`. `kind` and `community`
/// may repeat or hold comma-separated lists.
#[derive(Debug, Default)]
pub struct Params {
    pub filter: Filter,
    pub after: Option<u64>,
    pub limit: Option<usize>,
    pub consumer: Option<String>,
    /// Items in an interop format instead of fedci JSON.
    pub format: Option<crate::interop::Format>,
}

impl Params {
    pub fn parse(query: &str) -> Result<Params, ApiError> {
        let mut p = Params::default();
        let num = |k: &str, v: &str| {
            v.parse::<u64>().map_err(|_| {
                ApiError::bad_request(
                    "bad_query",
                    format!("{k} must be a non-negative integer, got {v:?}"),
                )
            })
        };
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "kind" => p.filter.kinds.extend(split(&v)),
                "community" => p.filter.communities.extend(split(&v)),
                "since" => p.filter.since = Some(num(&k, &v)?),
                "until" => p.filter.until = Some(num(&k, &v)?),
                "link" => p.filter.link_target = Some(parse_id(&v)?),
                "after" => p.after = Some(num(&k, &v)?),
                "limit" => {
                    let n = num(&k, &v)?;
                    if n == 0 {
                        return Err(ApiError::bad_request(
                            "bad_limit",
                            "limit must be at least 1 (leave it out for the largest page)",
                        ));
                    }
                    p.limit = Some(usize::try_from(n).unwrap_or(usize::MAX));
                }
                "consumer" => p.consumer = Some(check_consumer(&v)?),
                "format" => {
                    p.format = Some(
                        v.parse()
                            .map_err(|e: String| ApiError::bad_request("bad_format", e))?,
                    )
                }
                other => {
                    return Err(ApiError::bad_request(
                        "bad_query",
                        format!(
                            "unknown parameter {other:?} (kind, community, since, until, link, after, limit, consumer, format)"
                        ),
                    ));
                }
            }
        }
        Ok(p)
    }
}

fn split(v: &str) -> impl Iterator<Item = String> + '_ {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// Consumer names: 1-64 of letters, digits, `.`, `_`, `-`.
pub fn check_consumer(name: &str) -> Result<String, ApiError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(name.to_string())
    } else {
        Err(ApiError::bad_request(
            "bad_consumer",
            format!("consumer name {name:?}: 1-64 of letters, digits, '.', '_', '-'"),
        ))
    }
}
