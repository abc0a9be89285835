//! Publishing, fetching and querying events.

use super::{ApiError, AppState};
use crate::store::{IngestError, Outcome, StoredEvent};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fedci_proto::json::{EventJson, json_to_data};
use fedci_proto::{Body, Event, EventId, Filter, Link, sign, vocab};
use serde::{Deserialize, Serialize};

/// `POST /v1/events`: what a CI job sends; the node signs it with its node key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    pub kind: String,
    #[serde(default = "empty_object")]
    pub data: serde_json::Value,
    #[serde(default)]
    pub links: Vec<LinkRequest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    pub rel: String,
    pub target: String,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

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
        let req: PublishRequest = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request("bad_json", format!("request body: {e}")))?;
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

/// An event as the API shows it: the event JSON plus its arrival seq on this node.
#[derive(Debug, Serialize)]
pub struct Item {
    pub arrival: u64,
    #[serde(flatten)]
    pub event: EventJson,
}

impl From<&StoredEvent> for Item {
    fn from(s: &StoredEvent) -> Self {
        Item {
            arrival: s.seq,
            event: EventJson::from_event(&s.event),
        }
    }
}

#[derive(Debug, Serialize)]
struct Published {
    id: EventId,
    arrival: Option<u64>,
    status: &'static str,
}

pub async fn publish(State(st): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let draft = Draft::parse(&body)?;
    let body = draft.into_body(
        &st.config.community,
        st.node_key.public().to_bytes(),
        crate::now_ms(),
        st.store.next_own_seq(),
    );
    let event = sign(&body, st.node_key.signing_key()).map_err(|e| {
        st.metrics.reject("api", e.code());
        ApiError::from(e)
    })?;
    store_one(&st, event, "api").await
}

pub async fn publish_raw(State(st): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let event = Event::decode(&body).map_err(|e| {
        st.metrics.reject("api_raw", e.code());
        ApiError::from(e)
    })?;
    store_one(&st, event, "api_raw").await
}

/// Stores one event, hands it to the network if new, and answers with its id.
async fn store_one(
    st: &AppState,
    event: Event,
    source: &'static str,
) -> Result<Response, ApiError> {
    let id = event.id();
    // The writer gossips it once it passed every check, while the commit is under way.
    let outcome = st
        .store
        .ingest_announcing(vec![event], source, st.outbound.clone())
        .await?;
    match outcome.into_iter().next() {
        Some(Outcome::Stored { seq }) => Ok((
            StatusCode::CREATED,
            Json(Published {
                id,
                arrival: Some(seq),
                status: "stored",
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
                    status: "duplicate",
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
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let want_cose = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/cose"));
    let stored = st.store.read(move |s| s.get(&id)).await?;
    let stored =
        stored.ok_or_else(|| ApiError::not_found(format!("no event {id} on this node")))?;
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
    Ok(Json(Item::from(&stored)).into_response())
}

#[derive(Debug, Serialize)]
struct Page {
    events: Vec<Item>,
    next_after: u64,
    complete: bool,
}

pub async fn query(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(q.as_deref().unwrap_or(""))?;
    let limit = params
        .limit
        .unwrap_or(st.config.max_page)
        .min(st.config.max_page)
        .max(1);
    let after = params.after.unwrap_or(0);
    let filter = params.filter;
    let page = st
        .store
        .read(move |s| s.query(&filter, after, limit))
        .await?;
    Ok(Json(Page {
        events: page.events.iter().map(Item::from).collect(),
        next_after: page.next_after,
        complete: page.complete,
    })
    .into_response())
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
                "limit" => p.limit = Some(usize::try_from(num(&k, &v)?).unwrap_or(usize::MAX)),
                "consumer" => p.consumer = Some(check_consumer(&v)?),
                other => {
                    return Err(ApiError::bad_request(
                        "bad_query",
                        format!(
                            "unknown parameter {other:?} (kind, community, since, until, link, after, limit, consumer)"
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
