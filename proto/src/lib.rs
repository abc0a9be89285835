//! fedci-proto: the wire format of a fedci event and the rules every node applies to it.
//!
//! An event is a deterministic-CBOR [`Body`] wrapped in a standard COSE_Sign1 envelope
//! (RFC 9052, EdDSA, `kid` = author key). Its [`EventId`] is the SHA-256 of the exact payload
//! bytes, so links between events form a tamper-evident DAG. This crate is pure: no I/O, no
//! async runtime. Trust (who may speak for a community) lives in `fedci-keys`.

pub mod body;
pub mod cbor;
pub mod envelope;
pub mod filter;
pub mod frame;
pub mod head;
pub mod id;
pub mod json;
pub mod topic;
pub mod vocab;

pub use body::{Body, BodyError, FORMAT_VERSION, Link};
pub use envelope::{DecodeError, Event, MAX_EVENT_BYTES, sign};
pub use filter::Filter;
pub use head::Head;
pub use id::{EventId, IdParseError};
pub use topic::Topic;
pub use vocab::{Kind, VocabError};

/// An Ed25519 public key as it appears in bodies (`author`) and COSE headers (`kid`).
pub type PublicKeyBytes = [u8; 32];
