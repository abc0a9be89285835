//! Traceability: walks links upstream (what an event was made from) or downstream (what was
//! made from it, which confidence it earned), across communities. Rendering the graph as
//! DOT or Mermaid is the API's business (`api/render.rs`), and so is describing a node: the
//! walk hands each node it reaches (the event, if held, and the current trust's verdict on it)
//! to the caller, which makes the node it shows.
//!
//! Upstream follows the links inside each event; downstream walks the reverse-link index, so
//! neither scans the store. Walks are bounded by depth and by [`MAX_TRACE_NODES`], and stop
//! at that cap, so what a walk reads is bounded as well (see [`Trace::loaded`]).

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
    /// Events the walk read from the store: what the trace cost, bounded through the cap by
    /// the nodes shown and their links, however many events link to one of them.
    pub loaded: usize,
}

impl Store {
    /// Walks the link graph around `root`, making each node it reaches with `node`. None if
    /// `root` is not held here.
    pub fn trace<N>(
        &self,
        root: EventId,
        dir: Direction,
        depth: u32,
        node: impl FnMut(Reached<'_>) -> N,
    ) -> Result<Option<Trace<N>>, StoreError> {
        self.trace_capped(root, (dir, depth), node, MAX_TRACE_NODES)
    }

    /// [`Store::trace`] with at most `max_nodes` nodes. The walk stops when it reaches the
    /// cap, so what it reads and holds is bounded by the cap too (each event's links are
    /// bounded by the vocabulary): an event linked to by a million others costs no more than
    /// one linked to by `max_nodes`. An edge is kept only between two nodes shown.
    fn trace_capped<N>(
        &self,
        root: EventId,
        (dir, depth): (Direction, u32),
        mut node: impl FnMut(Reached<'_>) -> N,
        max_nodes: usize,
    ) -> Result<Option<Trace<N>>, StoreError> {
        let r = self.begin_read()?;
        let loaded = std::cell::Cell::new(0usize);
        let get = |id: &EventId| {
            loaded.set(loaded.get() + 1);
            load(&r, &id.0)
        };
        let Some(first) = get(&root)? else {
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
        // Takes `nid` into the graph if there is room (then the edge to it is kept, both of
        // its ends being shown). False once the cap is reached: the walk stops there, so an
        // event with a huge fan-in is not read through to the end.
        let mut visit = |nodes: &mut BTreeMap<EventId, (Key, N)>,
                         queue: &mut VecDeque<(EventId, i64)>,
                         (nid, nd): (EventId, i64),
                         edge: GraphEdge|
         -> Result<bool, StoreError> {
            if !nodes.contains_key(&nid) {
                if nodes.len() >= max_nodes {
                    return Ok(false);
                }
                let held = get(&nid)?;
                nodes.insert(nid, reach(nid, nd, held.as_ref().map(|s| &s.event)));
                if held.is_some() {
                    queue.push_back((nid, nd));
                }
            }
            edges.insert(edge);
            Ok(true)
        };
        'walk: while let Some((id, d)) = queue.pop_front() {
            // Read again rather than kept from `visit`: the queue would otherwise hold up to
            // the cap of whole events (64 KiB each at most); a second read of a page just read
            // is served from redb's cache.
            let Some(ev) = get(&id)? else { continue };
            if matches!(dir, Direction::Up | Direction::Both) && d <= 0 && -d < depth {
                for link in &ev.event.body().links {
                    let edge = GraphEdge {
                        from: id,
                        to: link.target,
                        rel: link.rel.clone(),
                    };
                    if !visit(&mut nodes, &mut queue, (link.target, d - 1), edge)? {
                        truncated = true;
                        break 'walk;
                    }
                }
            }
            if matches!(dir, Direction::Down | Direction::Both) && d >= 0 && d < depth {
                for source in rev.get(&id.0)? {
                    let source = EventId(*source?.value());
                    let Some(src) = get(&source)? else {
                        continue;
                    };
                    for link in src.event.body().links.iter().filter(|l| l.target == id) {
                        let edge = GraphEdge {
                            from: source,
                            to: id,
                            rel: link.rel.clone(),
                        };
                        if !visit(&mut nodes, &mut queue, (source, d + 1), edge)? {
                            truncated = true;
                            break 'walk;
                        }
                    }
                }
            }
        }
        let mut nodes: Vec<(Key, N)> = nodes.into_values().collect();
        nodes.sort_by_key(|(key, _)| *key);
        Ok(Some(Trace {
            root,
            nodes: nodes.into_iter().map(|(_, n)| n).collect(),
            edges: edges.into_iter().collect(),
            truncated,
            loaded: loaded.get(),
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::metrics::Metrics;
    use crate::store::Outcome;
    use crate::store::tests::{linked, trust_odl};
    use fedci_keys::SecretKey;
    use std::collections::HashSet;
    use std::sync::Arc;

    const FAN_IN: u64 = 40;

    /// An event that `FAN_IN` others link to. The walk down from it stops at the cap, says
    /// so, shows only edges between nodes it shows, and reads about as many events as it
    /// shows, not one per event linking in (the walk used to read every one of them).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fan_in_past_the_cap_costs_the_cap_not_the_fan_in() {
        let dir = tempfile::tempdir().unwrap();
        let (root, node) = (
            SecretKey::from_seed(&[1; 32]),
            SecretKey::from_seed(&[2; 32]),
        );
        let path = dir.path().join("s.redb");
        let (store, writer) = Store::open(&path, None, Arc::new(Metrics::default())).unwrap();
        let now = crate::now_ms();
        trust_odl(&store, &root, &[&node], now - 60_000).await;
        let base = linked(&node, "x-test.base", now - 10_000, &[], &[]);
        let mut events = vec![base.clone()];
        events.extend((0..FAN_IN).map(|i| {
            linked(
                &node,
                "x-test.made",
                now - 5_000 + i,
                &[],
                &[("MADE_FROM", base.id())],
            )
        }));
        let out = store.ingest(events, "test").await.unwrap();
        assert!(
            out.iter().all(|o| matches!(o, Outcome::Stored { .. })),
            "{out:?}"
        );
        let down = |cap| {
            store
                .trace_capped(base.id(), (Direction::Down, 5), |r| r.id, cap)
                .unwrap()
                .unwrap()
        };

        let whole = down(100);
        assert!(!whole.truncated);
        assert_eq!(whole.nodes.len() as u64, FAN_IN + 1);
        assert_eq!(whole.edges.len() as u64, FAN_IN);

        let cap = 10;
        let cut = down(cap);
        assert!(cut.truncated);
        assert_eq!(cut.nodes.len(), cap);
        let shown: HashSet<EventId> = cut.nodes.iter().copied().collect();
        assert!(shown.contains(&base.id()));
        assert_eq!(cut.edges.len(), cap - 1, "one edge per source shown");
        assert!(
            cut.edges
                .iter()
                .all(|e| shown.contains(&e.from) && e.to == base.id()),
            "{:?}",
            cut.edges
        );
        // The traced event twice (as the root and as the walk's first step), each source
        // shown once to read its links and once when taken, and the one that did not fit.
        assert!(
            cut.loaded <= 2 * cap + 1,
            "read {} events for {cap} nodes (fan-in {FAN_IN})",
            cut.loaded
        );
        drop(store);
        writer.join();
    }
}
