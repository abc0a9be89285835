//! Catch-up helpers: fixed loopback ports (so a restarted node is reachable where it was),
//! complete id sets read with `fedci-node query`, set comparison with readable diffs, bulk
//! concurrent publishing of linked v1 events, partitions with `peer block`/`peer unblock`, and
//! the per-peer `sync` statistics of `GET /v1/status`.
//!
//! Free functions rather than methods on [`Node`], so they cannot clash with methods other
//! harness modules add.

use crate::is_id;
use crate::node::Node;
use fedci_client::types::{EventItem, PeerSync};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// How often set-comparison waits re-read the stores: each read pages through every event, which
/// is not free on a shared 2-core machine.
pub const SET_POLL: Duration = Duration::from_millis(250);

/// A loopback TCP port that was free a moment ago: bind port 0, read the port, let it go.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// The `--listen` multiaddr of a fixed loopback port.
pub fn listen_on(port: u16) -> String {
    format!("/ip4/127.0.0.1/tcp/{port}")
}

/// Every event `fedci-node query ARGS… --limit 1000000` prints (NDJSON, all pages).
pub fn query_cli(node: &Node, args: &[&str]) -> Vec<Value> {
    let mut full: Vec<&str> = vec!["query"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["--limit", "1000000"]);
    crate::ndjson(&node.cli_ok(&full))
}

/// The complete set of ids `fedci-node query ARGS…` prints; panics on a duplicate line.
pub fn id_set(node: &Node, args: &[&str]) -> BTreeSet<String> {
    let events = query_cli(node, args);
    let mut set = BTreeSet::new();
    for e in &events {
        let id = crate::mesh::event_id(e);
        assert!(is_id(&id), "query printed a bad id: {e}");
        assert!(
            set.insert(id.clone()),
            "query {args:?} printed event {id} twice"
        );
    }
    set
}

/// Ids grouped by topic (`community/family`, family = kind up to the first dot), from a query
/// of `node` with `args`.
pub fn ids_by_topic(node: &Node, args: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in query_cli(node, args) {
        let item: EventItem = serde_json::from_value(e.clone())
            .unwrap_or_else(|err| panic!("query printed a line that is not an event ({err}): {e}"));
        let ev = item.event;
        let family = ev.kind.split_once('.').map_or(ev.kind.as_str(), |(f, _)| f);
        out.entry(format!("{}/{family}", ev.community))
            .or_default()
            .insert(ev.id.to_string());
    }
    out
}

/// A readable account of how two id sets differ (empty when equal): sizes and a few ids
/// missing from each side.
pub fn set_diff(a_name: &str, a: &BTreeSet<String>, b_name: &str, b: &BTreeSet<String>) -> String {
    if a == b {
        return String::new();
    }
    const SHOW: usize = 5;
    let only_a: Vec<&String> = a.difference(b).collect();
    let only_b: Vec<&String> = b.difference(a).collect();
    format!(
        "{a_name} holds {} ids, {b_name} holds {}; {} only on {a_name} (e.g. {:?}), {} only on \
         {b_name} (e.g. {:?})",
        a.len(),
        b.len(),
        only_a.len(),
        &only_a[..only_a.len().min(SHOW)],
        only_b.len(),
        &only_b[..only_b.len().min(SHOW)],
    )
}

/// Re-checks `check` every [`SET_POLL`] until it returns `None`; panics after `timeout` with
/// `what` and the last explanation `check` returned.
pub fn wait_for(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<String>) {
    let mut why = None;
    if !crate::poll_every(SET_POLL, timeout, || {
        why = check();
        why.is_none()
    }) {
        panic!(
            "timed out after {timeout:?} waiting for {what}: {}",
            why.unwrap_or_default()
        );
    }
}

/// The complete id set over the socket (`GET /v1/events`, all pages), `community` filtered
/// if given: cheaper than running the CLI, so waits poll with it.
pub fn http_id_set(node: &Node, community: Option<&str>) -> BTreeSet<String> {
    let filter = community
        .map(|c| format!("community={c}"))
        .unwrap_or_default();
    node.query_all(&filter)
        .iter()
        .map(crate::mesh::event_id)
        .collect()
}

/// Waits until `node` holds exactly `want` (of `community`'s events, or of all events),
/// polling over the socket; then confirms with `fedci-node query` and returns that set.
pub fn wait_for_set(
    node: &Node,
    community: Option<&str>,
    want: &BTreeSet<String>,
    timeout: Duration,
) -> BTreeSet<String> {
    let name = node.community().to_owned();
    let what = match community {
        Some(c) => format!("{name}'s node to hold exactly the expected {c} events"),
        None => format!("{name}'s node to hold exactly the expected events"),
    };
    wait_for(timeout, &what, || {
        let got = http_id_set(node, community);
        let d = set_diff(&name, &got, "expected", want);
        (!d.is_empty()).then_some(d)
    });
    let args: Vec<&str> = community
        .map(|c| vec!["--community", c])
        .unwrap_or_default();
    let got = id_set(node, &args);
    assert!(
        &got == want,
        "`query {args:?}` disagrees with the socket: {}",
        set_diff(&name, &got, "expected", want)
    );
    got
}

