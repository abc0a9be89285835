//! `GET /v1/trace/{id}?format=bundle`: a trace as an evidence bundle (RFC 8742 CBOR sequence of
//! exact COSE_Sign1 bytes, rosters included) for `fedci-node verify` or any COSE library.

use super::{ApiError, AppState};
use crate::store::{BundleError, Direction};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use fedci_keys::bundle::{MEDIA_TYPE, write};
use fedci_proto::EventId;

pub async fn bundle(
    st: &AppState,
    id: EventId,
    dir: Direction,
    depth: u32,
) -> Result<Response, ApiError> {
    // Settled, as a trace is: `Some` unless the root is not held (a bundle error is an answer).
    let items = st
        .store
        .read_settled(id, move |s| Ok(s.bundle(id, dir, depth).transpose()))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no event {id} on this node")))?
        .map_err(|e| match e {
            BundleError::Store(e) => ApiError::from(e),
            BundleError::TooLarge => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
            }
        })?;
    let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
    Ok(([(header::CONTENT_TYPE, MEDIA_TYPE)], write(&refs)).into_response())
}
