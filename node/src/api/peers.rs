//! Peers on the admin socket: dial and remember (`POST /v1/peers`), list the configured and
//! remembered ones (`GET /v1/peers`), forget one (`DELETE /v1/peers/{addr-or-id}`).
//! Remembered peers live in the store (`store.redb`, table `peers_v1`), so they survive
//! restarts; configured ones are `config.toml`'s `peers`, changed only by editing it.

use super::{ApiError, AppState};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fedci_client::types::{PeerAdded, PeerList, PeerRemoved, PeerRequest, PeerView};
use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use std::collections::BTreeMap;

/// Most peers remembered at once: each is re-dialled every tick while disconnected.
pub const MAX_REMEMBERED_PEERS: usize = 256;

fn no_network() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "no_network",
        "this node runs without a network",
    )
}

fn peer_id_of(addr: &str) -> Option<String> {
    addr.parse::<Multiaddr>()
        .ok()?
        .iter()
        .find_map(|p| match p {
            Protocol::P2p(id) => Some(id.to_string()),
            _ => None,
        })
}

pub async fn add_peer(State(st): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let req: PeerRequest = super::strict_json::parse(&body)?;
    let Some(net) = &st.net else {
        return Err(no_network());
    };
    let remembered = st.store.read(|s| s.peers()).await?;
    if !remembered.contains(&req.addr) && remembered.len() >= MAX_REMEMBERED_PEERS {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "too_many_peers",
            format!("{MAX_REMEMBERED_PEERS} peers are remembered already; `peer remove` one first"),
        ));
    }
    net.dial(&req.addr)
        .map_err(|e| ApiError::bad_request("bad_peer", e))?;
    let new = st.store.add_peer(req.addr.clone()).await?;
    Ok(Json(PeerAdded {
        addr: req.addr,
        new,
    })
    .into_response())
}

pub async fn list(State(st): State<AppState>) -> Result<Response, ApiError> {
    let remembered = st.store.read(|s| s.peers()).await?;
    let connected = st.net.as_ref().map(|n| n.connected());
    let mut rows: BTreeMap<String, PeerView> = BTreeMap::new();
    let row = |addr: &str| PeerView {
        addr: addr.to_string(),
        peer_id: peer_id_of(addr),
        remembered: false,
        configured: false,
        connected: None,
    };
    for addr in &st.config.peers {
        rows.entry(addr.clone())
            .or_insert_with(|| row(addr))
            .configured = true;
    }
    for addr in &remembered {
        rows.entry(addr.clone())
            .or_insert_with(|| row(addr))
            .remembered = true;
    }
    let peers: Vec<PeerView> = rows
        .into_values()
        .map(|mut p| {
            p.connected = connected
                .as_ref()
                .map(|c| p.peer_id.as_ref().is_some_and(|id| c.contains(id)));
            p
        })
        .collect();
    Ok(Json(PeerList { peers }).into_response())
}

/// Forgets every remembered address equal to `target` or naming it as its peer id.
pub async fn remove(
    State(st): State<AppState>,
    Path(target): Path<String>,
) -> Result<Response, ApiError> {
    let matches = |addr: &String| *addr == target || peer_id_of(addr).as_deref() == Some(&target);
    let remembered = st.store.read(|s| s.peers()).await?;
    let gone: Vec<String> = remembered.into_iter().filter(|a| matches(a)).collect();
    let configured: Vec<String> = st
        .config
        .peers
        .iter()
        .filter(|a| matches(a))
        .cloned()
        .collect();
    if gone.is_empty() {
        return Err(match configured.is_empty() {
            true => ApiError::new(
                StatusCode::NOT_FOUND,
                "no_peer",
                format!("no remembered peer {target:?} (see `fedci-node peer list`)"),
            ),
            false => ApiError::new(
                StatusCode::CONFLICT,
                "configured_peer",
                format!(
                    "{target:?} is in config.toml's `peers`: remove it there and restart the node"
                ),
            ),
        });
    }
    for addr in &gone {
        st.store.remove_peer(addr.clone()).await?;
    }
    // Addresses config.toml still names keep being dialled.
    let forget: Vec<String> = gone
        .iter()
        .filter(|a| !configured.contains(a))
        .cloned()
        .collect();
    match &st.net {
        Some(net) if !forget.is_empty() => net
            .forget(&forget)
            .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", e))?,
        Some(_) => {}
        None if configured.is_empty() => {}
        None => return Err(no_network()),
    }
    tracing::info!(peer = %target, removed = gone.len(), "peer removed");
    Ok(Json(PeerRemoved {
        removed: gone,
        still_configured: configured,
    })
    .into_response())
}