/// One event to publish: kind, data and links (targets given by index into earlier results).
#[derive(Debug, Clone)]
pub struct Planned {
    pub kind: &'static str,
    pub data: Value,
    /// (rel, index of an event of an earlier phase).
    pub links: Vec<(&'static str, usize)>,
}

/// Publishes `items` over the socket from `threads` threads at once; returns the ids in the
/// order of `items`. `targets` resolves link indexes.
pub fn publish_concurrently(
    node: &Node,
    items: &[Planned],
    targets: &[String],
    threads: usize,
) -> Vec<String> {
    let threads = threads.max(1);
    let mut ids = vec![String::new(); items.len()];
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    items
                        .iter()
                        .enumerate()
                        .skip(t)
                        .step_by(threads)
                        .map(|(i, p)| {
                            let links: Vec<(&str, &str)> = p
                                .links
                                .iter()
                                .map(|(rel, at)| (*rel, targets[*at].as_str()))
                                .collect();
                            (i, node.publish(p.kind, p.data.clone(), &links))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for w in workers {
            for (i, id) in w.join().expect("publisher thread panicked") {
                ids[i] = id;
            }
        }
    });
    ids
}

/// Publishes `n` linked v1 events on `node` (about half `artifact.created`, then
/// `artifact.published` each linking ARTIFACT to one of them, and `composition.defined` with
/// ELEMENT links to several), 4 publishers at a time. `tag` makes the data unique per call.
/// Returns every id published.
pub fn publish_mix(node: &Node, n: usize, tag: &str) -> Vec<String> {
    let created_n = n.div_ceil(2).max(1);
    let rest = n.saturating_sub(created_n);
    let published_n = rest.div_ceil(2);
    let composed_n = rest - published_n;
    let community = node.community().to_owned();
    let created: Vec<Planned> = (0..created_n)
        .map(|i| Planned {
            kind: "artifact.created",
            data: json!({
                "identity": format!("pkg:generic/{community}-{tag}@{i}"),
                "version": format!("{i}.0.0"),
                "name": format!("{community} {tag} build {i}"),
            }),
            links: Vec::new(),
        })
        .collect();
    let created_ids = publish_concurrently(node, &created, &[], 4);
    let mut second: Vec<Planned> = (0..published_n)
        .map(|i| Planned {
            kind: "artifact.published",
            data: json!({"locations": [{"type": "maven", "uri": format!("https://repo.example/{community}/{tag}/{i}")}]}),
            links: vec![("ARTIFACT", i % created_n)],
        })
        .collect();
    second.extend((0..composed_n).map(|i| {
        Planned {
            kind: "composition.defined",
            data: json!({"name": format!("{community}-{tag}-baseline"), "version": format!("{i}")}),
            links: (0..3)
                .map(|k| ("ELEMENT", (i * 3 + k) % created_n))
                .collect(),
        }
    }));
    let second_ids = publish_concurrently(node, &second, &created_ids, 4);
    let mut all = created_ids;
    all.extend(second_ids);
    assert_eq!(all.len(), n, "publish_mix published a different count");
    all
}

/// `peer block PEER_ID` on a running node.
pub fn block(node: &Node, peer_id: &str) {
    node.cli_ok(&["peer", "block", peer_id]);
}

/// `peer unblock PEER_ID` on a running node.
pub fn unblock(node: &Node, peer_id: &str) {
    node.cli_ok(&["peer", "unblock", peer_id]);
}

/// Peer ids in status `network.blocked`.
pub fn blocked_peers(node: &Node) -> Vec<String> {
    node.net().blocked
}

/// Peer ids in status `network.banned` (peers the node cut off for misbehaving, for a while).
pub fn banned_peers(node: &Node) -> Vec<String> {
    node.net().banned.into_iter().map(|b| b.peer_id).collect()
}

/// Waits until `node` is connected to none of `peer_ids` and lists them all as blocked.
pub fn wait_cut_off(node: &Node, peer_ids: &[String], timeout: Duration) {
    let what = format!("{}'s node to cut off {peer_ids:?}", node.community());
    wait_for(timeout, &what, || {
        let connected = node.connected_peers();
        let blocked = blocked_peers(node);
        let still: Vec<&String> = peer_ids.iter().filter(|p| connected.contains(p)).collect();
        let unblocked: Vec<&String> = peer_ids.iter().filter(|p| !blocked.contains(p)).collect();
        (!(still.is_empty() && unblocked.is_empty())).then(|| {
            format!(
                "still connected to {still:?} / not blocking {unblocked:?}; network: {}",
                node.network()
            )
        })
    });
}

/// The `sync` object of `node`'s `network.peers` entry for `peer_id` (None if not connected
/// or no round yet).
pub fn sync_stats(node: &Node, peer_id: &str) -> Option<Value> {
    sync(node, peer_id).map(|s| serde_json::to_value(s).expect("sync status serialises"))
}

/// [`sync_stats`] as the API's type.
pub fn sync(node: &Node, peer_id: &str) -> Option<PeerSync> {
    node.peer(peer_id)?.sync
}

/// Rounds `node` has completed with `peer_id` (0 if none or not connected).
pub fn sync_rounds(node: &Node, peer_id: &str) -> u64 {
    sync(node, peer_id).map_or(0, |s| s.rounds)
}

/// Prints how long each phase of a test took (stderr, shown by nextest for failing tests or
/// with `--no-capture`), so slow phases are easy to spot.
#[derive(Debug)]
pub struct Phases {
    test: &'static str,
    start: Instant,
    last: Instant,
}

impl Phases {
    pub fn new(test: &'static str) -> Phases {
        let now = Instant::now();
        Phases {
            test,
            start: now,
            last: now,
        }
    }

    /// Logs the phase that just ended.
    pub fn mark(&mut self, phase: &str) {
        let now = Instant::now();
        eprintln!(
            "[{}] {phase}: {:?} (total {:?})",
            self.test,
            now - self.last,
            now - self.start
        );
        self.last = now;
    }

    pub fn total(&self) -> Duration {
        self.start.elapsed()
    }
}
