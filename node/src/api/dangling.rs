//! Links of a local publish to events this node has never seen. Such a link is valid (kept
//! dangling until its target arrives), but from a CI job it is usually a typo or an id from
//! the wrong node: the answer names them, and `?strict_links=true` refuses the publish.

use super::{ApiError, AppState};
use axum::http::StatusCode;
use fedci_proto::{EventId, Link};
use serde::Deserialize;

/// Query of `POST /v1/events`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishParams {
    /// Refuse (422 `unknown_link_target`) a link to an event this node does not hold.
    #[serde(default)]
    pub strict_links: bool,
}

/// The link targets this node does not hold; with `strict`, an error naming them.
pub async fn check(st: &AppState, links: &[Link], strict: bool) -> Result<Vec<EventId>, ApiError> {
    let targets: Vec<EventId> = links.iter().map(|l| l.target).collect();
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let mut unknown = st
        .store
        .read(move |s| {
            let mut out = Vec::new();
            for id in targets {
                if s.get_raw(&id)?.is_none() {
                    out.push(id);
                }
            }
            Ok(out)
        })
        .await?;
    unknown.dedup();
    if strict && !unknown.is_empty() {
        let list: Vec<String> = unknown.iter().map(ToString::to_string).collect();
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_link_target",
            format!(
                "this node holds no event {} (strict_links: nothing was published)",
                list.join(", ")
            ),
        ));
    }
    Ok(unknown)
}
