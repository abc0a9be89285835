//! Who may do what, by socket. The CI socket (`fedci.sock`, 0660: the home's group) serves
//! what a CI job needs: publish, get, query, stream, trace, status, metrics, and its own
//! durable consumers. Trust pins, peers and other jobs' consumers change only through the
//! admin socket (`admin.sock`, 0600: the node's owner). A consumer belongs to the uid that
//! made it, read from the CI socket's peer credentials (see `store::Caller`).

use super::ApiError;
use crate::store::{Caller, ConsumerOutcome};
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;

/// Which socket a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `fedci.sock`: CI jobs.
    Ci,
    /// `admin.sock`: the node's owner.
    Admin,
}

/// The peer credentials of a socket connection. The serve loop (`serve::serve_listener`)
/// attaches them to every request as `ConnectInfo<PeerCred>`; a request without them is
/// treated as coming from an unknown uid, which owns nothing.
#[derive(Debug, Clone, Copy)]
pub struct PeerCred {
    pub uid: Option<u32>,
}

impl PeerCred {
    /// The uid at the other end of an accepted connection (for any serve loop).
    pub fn of(stream: &tokio::net::UnixStream) -> PeerCred {
        PeerCred {
            uid: stream.peer_cred().ok().map(|c| c.uid()),
        }
    }
}

/// The socket and uid of a request.
#[derive(Debug, Clone, Copy)]
pub struct Access {
    pub role: Role,
    pub uid: Option<u32>,
}

impl<S: Send + Sync> FromRequestParts<S> for Access {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let role = parts
            .extensions
            .get::<Role>()
            .copied()
            .ok_or_else(|| ApiError::internal("request without a socket role"))?;
        let uid = parts
            .extensions
            .get::<ConnectInfo<PeerCred>>()
            .and_then(|c| c.0.uid);
        Ok(Access { role, uid })
    }
}

impl Access {
    /// Who the store should see as changing a consumer cursor.
    pub fn consumer_caller(&self) -> Result<Caller, ApiError> {
        match (self.role, self.uid) {
            (Role::Admin, uid) => Ok(Caller::Admin { uid }),
            (Role::Ci, Some(uid)) => Ok(Caller::Job { uid }),
            (Role::Ci, None) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "unknown_caller",
                "cannot tell which uid is calling, so it owns no consumer",
            )),
        }
    }
}

/// A consumer change the store refused or could not find, as the API answers it.
pub fn consumer_refusal(name: &str, outcome: ConsumerOutcome) -> ApiError {
    match outcome {
        ConsumerOutcome::NotOwner { owner } => ApiError::new(
            StatusCode::FORBIDDEN,
            "not_owner",
            format!(
                "consumer {name:?} belongs to uid {owner}: only that uid, or the node's owner on the admin socket, may ack or delete it"
            ),
        ),
        _ => ApiError::not_found(format!("no consumer {name:?}")),
    }
}

/// What an admin-only route answers on the CI socket: 403, nothing changed.
pub async fn admin_only(State(st): State<super::AppState>) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "admin_only",
        format!(
            "trust, peers and rosters change only on the node's admin socket ({} in its home, mode 0600, the node's owner); nothing was changed",
            st.config.admin_socket.display()
        ),
    )
}
