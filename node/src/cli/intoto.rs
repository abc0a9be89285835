//! `fedci-node export ID --format intoto`: the confidence chain upstream of an event as in-toto
//! Statement v1 documents, one JSON per line; each `confidence.modified` is a SLSA
//! Verification Summary (`https://slsa.dev/verification_summary/v1`) about the artifacts it
//! links as SUBJECT, with their digest when the artifact names one.

use super::client::Client;
use super::with_query;
use anyhow::{Context, Result};
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;

pub async fn export(client: &Client, id: &str, depth: u32, out: &Path) -> Result<()> {
    let graph = client
        .get_json(&with_query(
            &format!("/v1/trace/{id}"),
            &[("direction", "up".into()), ("depth", depth.to_string())],
        ))
        .await?;
    let mut lines = Vec::new();
    for node in graph["nodes"].as_array().into_iter().flatten() {
        if node["kind"] != "confidence.modified" {
            continue;
        }
        let cid = node["id"].as_str().unwrap_or_default();
        let event = client.get_json(&format!("/v1/events/{cid}")).await?;
        let mut subjects = Vec::new();
        for link in event["links"].as_array().into_iter().flatten() {
            if link["rel"] != "SUBJECT" {
                continue;
            }
            let target = link["target"].as_str().unwrap_or_default();
            let art = client.get_json(&format!("/v1/events/{target}")).await?;
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

/// An in-toto ResourceDescriptor for an artifact event: its identity, and its digest as
/// `algorithm:hex` (or bare hex, taken as sha256) when it has one.
fn subject(art: &Value) -> Value {
    let d = &art["data"];
    let name = d["identity"]
        .as_str()
        .or_else(|| d["name"].as_str())
        .or_else(|| art["id"].as_str())
        .unwrap_or_default();
    let mut digest = serde_json::Map::new();
    if let Some(raw) = d["digest"].as_str() {
        let (alg, hex) = raw.split_once(':').unwrap_or(("sha256", raw));
        digest.insert(
            alg.to_ascii_lowercase(),
            Value::String(hex.to_ascii_lowercase()),
        );
    }
    // The fedci id is itself a SHA-256 over the signed event.
    digest.insert(
        "fedciEventId".into(),
        Value::String(art["id"].as_str().unwrap_or_default().to_string()),
    );
    json!({"name": name, "digest": digest})
}

fn statement(event: &Value, subjects: Vec<Value>) -> Value {
    let d = &event["data"];
    let result = if d["value"] == "SUCCESS" {
        "PASSED"
    } else {
        "FAILED"
    };
    let time_ms = event["time"].as_u64().unwrap_or(0);
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": subjects,
        "predicateType": "https://slsa.dev/verification_summary/v1",
        "predicate": {
            "verifier": {"id": format!("https://fedci.dev/community/{}", event["community"].as_str().unwrap_or_default())},
            "timeVerified": fedci_node::interop::cdevents::rfc3339(time_ms),
            "resourceUri": format!("fedci:event:{}", event["id"].as_str().unwrap_or_default()),
            "policy": {"uri": format!("fedci:confidence:{}", d["name"].as_str().unwrap_or_default())},
            "verificationResult": result,
            "verifiedLevels": [format!("FEDCI_{}_{}", d["name"].as_str().unwrap_or_default().to_ascii_uppercase(), d["value"].as_str().unwrap_or_default())],
        },
    })
}
