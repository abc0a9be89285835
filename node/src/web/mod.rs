//! The read-only web view (`fedci-node run --http ADDR`): one page, its assets embedded in the
//! binary, and the GET routes of the socket API over TCP, served by the same accept loop
//! ([`serve_listener`]) with the same connection caps and timeouts as the Unix socket.
//!
//! What this module owns is the gate in front of it all: every request must carry the bearer
//! token when one is configured (required for a non-loopback bind), and every method other
//! than GET/HEAD is answered 405 before any handler runs, so nothing over TCP can write.
//! Without a token (loopback only) the `Host` must be a loopback name, so a web site cannot
//! read the node through DNS rebinding.

mod assets;

use crate::api::{self, ApiError, AppState, ConnLimits, serve_listener};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::net::TcpListener;

/// Why the web view cannot start.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error(
        "--http {0} is not a loopback address: anyone who can reach it could read the node; give --http-token FILE (a bearer token every request must carry) or bind 127.0.0.1"
    )]
    TokenRequired(SocketAddr),
    #[error("--http-token {path}: {source}")]
    TokenFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--http-token {0}: the file holds no token (at least 16 characters are needed)")]
    TokenTooShort(PathBuf),
    #[error("--http {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// The secret every request must present, kept only as its SHA-256 so the comparison takes
/// the same time whatever the guess (and whatever its length).
#[derive(Clone)]
pub struct Token([u8; 32]);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

impl Token {
    pub fn new(secret: &str) -> Self {
        Token(Sha256::digest(secret.as_bytes()).into())
    }

    /// Reads a token file: its content with surrounding whitespace removed.
    pub fn from_file(path: &Path) -> Result<Self, WebError> {
        let text = std::fs::read_to_string(path).map_err(|source| WebError::TokenFile {
            path: path.to_path_buf(),
            source,
        })?;
        let secret = text.trim();
        if secret.len() < 16 {
            return Err(WebError::TokenTooShort(path.to_path_buf()));
        }
        Ok(Token::new(secret))
    }

    fn matches(&self, guess: &[u8]) -> bool {
        let g: [u8; 32] = Sha256::digest(guess).into();
        g.iter()
            .zip(self.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// `Authorization: Bearer <token>`, or Basic with the token as password: browsers ask
    /// for Basic credentials themselves and then send them on every request of the page.
    fn accepts(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            return self.matches(rest.as_bytes());
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest) else {
                return false;
            };
            let password = match decoded.iter().position(|&b| b == b':') {
                Some(i) => &decoded[i + 1..],
                None => &decoded[..],
            };
            return self.matches(password);
        }
        false
    }
}

/// Checks `--http` and `--http-token` before anything starts: a non-loopback address needs a
/// token.
pub fn check_options(addr: SocketAddr, token: Option<&Path>) -> Result<Option<Token>, WebError> {
    let token = token.map(Token::from_file).transpose()?;
    if token.is_none() && !addr.ip().is_loopback() {
        return Err(WebError::TokenRequired(addr));
    }
    Ok(token)
}

pub async fn bind(addr: SocketAddr) -> Result<TcpListener, WebError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| WebError::Bind { addr, source })
}

#[derive(Clone)]
struct Gate {
    token: Option<Arc<Token>>,
    metrics: Arc<crate::metrics::Metrics>,
}

/// The page, its assets, then every GET route of the socket API, behind the gate.
pub fn router(state: AppState, token: Option<Token>) -> Router {
    let gate = Gate {
        token: token.map(Arc::new),
        metrics: state.metrics.clone(),
    };
    Router::new()
        .route("/", get(assets::page))
        .route("/trace/{id}", get(assets::page))
        .route("/assets/{name}", get(assets::asset))
        .fallback_service(api::router(state, api::Role::Ci))
        .layer(middleware::from_fn_with_state(gate, guard))
}

/// Serves the web view until the state's shutdown fires.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    token: Option<Token>,
) -> std::io::Result<()> {
    let limits = ConnLimits::from_config(&state.config);
    let metrics = state.metrics.clone();
    let shutdown = state.shutdown.clone();
    serve_listener(listener, router(state, token), limits, metrics, shutdown).await
}

async fn guard(State(gate): State<Gate>, req: Request, next: Next) -> Response {
    let refused = |status: StatusCode, code: &'static str, message: &str| {
        gate.metrics.api_error(status.as_u16(), code);
        ApiError::new(status, code, message).into_response()
    };
    let mut resp = match &gate.token {
        Some(t) if !t.accepts(req.headers()) => {
            let mut r = refused(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this web view needs the node's token: Authorization: Bearer <token>",
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"fedci\", charset=\"UTF-8\""),
            );
            r
        }
        None if !loopback_host(req.headers()) => refused(
            StatusCode::FORBIDDEN,
            "bad_host",
            "without a token this web view answers only to localhost, 127.0.0.1 or [::1]",
        ),
        _ if !matches!(*req.method(), Method::GET | Method::HEAD) => {
            let mut r = refused(
                StatusCode::METHOD_NOT_ALLOWED,
                "read_only",
                "the web view is read-only: only GET is served over TCP; write through the node's socket",
            );
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            r
        }
        _ => next.run(req).await,
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// Whether the request names a loopback host (any port).
fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(n, _)| n)
    };
    name.eq_ignore_ascii_case("localhost") || name == "127.0.0.1" || name == "::1"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn token_accepts_bearer_and_basic_and_nothing_else() {
        let t = Token::new("s3cret-s3cret-s3cret");
        assert!(t.accepts(&auth("Bearer s3cret-s3cret-s3cret")));
        let basic = base64::engine::general_purpose::STANDARD.encode("me:s3cret-s3cret-s3cret");
        assert!(t.accepts(&auth(&format!("Basic {basic}"))));
        assert!(!t.accepts(&auth("Bearer s3cret-s3cret-s3cre")));
        assert!(!t.accepts(&auth("Bearer ")));
        assert!(!t.accepts(&auth("Token s3cret-s3cret-s3cret")));
        assert!(!t.accepts(&HeaderMap::new()));
    }

    #[test]
    fn non_loopback_needs_a_token() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert!(matches!(
            check_options(any, None),
            Err(WebError::TokenRequired(_))
        ));
        assert!(
            check_options("127.0.0.1:0".parse().unwrap(), None)
                .unwrap()
                .is_none()
        );
        assert!(
            check_options("[::1]:0".parse().unwrap(), None)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn loopback_hosts() {
        let host = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::HOST, HeaderValue::from_str(v).unwrap());
            loopback_host(&h)
        };
        assert!(host("127.0.0.1:8080"));
        assert!(host("localhost"));
        assert!(host("[::1]:80"));
        assert!(!host("evil.example:8080"));
        assert!(!host("127.0.0.1.evil.example"));
    }
}
