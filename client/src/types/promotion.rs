//! The wire types of promotion and reproducibility: `GET /v1/artifacts` and
//! `GET /v1/compositions/{id}/manifest`. The node's handlers answer with them and the CLI reads
//! them back; they depend on serde only, so every client can share them.

use serde::{Deserialize, Serialize};

/// `GET /v1/artifacts`: matching artifacts, newest first (by event time, then id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactList {
    pub artifacts: Vec<ArtifactView>,
    /// False when the answer stopped at its scan budget before looking at every candidate:
    /// narrow the filter (older matches may exist).
    pub complete: bool,
}

/// An `artifact.created` event with what makes it usable: where to fetch it and the
/// confidence it earned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactView {
    /// The `artifact.created` event's id (64 hex).
    pub id: String,
    /// The community that signed it.
    pub community: String,
    /// The event's time (ms since the epoch, author's clock).
    pub time: u64,
    /// The package URL (purl).
    pub identity: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_url: Option<String>,
    /// Confidences in force, one per name, by name.
    pub confidences: Vec<ConfidenceView>,
    /// Where to download it, from the `artifact.published` events linking to it (oldest
    /// publication first).
    pub locations: Vec<LocationView>,
}

/// The confidence in force for one name: the newest `confidence.modified` of that name (by
/// event time, then id) that has the artifact as SUBJECT or a composition holding it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfidenceView {
    pub name: String,
    /// `SUCCESS`, `FAILURE` or `INCONCLUSIVE`.
    pub value: String,
    /// The event's `issuer` field, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The community that signed the confidence event.
    pub community: String,
    /// The `confidence.modified` event's id.
    pub id: String,
    /// Its time (ms since the epoch).
    pub time: u64,
}

/// One download location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationView {
    #[serde(rename = "type")]
    pub kind: String,
    pub uri: String,
    /// The `artifact.published` event that gave it.
    pub published: String,
}

/// `GET /v1/compositions/{id}/manifest`: what a baseline is made of, recursively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub composition: CompositionManifest,
    /// False when the walk stopped at its bound (too many entries or too deep).
    pub complete: bool,
}

/// A `composition.defined` event and its elements, in the order its ELEMENT links list them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompositionManifest {
    pub id: String,
    pub community: String,
    pub time: u64,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_url: Option<String>,
    /// Confidences in force on the composition itself (directly, or through a composition
    /// holding it).
    pub confidences: Vec<ConfidenceView>,
    pub elements: Vec<ManifestElement>,
}

/// One ELEMENT of a composition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ManifestElement {
    Artifact(ArtifactView),
    Composition(CompositionManifest),
    /// A composition already listed higher up or earlier in this manifest.
    Repeated {
        id: String,
    },
    /// An element this node does not hold (yet).
    Dangling {
        id: String,
    },
    /// Held, but the trust of now does not vouch for it (e.g. its key was revoked).
    Untrusted {
        id: String,
    },
    /// Held, but of a kind that is neither an artifact nor a composition.
    Other {
        id: String,
        kind: String,
    },
    /// Left out: the manifest reached its size or depth bound.
    Truncated {
        id: String,
    },
}
