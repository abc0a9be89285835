//! Traceability: walks links upstream (what an event was made from) or downstream (what was
//! made from it, which confidence it earned), across communities. Rendering the graph as
//! DOT or Mermaid is the API's business (`api/render.rs`).
//!
//! Upstream follows the links inside each event; downstream walks the reverse-link index, so
//! neither scans the store. Walks are bounded by depth and by [`MAX_TRACE_NODES`].

use super::read::load;
use super::schema::*;
use super::{Store, StoreError};
use fedci_proto::EventId;
use fedci_proto::json::cbor_to_json;
use std::collections::{BTreeMap, VecDeque};

/// Most nodes one trace returns; the graph says when it was cut.
pub const MAX_TRACE_NODES: usize = 10_000;
/// Deepest walk allowed.
pub const MAX_TRACE_DEPTH: u32 = 1000;

// The graph is part of the API contract (`GET /v1/trace/{id}`): its types live with the
// client's, so both ends share them.
pub use fedci_client::types::{Direction, GraphEdge, GraphNode, TraceGraph as Graph};

impl Store {
    /// Walks the link graph around `root`. None if `root` is not held here.
    pub fn trace(
        &self,
        root: EventId,
        dir: Direction,
        depth: u32,
    ) -> Result<Option<Graph>, StoreError> {
        let r = self.begin_read()?;
        let Some(first) = load(&r, &root.0)? else {
            return Ok(None);
        };
        let rev = r.open_multimap_table(LINKS_REV)?;
        let trust = self.trust();
        let depth = i64::from(depth.min(MAX_TRACE_DEPTH));
        let mut nodes: BTreeMap<EventId, GraphNode> = BTreeMap::new();
        let mut edges = std::collections::BTreeSet::new();
        let mut truncated = false;
        nodes.insert(root, node_of(&trust, root, Some(&first.event), 0));
        let mut queue = VecDeque::from([(root, 0i64)]);
        while let Some((id, d)) = queue.pop_front() {
            let Some(ev) = load(&r, &id.0)? else { continue };
            let mut next = Vec::new();
            if matches!(dir, Direction::Up | Direction::Both) && d <= 0 && -d < depth {
                for link in &ev.event.body().links {
                    edges.insert(GraphEdge {
                        from: id,
                        to: link.target,
                        rel: link.rel.clone(),
                    });
                    next.push((link.target, d - 1));
                }
            }
            if matches!(dir, Direction::Down | Direction::Both) && d >= 0 && d < depth {
                for source in rev.get(&id.0)? {
                    let source = EventId(*source?.value());
                    if let Some(src) = load(&r, &source.0)? {
                        for link in src.event.body().links.iter().filter(|l| l.target == id) {
                            edges.insert(GraphEdge {
                                from: source,
                                to: id,
                                rel: link.rel.clone(),
                            });
                        }
                    }
                    next.push((source, d + 1));
                }
            }
            for (nid, nd) in next {
                if nodes.contains_key(&nid) {
                    continue;
                }
                if nodes.len() >= MAX_TRACE_NODES {
                    truncated = true;
                    continue;
                }
                let held = load(&r, &nid.0)?;
                nodes.insert(
                    nid,
                    node_of(&trust, nid, held.as_ref().map(|s| &s.event), nd),
                );
                if held.is_some() {
                    queue.push_back((nid, nd));
                }
            }
        }
        // Keep only edges between nodes we show.
        let edges = edges
            .into_iter()
            .filter(|e| nodes.contains_key(&e.from) && nodes.contains_key(&e.to))
            .collect();
        let mut nodes: Vec<_> = nodes.into_values().collect();
        nodes.sort_by_key(|n| (n.depth, n.time, n.id));
        Ok(Some(Graph {
            root,
            nodes,
            edges,
            truncated,
        }))
    }
}

fn node_of(
    trust: &fedci_keys::TrustStore,
    id: EventId,
    event: Option<&fedci_proto::Event>,
    depth: i64,
) -> GraphNode {
    match event {
        None => GraphNode {
            id,
            kind: None,
            community: None,
            time: None,
            label: "(not held here)".into(),
            depth,
            author: None,
            trusted: None,
            untrusted_reason: None,
        },
        Some(e) => {
            let verdict = trust.authorise(e);
            GraphNode {
                id,
                kind: Some(e.kind().to_string()),
                community: Some(e.community().to_string()),
                time: Some(e.time()),
                label: label(e),
                depth,
                author: Some(hex::encode(e.body().author)),
                trusted: Some(verdict.is_ok()),
                untrusted_reason: verdict.err().map(|r| r.to_string()),
            }
        }
    }
}

/// The fields a person looks for first, by kind.
fn label(e: &fedci_proto::Event) -> String {
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
