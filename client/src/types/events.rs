//! Publishing, reading and listing events: `POST /v1/events`, `POST /v1/events/raw`,
//! `GET /v1/events/{id}`, `GET /v1/events` and the lines of `GET /v1/stream`.

use fedci_proto::EventId;
use fedci_proto::json::EventJson;
use serde::{Deserialize, Serialize};

/// `POST /v1/events`: what a CI job sends; the node signs it with its node key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    pub kind: String,
    #[serde(default = "empty_object")]
    pub data: serde_json::Value,
    #[serde(default)]
    pub links: Vec<LinkRequest>,
}

/// One link of a [`PublishRequest`]; the target stays text so the node can answer a bad id
/// with its own error (400 `bad_link_target`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    pub rel: String,
    pub target: String,
}

fn empty_object() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// The answer to a publish: 201 with `stored`, 200 with `duplicate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    pub id: EventId,
    /// Its position on this node (None only if a duplicate vanished meanwhile).
    pub arrival: Option<u64>,
    pub status: PublishStatus,
    /// Link targets this node did not hold when the event was stored (local publish only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dangling: Vec<EventId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PublishStatus {
    Stored,
    Duplicate,
}

/// An event as the API shows it: the event JSON plus its arrival seq on this node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventItem {
    /// The node-local position of the event (what cursors and `after=` count).
    pub arrival: u64,
    #[serde(flatten)]
    pub event: EventJson,
    /// Set on single-event answers: this node's clock (ms) when it stored the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrived_at: Option<u64>,
    /// Set on single-event answers: whether the trust of now still authorises the event.
    /// Lists and streams carry only events that it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted: Option<bool>,
    /// Why not, when `trusted` is false (revoked key, re-pinned root, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub untrusted_reason: Option<UntrustedReason>,
}

/// The trust verdict of a stored event that is no longer authorised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UntrustedReason {
    pub code: String,
    pub message: String,
}

/// A page of `GET /v1/events`: items in arrival order, and where to continue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T = EventItem> {
    pub events: Vec<T>,
    /// Pass as `after=` for the next page.
    pub next_after: u64,
    /// False when a bound (count, bytes, rows scanned) ended the page early.
    pub complete: bool,
}

/// The interop formats an event can be read in (`?format=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Cdevents,
    Cloudevents,
    Eiffel,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Cdevents => "cdevents",
            Format::Cloudevents => "cloudevents",
            Format::Eiffel => "eiffel",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cdevents" => Ok(Format::Cdevents),
            "cloudevents" => Ok(Format::Cloudevents),
            "eiffel" => Ok(Format::Eiffel),
            other => Err(format!(
                "unknown format {other:?} (cdevents, cloudevents, eiffel)"
            )),
        }
    }
}

/// An item of a list or stream in an interop format: `{"arrival", "<format>": document}`,
/// the document `null` when the format has no rendering of the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormatItem {
    pub arrival: u64,
    #[serde(flatten)]
    pub document: std::collections::BTreeMap<String, serde_json::Value>,
}
