//! fedci-client: the contract of a node's local socket API and the one client that speaks it.
//!
//! [`types`] holds the request and response bodies of every endpoint; the node's handlers
//! serialise exactly these, and the CLI, the testnet and the tests deserialise them, so a
//! renamed field breaks the build instead of printing an empty value. [`Client`] is the only
//! HTTP client of the workspace: HTTP/1.1 over the node's Unix socket (or the web view's TCP
//! port), with NDJSON streams read through a length-bounded line codec. [`blocking`] wraps the
//! same client for synchronous callers (tests).

pub mod blocking;
mod client;
mod error;
mod query;
mod stream;
pub mod types;

pub use client::{Client, Conn, Endpoint, MAX_ANSWER, REQUEST_TIMEOUT, RawRequest, Reply};
pub use error::{ApiErrorBody, ClientError, ErrorDetail};
pub use query::{EventQuery, with_query};
pub use stream::{EventStream, MAX_LINE};
