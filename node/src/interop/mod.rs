//! Interop with the CD Foundation's formats: CDEvents (in and out) and the CloudEvents
//! envelope around them. Pure conversions: the socket handlers and the CLI call them.
//!
//! An imported CDEvent keeps its original JSON text in the fedci event's data (`cdevent`), so
//! exporting it again yields the same document; native fedci events are built into CDEvents
//! with the fedci id and signature in `customData`.

pub mod cdevents;
pub mod cloudevents;
pub mod eiffel;

/// Why a document cannot be imported. Every variant is the sender's fault (a 4xx).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("not a CloudEvent: {0}")]
    NotCloudEvent(String),
    #[error("unsupported CloudEvents specversion {0:?} (only 1.0)")]
    CloudEventsVersion(String),
    #[error("unsupported CDEvents specversion {0:?} (0.5.x or 0.4.x)")]
    CdeventsVersion(String),
    #[error("invalid CDEvent: {0}")]
    BadCdevent(String),
    #[error("invalid JSON: {0}")]
    BadJson(String),
    #[error("unsupported content type {0:?}")]
    MediaType(String),
}

impl ImportError {
    pub fn code(&self) -> &'static str {
        match self {
            ImportError::NotCloudEvent(_) => "not_a_cloudevent",
            ImportError::CloudEventsVersion(_) => "cloudevents_version",
            ImportError::CdeventsVersion(_) => "cdevents_version",
            ImportError::BadCdevent(_) => "bad_cdevent",
            ImportError::BadJson(_) => "bad_json",
            ImportError::MediaType(_) => "unsupported_media_type",
        }
    }
}

/// Export formats besides fedci's own JSON (part of the API contract: `?format=`).
pub use fedci_client::types::Format;
