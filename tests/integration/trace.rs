//! Traceability across link levels: artifact ← published / composition ← confidence ← confidence,
//! walked down from the artifact and up from the last confidence, rendered as JSON, DOT, Mermaid.

use fedci_tests::{Node, require_program};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};

struct Chain {
    artifact: String,
    published: String,
    composition: String,
    conf1: String,
    conf2: String,
}

fn build_chain(node: &Node) -> Chain {
    let artifact = node.publish(
        "artifact.created",
        json!({"identity": "pkg:generic/odl-distribution@0.21.0", "name": "odl", "version": "0.21.0"}),
        &[],
    );
    let published = node.publish(
        "artifact.published",
        json!({"locations": [{"type": "http", "uri": "https://nexus.example/odl-0.21.0.zip"}]}),
        &[("ARTIFACT", &artifact)],
    );
    let composition = node.publish(
        "composition.defined",
        json!({"name": "os-odl-nofeature", "scenario": "os-odl-nofeature"}),
        &[("ELEMENT", &artifact)],
    );
    let conf1 = node.publish(
        "confidence.modified",
        json!({"name": "opnfvAcceptance", "value": "SUCCESS"}),
        &[("SUBJECT", &composition)],
    );
    let conf2 = node.publish(
        "confidence.modified",
        json!({"name": "odlPromoted", "value": "SUCCESS"}),
        &[("CONFIDENCE_BASIS", &conf1), ("SUBJECT", &artifact)],
    );
    Chain {
        artifact,
        published,
        composition,
        conf1,
        conf2,
    }
}

type Edge = (String, String, String);

/// Node id → node, and the set of (from, to, rel) edges of a trace graph.
fn graph(v: &Value) -> (BTreeMap<String, Value>, BTreeSet<Edge>) {
    let nodes = v["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("trace has no nodes array: {v}"))
        .iter()
        .map(|n| (n["id"].as_str().expect("node id").to_owned(), n.clone()))
        .collect();
    let edges = v["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("trace has no edges array: {v}"))
        .iter()
        .map(|e| {
            let s = |k: &str| {
                e[k].as_str()
                    .unwrap_or_else(|| panic!("edge without {k}: {e}"))
                    .to_owned()
            };
            (s("from"), s("to"), s("rel"))
        })
        .collect();
    (nodes, edges)
}

fn edge(from: &str, to: &str, rel: &str) -> Edge {
    (from.to_owned(), to.to_owned(), rel.to_owned())
}

fn ids(list: &[&String]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).clone()).collect()
}

fn trace_json(node: &Node, args: &[&str]) -> Value {
    let mut full = vec!["trace"];
    full.extend_from_slice(args);
    let out = node.cli_ok(&full);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("trace {args:?} is not JSON ({e}): {out}"))
}

