//! `GET /v1/trace/{id}` as JSON: the link graph around an event, across communities.

use fedci_proto::EventId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
    Both,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Both => "both",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceGraph {
    pub root: EventId,
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
    /// True when the node cap cut the walk short.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphNode {
    pub id: EventId,
    /// None when the event is linked to but not held here (a dangling link).
    pub kind: Option<String>,
    pub community: Option<String>,
    pub time: Option<u64>,
    /// A short human label from the event's data (name, identity, value, …).
    pub label: String,
    /// Distance from the traced event (negative = upstream).
    pub depth: i64,
    /// The signing key (hex) whose signature was verified when the event was stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Whether the current trust still authorises the event (None when not held here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted: Option<bool>,
    /// Why it is not trusted any more (revoked key, re-pinned root, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub untrusted_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GraphEdge {
    /// The event that carries the link.
    pub from: EventId,
    /// The event it points at.
    pub to: EventId,
    pub rel: String,
}
