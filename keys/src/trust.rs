//! The trust store: pinned community roots, every roster each root signed (history, by serial),
//! and the one authorisation decision every ingested, served or verified event goes through.
//!
//! An event is judged by the roster **in force at the event's time**: the highest serial whose
//! own time is at or before it. Before a community's first roster, that first roster applies
//! (its `not_before` bounds it). Explicit ends (`retired`, `revoked`) of every known roster apply
//! whatever roster the event is judged by. The verdict depends only on the set of rosters held,
//! never on the order they arrived in.

use crate::roster::{EndKind, KeyEnd};
use crate::{PublicKey, Roster, RosterError};
use fedci_proto::vocab::Kind;
use fedci_proto::{Event, EventId, Head};
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
    #[error("event is older than every roster known and the first roster of the chain is missing")]
    BeforeKnownRosters,
    #[error("author is not in the community's roster in force at the event's time")]
    UnknownAuthor,
    #[error("author may not publish this kind")]
    KindNotAllowed,
    #[error("event time is outside the author's validity window")]
    OutsideValidity,
    #[error("author's key was retired before the event's time")]
    Retired,
    #[error("author's key is revoked since a time at or before the event's time")]
    Revoked,
    #[error("event time is more than 15 minutes ahead of this node's clock")]
    FutureTime,
}

impl RejectReason {
    pub const ALL: [RejectReason; 10] = [
        RejectReason::UnpinnedCommunity,
        RejectReason::RootMismatch,
        RejectReason::NoRoster,
        RejectReason::BeforeKnownRosters,
        RejectReason::UnknownAuthor,
        RejectReason::KindNotAllowed,
        RejectReason::OutsideValidity,
        RejectReason::Retired,
        RejectReason::Revoked,
        RejectReason::FutureTime,
    ];

    /// A stable snake_case code for metrics and API errors.
    pub fn code(self) -> &'static str {
        match self {
            RejectReason::UnpinnedCommunity => "unpinned_community",
            RejectReason::RootMismatch => "root_mismatch",
            RejectReason::NoRoster => "no_roster",
            RejectReason::BeforeKnownRosters => "before_known_rosters",
            RejectReason::UnknownAuthor => "unknown_author",
            RejectReason::KindNotAllowed => "kind_not_allowed",
            RejectReason::OutsideValidity => "outside_validity",
            RejectReason::Retired => "retired",
            RejectReason::Revoked => "revoked",
            RejectReason::FutureTime => "future_time",
        }
    }

    /// True when the event is one no honest node would forward. `UnpinnedCommunity`,
    /// `NoRoster` and `BeforeKnownRosters` only mean this node does not know enough (yet).
    pub fn is_misbehaviour(self) -> bool {
        !matches!(
            self,
            RejectReason::UnpinnedCommunity
                | RejectReason::NoRoster
                | RejectReason::BeforeKnownRosters
                | RejectReason::FutureTime
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

/// One roster of a community's history, with the event that carried it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRoster {
    pub roster: Roster,
    pub id: EventId,
    /// The roster event's time: it is in force from then until a higher serial's time.
    pub time: u64,
    /// True when it links to no previous roster: the start of the chain.
    pub first: bool,
}

/// Pinned roots and every roster per community, by serial.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustStore {
    pins: BTreeMap<String, PublicKey>,
    rosters: BTreeMap<String, BTreeMap<u64, HeldRoster>>,
}

