//! Human output of the CLI: the tables printed from the node's typed answers
//! (`fedci_client::types`). Times are shown as RFC 3339 (UTC, seconds).

use fedci_client::types::{
    NetworkStatus as Network, PeerList, RosterKeys, RosterSummary, Status, StoreState, Trust,
};
use std::fmt::Write as _;

/// Columns padded to their widest cell, two spaces apart; the last column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let head: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&head).chain(rows) {
        let last = row.len().saturating_sub(1);
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i == last {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Milliseconds since the epoch as RFC 3339 (UTC, whole seconds).
pub fn time(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_seconds(t).to_string()
}

pub fn peers(list: &PeerList) -> String {
    if list.peers.is_empty() {
        return "no peers remembered or configured (add one with `fedci-node peer add MULTIADDR`)\n"
            .into();
    }
    let rows: Vec<Vec<String>> = list
        .peers
        .iter()
        .map(|p| {
            let source = match (p.remembered, p.configured) {
                (true, true) => "remembered+config",
                (true, false) => "remembered",
                _ => "config",
            };
            let connected = match p.connected {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            };
            vec![source.into(), connected.into(), p.addr.clone()]
        })
        .collect();
    table(&["SOURCE", "CONNECTED", "ADDRESS"], &rows)
}

fn or_dash(v: Option<u64>) -> String {
    v.map_or("-".into(), |n| n.to_string())
}

/// The roster column: `serial 3, 2 keys`, or that none arrived yet.
fn roster_cell(roster: Option<&RosterSummary>) -> (String, String) {
    match roster {
        Some(r) => {
            let keys = match &r.keys {
                RosterKeys::Count(n) => *n,
                RosterKeys::Entries(e) => e.len(),
            };
            (r.serial.to_string(), keys.to_string())
        }
        None => ("none yet".into(), "-".into()),
    }
}

/// `trust list`: one row per pinned community.
pub fn trust(t: &Trust) -> String {
    if t.pins.is_empty() {
        return "no community pinned (pin one with `fedci-node trust add COMMUNITY @root.pub`)\n"
            .into();
    }
    let rows: Vec<Vec<String>> = t
        .pins
        .iter()
        .map(|p| {
            let (serial, keys) = roster_cell(p.roster.as_ref());
            vec![p.community.clone(), serial, keys, p.root.clone()]
        })
        .collect();
    table(&["COMMUNITY", "ROSTER", "KEYS", "ROOT KEY"], &rows)
}

/// `status` without `--json`.
pub fn status(s: &Status) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| {
        let _ = writeln!(out, "{k:<12}{v}");
    };
    line("community", s.community.clone());
    line("node key", s.node_key.clone());
    line("root key", s.root_key.clone().unwrap_or_else(|| "-".into()));
    line("version", format!("{} (up {}s)", s.version, s.uptime_s));
    line(
        "events",
        format!(
            "{} (last arrival {}, {} dangling link targets)",
            or_dash(s.events),
            s.last_arrival,
            or_dash(s.dangling_link_targets)
        ),
    );
    match s.store.state {
        StoreState::Ok => line("store", "ok".into()),
        StoreState::Failing => line(
            "store",
            format!(
                "FAILING since {}: {} (retry {}; publishes are refused until it recovers)",
                s.store.since_ms.map_or("-".into(), time),
                s.store.error.as_deref().unwrap_or("unknown error"),
                or_dash(s.store.retries)
            ),
        ),
    }
    if let Some(n) = s.untrusted_events.filter(|n| *n > 0) {
        line(
            "untrusted",
            format!(
                "{n} stored event(s) no longer authorised (revoked key or re-pinned root): not served in queries or streams"
            ),
        );
    }
    let mut section = |title: &str, body: String| {
        let _ = write!(out, "\n{title}\n{body}");
    };
    let pins: Vec<Vec<String>> = s
        .pins
        .iter()
        .map(|p| {
            let (serial, keys) = roster_cell(p.roster.as_ref());
            vec![p.community.clone(), serial, keys]
        })
        .collect();
    section(
        "trusts",
        indent(&table(&["COMMUNITY", "ROSTER", "KEYS"], &pins)),
    );
    if !s.consumers.is_empty() {
        let rows: Vec<Vec<String>> = s
            .consumers
            .iter()
            .map(|(name, at)| vec![name.clone(), at.to_string()])
            .collect();
        section("consumers", indent(&table(&["NAME", "AT ARRIVAL"], &rows)));
    }
    if !s.rejected.is_empty() {
        let rows: Vec<Vec<String>> = s
            .rejected
            .iter()
            .map(|(why, n)| vec![why.clone(), n.to_string()])
            .collect();
        section("rejected", indent(&table(&["REASON", "COUNT"], &rows)));
    }
    match &s.network {
        None => section("network", "  off (no listen address)\n".into()),
        Some(n) => section("network", network(n)),
    }
    out
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

fn network(n: &Network) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "  peer id   {}", n.peer_id);
    for addr in &n.listen {
        let _ = writeln!(out, "  listen    {addr}");
    }
    let _ = writeln!(out, "  topics    {}", n.topics.join(" "));
    let g = &n.gossip;
    let _ = writeln!(
        out,
        "  gossip    {} published, {} accepted, {} rejected, {} ignored",
        g.published, g.accepted, g.rejected, g.ignored
    );
    if n.peers.is_empty() {
        out.push_str("  no peer connected\n");
    } else {
        let rows: Vec<Vec<String>> = n
            .peers
            .iter()
            .map(|p| {
                let (rounds, last, stored) = match &p.sync {
                    Some(s) if s.rounds > 0 => (
                        s.rounds.to_string(),
                        time(s.last_round_at_ms),
                        s.events_stored.to_string(),
                    ),
                    _ => ("0".into(), "-".into(), "0".into()),
                };
                vec![
                    p.peer_id.clone(),
                    p.score.map_or("-".into(), |s| format!("{s:.1}")),
                    p.rejected.to_string(),
                    rounds,
                    stored,
                    last,
                ]
            })
            .collect();
        out.push_str(&indent(&table(
            &[
                "PEER",
                "SCORE",
                "REJECTED",
                "SYNCS",
                "SYNCED IN",
                "LAST SYNC",
            ],
            &rows,
        )));
    }
    for p in &n.blocked {
        let _ = writeln!(out, "  blocked   {p}");
    }
    for b in &n.banned {
        let _ = writeln!(out, "  banned    {} ({} s left)", b.peer_id, b.secs_left);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_table_names_source_and_connection() {
        let list: PeerList = serde_json::from_str(
            r#"{"peers": [
                {"addr": "/ip4/127.0.0.1/tcp/1/p2p/A", "peer_id": "A", "remembered": true, "configured": false, "connected": true},
                {"addr": "/ip4/10.0.0.1/tcp/4001/p2p/B", "peer_id": "B", "remembered": false, "configured": true, "connected": false}
            ]}"#,
        )
        .unwrap();
        let out = peers(&list);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "SOURCE      CONNECTED  ADDRESS");
        assert_eq!(
            lines[1],
            "remembered  yes        /ip4/127.0.0.1/tcp/1/p2p/A"
        );
        assert_eq!(
            lines[2],
            "config      no         /ip4/10.0.0.1/tcp/4001/p2p/B"
        );
        assert!(peers(&PeerList { peers: vec![] }).contains("peer add"));
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(time(0), "1970-01-01T00:00:00Z");
        assert_eq!(time(1_764_000_000_123), "2025-11-24T16:00:00Z");
    }

    fn sample_status(network: &str, store: &str) -> Status {
        serde_json::from_str(&format!(
            r#"{{"community": "odl", "node_key": "ab", "root_key": "cd", "version": "0.1.0",
                "uptime_s": 5, "events": 3, "untrusted_events": 0, "last_arrival": 3,
                "dangling_link_targets": 0, "topic_events": {{}}, "consumers": {{"ci": 2}},
                "pins": [{{"community": "odl", "root": "cd", "roster": {{"serial": 1, "id": "{id}", "keys": 1}}}},
                         {{"community": "opnfv", "root": "ef", "roster": null}}],
                "rejected": {{}}, "store": {store}{network}}}"#,
            id = "00".repeat(32)
        ))
        .unwrap()
    }

    #[test]
    fn status_is_a_readable_table_with_rfc3339_times() {
        let net = r#", "network": {"peer_id": "12D3KooWme", "listen": ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWme"],
            "peers": [{"peer_id": "12D3KooWthem", "score": 0.5, "rejected": 0,
                       "sync": {"rounds": 2, "running": false, "last_round_at_ms": 1764000000000,
                                "last_round": null, "bytes_sent": 1, "bytes_received": 2, "events_stored": 7}}],
            "topics": ["fedci/1/odl/artifact"], "blocked": [], "banned": [], "inbound_connections": 1,
            "refused_ids": 0, "gossip": {"accepted": 1, "rejected": 0, "ignored": 0, "published": 4, "published_without_peers": 0}}"#;
        let out = status(&sample_status(net, r#"{"state": "ok"}"#));
        assert!(out.contains("community   odl\n"), "{out}");
        assert!(out.contains("store       ok\n"), "{out}");
        assert!(out.contains("  odl        1         1\n"), "{out}");
        assert!(out.contains("  opnfv      none yet  -\n"), "{out}");
        assert!(out.contains("  ci    2\n"), "{out}");
        assert!(
            out.contains("12D3KooWthem  0.5    0         2      7          2025-11-24T16:00:00Z"),
            "{out}"
        );
        assert!(
            !out.contains("null") && !out.contains('{'),
            "no JSON in human output:\n{out}"
        );
        assert!(out.lines().all(|l| l.len() < 120), "{out}");
    }

    #[test]
    fn status_says_store_failing_and_network_off() {
        let out = status(&sample_status(
            "",
            r#"{"state": "failing", "error": "disk full", "since_ms": 0, "retries": 3}"#,
        ));
        assert!(
            out.contains("store       FAILING since 1970-01-01T00:00:00Z: disk full (retry 3;"),
            "{out}"
        );
        assert!(out.contains("network\n  off"), "{out}");
    }

    #[test]
    fn trust_list_has_no_null_serials() {
        let key = |k: &str| serde_json::json!({"key": k, "kinds": ["*"], "not_before": null, "not_after": null});
        let t: Trust = serde_json::from_value(serde_json::json!({"pins": [
            {"community": "odl", "root": "cd",
             "roster": {"serial": 2, "id": "00".repeat(32), "keys": [key("k"), key("l")]}},
            {"community": "opnfv", "root": "ef", "roster": null}]}))
        .unwrap();
        let out = trust(&t);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "COMMUNITY  ROSTER    KEYS  ROOT KEY");
        assert_eq!(lines[1], "odl        2         2     cd");
        assert_eq!(lines[2], "opnfv      none yet  -     ef");
        assert!(!out.contains("null"));
    }
}
