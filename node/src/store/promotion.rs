//! Promotion and reproducibility reads over the index the writer keeps
//! (`writer/promotion.rs`): artifacts picked by the confidence in force, and the manifest of
//! a composition.
//!
//! The confidence in force for a name is the newest (by event time, then id) confidence of
//! that name reaching the artifact whose event the trust of now still vouches for: a revoked
//! issuer's stamp does not count, and the one before it is in force again. Only the
//! artifact's own index rows are looked at, so the cost of a read does not grow with the
//! store; every walk is bounded.

use super::index::Rows;
use super::read::SCAN_BUDGET;
use super::schema::*;
use super::{Store, StoreError};
use fedci_client::types::promotion::{
    ArtifactList, ArtifactView, CompositionManifest, ConfidenceView, LocationView, Manifest,
    ManifestElement,
};
use fedci_keys::TrustStore;
use fedci_proto::vocab::Kind;
use fedci_proto::{Event, EventId, cbor};
use redb::{ReadTransaction, ReadableTable};
use std::collections::BTreeMap;
use std::ops::Bound;

/// Most index rows read for one artifact's confidences (a hostile flood of stamps on one
/// artifact costs a bounded read).
const MAX_REACH_ROWS: usize = 10_000;
/// Most confidence names shown per artifact or composition.
const MAX_NAMES: usize = 64;
/// Most publications read per artifact.
const MAX_PUBLICATIONS: usize = 16;
/// Most elements one manifest lists, all levels together.
const MAX_MANIFEST_ENTRIES: usize = 10_000;
/// Deepest nesting of compositions a manifest follows.
const MAX_MANIFEST_DEPTH: usize = 32;

/// What `GET /v1/artifacts` filters on; every given condition must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArtifactFilter {
    /// The community that signed the artifact.
    pub community: Option<String>,
    /// A prefix of the artifact's identity (purl).
    pub identity_prefix: Option<String>,
    pub branch: Option<String>,
    /// (name, value) pairs that must each be in force.
    pub confidences: Vec<(String, String)>,
    /// Only confidences issued by this community count (their `issuer` field, or the signing
    /// community when they have none); without `confidences`, the artifact needs at least one.
    pub issuer: Option<String>,
}

/// What a manifest request found.
#[derive(Debug, Clone)]
pub enum ManifestLookup {
    Found(Manifest),
    /// Not held, or held but no longer vouched for.
    NotHeld,
    /// Held, of this other kind.
    NotComposition(String),
}

impl Store {
    /// Matching artifacts, newest first: at most `limit`, and past the first one at most
    /// `max_bytes` of JSON.
    pub fn artifacts(
        &self,
        f: &ArtifactFilter,
        limit: usize,
        max_bytes: usize,
    ) -> Result<ArtifactList, StoreError> {
        let r = self.begin_read()?;
        let trust = self.trust();
        let view = Reader::open(&r, &trust)?;
        let mut out = Vec::new();
        let mut scanned = 0usize;
        let mut bytes = 0usize;
        let mut complete = true;
        let mut visit = |held: Option<Event>| -> Result<bool, StoreError> {
            scanned += 1;
            let trusted = held.filter(|e| trust.authorise(e).is_ok());
            if let Some(a) = view.matching_artifact(trusted, f)? {
                bytes = bytes.saturating_add(json_size(&a));
                if !out.is_empty() && bytes > max_bytes {
                    complete = false;
                    return Ok(false);
                }
                out.push(a);
            }
            if out.len() >= limit {
                return Ok(false);
            }
            if scanned >= SCAN_BUDGET {
                complete = false;
                return Ok(false);
            }
            Ok(true)
        };
        match f.confidences.first() {
            Some((name, value)) => {
                let t = r.open_table(ARTIFACTS_BY_CONF)?;
                let lo = (name.as_str(), value.as_str(), 0u64, &[0u8; 32]);
                let hi = (name.as_str(), value.as_str(), u64::MAX, &[0xffu8; 32]);
                for item in t.range(lo..=hi)?.rev() {
                    if !visit(view.held(item?.0.value().3)?)? {
                        break;
                    }
                }
            }
            None => {
                let t = r.open_table(ARTIFACTS_BY_TIME)?;
                for item in t.iter()?.rev() {
                    let seq = item?.0.value().1;
                    if !visit(Some(view.rows.indexed(seq)?.event()?))? {
                        break;
                    }
                }
            }
        }
        self.metrics()
            .query_rows_scanned
            .fetch_add(scanned as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(ArtifactList {
            artifacts: out,
            complete,
        })
    }

    /// The manifest of a composition: its elements, recursively, each with what rebuilding
    /// it needs, within `max_bytes` of JSON (past it, elements are listed as truncated). The
    /// same store state gives the same manifest.
    pub fn manifest(&self, id: &EventId, max_bytes: usize) -> Result<ManifestLookup, StoreError> {
        let r = self.begin_read()?;
        let trust = self.trust();
        let view = Reader::open(&r, &trust)?;
        let Some(event) = view.trusted(&id.0)? else {
            return Ok(ManifestLookup::NotHeld);
        };
        if event.kind() != Kind::CompositionDefined.as_str() {
            return Ok(ManifestLookup::NotComposition(event.kind().to_string()));
        }
        let mut walk = Walk {
            view,
            entries: 0,
            bytes: 0,
            max_bytes,
            complete: true,
            seen: std::collections::BTreeSet::from([id.0]),
        };
        let composition = walk.composition(&event, 0)?;
        Ok(ManifestLookup::Found(Manifest {
            composition,
            complete: walk.complete,
        }))
    }
}

/// Reads of one snapshot, judged by one trust.
struct Reader<'a> {
    r: &'a ReadTransaction,
    rows: Rows,
    trust: &'a TrustStore,
}

