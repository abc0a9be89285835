//! Storing one event inside the writer's transaction: the checks that need the store
//! (dedupe, trust, link targets), the rows and indexes, and what a stored event changes
//! (dangling links resolved, the promotion index, the roster in force).

use super::{LOCAL_SOURCES, MAX_REACH, Outcome, Tables, Writer, now_ms, promotion};
use crate::store::StoreError;
use crate::store::index;
use crate::store::schema::Id;
use fedci_keys::Decision;
use fedci_proto::Event;
use fedci_proto::vocab::{self, Kind};
use redb::{ReadableMultimapTable, ReadableTable};
use std::sync::atomic::Ordering::Relaxed;

impl Writer {
    pub(super) fn ingest_one(
        &mut self,
        t: &mut Tables<'_>,
        event: &Event,
        source: &str,
    ) -> Result<Outcome, StoreError> {
        let id = event.id().0;
        if t.ev.seq_of(&id)?.is_some() {
            return Ok(Outcome::Duplicate);
        }
        let now = now_ms();
        if let Decision::Reject(reason) = self.state.trust.decide(event, now) {
            return Ok(Outcome::Rejected(reason.into()));
        }
        // Links whose target we hold must point at a kind the vocabulary allows. Our own
        // publishes are refused when they do not. Events from other nodes are kept and the
        // mismatch counted: whether the target is here yet depends on arrival order, and
        // nodes must not disagree about which events exist.
        let local = LOCAL_SOURCES.contains(&source);
        let body = event.body();
        let mut held_targets = Vec::new();
        for link in &body.links {
            let Some((_, target)) = t.ev.find(&link.target.0)? else {
                continue;
            };
            held_targets.push(link.target.0);
            let target_kind = target.kind_name()?;
            if let Err(e) = vocab::check_target(event.kind(), &link.rel, &target_kind) {
                if local {
                    return Ok(Outcome::Rejected(e.into()));
                }
                self.tally.rejects.push(("link_resolution", e.code()));
            }
        }
        let seq = self.state.next_seq;
        t.ev.put(seq, now, event)?;
        for link in &body.links {
            t.links_rev.insert(&link.target.0, &id)?;
            if !held_targets.contains(&link.target.0) {
                let n = t
                    .missing
                    .get(&link.target.0)?
                    .map(|g| g.value())
                    .unwrap_or(0);
                t.missing.insert(&link.target.0, n + 1)?;
            }
        }
        if t.missing.remove(&id)?.is_some() {
            self.check_resolved_links(t, &id, &body.kind)?;
        }
        if !promotion::on_stored(t, seq, event)? {
            tracing::warn!(id = %event.id().short(), limit = MAX_REACH, "promotion index: confidence propagation capped");
            self.metrics.promotion_capped.fetch_add(1, Relaxed);
        }
        self.state.next_seq += 1;
        self.state.last_seq = seq;
        if self.state.own_author == Some(body.author) {
            // Saturating: an event of our key with seq = u64::MAX may be posted raw.
            self.state.own_seq = self.state.own_seq.max(body.seq.saturating_add(1));
        }
        if event.kind() == Kind::TrustRoster.as_str() {
            match self.state.trust.apply_roster(event, now) {
                Ok(true) => {
                    t.rosters.insert(body.community.as_str(), &id)?;
                    tracing::info!(community = %body.community, id = %event.id().short(), "roster in force");
                }
                Ok(false) => {}
                // Stored (trust admitted it) yet not applicable: say so, never drop it silently.
                Err(e) => {
                    tracing::warn!(community = %body.community, id = %event.id().short(), error = %e, "stored roster could not be applied");
                    self.metrics.rosters_unapplied.fetch_add(1, Relaxed);
                }
            }
        }
        Ok(Outcome::Stored { seq })
    }

    /// Events that linked to `id` before we held it: their target kind is checked now. They
    /// are already stored (they were valid when they came), so a mismatch is only reported.
    fn check_resolved_links(
        &mut self,
        t: &Tables<'_>,
        id: &Id,
        kind: &str,
    ) -> Result<(), StoreError> {
        for source in t.links_rev.get(id)? {
            let source = *source?.value();
            let Some((_, row)) = t.ev.find(&source)? else {
                continue;
            };
            let Ok(src) = row.event() else {
                continue;
            };
            for link in src.body().links.iter().filter(|l| &l.target.0 == id) {
                if let Err(e) = vocab::check_target(src.kind(), &link.rel, kind) {
                    tracing::warn!(source = %hex::encode(source), error = %e, "dangling link resolved to a wrong kind");
                    self.tally.rejects.push(("link_resolution", e.code()));
                }
            }
        }
        Ok(())
    }

    /// After a re-pin, the roster in force must come from the new root: look through stored
    /// rosters of that community for the newest one the new root signed.
    pub(super) fn reapply_stored_rosters(
        &mut self,
        t: &mut Tables<'_>,
        community: &str,
    ) -> Result<(), StoreError> {
        let roster = Kind::TrustRoster.as_str();
        let mut best = None;
        for seq in index::seqs_of_kind(&t.ev.pairs, &t.ev.by_pair, roster)? {
            let Some(row) = t.ev.at(seq)? else {
                continue;
            };
            let Ok(event) = row.event() else {
                continue;
            };
            if event.community() != community {
                continue;
            }
            match self.state.trust.apply_roster(&event, now_ms()) {
                Ok(true) => best = Some(event.id().0),
                Ok(false) => {}
                // Rosters another root signed are expected here; anything else is counted.
                Err(e) => {
                    tracing::debug!(community, id = %event.id().short(), error = %e, "stored roster not applied after re-pin");
                }
            }
        }
        if let Some(id) = best {
            t.rosters.insert(community, &id)?;
        }
        Ok(())
    }
}
