//! Renderings of a trace: the graph as the API's JSON shows it (each node described, with
//! its label), and as Graphviz DOT and Mermaid text.

use crate::store::{Reached, Trace};
use fedci_client::types::{GraphNode, TraceGraph as Graph};
use fedci_proto::Event;
use fedci_proto::json::cbor_to_json;

/// The JSON graph of a walk whose nodes were made by [`graph_node`].
pub fn graph(trace: Trace<GraphNode>) -> Graph {
    Graph {
        root: trace.root,
        nodes: trace.nodes,
        edges: trace.edges,
        truncated: trace.truncated,
    }
}

/// Describes a node the walk reached: the event's facts, or a stub for a link target not
/// held here.
pub fn graph_node(n: Reached<'_>) -> GraphNode {
    match n.held {
        None => GraphNode {
            id: n.id,
            kind: None,
            community: None,
            time: None,
            label: "(not held here)".into(),
            depth: n.depth,
            author: None,
            trusted: None,
            untrusted_reason: None,
        },
        Some((e, verdict)) => GraphNode {
            id: n.id,
            kind: Some(e.kind().to_string()),
            community: Some(e.community().to_string()),
            time: Some(e.time()),
            label: label(e),
            depth: n.depth,
            author: Some(hex::encode(e.body().author)),
            trusted: Some(verdict.is_ok()),
            untrusted_reason: verdict.err().map(|r| r.to_string()),
        },
    }
}

/// The fields a person looks for first, by kind.
fn label(e: &Event) -> String {
    let b = e.body();
    let s = |k: &str| b.data_str(k).map(str::to_string);
    match e.kind() {
        "confidence.modified" => format!(
            "{}={}",
            s("name").unwrap_or_default(),
            s("value").unwrap_or_default()
        ),
        "activity.finished" => format!(
            "{}: {}",
            s("name").unwrap_or_default(),
            s("outcome").unwrap_or_default()
        ),
        "artifact.created" => match (s("name"), s("version")) {
            (Some(n), Some(v)) => format!("{n} {v}"),
            _ => s("identity").unwrap_or_default(),
        },
        "artifact.published" => cbor_to_json(&b.data)["locations"][0]["uri"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        _ => s("name").unwrap_or_default(),
    }
}

/// Graphviz DOT: edges point from an event to what it links to.
pub fn to_dot(graph: &Graph) -> String {
    let mut out = String::from(
        "digraph fedci {\n  rankdir=BT;\n  node [shape=box, fontname=\"Helvetica\"];\n",
    );
    for n in &graph.nodes {
        let style = if n.id == graph.root {
            ", style=bold"
        } else if n.kind.is_none() {
            ", style=dashed"
        } else {
            ""
        };
        out.push_str(&format!(
            "  \"{}\" [label=\"{}\\n{}\\n{}\\n{}\"{style}];\n",
            n.id.short(),
            esc(n.community.as_deref().unwrap_or("?")),
            esc(n.kind.as_deref().unwrap_or("unknown")),
            esc(&n.label),
            n.id.short()
        ));
    }
    for e in &graph.edges {
        out.push_str(&format!(
            "  \"{}\" -> \"{}\" [label=\"{}\"];\n",
            e.from.short(),
            e.to.short(),
            esc(&e.rel)
        ));
    }
    out.push_str("}\n");
    out
}

/// Mermaid flowchart, for Markdown renderers.
pub fn to_mermaid(graph: &Graph) -> String {
    let mut out = String::from("graph BT\n");
    for n in &graph.nodes {
        out.push_str(&format!(
            "  n{}[\"{} {}<br/>{}<br/>{}\"]\n",
            n.id.short(),
            mermaid_esc(n.community.as_deref().unwrap_or("?")),
            mermaid_esc(n.kind.as_deref().unwrap_or("unknown")),
            mermaid_esc(&n.label),
            n.id.short()
        ));
    }
    for e in &graph.edges {
        out.push_str(&format!(
            "  n{} -->|{}| n{}\n",
            e.from.short(),
            e.rel,
            e.to.short()
        ));
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', " ")
}

fn mermaid_esc(s: &str) -> String {
    s.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
        .replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ciborium::Value;
    use fedci_keys::{RejectReason, SecretKey};
    use fedci_proto::{Body, EventId, sign};

    fn event(kind: &str, data: Vec<(&str, Value)>) -> Event {
        // artifact.published must name its artifact.
        let links = match kind {
            "artifact.published" => vec![fedci_proto::Link::new("ARTIFACT", EventId([1; 32]))],
            _ => vec![],
        };
        let key = SecretKey::generate().expect("a key");
        let body = Body {
            v: 1,
            kind: kind.into(),
            community: "odl".into(),
            author: key.public().to_bytes(),
            time: 1_700_000_000_000,
            seq: 1,
            links,
            data: Value::Map(
                data.into_iter()
                    .map(|(k, v)| (Value::Text(k.into()), v))
                    .collect(),
            ),
        };
        sign(&body, key.signing_key()).expect("a valid test event")
    }

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn nodes_are_labelled_by_what_a_person_looks_for() {
        let cases = [
            (
                event(
                    "artifact.created",
                    vec![
                        ("identity", text("pkg:maven/odl@1")),
                        ("name", text("odl")),
                        ("version", text("1.0")),
                    ],
                ),
                "odl 1.0",
            ),
            (
                event(
                    "artifact.created",
                    vec![("identity", text("pkg:maven/odl@1"))],
                ),
                "pkg:maven/odl@1",
            ),
            (
                event(
                    "artifact.published",
                    vec![(
                        "locations",
                        Value::Array(vec![Value::Map(vec![
                            (text("type"), text("maven")),
                            (text("uri"), text("https://repo/odl-1.zip")),
                        ])]),
                    )],
                ),
                "https://repo/odl-1.zip",
            ),
            (
                event(
                    "composition.defined",
                    vec![("name", text("os-odl-nofeature"))],
                ),
                "os-odl-nofeature",
            ),
        ];
        for (e, want) in cases {
            let n = graph_node(Reached {
                id: e.id(),
                depth: -1,
                held: Some((&e, Err(RejectReason::UnpinnedCommunity))),
            });
            assert_eq!(n.label, want, "{}", e.kind());
            assert_eq!(n.kind.as_deref(), Some(e.kind()));
            assert_eq!(n.trusted, Some(false));
            assert!(n.untrusted_reason.is_some());
        }
        let missing = graph_node(Reached {
            id: EventId([7; 32]),
            depth: 2,
            held: None,
        });
        assert_eq!(missing.label, "(not held here)");
        assert_eq!((missing.kind, missing.depth), (None, 2));
    }
}
