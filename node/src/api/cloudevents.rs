//! `POST /v1/cloudevents` (CloudEvents HTTP binding carrying CDEvents) and the CDEvents /
//! CloudEvents renderings of stored events.

use super::events::{sign_new, store_one};
use super::{ApiError, AppState};
use crate::interop::{Format, ImportError, cdevents, cloudevents};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fedci_proto::json::json_to_data;
use fedci_proto::{Event, EventId};
use serde_json::Value;
use std::collections::HashMap;

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        let status = match e {
            ImportError::MediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ImportError::BadCdevent(_) | ImportError::CdeventsVersion(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

/// Every CDEvent of the request is validated before any is signed, so a bad one in a batch
/// stores nothing.
pub async fn import(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let text = |h: &str| headers.get(h).and_then(|v| v.to_str().ok());
    let batch = text(header::CONTENT_TYPE.as_str())
        .is_some_and(|c| c.to_ascii_lowercase().starts_with(cloudevents::BATCH));
    let parsed =
        cloudevents::cdevents_of_request(text(header::CONTENT_TYPE.as_str()), text, &body, |b| {
            super::strict_json::parse::<Value>(b)
                .map(|_| ())
                .and_then(|()| {
                    serde_json::from_slice::<Value>(b)
                        .map_err(|e| ApiError::bad_request("bad_json", e.to_string()))
                })
                .map_err(|e| e.message)
        })
        .and_then(|docs| {
            docs.iter()
                .map(cdevents::import)
                .collect::<Result<Vec<_>, _>>()
        });
    let imported = parsed.map_err(|e| {
        st.metrics.reject("cloudevents", e.code());
        ApiError::from(e)
    })?;
    let mut answers = Vec::with_capacity(imported.len());
    for mut item in imported {
        let doc: Value = item.data[cdevents::DOC_FIELD]
            .as_str()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        let wanted = cdevents::link_targets(&doc);
        if !wanted.is_empty() {
            let known = st
                .store
                .read(move |s| {
                    let mut known = Vec::new();
                    for id in wanted {
                        if let Some(e) = s.get(&id)? {
                            known.push((id, e.event.body().kind.clone()));
                        }
                    }
                    Ok(known)
                })
                .await?;
            cdevents::resolve_links(&mut item, &known);
        }
        let data = json_to_data(&item.data).map_err(|e| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_data", e.to_string())
        })?;
        let event = sign_new(&st, item.kind, data, item.links, "cloudevents")?;
        let resp = store_one(&st, event, "cloudevents").await?;
        if !batch {
            return Ok(resp);
        }
        let bytes = axum::body::to_bytes(resp.into_body(), 64 * 1024)
            .await
            .map_err(ApiError::internal)?;
        answers.push(serde_json::from_slice::<Value>(&bytes).map_err(ApiError::internal)?);
    }
    Ok((StatusCode::CREATED, Json(Value::Array(answers))).into_response())
}

/// The format asked for by `?format=`, if any.
pub fn format_param(query: Option<&str>) -> Result<Option<Format>, ApiError> {
    let mut format = None;
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if k == "format" {
            format = Some(
                v.parse::<Format>()
                    .map_err(|e| ApiError::bad_request("bad_format", e))?,
            );
        } else {
            return Err(ApiError::bad_request(
                "bad_query",
                format!("unknown parameter {k:?} (format)"),
            ));
        }
    }
    Ok(format)
}

/// One stored event in an interop format; `targets` are its link targets this node holds.
pub fn render(format: Format, event: &Event, targets: &HashMap<EventId, Event>) -> Response {
    match format {
        Format::Eiffel => match crate::interop::eiffel::export(event, targets) {
            Some(doc) => Json(doc).into_response(),
            None => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no_eiffel_type",
                format!("Eiffel has no event for kind {}", event.body().kind),
            )
            .into_response(),
        },
        Format::Cdevents => Json(cdevents::export(event, targets)).into_response(),
        Format::Cloudevents => {
            match cloudevents::structured_export(&cdevents::export(event, targets)) {
                Some(ce) => {
                    ([(header::CONTENT_TYPE, cloudevents::STRUCTURED)], Json(ce)).into_response()
                }
                None => ApiError::internal(format!("event {} does not convert", event.id()))
                    .into_response(),
            }
        }
    }
}

/// One page or stream item in an interop format: its arrival and the document (`null` when
/// the format has no rendering). Link targets are not looked up here, so an
/// `artifact.published` names its artifact by fedci id rather than purl.
pub fn list_item(format: Format, ev: &crate::store::StoredEvent) -> Value {
    let none = HashMap::new();
    let (key, doc) = match format {
        Format::Cdevents => ("cdevent", cdevents::export(&ev.event, &none)),
        Format::Cloudevents => (
            "cloudevent",
            cloudevents::structured_export(&cdevents::export(&ev.event, &none))
                .unwrap_or(Value::Null),
        ),
        Format::Eiffel => (
            "eiffel",
            crate::interop::eiffel::export(&ev.event, &none).unwrap_or(Value::Null),
        ),
    };
    serde_json::json!({"arrival": ev.seq, key: doc})
}
