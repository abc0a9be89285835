//! The CloudEvents HTTP protocol binding (structured, binary and batched content modes) around
//! CDEvents, in and out. Attribute validation is the `cloudevents-sdk` crate's.

use super::ImportError;
use cloudevents::{AttributesReader, EventBuilder, EventBuilderV10};
use serde_json::Value;

/// Content type of the structured mode.
pub const STRUCTURED: &str = "application/cloudevents+json";
/// Content type of the batched mode.
pub const BATCH: &str = "application/cloudevents-batch+json";

/// One request's CDEvent documents, in order. `content_type` and `headers` are the request's
/// (header names lowercase); `parse_json` parses a body strictly.
pub fn cdevents_of_request<'a, E>(
    content_type: Option<&str>,
    header: impl Fn(&str) -> Option<&'a str>,
    body: &[u8],
    parse_json: impl Fn(&[u8]) -> Result<Value, E>,
) -> Result<Vec<Value>, ImportError>
where
    E: std::fmt::Display,
{
    let media = content_type
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let json = |b: &[u8]| parse_json(b).map_err(|e| ImportError::BadJson(e.to_string()));
    match media.as_str() {
        STRUCTURED => Ok(vec![structured(json(body)?)?]),
        BATCH => match json(body)? {
            Value::Array(items) if !items.is_empty() => items.into_iter().map(structured).collect(),
            _ => Err(ImportError::NotCloudEvent(
                "a batch is a non-empty JSON array of CloudEvents".into(),
            )),
        },
        _ => match header("ce-specversion") {
            Some(v) => Ok(vec![binary(v, &media, &header, json(body)?)?]),
            None => Err(ImportError::NotCloudEvent(format!(
                "content type {media:?} without ce-* headers (use {STRUCTURED}, {BATCH} or binary mode)"
            ))),
        },
    }
}

fn check_specversion(v: &str) -> Result<(), ImportError> {
    if v == "1.0" {
        Ok(())
    } else {
        Err(ImportError::CloudEventsVersion(
            v.chars().take(16).collect(),
        ))
    }
}

/// A structured-mode CloudEvent (JSON format) → its CDEvent data.
fn structured(doc: Value) -> Result<Value, ImportError> {
    let v = doc
        .get("specversion")
        .and_then(Value::as_str)
        .ok_or_else(|| ImportError::NotCloudEvent("no specversion".into()))?;
    check_specversion(v)?;
    let event: cloudevents::Event =
        serde_json::from_value(doc).map_err(|e| ImportError::NotCloudEvent(e.to_string()))?;
    cdevent_data(event)
}

/// A binary-mode CloudEvent: attributes in `ce-*` headers, the CDEvent as the JSON body.
fn binary<'a>(
    specversion: &str,
    media: &str,
    header: &impl Fn(&str) -> Option<&'a str>,
    body: Value,
) -> Result<Value, ImportError> {
    check_specversion(specversion)?;
    if !(media == "application/json" || media.ends_with("+json")) {
        return Err(ImportError::MediaType(media.chars().take(64).collect()));
    }
    let need = |h: &str| {
        header(h).ok_or_else(|| ImportError::NotCloudEvent(format!("header {h} missing")))
    };
    let mut b = EventBuilderV10::new()
        .id(need("ce-id")?)
        .source(need("ce-source")?)
        .ty(need("ce-type")?)
        .data(media.to_string(), body);
    if let Some(s) = header("ce-subject") {
        b = b.subject(s);
    }
    if let Some(t) = header("ce-time") {
        b = b.time(t);
    }
    let event = b
        .build()
        .map_err(|e| ImportError::NotCloudEvent(e.to_string()))?;
    cdevent_data(event)
}

/// The data of a CloudEvent that carries a CDEvent; its type must be the CDEvent's.
fn cdevent_data(mut event: cloudevents::Event) -> Result<Value, ImportError> {
    let ty = event.ty().to_string();
    let (_, _, data) = event.take_data();
    let doc = match data {
        Some(cloudevents::Data::Json(v)) => v,
        Some(cloudevents::Data::String(s)) => {
            serde_json::from_str(&s).map_err(|e| ImportError::BadJson(e.to_string()))?
        }
        Some(cloudevents::Data::Binary(b)) => {
            serde_json::from_slice(&b).map_err(|e| ImportError::BadJson(e.to_string()))?
        }
        None => return Err(ImportError::BadCdevent("the CloudEvent has no data".into())),
    };
    let inner = doc
        .get("context")
        .and_then(|c| c.get("type"))
        .and_then(Value::as_str);
    if inner.is_some_and(|t| t != ty) {
        return Err(ImportError::BadCdevent(format!(
            "CloudEvent type {ty:?} is not the CDEvent's type {:?}",
            inner.unwrap_or_default()
        )));
    }
    Ok(doc)
}

/// A CDEvent as a structured-mode CloudEvent (JSON), its data the CDEvent document as is.
pub fn structured_export(doc: &Value) -> Option<Value> {
    use cdevents_sdk::cloudevents::BuilderExt;
    let cdevent: cdevents_sdk::CDEvent = serde_json::from_value(doc.clone()).ok()?;
    let event = EventBuilderV10::new()
        .with_cdevent(cdevent)
        .ok()?
        .data("application/json", doc.clone())
        .build()
        .ok()?;
    serde_json::to_value(event).ok()
}

/// The `ce-*` headers of a binary-mode CloudEvent carrying `doc` (built by the SDK).
pub fn binary_headers(doc: &Value) -> Option<Vec<(String, String)>> {
    let ce = structured_export(doc)?;
    let mut out = Vec::new();
    for (k, v) in ce.as_object()? {
        if k == "data" || k == "datacontenttype" {
            continue;
        }
        if let Some(s) = v.as_str() {
            out.push((format!("ce-{k}"), s.to_string()));
        }
    }
    Some(out)
}
