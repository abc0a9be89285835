//! Promotion and reproducibility: `GET /v1/artifacts` (artifacts by the confidence in force)
//! and `GET /v1/compositions/{id}/manifest` (what a baseline is made of).

use super::events::parse_id;
use super::limits::{ClientId, body_with_permit};
use super::{ApiError, AppState};
use crate::store::{ArtifactFilter, ManifestLookup};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use fedci_proto::vocab::CONFIDENCE_VALUES;

/// Artifacts one answer lists when the client names no `limit`.
const DEFAULT_LIMIT: usize = 100;

/// `GET /v1/artifacts` parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArtifactParams {
    pub filter: ArtifactFilter,
    /// Most artifacts to list; `latest` is `limit=1`.
    pub limit: Option<usize>,
}

impl ArtifactParams {
    pub fn parse(query: &str) -> Result<ArtifactParams, ApiError> {
        let mut p = ArtifactParams::default();
        let bad = |m: String| ApiError::bad_request("bad_query", m);
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            let v = v.into_owned();
            match k.as_ref() {
                "community" => p.filter.community = Some(v),
                "identity" => p.filter.identity_prefix = Some(v),
                "branch" => p.filter.branch = Some(v),
                "issuer" => p.filter.issuer = Some(v),
                "confidence" => {
                    let (name, value) = v
                        .split_once('=')
                        .filter(|(n, _)| !n.is_empty())
                        .ok_or_else(|| bad(format!("confidence {v:?}: give NAME=VALUE")))?;
                    if !CONFIDENCE_VALUES.contains(&value) {
                        return Err(bad(format!(
                            "confidence value {value:?}: one of {}",
                            CONFIDENCE_VALUES.join(", ")
                        )));
                    }
                    p.filter
                        .confidences
                        .push((name.to_string(), value.to_string()));
                }
                "latest" => match v.as_str() {
                    "" | "true" | "1" => p.limit = Some(1),
                    "false" | "0" => {}
                    _ => return Err(bad(format!("latest={v:?}: true or false"))),
                },
                "limit" => {
                    let n = v
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| bad(format!("limit {v:?}: a number from 1")))?;
                    p.limit = Some(p.limit.map_or(n, |l| l.min(n)));
                }
                other => {
                    return Err(bad(format!(
                        "unknown parameter {other:?} (community, identity, branch, confidence, issuer, latest, limit)"
                    )));
                }
            }
        }
        Ok(p)
    }
}

pub async fn artifacts(
    State(st): State<AppState>,
    client: Option<Extension<ClientId>>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let params = ArtifactParams::parse(q.as_deref().unwrap_or(""))?;
    let limit = params
        .limit
        .unwrap_or(DEFAULT_LIMIT)
        .min(st.limits.page_events);
    let max_bytes = st.limits.page_bytes;
    let client = client.map_or(ClientId(None), |Extension(c)| c);
    let permit = st.limits.answer(client).await?;
    let filter = params.filter;
    let list = st
        .store
        .read(move |s| s.artifacts(&filter, limit, max_bytes))
        .await?;
    json_answer(&list, permit)
}

pub async fn manifest(
    State(st): State<AppState>,
    client: Option<Extension<ClientId>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let max_bytes = st.limits.page_bytes;
    let client = client.map_or(ClientId(None), |Extension(c)| c);
    let permit = st.limits.answer(client).await?;
    // Settled, as GET by id is: a composition just streamed is found at once.
    let lookup = st
        .store
        .read_settled(id, move |s| {
            Ok(match s.manifest(&id, max_bytes)? {
                ManifestLookup::NotHeld => None,
                held => Some(held),
            })
        })
        .await?
        .unwrap_or(ManifestLookup::NotHeld);
    match lookup {
        ManifestLookup::Found(m) => json_answer(&m, permit),
        ManifestLookup::NotHeld => Err(ApiError::not_found(format!(
            "no composition {id} on this node (or the trust of now does not vouch for it)"
        ))),
        ManifestLookup::NotComposition(kind) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_a_composition",
            format!("{id} is a {kind} event, not a composition.defined"),
        )),
    }
}

fn json_answer<T: serde::Serialize>(
    value: &T,
    permit: super::limits::AnswerPermit,
) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value).map_err(ApiError::internal)?;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        body_with_permit(Bytes::from(body), permit),
    )
        .into_response())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::ArtifactParams;

    #[test]
    fn parses_filters() {
        let p = ArtifactParams::parse(
            "community=odl&identity=pkg%3Amaven%2F&branch=stable%2Foxygen&confidence=opnfvAcceptance%3DSUCCESS&confidence=x%3DFAILURE&issuer=opnfv&latest=true",
        )
        .unwrap();
        assert_eq!(p.limit, Some(1));
        assert_eq!(p.filter.community.as_deref(), Some("odl"));
        assert_eq!(p.filter.identity_prefix.as_deref(), Some("pkg:maven/"));
        assert_eq!(p.filter.branch.as_deref(), Some("stable/oxygen"));
        assert_eq!(p.filter.issuer.as_deref(), Some("opnfv"));
        assert_eq!(
            p.filter.confidences,
            [
                ("opnfvAcceptance".to_string(), "SUCCESS".to_string()),
                ("x".to_string(), "FAILURE".to_string())
            ]
        );
    }

    #[test]
    fn refuses_bad_input() {
        for q in [
            "confidence=noequals",
            "confidence=%3DSUCCESS",
            "confidence=a%3DGREAT",
            "limit=0",
            "limit=x",
            "latest=maybe",
            "colour=red",
        ] {
            let e = ArtifactParams::parse(q).unwrap_err();
            assert_eq!((e.status.as_u16(), e.code), (400, "bad_query"), "{q}");
        }
    }
}
