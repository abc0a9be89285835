//! What the demo prints: one line per event as each node stores it, and the final trace of the
//! ODL artifact as a tree a person can read.

use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// A short human summary of an event's data, by kind.
pub fn summary(ev: &Value) -> String {
    let d = &ev["data"];
    let s = |k: &str| d[k].as_str().unwrap_or_default().to_string();
    match ev["kind"].as_str().unwrap_or_default() {
        "artifact.created" => format!("{} {} ({})", s("name"), s("version"), s("branch")),
        "artifact.published" => d["locations"][0]["uri"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        "composition.defined" => format!("baseline {} {}", s("name"), s("version")),
        "confidence.modified" => format!("{}={} (issuer {})", s("name"), s("value"), s("issuer")),
        "activity.finished" => format!("{}: {}", s("name"), s("outcome")),
        "trust.roster" => format!("roster serial {}", d["serial"]),
        _ => s("name"),
    }
}

pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// Renders a downstream trace graph (`fedci-node trace ID --down`) as an indented tree:
/// each child is an event that links to its parent, shown with the rel it uses.
pub fn trace_tree(graph: &Value) -> String {
    let nodes: HashMap<&str, &Value> = graph["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let mut children: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
    for e in graph["edges"].as_array().into_iter().flatten() {
        if let (Some(from), Some(to), Some(rel)) =
            (e["from"].as_str(), e["to"].as_str(), e["rel"].as_str())
        {
            children.entry(to).or_default().push((from, rel));
        }
    }
    for list in children.values_mut() {
        list.sort_by_key(|(from, _)| {
            nodes
                .get(from)
                .and_then(|n| n["time"].as_u64())
                .unwrap_or(0)
        });
    }
    let root = graph["root"].as_str().unwrap_or_default();
    let mut out = String::new();
    let mut shown = HashSet::new();
    walk(
        root, None, "", true, &nodes, &children, &mut shown, &mut out,
    );
    out
}

#[allow(clippy::too_many_arguments)] // a recursive printer; a struct would only rename these
fn walk<'a>(
    id: &'a str,
    rel: Option<&str>,
    prefix: &str,
    last: bool,
    nodes: &HashMap<&str, &Value>,
    children: &HashMap<&'a str, Vec<(&'a str, &'a str)>>,
    shown: &mut HashSet<&'a str>,
    out: &mut String,
) {
    let node = nodes.get(id);
    let label = node.map_or(String::new(), |n| {
        format!(
            "{:<20} {:<10} {}",
            n["kind"].as_str().unwrap_or("?"),
            n["community"].as_str().unwrap_or("?"),
            n["label"].as_str().unwrap_or_default()
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
    out.push_str(&format!(
        "  {branch}{via}{label} [{}]{}\n",
        short(id),
        if again { " (see above)" } else { "" }
    ));
    if again {
        return;
    }
    let kids = children.get(id).cloned().unwrap_or_default();
    for (i, (child, r)) in kids.iter().enumerate() {
        walk(
            child,
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
        let g = json!({
            "root": "aaaaaaaa",
            "nodes": [
                {"id": "aaaaaaaa", "kind": "artifact.created", "community": "odl", "label": "odl 1", "time": 1},
                {"id": "bbbbbbbb", "kind": "composition.defined", "community": "opnfv", "label": "b", "time": 2},
                {"id": "cccccccc", "kind": "confidence.modified", "community": "opnfv", "label": "c", "time": 3}
            ],
            "edges": [
                {"from": "bbbbbbbb", "to": "aaaaaaaa", "rel": "ELEMENT"},
                {"from": "cccccccc", "to": "bbbbbbbb", "rel": "SUBJECT"},
                {"from": "cccccccc", "to": "aaaaaaaa", "rel": "SUBJECT"}
            ]
        });
        let t = trace_tree(&g);
        assert!(t.contains("ELEMENT ◂ composition.defined"), "{t}");
        assert!(t.contains("(see above)"), "{t}");
        assert_eq!(t.lines().count(), 4, "{t}");
    }
}
