//! What a node's store costs per event: the redb file's size on disk against the COSE bytes
//! of the events it holds (issue 16's "store bytes per event" row).

use crate::node::Node;
use fedci_client::Client;
use fedci_proto::EventId;
use serde::Serialize;
use std::path::PathBuf;

/// About how many events' COSE bytes are read to estimate the mean event size.
pub const SAMPLE: u64 = 1000;

/// Which of `events` published events (by publish index) go into the sample: one every
/// `events / SAMPLE`, so the sample spans the whole run.
pub fn sampled(i: u64, events: u64) -> bool {
    i.is_multiple_of((events / SAMPLE).max(1))
}

/// One node's store: file size, events held and what they weigh.
#[derive(Debug, Clone, Serialize)]
pub struct StoreSize {
    /// Size of `store.redb` in bytes while the node runs (the file's length, not pages used).
    pub file_bytes: u64,
    /// The same after a clean stop, when measured.
    pub file_bytes_stopped: Option<u64>,
    /// Events the node holds (`status.events`).
    pub events: u64,
    /// Events whose COSE_Sign1 bytes (`GET /v1/events/{id}`, `Accept: application/cose`)
    /// were read: every (N / 1000)th of the N published, by publish order.
    pub sampled: u64,
    /// Mean COSE_Sign1 size of the sampled events.
    pub mean_cose_bytes: f64,
    /// `file_bytes / events`.
    pub file_bytes_per_event: f64,
    /// `file_bytes / (events * mean_cose_bytes)`: 1.0 would be the events' own bytes only.
    pub ratio: f64,
    /// The same ratio of `file_bytes_stopped`.
    pub ratio_stopped: Option<f64>,
    /// Disk space the file takes after the stop (its allocated blocks, what `du` shows): redb
    /// grows a file by doubling its length with `set_len`, and the part never written stays a
    /// hole that takes no space.
    pub disk_bytes_stopped: Option<u64>,
    /// `disk_bytes_stopped / (events * mean_cose_bytes)`.
    pub disk_ratio_stopped: Option<f64>,
}

/// The store's path under a node's home (`Home::store_path` in fedci-node).
pub fn store_file(node: &Node) -> PathBuf {
    node.home.join("store.redb")
}

/// Measures a running node's store: its file size, its event count, and the mean COSE size of
/// the events `sample` names as this node stored them.
pub async fn measure(node: &Node, sample: &[EventId]) -> anyhow::Result<StoreSize> {
    let client = Client::new(node.socket());
    let events =
        client.status().await?.events.ok_or_else(|| {
            anyhow::anyhow!("{}: the store's event count is unreadable", node.name)
        })?;
    let file_bytes = std::fs::metadata(store_file(node))?.len();
    let mut cose_bytes = 0u64;
    for id in sample {
        cose_bytes += client.event_cose(&id.to_string()).await?.len() as u64;
    }
    let sampled = sample.len() as u64;
    anyhow::ensure!(
        sampled > 0 && events > 0,
        "{}: no events to measure the store by",
        node.name
    );
    let mean_cose_bytes = cose_bytes as f64 / sampled as f64;
    Ok(StoreSize {
        file_bytes,
        file_bytes_stopped: None,
        events,
        sampled,
        mean_cose_bytes,
        file_bytes_per_event: file_bytes as f64 / events as f64,
        ratio: file_bytes as f64 / (events as f64 * mean_cose_bytes),
        ratio_stopped: None,
        disk_bytes_stopped: None,
        disk_ratio_stopped: None,
    })
}

/// Records the file's size after the node stopped: redb trims the file on close (a joiner's
/// store of 1M events went from 2.95 GB running to 1.54 GB stopped).
pub fn record_stopped(size: &mut StoreSize, node: &Node) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(store_file(node))?;
    let events_bytes = size.events as f64 * size.mean_cose_bytes;
    size.file_bytes_stopped = Some(meta.len());
    size.ratio_stopped = Some(meta.len() as f64 / events_bytes);
    // st_blocks counts 512-byte units whatever the file system's block size.
    let disk = meta.blocks() * 512;
    size.disk_bytes_stopped = Some(disk);
    size.disk_ratio_stopped = Some(disk as f64 / events_bytes);
    Ok(())
}
