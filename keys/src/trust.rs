//! The trust store: pinned community roots, the roster in force per community, and the one
//! authorisation decision every ingested event goes through.

use crate::{PublicKey, Roster, RosterError};
use fedci_proto::vocab::Kind;
use fedci_proto::{Event, EventId};
use std::collections::BTreeMap;

/// How far ahead of our clock an event's time may be: 15 minutes.
pub const MAX_FUTURE_MS: u64 = 15 * 60 * 1000;

/// The outcome of [`TrustStore::decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Reject(RejectReason),
}

/// Why a verified event is not believed. Each has its own metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, thiserror::Error)]
pub enum RejectReason {
    #[error("community is not pinned on this node")]
    UnpinnedCommunity,
    #[error("roster is not signed by the community's pinned root key")]
    RootMismatch,
    #[error("no roster known for the community yet")]
    NoRoster,
    #[error("author is not in the community's current roster (unknown or revoked)")]
    UnknownAuthor,
    #[error("author may not publish this kind")]
    KindNotAllowed,
    #[error("event time is outside the author's validity window")]
    OutsideValidity,
    #[error("event time is more than 15 minutes ahead of this node's clock")]
    FutureTime,
}

impl RejectReason {
    pub const ALL: [RejectReason; 7] = [
        RejectReason::UnpinnedCommunity,
        RejectReason::RootMismatch,
        RejectReason::NoRoster,
        RejectReason::UnknownAuthor,
        RejectReason::KindNotAllowed,
        RejectReason::OutsideValidity,
        RejectReason::FutureTime,
    ];

    /// A stable snake_case code for metrics and API errors.
    pub fn code(self) -> &'static str {
        match self {
            RejectReason::UnpinnedCommunity => "unpinned_community",
            RejectReason::RootMismatch => "root_mismatch",
            RejectReason::NoRoster => "no_roster",
            RejectReason::UnknownAuthor => "unknown_author",
            RejectReason::KindNotAllowed => "kind_not_allowed",
            RejectReason::OutsideValidity => "outside_validity",
            RejectReason::FutureTime => "future_time",
        }
    }

    /// True when the event is one no honest node would forward. `UnpinnedCommunity` and
    /// `NoRoster` only mean this node does not know enough (yet).
    pub fn is_misbehaviour(self) -> bool {
        !matches!(
            self,
            RejectReason::UnpinnedCommunity | RejectReason::NoRoster | RejectReason::FutureTime
        )
    }
}

/// Why a pin or roster could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error("event is not trusted: {0}")]
    Rejected(#[from] RejectReason),
    #[error(transparent)]
    Roster(#[from] RosterError),
}

/// The roster in force for a community, with the id of the event that carried it.
#[derive(Debug, Clone)]
struct Current {
    roster: Roster,
    id: EventId,
}

/// Pinned roots and the newest roster per community.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    pins: BTreeMap<String, PublicKey>,
    rosters: BTreeMap<String, Current>,
}

impl TrustStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Pins a community's root key. Re-pinning a different key drops the roster that the old
    /// root signed. Returns true if anything changed.
    pub fn pin(&mut self, community: &str, root: PublicKey) -> bool {
        if self.pins.get(community) == Some(&root) {
            return false;
        }
        self.pins.insert(community.to_string(), root);
        self.rosters.remove(community);
        true
    }

    pub fn pinned(&self, community: &str) -> Option<&PublicKey> {
        self.pins.get(community)
    }

    pub fn pins(&self) -> impl Iterator<Item = (&str, &PublicKey)> {
        self.pins.iter().map(|(c, k)| (c.as_str(), k))
    }

    /// The roster in force for a community and the id of its event.
    pub fn roster(&self, community: &str) -> Option<(&Roster, EventId)> {
        self.rosters.get(community).map(|c| (&c.roster, c.id))
    }

    /// Decides whether to believe a decoded and verified event, at our clock `now_ms`.
    pub fn decide(&self, event: &Event, now_ms: u64) -> Decision {
        match self.check(event, now_ms) {
            Ok(()) => Decision::Accept,
            Err(r) => Decision::Reject(r),
        }
    }

    fn check(&self, event: &Event, now_ms: u64) -> Result<(), RejectReason> {
        if event.time() > now_ms.saturating_add(MAX_FUTURE_MS) {
            return Err(RejectReason::FutureTime);
        }
        let root = self
            .pins
            .get(event.community())
            .ok_or(RejectReason::UnpinnedCommunity)?;
        if event.kind() == Kind::TrustRoster.as_str() {
            // Rosters speak with the root's voice: only the pinned root may sign them. Older
            // rosters are still true history and are accepted; `apply_roster` orders them.
            return if &root.to_bytes() == event.author() {
                Ok(())
            } else {
                Err(RejectReason::RootMismatch)
            };
        }
        let current = self
            .rosters
            .get(event.community())
            .ok_or(RejectReason::NoRoster)?;
        let entry = current
            .roster
            .entry(event.author())
            .ok_or(RejectReason::UnknownAuthor)?;
        if !entry.allows_kind(event.kind()) {
            return Err(RejectReason::KindNotAllowed);
        }
        if !entry.valid_at(event.time()) {
            return Err(RejectReason::OutsideValidity);
        }
        Ok(())
    }

    /// Applies an accepted roster event. Returns true when it became the roster in force
    /// (higher serial than the current one), false when it is older or the same.
    pub fn apply_roster(&mut self, event: &Event, now_ms: u64) -> Result<bool, TrustError> {
        if let Decision::Reject(r) = self.decide(event, now_ms) {
            return Err(r.into());
        }
        let roster = Roster::from_event(event)?;
        // Higher serial wins; two different rosters with one serial (two admins signing from
        // the same view) are ordered by event id, so every node settles on the same one.
        let newer = self.rosters.get(&roster.community).is_none_or(|c| {
            roster.serial > c.roster.serial
                || (roster.serial == c.roster.serial && event.id() > c.id)
        });
        if newer {
            self.rosters.insert(
                roster.community.clone(),
                Current {
                    roster,
                    id: event.id(),
                },
            );
        }
        Ok(newer)
    }
}