#[test]
fn trace_down_and_up_across_three_levels() {
    let node = Node::started("odl");
    let c = build_chain(&node);
    let (a, p, comp, k1, k2) = (
        &c.artifact,
        &c.published,
        &c.composition,
        &c.conf1,
        &c.conf2,
    );

    let down = trace_json(&node, &[a, "--down"]);
    assert_eq!(down["root"], a.as_str(), "{down}");
    let (nodes, edges) = graph(&down);
    assert_eq!(
        nodes.keys().cloned().collect::<BTreeSet<_>>(),
        ids(&[a, p, comp, k1, k2]),
        "down nodes: {down}"
    );
    let want: BTreeSet<_> = [
        edge(p, a, "ARTIFACT"),
        edge(comp, a, "ELEMENT"),
        edge(k1, comp, "SUBJECT"),
        edge(k2, k1, "CONFIDENCE_BASIS"),
        edge(k2, a, "SUBJECT"),
    ]
    .into();
    assert_eq!(edges, want, "down edges: {down}");
    assert_eq!(down["truncated"], false, "{down}");
    for (id, kind) in [
        (a, "artifact.created"),
        (p, "artifact.published"),
        (comp, "composition.defined"),
        (k1, "confidence.modified"),
    ] {
        assert_eq!(nodes[id.as_str()]["kind"], kind, "{down}");
        assert_eq!(nodes[id.as_str()]["community"], "odl", "{down}");
    }
    let depth =
        |n: &BTreeMap<String, Value>, id: &str| n[id]["depth"].as_i64().expect("depth").abs();
    assert_eq!(
        (depth(&nodes, a), depth(&nodes, comp), depth(&nodes, k1)),
        (0, 1, 2),
        "depths: {down}"
    );

    let up = trace_json(&node, &[k2, "--up"]);
    let (unodes, uedges) = graph(&up);
    assert_eq!(
        unodes.keys().cloned().collect::<BTreeSet<_>>(),
        ids(&[k2, k1, comp, a]),
        "up nodes: {up}"
    );
    let want_up: BTreeSet<_> = [
        edge(k2, k1, "CONFIDENCE_BASIS"),
        edge(k2, a, "SUBJECT"),
        edge(k1, comp, "SUBJECT"),
        edge(comp, a, "ELEMENT"),
    ]
    .into();
    assert_eq!(uedges, want_up, "up edges: {up}");
    assert_eq!(
        (depth(&unodes, k1), depth(&unodes, comp)),
        (1, 2),
        "up depths: {up}"
    );

    // Only upstream via the confidence chain: k1 up reaches the artifact in 2 hops.
    let up1 = trace_json(&node, &[k1, "--up"]);
    assert_eq!(
        graph(&up1).0.keys().cloned().collect::<BTreeSet<_>>(),
        ids(&[k1, comp, a]),
        "{up1}"
    );

    // Depth limit.
    let shallow = trace_json(&node, &[a, "--down", "--depth", "1"]);
    assert_eq!(
        graph(&shallow).0.keys().cloned().collect::<BTreeSet<_>>(),
        ids(&[a, p, comp, k2]),
        "depth 1: {shallow}"
    );

    // Both directions by default.
    let both = trace_json(&node, &[comp]);
    let bnodes = graph(&both).0;
    for id in [a, k1, k2] {
        assert!(
            bnodes.contains_key(id.as_str()),
            "trace {comp} (both) misses {id}: {both}"
        );
    }

    // The socket gives the same graph.
    let api = node.get_json(&format!("/v1/trace/{a}?direction=down&format=json"));
    assert_eq!(
        graph(&api),
        graph(&down),
        "GET /v1/trace differs from the CLI"
    );
}

#[test]
fn trace_renders_dot_and_mermaid() {
    let node = Node::started("odl");
    let c = build_chain(&node);
    let rels = ["ARTIFACT", "ELEMENT", "SUBJECT", "CONFIDENCE_BASIS"];

    let dot = node.cli_ok(&["trace", &c.artifact, "--down", "--format", "dot"]);
    assert!(
        dot.trim_start().starts_with("digraph") || dot.trim_start().starts_with("strict digraph"),
        "dot: {dot}"
    );
    assert!(
        dot.matches("->").count() >= 5,
        "dot has fewer than 5 edges: {dot}"
    );
    for rel in rels {
        assert!(dot.contains(rel), "dot lacks rel {rel}: {dot}");
    }
    require_program("dot", "graphviz");
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running dot");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(dot.as_bytes())
        .expect("feeding dot");
    let out = child.wait_with_output().expect("dot");
    assert!(
        out.status.success(),
        "dot -Tsvg rejected the output: {}\n{dot}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("<svg"),
        "dot produced no SVG"
    );

    let mermaid = node.cli_ok(&["trace", &c.artifact, "--down", "--format", "mermaid"]);
    assert!(
        mermaid.trim_start().starts_with("graph"),
        "mermaid: {mermaid}"
    );
    assert!(
        mermaid.matches("-->").count() >= 5,
        "mermaid has fewer than 5 edges: {mermaid}"
    );
    for rel in rels {
        assert!(mermaid.contains(rel), "mermaid lacks rel {rel}: {mermaid}");
    }

    let r = node.get(&format!("/v1/trace/{}?direction=up&format=dot", c.conf2));
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.text().trim_start().contains("digraph"), "{r:?}");
}
