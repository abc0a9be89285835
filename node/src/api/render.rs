//! Text renderings of a trace graph: Graphviz DOT and Mermaid.

use crate::store::Graph;

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
