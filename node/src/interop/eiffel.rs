//! fedci events → Eiffel events (the kinds fedci took its semantics from). `meta.id` is a
//! name-based UUID (version 5) of the fedci id, so a link's `target` is exactly the `meta.id`
//! its target exports with, on any node.

use fedci_proto::json::cbor_to_json;
use fedci_proto::{Event, EventId, vocab::Kind};
use serde_json::{Value, json};
use std::collections::HashMap;
use uuid::Uuid;

/// Namespace of the UUIDs derived from fedci ids.
fn namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://fedci.dev/eiffel/meta.id")
}

/// The Eiffel `meta.id` of a fedci event.
pub fn meta_id(id: &EventId) -> Uuid {
    Uuid::new_v5(&namespace(), id.to_string().as_bytes())
}

/// Eiffel type and version for a kind, or None when Eiffel has no such event.
pub fn eiffel_type(kind: &str) -> Option<(&'static str, &'static str)> {
    Some(match Kind::parse(kind)? {
        Kind::ArtifactCreated => ("EiffelArtifactCreatedEvent", "4.0.2"),
        Kind::ArtifactPublished => ("EiffelArtifactPublishedEvent", "4.0.1"),
        Kind::CompositionDefined => ("EiffelCompositionDefinedEvent", "4.0.1"),
        Kind::ConfidenceModified => ("EiffelConfidenceLevelModifiedEvent", "4.0.1"),
        Kind::ActivityTriggered => ("EiffelActivityTriggeredEvent", "5.0.1"),
        Kind::ActivityStarted => ("EiffelActivityStartedEvent", "5.0.1"),
        Kind::ActivityFinished => ("EiffelActivityFinishedEvent", "4.1.1"),
        Kind::TrustRoster => return None,
    })
}

/// The Eiffel event for a stored event, or None for kinds Eiffel has no event for.
/// `targets` are the link targets this node holds (to tell a sub-confidence from a basis).
pub fn export(event: &Event, targets: &HashMap<EventId, Event>) -> Option<Value> {
    let body = event.body();
    let (ty, version) = eiffel_type(&body.kind)?;
    let d = cbor_to_json(&body.data);
    let text = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_string);
    let mut data = serde_json::Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            data.insert(k.to_string(), v);
        }
    };
    match Kind::parse(&body.kind)? {
        Kind::ArtifactCreated => {
            put("identity", text("identity").map(Value::String));
            put("name", text("name").map(Value::String));
        }
        Kind::ArtifactPublished => {
            let locations = d
                .get("locations")
                .and_then(Value::as_array)
                .map(|locs| {
                    locs.iter()
                        .map(|l| {
                            let ty = l["type"].as_str().unwrap_or_default().to_ascii_uppercase();
                            let ty = match ty.as_str() {
                                "ARTIFACTORY" | "NEXUS" | "PLAIN" => ty,
                                _ => "OTHER".to_string(),
                            };
                            json!({"type": ty, "uri": l["uri"].as_str().unwrap_or_default()})
                        })
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            put("locations", Some(Value::Array(locations)));
        }
        Kind::CompositionDefined => {
            put("name", text("name").map(Value::String));
            put("version", text("version").map(Value::String));
        }
        Kind::ConfidenceModified => {
            put("name", text("name").map(Value::String));
            put("value", text("value").map(Value::String));
        }
        Kind::ActivityTriggered => put("name", text("name").map(Value::String)),
        Kind::ActivityStarted => {}
        Kind::ActivityFinished => {
            let conclusion = match text("outcome").as_deref() {
                Some("SUCCESS") => "SUCCESSFUL",
                Some("FAILURE") => "UNSUCCESSFUL",
                Some("ABORTED") => "ABORTED",
                Some("TIMED_OUT") => "TIMED_OUT",
                _ => "INCONCLUSIVE",
            };
            put("outcome", Some(json!({"conclusion": conclusion})));
        }
        Kind::TrustRoster => return None,
    }
    let id = event.id();
    data.insert(
        "customData".into(),
        json!([
            {"key": "fedci.id", "value": id.to_string()},
            {"key": "fedci.community", "value": body.community},
            {"key": "fedci.data", "value": d},
            {"key": "fedci.cose_sign1", "value": hex::encode(event.raw())},
        ]),
    );
    let links: Vec<Value> = body
        .links
        .iter()
        .map(|l| {
            let rel = match l.rel.as_str() {
                "CONFIDENCE_BASIS" => {
                    let sub = targets
                        .get(&l.target)
                        .is_some_and(|t| t.body().kind == Kind::ConfidenceModified.as_str());
                    if sub {
                        "SUB_CONFIDENCE_LEVEL"
                    } else {
                        "VERIFICATION_BASIS"
                    }
                }
                other => other,
            };
            json!({"type": rel, "target": meta_id(&l.target).to_string()})
        })
        .collect();
    Some(json!({
        "meta": {
            "id": meta_id(&id).to_string(),
            "type": ty,
            "version": version,
            "time": body.time,
            "source": {"name": "fedci", "domainId": body.community},
        },
        "data": data,
        "links": links,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_ids_are_stable_version_5() {
        let id: EventId = "ab".repeat(32).parse().expect("id");
        let u = meta_id(&id);
        assert_eq!(u.get_version_num(), 5);
        assert_eq!(u, meta_id(&id));
        let other: EventId = "cd".repeat(32).parse().expect("id");
        assert_ne!(u, meta_id(&other));
        assert_eq!(
            eiffel_type("activity.finished"),
            Some(("EiffelActivityFinishedEvent", "4.1.1"))
        );
        assert_eq!(eiffel_type("x-odl.nightly"), None);
    }
}
