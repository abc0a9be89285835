//! `watch --post URL`: forwards each event to a CI system's webhook as a binary-mode CloudEvent
//! (the CDEvents document as the JSON body, attributes in `ce-*` headers). Plain `http://`
//! only; put a TLS-terminating proxy in front for `https://` endpoints.

use crate::interop::cloudevents::binary_headers;
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use fedci_client::{Client, Endpoint, RawRequest};
use http_body_util::BodyExt;
use hyper::{Method, Uri};
use serde_json::Value;
use std::time::Duration;

/// One delivery attempt's whole budget: connect, send, read the status.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of a receiver's answer is read (and then discarded).
const MAX_ANSWER: usize = 64 << 10;
/// At most this many extra headers.
const MAX_HEADERS: usize = 32;

/// Where and how to post.
#[derive(Debug, Clone)]
pub struct Webhook {
    authority: String,
    host: String,
    port: u16,
    path: String,
    headers: Vec<(String, String)>,
}

impl Webhook {
    /// Parses `URL` and `K: V` header arguments.
    pub fn new(url: &str, headers: &[String]) -> Result<Webhook> {
        let uri: Uri = url.parse().with_context(|| format!("--post {url:?}"))?;
        if uri.scheme_str() != Some("http") {
            bail!("--post {url:?}: only http:// URLs (terminate TLS in a proxy)");
        }
        let host = uri.host().context("--post URL has no host")?.to_string();
        let port = uri.port_u16().unwrap_or(80);
        let path = uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string());
        if headers.len() > MAX_HEADERS {
            bail!("at most {MAX_HEADERS} --header");
        }
        let headers = headers
            .iter()
            .map(|h| {
                let (k, v) = h
                    .split_once(':')
                    .with_context(|| format!("--header {h:?}: expected 'Name: value'"))?;
                Ok((k.trim().to_string(), v.trim().to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        let authority = uri
            .authority()
            .map_or(host.clone(), |a| a.as_str().to_string());
        Ok(Webhook {
            authority,
            host,
            port,
            path,
            headers,
        })
    }

    /// One attempt; Ok only on a 2xx answer.
    pub async fn post_once(&self, doc: &Value) -> Result<(), String> {
        tokio::time::timeout(ATTEMPT_TIMEOUT, self.attempt(doc))
            .await
            .map_err(|_| format!("no answer within {ATTEMPT_TIMEOUT:?}"))?
    }

    async fn attempt(&self, doc: &Value) -> Result<(), String> {
        let ce = binary_headers(doc).ok_or("event does not convert to a CloudEvent")?;
        let body = serde_json::to_vec(doc).map_err(|e| e.to_string())?;
        let mut req = RawRequest::new(Method::POST, self.path.as_str())
            .header("host", &self.authority)
            .body("application/json", body);
        for (k, v) in ce.iter().chain(&self.headers) {
            req = req.header(k, v);
        }
        let client = Client::with_endpoint(Endpoint::Tcp(format!("{}:{}", self.host, self.port)));
        let resp = client.open(req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        // Drain a bounded part of the answer so the receiver is not cut off mid-write.
        let mut body = resp.into_body();
        let mut read = 0usize;
        while read < MAX_ANSWER {
            match body.frame().await {
                Some(Ok(f)) => read += f.data_ref().map_or(0, Bytes::len),
                _ => break,
            }
        }
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", status.as_u16()))
        }
    }
}
