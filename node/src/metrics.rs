//! Counters the node keeps about itself, rendered as Prometheus text on `GET /metrics` and as
//! JSON in `status`. Hot-path counters are atomics; labelled ones (rare by nature: rejections,
//! API errors) sit in a small locked map.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The memory allocator this build of the node uses (`fedci_build_info` on `/metrics`):
/// jemalloc by default, glibc's with `--no-default-features` (see `main.rs`).
pub const ALLOCATOR: &str = if cfg!(feature = "jemalloc") {
    "jemalloc"
} else if cfg!(feature = "mimalloc") {
    "mimalloc"
} else {
    "system"
};

#[derive(Debug, Default)]
pub struct Metrics {
    pub events_stored: AtomicU64,
    pub events_duplicate: AtomicU64,
    pub commits: AtomicU64,
    pub commits_durable: AtomicU64,
    pub gossip_early_refused: AtomicU64,
    /// 1 while commits made without an fsync wait for one (a gauge, set by the writer).
    pub store_unsynced: AtomicU64,
    pub commit_events: AtomicU64,
    pub api_requests: AtomicU64,
    /// Index rows query pages looked at (what a query costs, whatever it returned).
    pub query_rows_scanned: AtomicU64,
    /// Events whose confidence propagation through compositions hit its bound (see
    /// `store/writer/promotion.rs`): the promotion index misses part of what they reach.
    pub promotion_capped: AtomicU64,
    /// Root-signed rosters that were stored but could not be applied to the trust history.
    pub rosters_unapplied: AtomicU64,
    /// Socket connections open now (a gauge).
    pub api_connections_open: AtomicU64,
    /// Connections closed at accept because a cap was reached.
    pub api_connections_refused: AtomicU64,
    /// Connections closed because request headers did not arrive in time.
    pub api_header_timeouts: AtomicU64,
    /// Connections closed because no byte moved either way for the idle timeout.
    pub api_idle_timeouts: AtomicU64,
    /// 1 while the store cannot write (a commit failed and no recovery has worked yet).
    pub store_failing: AtomicU64,
    /// Batches whose commit failed, and recovery attempts that failed.
    pub store_write_failures: AtomicU64,
    /// Times the writer closed and reopened the database after an I/O error.
    pub store_reopens: AtomicU64,
    /// Gauge: event ids remembered as refused for what their payload says (see `admit`).
    pub refused_ids: AtomicU64,
    /// Gauge: bytes of sealed catch-up sets the sync responder keeps (see `sync::cache`).
    pub sync_cache_bytes: AtomicU64,
    /// Gauge: the most events of any catch-up set this node built, on either side (bounded
    /// by `sync::protocol::MAX_SPAN_ITEMS`, however large the store).
    pub sync_set_items_max: AtomicU64,
    /// Inbound libp2p connections refused by the connection limits.
    pub connections_refused: AtomicU64,
    /// Peers cut off for a while for sending what fails verification.
    pub peers_banned: AtomicU64,
    /// (source, reason) → count of events refused.
    rejected: Mutex<BTreeMap<(String, String), u64>>,
    /// (status, code) → count of API errors.
    api_errors: Mutex<BTreeMap<(u16, String), u64>>,
    /// Parts of the node (writer, network) that stopped before shutdown (see `supervise`).
    tasks_stopped: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    pub fn reject(&self, source: &str, reason: &str) {
        if let Ok(mut m) = self.rejected.lock() {
            *m.entry((source.to_string(), reason.to_string()))
                .or_default() += 1;
        }
    }

    pub fn api_error(&self, status: u16, code: &str) {
        if let Ok(mut m) = self.api_errors.lock() {
            *m.entry((status, code.to_string())).or_default() += 1;
        }
    }

    /// A part of the node stopped while it was meant to run (the node then exits).
    pub fn task_stopped(&self, task: &'static str) {
        if let Ok(mut m) = self.tasks_stopped.lock() {
            m.insert(task, 1);
        }
    }

    /// Rejections by reason, summed over sources.
    pub fn rejected_by_reason(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        if let Ok(m) = self.rejected.lock() {
            for ((_, reason), n) in m.iter() {
                *out.entry(reason.clone()).or_default() += n;
            }
        }
        out
    }

