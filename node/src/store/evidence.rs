//! Stored events judged against the trust of now, and evidence bundles.
//!
//! Events are judged once at ingest, but trust changes later (a key revoked since some time, a
//! root re-pinned), so readers judge again: [`Store::untrusted_count`] is what `status`
//! reports, computed once per trust version. [`Store::bundle`] gathers what an offline
//! verifier needs for a trace: each event's exact bytes and every roster of each community
//! involved, oldest serial first (roots are the verifier's to bring).

use super::index::Rows;
use super::read::load;
use super::trace::Direction;
use super::{Store, StoreError};
use fedci_proto::EventId;
use redb::ReadableTable;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Largest bundle one export builds (held twice in memory while it is answered).
pub const MAX_EXPORT_BYTES: usize = 32 << 20;

/// Why a bundle could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the bundle would exceed {MAX_EXPORT_BYTES} bytes: export with a smaller --depth")]
    TooLarge,
}

impl Store {
    /// How many stored events the current trust no longer authorises. Scans the store once
    /// per trust version (trust changes are rare; between them the answer cannot change,
    /// since ingest admits only what the trust of the moment authorises).
    pub fn untrusted_count(&self) -> Result<u64, StoreError> {
        let trust = self.trust();
        if let Ok(cache) = self.inner.untrusted.lock()
            && let Some((t, n)) = cache.as_ref()
            && Arc::ptr_eq(t, &trust)
        {
            return Ok(*n);
        }
        let r = self.begin_read()?;
        let mut n = 0;
        let rows = Rows::open(&r)?;
        for item in rows.events.iter()? {
            let (_, span) = item?;
            let event = rows.read(span.value())?.event()?;
            if trust.authorise(&event).is_err() {
                n += 1;
            }
        }
        if let Ok(mut cache) = self.inner.untrusted.lock() {
            *cache = Some((trust, n));
        }
        Ok(n)
    }

    /// The evidence bundle of a trace: rosters first (by community, serial), then the trace's
    /// events held here. None if `root` is not held. Events no longer trusted stay in: the
    /// verifier is the one to refuse them, naming them.
    pub fn bundle(
        &self,
        root: EventId,
        dir: Direction,
        depth: u32,
    ) -> Result<Option<Vec<Vec<u8>>>, BundleError> {
        let Some(graph) = self.trace(root, dir, depth, |n| n.id)? else {
            return Ok(None);
        };
        let r = self.begin_read().map_err(BundleError::Store)?;
        let rows = Rows::open(&r)?;
        let trust = self.trust();
        let mut bytes = 0usize;
        let mut take = |raw: &[u8], out: &mut Vec<Vec<u8>>| -> Result<(), BundleError> {
            bytes += raw.len();
            if bytes > MAX_EXPORT_BYTES {
                return Err(BundleError::TooLarge);
            }
            out.push(raw.to_vec());
            Ok(())
        };
        let mut held = Vec::new();
        let mut communities = BTreeSet::new();
        for id in &graph.nodes {
            if let Some(ev) = load(&r, &id.0)? {
                communities.insert(ev.event.community().to_string());
                held.push(ev.event);
            }
        }
        let mut out = Vec::new();
        for c in &communities {
            for roster in trust.history(c) {
                if let Some((_, row)) = rows.find(&roster.id.0)? {
                    take(row.raw(), &mut out)?;
                }
            }
        }
        let rosters: BTreeSet<EventId> = communities
            .iter()
            .flat_map(|c| trust.history(c).map(|h| h.id))
            .collect();
        for ev in held.iter().filter(|e| !rosters.contains(&e.id())) {
            take(ev.raw(), &mut out)?;
        }
        Ok(Some(out))
    }
}
