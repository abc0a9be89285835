//! What the demo prints: one line per event as each node stores it, and the final trace of the
//! ODL artifact as a tree a person can read.

use fedci_client::types::{GraphNode, TraceGraph};
use fedci_proto::EventId;
use fedci_proto::json::EventJson;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// A short human summary of an event's data, by kind.
pub fn summary(ev: &EventJson) -> String {
    let d = &ev.data;
    let s = |k: &str| {
        d.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    match ev.kind.as_str() {
        "artifact.created" => format!("{} {} ({})", s("name"), s("version"), s("branch")),
        "artifact.published" => d
            .pointer("/locations/0/uri")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        "composition.defined" => format!("baseline {} {}", s("name"), s("version")),
        "confidence.modified" => format!("{}={} (issuer {})", s("name"), s("value"), s("issuer")),
        "activity.finished" => format!("{}: {}", s("name"), s("outcome")),
        "trust.roster" => format!("roster serial {}", d.get("serial").unwrap_or(&Value::Null)),
        _ => s("name"),
    }
}

pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// Renders a downstream trace graph (`fedci-node trace ID --down`) as an indented tree:
/// each child is an event that links to its parent, shown with the rel it uses.
pub fn trace_tree(graph: &TraceGraph) -> String {
    let nodes: HashMap<EventId, &GraphNode> = graph.nodes.iter().map(|n| (n.id, n)).collect();
    let mut children: HashMap<EventId, Vec<(EventId, &str)>> = HashMap::new();
    for e in &graph.edges {
        children
            .entry(e.to)
            .or_default()
            .push((e.from, e.rel.as_str()));
    }
    for list in children.values_mut() {
        list.sort_by_key(|(from, _)| nodes.get(from).and_then(|n| n.time).unwrap_or(0));
    }
    let mut out = String::new();
    let mut shown = HashSet::new();
    walk(
        graph.root, None, "", true, &nodes, &children, &mut shown, &mut out,
    );
    out
}

#[allow(clippy::too_many_arguments)] // a recursive printer; a struct would only rename these
fn walk(
    id: EventId,
    rel: Option<&str>,
    prefix: &str,
    last: bool,
    nodes: &HashMap<EventId, &GraphNode>,
    children: &HashMap<EventId, Vec<(EventId, &str)>>,
    shown: &mut HashSet<EventId>,
    out: &mut String,
) {
    let node = nodes.get(&id);
    let label = node.map_or(String::new(), |n| {
        format!(
            "{:<20} {:<10} {}",
            n.kind.as_deref().unwrap_or("?"),
            n.community.as_deref().unwrap_or("?"),
            n.label
        )
    });
    let (branch, next_prefix) = match rel {
        None => (String::new(), String::new()),
        Some(_) => (
            format!("{prefix}{}", if last { "└─ " } else { "├─ " }),
            format!("{prefix}{}", if last { "   " } else { "│  " }),
        ),
    };
    let via = rel.map(|r| format!("{r} ◂ ")).unwrap_or_default();
    let again = !shown.insert(id);
    let hex = id.to_string();
    out.push_str(&format!(
        "  {branch}{via}{label} [{}]{}\n",
        short(&hex),
        if again { " (see above)" } else { "" }
    ));
    if again {
        return;
    }
    let kids = children.get(&id).cloned().unwrap_or_default();
    for (i, (child, r)) in kids.iter().enumerate() {
        walk(
            *child,
            Some(r),
            &next_prefix,
            i + 1 == kids.len(),
            nodes,
            children,
            shown,
            out,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tree_shows_children_by_rel_and_marks_repeats() {
        let (a, b, c) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
        let g: TraceGraph = serde_json::from_value(json!({
            "root": a, "truncated": false,
            "nodes": [
                {"id": a, "kind": "artifact.created", "community": "odl", "label": "odl 1", "time": 1, "depth": 0},
                {"id": b, "kind": "composition.defined", "community": "opnfv", "label": "b", "time": 2, "depth": 1},
                {"id": c, "kind": "confidence.modified", "community": "opnfv", "label": "c", "time": 3, "depth": 1}
            ],
            "edges": [
                {"from": b, "to": a, "rel": "ELEMENT"},
                {"from": c, "to": b, "rel": "SUBJECT"},
                {"from": c, "to": a, "rel": "SUBJECT"}
            ]
        }))
        .expect("a trace graph");
        let t = trace_tree(&g);
        assert!(t.contains("ELEMENT ◂ composition.defined"), "{t}");
        assert!(t.contains("(see above)"), "{t}");
        assert_eq!(t.lines().count(), 4, "{t}");
    }
}