    /// Prometheus text exposition format.
    pub fn render(&self, gauges: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: &AtomicU64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Relaxed)
            );
        };
        counter(
            &mut out,
            "fedci_events_stored_total",
            "Events newly stored.",
            &self.events_stored,
        );
        counter(
            &mut out,
            "fedci_events_duplicate_total",
            "Events received again and ignored.",
            &self.events_duplicate,
        );
        counter(
            &mut out,
            "fedci_store_commits_total",
            "redb write transactions committed.",
            &self.commits,
        );
        counter(
            &mut out,
            "fedci_store_commits_durable_total",
            "Commits that were fsynced (the others hold only events from peers, made durable by the next fsynced one).",
            &self.commits_durable,
        );
        counter(
            &mut out,
            "fedci_gossip_early_refused_total",
            "Local publishes gossiped on validation that the store's writer then refused (a trust change raced them).",
            &self.gossip_early_refused,
        );
        counter(
            &mut out,
            "fedci_store_commit_events_total",
            "Events written by those commits (batch sizes sum).",
            &self.commit_events,
        );
        counter(
            &mut out,
            "fedci_api_requests_total",
            "Requests served on the local socket.",
            &self.api_requests,
        );
        counter(
            &mut out,
            "fedci_store_query_rows_scanned_total",
            "Index rows looked at by query and stream pages.",
            &self.query_rows_scanned,
        );
        counter(
            &mut out,
            "fedci_promotion_capped_total",
            "Events whose confidence propagation through compositions was cut at its bound.",
            &self.promotion_capped,
        );
        counter(
            &mut out,
            "fedci_rosters_unapplied_total",
            "Rosters stored but not applied to the trust history (logged with the reason).",
            &self.rosters_unapplied,
        );
        counter(
            &mut out,
            "fedci_api_connections_refused_total",
            "Socket connections refused because a connection cap was reached.",
            &self.api_connections_refused,
        );
        counter(
            &mut out,
            "fedci_api_header_timeouts_total",
            "Socket connections closed because request headers did not arrive in time.",
            &self.api_header_timeouts,
        );
        counter(
            &mut out,
            "fedci_api_idle_timeouts_total",
            "Socket connections closed after the idle timeout with no byte moved.",
            &self.api_idle_timeouts,
        );
        let _ = writeln!(
            out,
            "# HELP fedci_api_connections_open Socket connections open now.\n# TYPE fedci_api_connections_open gauge\nfedci_api_connections_open {}",
            self.api_connections_open.load(Relaxed)
        );
        counter(
            &mut out,
            "fedci_store_write_failures_total",
            "Failed commits and failed store recovery attempts.",
            &self.store_write_failures,
        );
        counter(
            &mut out,
            "fedci_store_reopens_total",
            "Times the database was closed and reopened after an I/O error.",
            &self.store_reopens,
        );
        let _ = writeln!(
            out,
            "# HELP fedci_store_failing 1 while the store cannot write (disk full, I/O error); it retries with backoff.\n# TYPE fedci_store_failing gauge\nfedci_store_failing {}",
            self.store_failing.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP fedci_task_stopped 1 when a part of the node (writer, network) stopped before shutdown; the node then exits.\n# TYPE fedci_task_stopped gauge"
        );
        if let Ok(m) = self.tasks_stopped.lock() {
            for (task, n) in m.iter() {
                let _ = writeln!(out, "fedci_task_stopped{{task=\"{task}\"}} {n}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP fedci_events_rejected_total Events refused, by source and reason.\n# TYPE fedci_events_rejected_total counter"
        );
        if let Ok(m) = self.rejected.lock() {
            for ((source, reason), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "fedci_events_rejected_total{{source=\"{source}\",reason=\"{reason}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP fedci_api_errors_total API error responses, by status and code.\n# TYPE fedci_api_errors_total counter"
        );
        if let Ok(m) = self.api_errors.lock() {
            for ((status, code), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "fedci_api_errors_total{{status=\"{status}\",code=\"{code}\"}} {n}"
                );
            }
        }
        counter(
            &mut out,
            "fedci_connections_refused_total",
            "Inbound libp2p connections refused by the connection limits.",
            &self.connections_refused,
        );
        counter(
            &mut out,
            "fedci_peers_banned_total",
            "Peers disconnected and blocked for a while for sending what fails verification.",
            &self.peers_banned,
        );
        let refused = self.refused_ids.load(Relaxed);
        let own = [
            (
                "fedci_refused_ids",
                "Event ids remembered as refused (not fetched again).",
                refused,
            ),
            (
                "fedci_refused_ids_bytes",
                "Memory held by the remembered refused ids (estimate).",
                refused * crate::admit::refused::BYTES_PER_ID as u64,
            ),
        ];
        let own = own.into_iter().chain([
            (
                "fedci_sync_cache_bytes",
                "Bytes of sealed catch-up item sets the sync responder keeps (bounded).",
                self.sync_cache_bytes.load(Relaxed),
            ),
            (
                "fedci_sync_set_items_max",
                "Most events of any catch-up item set built since start (bounded).",
                self.sync_set_items_max.load(Relaxed),
            ),
            (
                "fedci_process_resident_bytes",
                "Resident memory of the node process (from /proc; 0 where unavailable).",
                resident_bytes().unwrap_or(0),
            ),
        ]);
        for (name, help, v) in own.chain(gauges.iter().copied()) {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        let _ = writeln!(
            out,
            "# HELP fedci_build_info The node's version and the memory allocator it was built with.\n# TYPE fedci_build_info gauge\nfedci_build_info{{version=\"{}\",allocator=\"{ALLOCATOR}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        out
    }
}

/// This process's resident set size, from `/proc/self/status` (Linux).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn resident_memory_is_read_and_rendered() {
        let rss = super::resident_bytes().expect("VmRSS in /proc/self/status");
        assert!(rss > 1 << 20, "{rss}");
        let text = super::Metrics::default().render(&[]);
        assert!(text.contains("\nfedci_process_resident_bytes "), "{text}");
        assert!(text.contains("\nfedci_sync_set_items_max 0\n"), "{text}");
    }
}
