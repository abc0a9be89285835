//! Traceability: walks links upstream (what an event was made from) or downstream (what was
//! made from it, which confidence it earned), across communities. Rendering the graph as
//! DOT or Mermaid is the API's business (`api/render.rs`), and so is describing a node: the
//! walk hands each node it reaches (the event, if held, and the current trust's verdict on it)
//! to the caller, which makes the node it shows.
//!
//! Upstream follows the links inside each event; downstream walks the reverse-link index, so
//! neither scans the store. Walks are bounded by depth and by [`MAX_TRACE_NODES`].

use super::read::load;
use super::schema::*;
use super::{Store, StoreError};
use fedci_keys::RejectReason;
use fedci_proto::{Event, EventId};
use std::collections::{BTreeMap, VecDeque};

/// Most nodes one trace returns; the graph says when it was cut.
pub const MAX_TRACE_NODES: usize = 10_000;
/// Deepest walk allowed.
pub const MAX_TRACE_DEPTH: u32 = 1000;

// Directions and edges are part of the API contract (`GET /v1/trace/{id}`): their types live
// with the client's, so both ends share them.
pub use fedci_client::types::{Direction, GraphEdge};

/// A node the walk reached, for the caller to describe.
#[derive(Debug)]
pub struct Reached<'a> {
    pub id: EventId,
    /// Distance from the traced event (negative = upstream).
    pub depth: i64,
    /// The event and the current trust's verdict on it; None when linked to but not held here.
    pub held: Option<(&'a Event, Result<u64, RejectReason>)>,
}

/// The walk around an event: the caller's nodes, ordered by (depth, time, id), and the links
/// between them.
#[derive(Debug)]
pub struct Trace<N> {
    pub root: EventId,
    pub nodes: Vec<N>,
    pub edges: Vec<GraphEdge>,
    /// True when [`MAX_TRACE_NODES`] cut the walk short.
    pub truncated: bool,
}

impl Store {
    /// Walks the link graph around `root`, making each node it reaches with `node`. None if
    /// `root` is not held here.
    pub fn trace<N>(
        &self,
        root: EventId,
        dir: Direction,
        depth: u32,
        mut node: impl FnMut(Reached<'_>) -> N,
    ) -> Result<Option<Trace<N>>, StoreError> {
        let r = self.begin_read()?;
        let Some(first) = load(&r, &root.0)? else {
            return Ok(None);
        };
        let rev = r.open_multimap_table(LINKS_REV)?;
        let trust = self.trust();
        let mut reach = |id: EventId, depth: i64, event: Option<&Event>| {
            let held = event.map(|e| (e, trust.authorise(e)));
            let key = (depth, event.map(Event::time), id);
            (key, node(Reached { id, depth, held }))
        };
        let depth = i64::from(depth.min(MAX_TRACE_DEPTH));
        // id → ((depth, time, id), node): the key orders the nodes shown.
        type Key = (i64, Option<u64>, EventId);
        let mut nodes: BTreeMap<EventId, (Key, N)> = BTreeMap::new();
        let mut edges = std::collections::BTreeSet::new();
        let mut truncated = false;
        nodes.insert(root, reach(root, 0, Some(&first.event)));
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
                nodes.insert(nid, reach(nid, nd, held.as_ref().map(|s| &s.event)));
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
        let mut nodes: Vec<(Key, N)> = nodes.into_values().collect();
        nodes.sort_by_key(|(key, _)| *key);
        Ok(Some(Trace {
            root,
            nodes: nodes.into_iter().map(|(_, n)| n).collect(),
            edges,
            truncated,
        }))
    }
}
