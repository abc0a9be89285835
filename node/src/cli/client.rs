//! A small HTTP/1.1 client over the node's Unix socket: what the CLI uses for every command.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::UnixStream;

/// How long a plain request may take; streams have no overall limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the node at {socket}: {source} (is `fedci-node run` running on this home?)"
    )]
    Connect {
        socket: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "permission denied on {0}: the CI socket (fedci.sock) needs the home's group, the admin socket (admin.sock) the node's owner"
    )]
    NotPermitted(PathBuf),
    #[error("talking to the node: {0}")]
    Http(String),
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the node did not answer within {0:?}")]
    Timeout(Duration),
}

#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
}

/// A complete response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Bytes,
}

impl Client {
    pub fn new(socket: PathBuf) -> Self {
        Client { socket }
    }

    /// Sends a request and returns the response with its body still streaming.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        accept: Option<&str>,
    ) -> Result<Response<Incoming>, ClientError> {
        let stream =
            UnixStream::connect(&self.socket)
                .await
                .map_err(|source| match source.kind() {
                    std::io::ErrorKind::PermissionDenied => {
                        ClientError::NotPermitted(self.socket.clone())
                    }
                    _ => ClientError::Connect {
                        socket: self.socket.clone(),
                        source,
                    },
                })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ClientError::Http(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "fedci");
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        let content = match body {
            Some((ctype, bytes)) => {
                req = req.header("content-type", ctype);
                Bytes::from(bytes)
            }
            None => Bytes::new(),
        };
        let req = req
            .body(Full::new(content))
            .map_err(|e| ClientError::Http(e.to_string()))?;
        sender
            .send_request(req)
            .await
            .map_err(|e| ClientError::Http(e.to_string()))
    }

    /// Sends a request and reads the whole answer; 4xx/5xx become [`ClientError::Api`].
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        accept: Option<&str>,
    ) -> Result<Resp, ClientError> {
        let work = async {
            let resp = self.send(method, path, body, accept).await?;
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| ClientError::Http(e.to_string()))?
                .to_bytes();
            Ok::<_, ClientError>(Resp { status, body })
        };
        let resp = tokio::time::timeout(REQUEST_TIMEOUT, work)
            .await
            .map_err(|_| ClientError::Timeout(REQUEST_TIMEOUT))??;
        if resp.status >= 400 {
            return Err(api_error(resp.status, &resp.body));
        }
        Ok(resp)
    }

    pub async fn get_json(&self, path: &str) -> Result<serde_json::Value, ClientError> {
        let resp = self.request(Method::GET, path, None, None).await?;
        parse_json(&resp.body)
    }

    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Http(e.to_string()))?;
        let resp = self
            .request(Method::POST, path, Some(("application/json", bytes)), None)
            .await?;
        parse_json(&resp.body)
    }
}

pub fn parse_json(body: &[u8]) -> Result<serde_json::Value, ClientError> {
    serde_json::from_slice(body)
        .map_err(|e| ClientError::Http(format!("node sent invalid JSON: {e}")))
}

/// Turns an error response into a typed error, using the JSON body when there is one.
pub fn api_error(status: u16, body: &[u8]) -> ClientError {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let field = |k: &str| v["error"][k].as_str().map(str::to_string);
    ClientError::Api {
        status,
        code: field("code").unwrap_or_else(|| "unknown".into()),
        message: field("message")
            .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string()),
    }
}
