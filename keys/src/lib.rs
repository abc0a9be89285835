//! fedci-keys: who may speak for a community, and the decision whether to believe an event.
//!
//! Each community has a root key (may live offline) that signs `trust.roster` events naming
//! the node keys allowed to publish, which kinds each may publish and when. A node pins the
//! root keys of the communities it trusts; [`TrustStore::decide`] is the one place that turns a
//! verified event into Accept or Reject(reason). [`verify::verify_bundle`] applies the same
//! decision offline to an evidence bundle ([`bundle`]), with roots given by the verifier.

pub mod bundle;
pub mod keyfile;
pub mod roster;
pub mod trust;
pub mod verify;

pub use keyfile::{KeyError, PublicKey, SecretKey};
pub use roster::{EndKind, KeyEnd, Roster, RosterEntry, RosterError};
pub use trust::{Decision, HeldRoster, MAX_FUTURE_MS, RejectReason, TrustError, TrustStore};