impl<'a> Reader<'a> {
    fn open(r: &'a ReadTransaction, trust: &'a TrustStore) -> Result<Self, StoreError> {
        Ok(Reader {
            r,
            rows: Rows::open(r)?,
            trust,
        })
    }

    /// A held event the trust of now vouches for.
    fn trusted(&self, id: &Id) -> Result<Option<Event>, StoreError> {
        Ok(self.held(id)?.filter(|e| self.trust.authorise(e).is_ok()))
    }

    fn held(&self, id: &Id) -> Result<Option<Event>, StoreError> {
        match self.rows.find(id)? {
            Some((_, row)) => row.event().map(Some),
            None => Ok(None),
        }
    }

    /// The view of `event` (a held event the trust of now vouches for) if it is an artifact
    /// that `f` matches.
    fn matching_artifact(
        &self,
        event: Option<Event>,
        f: &ArtifactFilter,
    ) -> Result<Option<ArtifactView>, StoreError> {
        let Some(event) = event else {
            return Ok(None);
        };
        let id = &event.id().0;
        let body = event.body();
        let text = |k: &str| body.data_str(k);
        let wanted = |want: &Option<String>, got: Option<&str>| {
            want.as_deref().is_none_or(|w| got == Some(w))
        };
        if event.kind() != Kind::ArtifactCreated.as_str()
            || !wanted(&f.community, Some(event.community()))
            || !wanted(&f.branch, text("branch"))
            || f.identity_prefix
                .as_deref()
                .is_some_and(|p| !text("identity").unwrap_or("").starts_with(p))
        {
            return Ok(None);
        }
        let confidences = self.in_force(id, f.issuer.as_deref())?;
        let holds =
            |(n, v): &(String, String)| confidences.iter().any(|c| &c.name == n && &c.value == v);
        if !f.confidences.iter().all(holds)
            || (f.issuer.is_some() && f.confidences.is_empty() && confidences.is_empty())
        {
            return Ok(None);
        }
        Ok(Some(self.artifact_view(&event, confidences)?))
    }

    fn artifact_view(
        &self,
        event: &Event,
        confidences: Vec<ConfidenceView>,
    ) -> Result<ArtifactView, StoreError> {
        let body = event.body();
        let text = |k: &str| body.data_str(k).map(str::to_string);
        Ok(ArtifactView {
            id: event.id().to_hex(),
            community: event.community().to_string(),
            time: body.time,
            identity: text("identity").unwrap_or_default(),
            name: text("name"),
            version: text("version"),
            digest: text("digest"),
            branch: text("branch"),
            build_url: text("build_url"),
            confidences,
            locations: self.locations(&event.id().0)?,
        })
    }

    /// The confidences in force on `id`, one per name, sorted by name.
    fn in_force(&self, id: &Id, issuer: Option<&str>) -> Result<Vec<ConfidenceView>, StoreError> {
        let t = self.r.open_table(CONF_REACH)?;
        let lo = Bound::Included((id, "", 0u64, &[0u8; 32]));
        let next = successor(id);
        let hi = match &next {
            Some(n) => Bound::Excluded((n, "", 0u64, &[0u8; 32])),
            None => Bound::Unbounded,
        };
        let mut decided: BTreeMap<String, Option<ConfidenceView>> = BTreeMap::new();
        // Newest first within each name: the first one trusted is in force.
        for item in t.range((lo, hi))?.rev().take(MAX_REACH_ROWS) {
            let (k, v) = item?;
            let (_, name, time, conf_id) = k.value();
            if decided.contains_key(name) {
                continue;
            }
            let Some(conf) = self.trusted(conf_id)? else {
                continue;
            };
            let body = conf.body();
            let conf_issuer = body.data_str("issuer");
            if issuer.is_some_and(|i| conf_issuer.unwrap_or(conf.community()) != i) {
                continue;
            }
            let view = ConfidenceView {
                name: name.to_string(),
                value: v.value().to_string(),
                issuer: conf_issuer.map(str::to_string),
                community: conf.community().to_string(),
                id: hex::encode(conf_id),
                time,
            };
            decided.insert(name.to_string(), Some(view));
            if decided.len() >= MAX_NAMES {
                break;
            }
        }
        Ok(decided.into_values().flatten().collect())
    }

