//! What can go wrong talking to a node, and the API's error body.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The body of every 4xx/5xx answer: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `bad_kind`, `store_failing`, `admin_only`.
    pub code: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the node at {endpoint}: {source} (is `fedci-node run` running on this home?)"
    )]
    Connect {
        endpoint: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "permission denied on {0}: the CI socket (fedci.sock) needs the home's group, the admin socket (admin.sock) the node's owner"
    )]
    NotPermitted(String),
    #[error("talking to the node: {0}")]
    Http(#[from] hyper::Error),
    #[error("building the request: {0}")]
    Request(#[from] hyper::http::Error),
    /// The node answered with an error status and body.
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the node did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the node's answer is over {0} bytes")]
    TooLarge(usize),
    /// A 2xx answer whose body is not what the endpoint's type says.
    #[error("the node sent an answer that is not {what}: {source}")]
    Decode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A stream line that is not JSON of the expected shape.
    #[error("stream line is not an event ({source}): {line}")]
    BadLine {
        line: String,
        #[source]
        source: serde_json::Error,
    },
    /// The stream failed, or sent a line over [`crate::MAX_LINE`] bytes.
    #[error("reading the stream: {0}")]
    Stream(String),
}

impl ClientError {
    /// The typed error of an error answer, from its JSON body when it has one.
    pub fn from_answer(status: u16, body: &[u8]) -> ClientError {
        match serde_json::from_slice::<ApiErrorBody>(body) {
            Ok(b) => ClientError::Api {
                status,
                code: b.error.code,
                message: b.error.message,
            },
            Err(_) => ClientError::Api {
                status,
                code: "unknown".into(),
                message: String::from_utf8_lossy(body).trim().to_string(),
            },
        }
    }

    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The API's error code (`bad_kind`, `not_found`, …).
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether trying again later may work: the node is unreachable, the connection broke,
    /// or a limit of the node is full for now (503).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ClientError::Connect { .. }
                | ClientError::Http(_)
                | ClientError::Timeout(_)
                | ClientError::Stream(_)
                | ClientError::Api { status: 503, .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_answers_become_typed_errors() {
        let e = ClientError::from_answer(
            409,
            br#"{"error":{"code":"own_root","message":"never re-pin"}}"#,
        );
        assert_eq!((e.status(), e.code()), (Some(409), Some("own_root")));
        assert_eq!(e.to_string(), "never re-pin (own_root, HTTP 409)");
        // Not the API's shape (a proxy's page): the text is kept, the code is unknown.
        let e = ClientError::from_answer(502, b"Bad Gateway\n");
        assert_eq!(e.code(), Some("unknown"));
        assert_eq!(e.to_string(), "Bad Gateway (unknown, HTTP 502)");
    }
}
