//! `fedci-node export ID --format intoto`: the confidence chain upstream of an event as in-toto
//! Statement v1 documents, one JSON per line; each `confidence.modified` is a SLSA
//! Verification Summary (`https://slsa.dev/verification_summary/v1`) about the artifacts it
//! links as SUBJECT, with their digest when the artifact names one.

use anyhow::{Context, Result};
use fedci_client::Client;
use fedci_client::types::Direction;
use fedci_proto::json::EventJson;
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;

pub async fn export(client: &Client, id: &str, depth: u32, out: &Path) -> Result<()> {
    let id: fedci_proto::EventId = id.parse()?;
    let graph = client.trace(&id, Direction::Up, depth).await?;
    let mut lines = Vec::new();
    for node in &graph.nodes {
        if node.kind.as_deref() != Some("confidence.modified") {
            continue;
        }
        let event = client.event(&node.id.to_string()).await?.event;
        let mut subjects = Vec::new();
        for link in event.links.iter().filter(|l| l.rel == "SUBJECT") {
            let art = client.event(&link.target.to_string()).await?.event;
            subjects.push(subject(&art));
        }
        lines.push(statement(&event, subjects));
    }
    let mut f =
        std::fs::File::create(out).with_context(|| format!("cannot write {}", out.display()))?;
    for l in &lines {
        writeln!(f, "{l}")?;
    }
    say!(
        "wrote {} ({} in-toto statements)",
        out.display(),
        lines.len()
    );
    Ok(())
}

/// A text field of an event's data, if it is one.
fn data_str<'a>(event: &'a EventJson, key: &str) -> Option<&'a str> {
    event.data.get(key).and_then(Value::as_str)
}

/// An in-toto ResourceDescriptor for an artifact event: its identity, and its digest as
/// `algorithm:hex` (or bare hex, taken as sha256) when it has one.
fn subject(art: &EventJson) -> Value {
    let id = art.id.to_string();
    let name = data_str(art, "identity")
        .or_else(|| data_str(art, "name"))
        .unwrap_or(&id);
    let mut digest = serde_json::Map::new();
    if let Some(raw) = data_str(art, "digest") {
        let (alg, hex) = raw.split_once(':').unwrap_or(("sha256", raw));
        digest.insert(
            alg.to_ascii_lowercase(),
            Value::String(hex.to_ascii_lowercase()),
        );
    }
    // The fedci id is itself a SHA-256 over the signed event.
    digest.insert("fedciEventId".into(), Value::String(id.clone()));
    json!({"name": name, "digest": digest})
}

fn statement(event: &EventJson, subjects: Vec<Value>) -> Value {
    let name = data_str(event, "name").unwrap_or_default();
    let value = data_str(event, "value").unwrap_or_default();
    let result = if value == "SUCCESS" {
        "PASSED"
    } else {
        "FAILED"
    };
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": subjects,
        "predicateType": "https://slsa.dev/verification_summary/v1",
        "predicate": {
            "verifier": {"id": format!("https://fedci.dev/community/{}", event.community)},
            "timeVerified": crate::interop::cdevents::rfc3339(event.time),
            "resourceUri": format!("fedci:event:{}", event.id),
            "policy": {"uri": format!("fedci:confidence:{name}")},
            "verificationResult": result,
            "verifiedLevels": [format!("FEDCI_{}_{value}", name.to_ascii_uppercase())],
        },
    })
}
