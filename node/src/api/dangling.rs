//! Links of a local publish to events this node has never seen. Such a link is valid (kept
//! dangling until its target arrives), but from a CI job it is usually a typo or an id from
//! the wrong node: the answer names them, and `?strict_links=true` refuses the publish.

use super::{ApiError, AppState};
use axum::http::StatusCode;
use fedci_proto::vocab;
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

/// What a local publish's links point at, as this node's store held it when asked.
#[derive(Debug, Default)]
pub struct Targets {
    /// Link targets this node does not hold.
    pub unknown: Vec<EventId>,
    /// Every target is held and of a kind its rel allows: the writer will find the same
    /// unless a target's kind changes under it, which cannot happen to a stored event.
    pub all_held_and_allowed: bool,
}

/// The link targets this node does not hold; with `strict`, an error naming them.
pub async fn check(
    st: &AppState,
    kind: &str,
    links: &[Link],
    strict: bool,
) -> Result<Targets, ApiError> {
    if links.is_empty() {
        return Ok(Targets {
            unknown: Vec::new(),
            all_held_and_allowed: true,
        });
    }
    let links = links.to_vec();
    let kind = kind.to_string();
    let (mut unknown, allowed) = st
        .store
        .read(move |s| {
            let mut out = Vec::new();
            let mut allowed = true;
            for link in links {
                match s.kind_of(&link.target)? {
                    None => out.push(link.target),
                    Some(target) => {
                        allowed &= vocab::check_target(&kind, &link.rel, &target).is_ok()
                    }
                }
            }
            Ok((out, allowed))
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
    Ok(Targets {
        all_held_and_allowed: allowed && unknown.is_empty(),
        unknown,
    })
}
