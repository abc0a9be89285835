//! HTTP for the tests, through the workspace's one client ([`fedci_client`], blocking
//! wrapper): any request with its status, headers and body, so tests can check error answers
//! and the exact JSON on the wire; and NDJSON streams read a line at a time. Tests of malformed
//! HTTP write raw bytes to the socket themselves (see `hostile.rs`); this is not for that.

use fedci_client::blocking::{self, Client};
use fedci_client::{ClientError, Endpoint, RawRequest};
use hyper::Method;
use std::io;
use std::path::Path;
use std::time::Duration;

/// A complete answer: the client's own type.
pub use fedci_client::Reply;

/// What the tests read from an answer beyond [`Reply`]'s own methods: panicking, naming the
/// answer, when the body is not what was expected.
pub trait ReplyExt {
    /// The body as JSON (for checks of the exact wire form).
    fn json(&self) -> serde_json::Value;
    /// The body as an API type.
    fn typed<T: serde::de::DeserializeOwned>(&self) -> T;
}

impl ReplyExt for Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response body is not JSON ({e}): {self:?}"))
    }

    fn typed<T: serde::de::DeserializeOwned>(&self) -> T {
        self.parse()
            .unwrap_or_else(|e| panic!("response body is not the expected type ({e}): {self:?}"))
    }
}

fn io_error(e: ClientError) -> io::Error {
    match e {
        ClientError::Connect { source, .. } => source,
        other => io::Error::other(other),
    }
}

fn raw(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> io::Result<RawRequest> {
    let method = Method::from_bytes(method.as_bytes()).map_err(io::Error::other)?;
    let mut req = RawRequest::new(method, path);
    // Like curl: a body without a content type is sent as JSON.
    if !body.is_empty()
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        req = req.header("content-type", "application/json");
    }
    for (k, v) in headers {
        req = req.header(k, v);
    }
    req.body = body.to_vec().into();
    Ok(req)
}

/// Sends one request over a node's Unix socket and reads the whole response.
pub fn request(
    socket: &Path,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Reply> {
    send(Client::new(socket), method, path, headers, body)
}

/// [`request`] over TCP (the web view's listener), to `addr` such as `127.0.0.1:8080`.
pub fn request_tcp(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Reply> {
    let client = Client::with_endpoint(Endpoint::Tcp(addr.to_string()));
    send(client, method, path, headers, body)
}

fn send(
    client: Client,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Reply> {
    let req = raw(method, path, headers, body)?;
    match (client.send(req.clone()), client.inner().endpoint()) {
        // The node refused an oversized body (413) and closed before reading all of it; an
        // HTTP client then reports the broken write, but the tests check what the node said.
        (Err(ClientError::Http(e)), Endpoint::Unix(socket)) if !body.is_empty() => {
            oversized_answer(socket, &req)
                .map_err(|raw| io::Error::other(format!("{e}; reading the answer anyway: {raw}")))
        }
        (result, _) => result.map_err(io_error),
    }
}

/// Writes `req` as raw bytes, ignoring that the node stops reading, and parses the answer it
/// sent before closing: a hostile client's view (the node answers with `Content-Length`).
fn oversized_answer(socket: &Path, req: &RawRequest) -> io::Result<Reply> {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!("{} {} HTTP/1.1\r\nHost: fedci\r\n", req.method, req.path);
    for (k, v) in &req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", req.body.len()));
    let mut wire = head.into_bytes();
    wire.extend_from_slice(&req.body);
    // The node may close mid-body: the answer it sent first is what counts.
    let _ = s.write_all(&wire);
    let mut raw = Vec::new();
    if let Err(e) = s.read_to_end(&mut raw)
        && raw.is_empty()
    {
        return Err(e);
    }
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::other(format!("no answer head: {text:?}")))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("bad status line: {head:?}")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: body.as_bytes().to_vec().into(),
    })
}

/// An open NDJSON stream (`GET /v1/stream`), read one line at a time.
#[derive(Debug)]
pub struct EventStream {
    inner: blocking::EventStream,
    pub status: u16,
    /// Header names in lowercase, in the order received.
    pub headers: Vec<(String, String)>,
}

impl EventStream {
    /// Sends `GET path`; an error status is an error naming it.
    pub fn open(socket: &Path, path: &str) -> io::Result<EventStream> {
        let inner = Client::new(socket).stream_path(path).map_err(io_error)?;
        Ok(EventStream {
            status: inner.status(),
            headers: inner.headers().to_vec(),
            inner,
        })
    }

    /// The next non-blank line, or None if none arrived before `timeout` or the stream ended.
    pub fn next_line(&mut self, timeout: Duration) -> io::Result<Option<String>> {
        self.inner.next_line(timeout).map_err(io_error)
    }

    /// The next event of the stream as JSON (keepalive blank lines skipped).
    pub fn next_event(&mut self, timeout: Duration) -> Option<serde_json::Value> {
        self.inner
            .next_item(timeout)
            .unwrap_or_else(|e| panic!("reading the event stream: {e}"))
    }
}
