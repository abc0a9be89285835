//! CDEvents v0.5.1 ⇄ fedci events. Validation is the `cdevents-sdk` crate's (typed subjects
//! for every spec type); this module only maps types to fedci kinds and back.

use super::ImportError;
use cdevents_sdk::CDEvent;
use fedci_proto::json::cbor_to_json;
use fedci_proto::{Event, EventId, vocab::Kind};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The CDEvents spec version of every export.
pub const SPEC_VERSION: &str = "0.5.1";
/// Data field holding an imported CDEvent's JSON text, exported back verbatim.
pub const DOC_FIELD: &str = "cdevent";

/// A validated CDEvent, ready to be signed as a fedci event.
#[derive(Debug)]
pub struct Imported {
    pub kind: String,
    /// The fedci data map (JSON object).
    pub data: Value,
    /// The CDEvent as the SDK parsed it.
    pub cdevent: CDEvent,
    /// fedci links, from CDEvents links whose targets are fedci events this node holds
    /// (see [`link_targets`] and [`resolve_links`]).
    pub links: Vec<fedci_proto::Link>,
}

/// The context ids a CDEvent links to (RELATION targets, PATH and END sources) that are
/// fedci ids, in order, without repeats.
pub fn link_targets(doc: &Value) -> Vec<EventId> {
    let mut out = Vec::new();
    let links = doc["context"]["links"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    for l in links.iter().take(64) {
        let id = l["target"]["contextId"]
            .as_str()
            .or_else(|| l["from"]["contextId"].as_str());
        if let Some(id) = id.and_then(|s| s.parse::<EventId>().ok())
            && !out.contains(&id)
        {
            out.push(id);
        }
    }
    out
}

/// Turns the links whose targets this node holds (`known`: id and kind) into fedci links. A
/// pipelinerun/build/testsuiterun started or finished that links to a known
/// `activity.triggered` becomes `activity.started` / `activity.finished` of it; every other
/// link is a `CAUSE`.
pub fn resolve_links(item: &mut Imported, known: &[(EventId, String)]) {
    let ty = item.cdevent.ty().to_string();
    let run_pred = ty.strip_prefix("dev.cdevents.").and_then(|rest| {
        let mut p = rest.split('.');
        match (p.next(), p.next()) {
            (
                Some("pipelinerun" | "build" | "testsuiterun"),
                Some(pred @ ("started" | "finished")),
            ) => Some(pred),
            _ => None,
        }
    });
    let run = known
        .iter()
        .find(|(_, k)| k == Kind::ActivityTriggered.as_str())
        .map(|(id, _)| *id);
    if let (Some(pred), Some(run)) = (run_pred, run) {
        let doc: Value = item.data[DOC_FIELD]
            .as_str()
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        let content = &doc["subject"]["content"];
        let name = content["pipelineName"]
            .as_str()
            .or_else(|| item.data["cdevents_subject"].as_str())
            .unwrap_or_default()
            .to_string();
        item.data["name"] = Value::String(name);
        if pred == "started" {
            item.kind = Kind::ActivityStarted.as_str().into();
        } else {
            item.kind = Kind::ActivityFinished.as_str().into();
            let outcome = match content["outcome"].as_str() {
                Some("success") => "SUCCESS",
                Some("failure") => "FAILURE",
                Some("cancel") => "ABORTED",
                _ => "INCONCLUSIVE",
            };
            item.data["outcome"] = Value::String(outcome.into());
        }
        item.links.push(fedci_proto::Link::new(
            "ACTIVITY_EXECUTION".to_string(),
            run,
        ));
    }
    for (id, _) in known {
        if !item.links.iter().any(|l| l.target == *id) {
            item.links
                .push(fedci_proto::Link::new("CAUSE".to_string(), *id));
        }
    }
}

/// Validates a CDEvent document and maps it to a fedci kind and data.
pub fn import(doc: &Value) -> Result<Imported, ImportError> {
    let obj = doc
        .as_object()
        .ok_or_else(|| ImportError::BadCdevent("a CDEvent is a JSON object".into()))?;
    let version = obj
        .get("context")
        .and_then(|c| c.get("specversion").or_else(|| c.get("version")))
        .and_then(Value::as_str)
        .ok_or_else(|| ImportError::BadCdevent("context.specversion missing".into()))?;
    if !(version.starts_with("0.5.") || version == "0.4.0" || version == "0.4.1") {
        return Err(ImportError::CdeventsVersion(
            version.chars().take(32).collect(),
        ));
    }
    let subject_id = obj
        .get("subject")
        .and_then(|s| s.get("id"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ImportError::BadCdevent("subject.id missing or empty".into()))?
        .to_string();
    let cdevent: CDEvent =
        serde_json::from_value(doc.clone()).map_err(|e| ImportError::BadCdevent(e.to_string()))?;
    let ty = cdevent.ty().to_string();
    let text = serde_json::to_string(doc).map_err(|e| ImportError::BadJson(e.to_string()))?;
    let mut data = json!({
        DOC_FIELD: text,
        "cdevents_type": ty,
        "cdevents_subject": subject_id,
    });
    let kind = kind_for(&ty);
    match kind.as_str() {
        "artifact.created" => data["identity"] = Value::String(subject_id),
        "activity.triggered" => data["name"] = Value::String(subject_id),
        _ => {}
    }
    Ok(Imported {
        kind,
        data,
        cdevent,
        links: Vec::new(),
    })
}

/// The fedci kind a CDEvents type is stored under. Types whose fedci kind needs a link the
/// CDEvent cannot name (artifact.published, activity.started/finished) keep their own kind.
pub fn kind_for(ty: &str) -> String {
    let custom = |org: &str, name: String| {
        let kind = format!("x-{org}.{name}");
        if fedci_proto::vocab::is_custom_kind(&kind) {
            kind
        } else {
            format!("x-{org}.other")
        }
    };
    if let Some(rest) = ty.strip_prefix("dev.cdevents.") {
        let mut parts = rest.split('.');
        let (subject, predicate) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        return match (subject, predicate) {
            ("artifact", "packaged") => Kind::ArtifactCreated.as_str().to_string(),
            ("pipelinerun" | "build" | "testsuiterun", "queued") => {
                Kind::ActivityTriggered.as_str().to_string()
            }
            _ => custom("cdevents", format!("{subject}-{predicate}")),
        };
    }
    let rest = ty.strip_prefix("dev.cdeventsx.").unwrap_or(ty);
    let name: String = rest
        .rsplitn(4, '.')
        .last()
        .unwrap_or(rest)
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    custom("cdeventsx", name)
}

/// The CDEvent document for a stored event. `targets` holds the events its links point to
/// (those this node has), so an export can name what a link means (an artifact's purl).
pub fn export(event: &Event, targets: &HashMap<EventId, Event>) -> Value {
    let body = event.body();
    let data = cbor_to_json(&body.data);
    if let Some(doc) = data
        .get(DOC_FIELD)
        .and_then(Value::as_str)
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
    {
        return doc;
    }
    let id = event.id();
    let text = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_string);
    let link_target = |rel: &str| body.links.iter().find(|l| l.rel == rel).map(|l| l.target);
    let name = text("name").unwrap_or_else(|| id.to_string());
    let (ty, subject_id, content, schema_uri) = match Kind::parse(&body.kind) {
        Some(Kind::ArtifactCreated) => (
            "dev.cdevents.artifact.packaged.0.3.0".to_string(),
            text("identity").unwrap_or_else(|| id.to_string()),
            json!({"change": {"id": text("version").or_else(|| text("digest")).unwrap_or_else(|| id.to_string())}}),
            None,
        ),
        Some(Kind::ArtifactPublished) => {
            let target = link_target("ARTIFACT");
            let identity = target
                .and_then(|t| targets.get(&t))
                .and_then(|t| cbor_to_json(&t.body().data).get("identity").cloned())
                .and_then(|v| v.as_str().map(str::to_string));
            (
                "dev.cdevents.artifact.published.0.3.0".to_string(),
                identity
                    .or_else(|| target.map(|t| t.to_string()))
                    .unwrap_or_else(|| id.to_string()),
                json!({}),
                None,
            )
        }
        Some(Kind::ActivityTriggered) => (
            "dev.cdevents.pipelinerun.queued.0.3.0".to_string(),
            id.to_string(),
            json!({"pipelineName": name}),
            None,
        ),
        Some(k @ (Kind::ActivityStarted | Kind::ActivityFinished)) => {
            let run = link_target("ACTIVITY_EXECUTION").unwrap_or(id);
            let mut content = json!({"pipelineName": name, "uri": format!("urn:fedci:{run}")});
            let ty = if k == Kind::ActivityStarted {
                "dev.cdevents.pipelinerun.started.0.3.0"
            } else {
                let outcome = match text("outcome").as_deref() {
                    Some("SUCCESS") => "success",
                    Some("FAILURE") => "failure",
                    Some("ABORTED") => "cancel",
                    _ => "error",
                };
                content["outcome"] = Value::String(outcome.into());
                "dev.cdevents.pipelinerun.finished.0.3.0"
            };
            (ty.to_string(), run.to_string(), content, None)
        }
        // No CDEvents type means the same: custom events, per the spec's custom-event rules.
        other => {
            let (subject, predicate) = match other {
                Some(Kind::CompositionDefined) => ("composition", "defined"),
                Some(Kind::ConfidenceModified) => ("confidence", "modified"),
                Some(Kind::TrustRoster) => ("trust", "roster"),
                _ => ("custom", "published"),
            };
            (
                format!("dev.cdeventsx.fedci-{subject}.{predicate}.0.1.0"),
                id.to_string(),
                data.clone(),
                Some(format!(
                    "https://fedci.dev/schema/{subject}-{predicate}/0.1.0"
                )),
            )
        }
    };
    let mut context = json!({
        "specversion": SPEC_VERSION,
        "id": id.to_string(),
        "source": format!("/fedci/{}", body.community),
        "type": ty,
        "timestamp": rfc3339(body.time),
    });
    if let Some(uri) = schema_uri {
        context["schemaUri"] = Value::String(uri);
    }
    if !body.links.is_empty() {
        context["links"] = body
            .links
            .iter()
            .map(|l| {
                json!({
                    "linkType": "RELATION",
                    "linkKind": l.rel,
                    "target": {"contextId": l.target.to_string()},
                })
            })
            .collect();
    }
    json!({
        "context": context,
        "subject": {"id": subject_id, "source": format!("/fedci/{}", body.community), "content": content},
        "customData": {"fedci": {
            "id": id.to_string(),
            "kind": body.kind,
            "community": body.community,
            "author": hex::encode(body.author),
            "data": data,
            "cose_sign1": hex::encode(event.raw()),
        }},
        "customDataContentType": "application/json",
    })
}

/// RFC 3339 UTC with milliseconds, from ms since the epoch.
pub fn rfc3339(ms: u64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(
            kind_for("dev.cdevents.artifact.packaged.0.3.0"),
            "artifact.created"
        );
        assert_eq!(
            kind_for("dev.cdevents.build.queued.0.3.0"),
            "activity.triggered"
        );
        assert_eq!(
            kind_for("dev.cdevents.testcaserun.finished.0.3.0"),
            "x-cdevents.testcaserun-finished"
        );
        assert_eq!(
            kind_for("dev.cdeventsx.probes-ping.x.0.1.0"),
            "x-cdeventsx.probes-ping-x"
        );
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