impl TrustStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Pins a community's root key. Re-pinning a different key drops the rosters that the old
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

    /// The newest roster of a community (highest serial) and the id of its event.
    pub fn roster(&self, community: &str) -> Option<(&Roster, EventId)> {
        self.rosters
            .get(community)
            .and_then(|h| h.values().next_back())
            .map(|h| (&h.roster, h.id))
    }

    /// Every roster held for a community, oldest serial first.
    pub fn history(&self, community: &str) -> impl Iterator<Item = &HeldRoster> {
        self.rosters
            .get(community)
            .into_iter()
            .flat_map(|h| h.values())
    }

    /// Decides whether to believe a decoded and verified event arriving now (`now_ms`).
    pub fn decide(&self, event: &Event, now_ms: u64) -> Decision {
        if event.time() > now_ms.saturating_add(MAX_FUTURE_MS) {
            return Decision::Reject(RejectReason::FutureTime);
        }
        match self.authorise(event) {
            Ok(_) => Decision::Accept,
            Err(r) => Decision::Reject(r),
        }
    }

    /// Whether the roster history authorises an event, whenever it arrived: used at ingest,
    /// again when a stored event is served, and by offline verification. Returns the serial of
    /// the roster that authorised it (a roster's own serial for a roster event).
    pub fn authorise(&self, event: &Event) -> Result<u64, RejectReason> {
        let root = self
            .pins
            .get(event.community())
            .ok_or(RejectReason::UnpinnedCommunity)?;
        if event.kind() == Kind::TrustRoster.as_str() {
            // Rosters speak with the root's voice: only the pinned root may sign them. Older
            // rosters are still true history and are accepted.
            return if &root.to_bytes() == event.author() {
                Ok(Roster::from_event(event).map_or(0, |r| r.serial))
            } else {
                Err(RejectReason::RootMismatch)
            };
        }
        self.member(
            event.community(),
            event.kind(),
            event.author(),
            event.time(),
        )
    }

    /// What [`TrustStore::authorise`] decides about an event with this head, without its
    /// body (a roster event's serial is in the body; for a yes or no only its author
    /// counts). Serving stored events asks this of each.
    pub fn vouches(&self, head: &Head<'_>) -> bool {
        let Some(root) = self.pins.get(head.community) else {
            return false;
        };
        if head.kind == Kind::TrustRoster.as_str() {
            return root.to_bytes() == head.author;
        }
        self.member(head.community, head.kind, &head.author, head.time)
            .is_ok()
    }

    /// Whether the roster history of `community` lets `author` publish `kind` at `t`; the
    /// serial of the roster that does.
    fn member(
        &self,
        community: &str,
        kind: &str,
        author: &[u8; 32],
        t: u64,
    ) -> Result<u64, RejectReason> {
        let history = self
            .rosters
            .get(community)
            .filter(|h| !h.is_empty())
            .ok_or(RejectReason::NoRoster)?;
        if let Some(end) = Self::end_of(history, author, t) {
            return Err(match end.how {
                EndKind::Retired => RejectReason::Retired,
                EndKind::Revoked => RejectReason::Revoked,
            });
        }
        let held = match history.values().rev().find(|h| h.time <= t) {
            Some(h) => h,
            None => history
                .values()
                .next()
                .filter(|h| h.first)
                .ok_or(RejectReason::BeforeKnownRosters)?,
        };
        let entry = held
            .roster
            .entry(author)
            .ok_or(RejectReason::UnknownAuthor)?;
        if !entry.allows_kind(kind) {
            return Err(RejectReason::KindNotAllowed);
        }
        if !entry.valid_at(t) {
            return Err(RejectReason::OutsideValidity);
        }
        Ok(held.roster.serial)
    }

    /// The end (of any roster held) that refuses `author`'s event at `t`; revocations first.
    fn end_of<'a>(
        history: &'a BTreeMap<u64, HeldRoster>,
        author: &[u8; 32],
        t: u64,
    ) -> Option<&'a KeyEnd> {
        history
            .values()
            .flat_map(|h| h.roster.ended.iter())
            .filter(|e| &e.key == author && e.ends(t))
            .max_by_key(|e| e.how)
    }

    /// Applies an accepted roster event to the history. Returns true when it became the newest
    /// roster (higher serial than any held), false when it is older or already held.
    pub fn apply_roster(&mut self, event: &Event, now_ms: u64) -> Result<bool, TrustError> {
        if let Decision::Reject(r) = self.decide(event, now_ms) {
            return Err(r.into());
        }
        let roster = Roster::from_event(event)?;
        let first = !event
            .body()
            .links
            .iter()
            .any(|l| l.rel == "PREVIOUS_VERSION");
        let history = self.rosters.entry(roster.community.clone()).or_default();
        let newest = history.keys().next_back().copied();
        let serial = roster.serial;
        // Two different rosters with one serial (two admins signing from the same view) are
        // ordered by event id, so every node keeps the same one.
        let replace = history.get(&serial).is_none_or(|h| event.id() > h.id);
        if !replace {
            return Ok(false);
        }
        history.insert(
            serial,
            HeldRoster {
                roster,
                id: event.id(),
                time: event.time(),
                first,
            },
        );
        Ok(newest.is_none_or(|n| serial >= n))
    }
}