    /// Where an artifact was published, oldest publication first.
    fn locations(&self, id: &Id) -> Result<Vec<LocationView>, StoreError> {
        let t = self.r.open_table(LOCATIONS)?;
        let mut out = Vec::new();
        for item in t
            .range((id, 0u64, &[0u8; 32])..=(id, u64::MAX, &[0xffu8; 32]))?
            .take(MAX_PUBLICATIONS)
        {
            let pub_id = *item?.0.value().2;
            let Some(published) = self.trusted(&pub_id)? else {
                continue;
            };
            let body = published.body();
            let items = cbor::map_get(body.data_map(), "locations").and_then(|v| v.as_array());
            for loc in items.into_iter().flatten() {
                let Some(m) = loc.as_map() else { continue };
                let field = |k: &str| cbor::map_get(m, k).and_then(|v| v.as_text());
                if let Some(uri) = field("uri") {
                    out.push(LocationView {
                        kind: field("type").unwrap_or("").to_string(),
                        uri: uri.to_string(),
                        published: hex::encode(pub_id),
                    });
                }
            }
        }
        Ok(out)
    }
}

/// The size of a value's JSON (what bounds an answer in bytes).
fn json_size<T: serde::Serialize>(v: &T) -> usize {
    serde_json::to_vec(v).map_or(usize::MAX, |b| b.len())
}

/// The id just after `id` in byte order (None after the last one).
fn successor(id: &Id) -> Option<Id> {
    let mut next = *id;
    for b in next.iter_mut().rev() {
        if *b == 0xff {
            *b = 0;
        } else {
            *b += 1;
            return Some(next);
        }
    }
    None
}

/// A manifest being built: depth-first over ELEMENT links in the order each composition
/// lists them, each composition expanded once.
struct Walk<'a> {
    view: Reader<'a>,
    entries: usize,
    /// JSON bytes of the artifacts listed so far.
    bytes: usize,
    max_bytes: usize,
    complete: bool,
    seen: std::collections::BTreeSet<Id>,
}

impl Walk<'_> {
    fn composition(
        &mut self,
        event: &Event,
        depth: usize,
    ) -> Result<CompositionManifest, StoreError> {
        let body = event.body();
        let text = |k: &str| body.data_str(k).map(str::to_string);
        let mut elements = Vec::new();
        for link in body.links.iter().filter(|l| l.rel == "ELEMENT") {
            elements.push(self.element(&link.target.0, depth)?);
        }
        Ok(CompositionManifest {
            id: event.id().to_hex(),
            community: event.community().to_string(),
            time: body.time,
            name: text("name").unwrap_or_default(),
            version: text("version"),
            scenario: text("scenario"),
            metadata_url: text("metadata_url"),
            confidences: self.view.in_force(&event.id().0, None)?,
            elements,
        })
    }

    fn element(&mut self, id: &Id, depth: usize) -> Result<ManifestElement, StoreError> {
        let hex_id = hex::encode(id);
        if self.entries >= MAX_MANIFEST_ENTRIES
            || depth >= MAX_MANIFEST_DEPTH
            || self.bytes > self.max_bytes
        {
            self.complete = false;
            return Ok(ManifestElement::Truncated { id: hex_id });
        }
        self.entries += 1;
        let Some(event) = self.view.held(id)? else {
            return Ok(ManifestElement::Dangling { id: hex_id });
        };
        if self.view.trust.authorise(&event).is_err() {
            return Ok(ManifestElement::Untrusted { id: hex_id });
        }
        match Kind::parse(event.kind()) {
            Some(Kind::ArtifactCreated) => {
                let confidences = self.view.in_force(id, None)?;
                let view = self.view.artifact_view(&event, confidences)?;
                self.bytes = self.bytes.saturating_add(json_size(&view));
                Ok(ManifestElement::Artifact(view))
            }
            Some(Kind::CompositionDefined) => {
                if !self.seen.insert(*id) {
                    return Ok(ManifestElement::Repeated { id: hex_id });
                }
                Ok(ManifestElement::Composition(
                    self.composition(&event, depth + 1)?,
                ))
            }
            _ => Ok(ManifestElement::Other {
                id: hex_id,
                kind: event.kind().to_string(),
            }),
        }
    }
}
