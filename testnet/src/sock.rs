//! A keep-alive HTTP/1.1 connection to a node's Unix socket, for load and checks.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::path::Path;
use tokio::net::UnixStream;

#[derive(Debug, thiserror::Error)]
pub enum SockError {
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("http: {0}")]
    Http(#[from] hyper::Error),
    #[error("request: {0}")]
    Request(#[from] hyper::http::Error),
}

/// One connection; requests on it go one after another.
#[derive(Debug)]
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    pub async fn open(socket: &Path) -> Result<Conn, SockError> {
        let stream = UnixStream::connect(socket)
            .await
            .map_err(SockError::Connect)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn { sender })
    }

    /// Sends one request and reads the whole response.
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        json: Option<Vec<u8>>,
    ) -> Result<(u16, Bytes), SockError> {
        self.sender.ready().await?;
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "fedci");
        if json.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req.body(Full::new(json.map(Bytes::from).unwrap_or_default()))?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    pub async fn get_json(&mut self, path: &str) -> Result<serde_json::Value, SockError> {
        let (_, body) = self.call(Method::GET, path, None).await?;
        Ok(serde_json::from_slice(&body).unwrap_or_default())
    }
}

/// Follows `/v1/stream…` on a node and sends every event line's (id, identity, arrival
/// instant) to `tx` until the stream ends or `tx` is closed.
pub async fn follow(
    socket: std::path::PathBuf,
    path: String,
    tx: tokio::sync::mpsc::Sender<(String, String, std::time::Instant)>,
) -> Result<(), SockError> {
    let stream = UnixStream::connect(&socket)
        .await
        .map_err(SockError::Connect)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = Request::builder()
        .uri(path)
        .header("host", "fedci")
        .body(Full::new(Bytes::new()))?;
    let mut body = sender.send_request(req).await?.into_body();
    let mut buf: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        let now = std::time::Instant::now();
        buf.extend_from_slice(&data);
        while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&line) else {
                continue;
            };
            let id = v["id"].as_str().unwrap_or_default().to_string();
            let identity = v["data"]["identity"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if tx.send((id, identity, now)).await.is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}
