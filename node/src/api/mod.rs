//! The local socket API: HTTP/1.1 over a Unix socket, JSON in and out (the Docker Engine API
//! convention), so any CI job can use `curl --unix-socket` and the CLI is just a client.

mod access;
mod cloudevents;
mod dangling;
mod error;
mod events;
mod evidence;
mod info;
mod limits;
mod peers;
mod promotion;
mod render;
mod serve;
mod stream;
mod strict_json;

pub use access::{PeerCred, Role};
pub use error::ApiError;
pub use events::{Draft, Params, PublishRequest};
pub use info::TraceParams;
pub use info::pins;
pub use limits::{ApiLimits, ClientId};
pub use serve::{ConnLimits, Listener, serve_listener};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Store;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use fedci_keys::SecretKey;
use fedci_proto::Event;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;
use tokio::net::UnixListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub node_key: Arc<SecretKey>,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub started: Instant,
    pub shutdown: CancellationToken,
    /// Events this node stored from the API, handed to the network for gossip. Bounded; a
    /// full queue drops the hand-off (catch-up repairs it) rather than slowing publishers.
    pub outbound: Option<mpsc::Sender<Event>>,
    /// The network actor, if one runs: status and run-time dialling.
    pub net: Option<Arc<dyn crate::Network>>,
    /// Memory bounds shared by every request: open streams, query answers in flight.
    pub limits: Arc<ApiLimits>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("community", &self.config.community)
            .finish_non_exhaustive()
    }
}

/// The API as served on one socket: admin-only routes answer 403 `admin_only` on the CI
/// socket (see [`access`]).
pub fn router(state: AppState, role: Role) -> Router {
    let admin = |route: MethodRouter<AppState>| match role {
        Role::Admin => route,
        Role::Ci => axum::routing::any(access::admin_only),
    };
    Router::new()
        .route("/v1/events", post(events::publish).get(events::query))
        .route("/v1/events/raw", post(events::publish_raw))
        .route("/v1/cloudevents", post(cloudevents::import))
        .route("/v1/events/{id}", get(events::get_event))
        .route("/v1/stream", get(stream::stream))
        .route("/v1/consumers", get(info::consumers))
        .route(
            "/v1/consumers/{name}",
            axum::routing::delete(info::remove_consumer),
        )
        .route("/v1/consumers/{name}/ack", post(info::ack))
        .route("/v1/trace/{id}", get(info::trace))
        .route("/v1/artifacts", get(promotion::artifacts))
        .route("/v1/compositions/{id}/manifest", get(promotion::manifest))
        .route("/v1/status", get(info::status))
        .route("/v1/trust", get(info::trust))
        .route("/v1/trust/pins", admin(post(info::pin)))
        .route("/v1/peers", admin(post(peers::add_peer).get(peers::list)))
        .route(
            "/v1/peers/{target}",
            admin(axum::routing::delete(peers::remove)),
        )
        .route("/v1/peers/block", admin(post(info::block_peer)))
        .route("/v1/peers/unblock", admin(post(info::unblock_peer)))
        .route("/metrics", get(info::metrics))
        .fallback(info::not_found)
        .method_not_allowed_fallback(info::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .layer(axum::Extension(role))
        .layer(axum::extract::DefaultBodyLimit::max(
            state.config.max_request_bytes,
        ))
        .with_state(state)
}

/// Counts every request and every error response by status and code. Errors that axum
/// produced itself (body too large, bad path) are rewritten into the JSON error shape.
async fn count(State(state): State<AppState>, req: Request, next: Next) -> Response {
    state.metrics.api_requests.fetch_add(1, Relaxed);
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let resp = match resp.extensions().get::<error::ErrorCode>() {
        Some(_) => resp,
        None => {
            let code = match status {
                StatusCode::PAYLOAD_TOO_LARGE => "too_large",
                StatusCode::NOT_FOUND => "not_found",
                StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                _ => "bad_request",
            };
            let text = axum::body::to_bytes(resp.into_body(), 4096)
                .await
                .unwrap_or_default();
            let message = String::from_utf8_lossy(&text).trim().to_string();
            ApiError::new(status, code, message).into_response()
        }
    };
    let code = resp
        .extensions()
        .get::<error::ErrorCode>()
        .map_or("other", |c| c.0);
    state.metrics.api_error(status.as_u16(), code);
    resp
}

/// Serves the API for `role` until `shutdown` fires; open streams end with it.
pub async fn serve(listener: UnixListener, state: AppState, role: Role) -> std::io::Result<()> {
    let limits = ConnLimits::from_config(&state.config);
    let metrics = state.metrics.clone();
    let shutdown = state.shutdown.clone();
    serve_listener(listener, router(state, role), limits, metrics, shutdown).await
}
