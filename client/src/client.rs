//! The HTTP/1.1 client: one connection per call (or a kept-alive [`Conn`] for load), every
//! answer read with a deadline and a byte cap, and one typed method per endpoint.

use crate::error::ClientError;
use crate::query::{EventQuery, with_query};
use crate::stream::EventStream;
use crate::types::*;
use bytes::Bytes;
use fedci_proto::EventId;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::time::Duration;

/// How long a plain call may take; streams have no overall limit.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest answer read into memory (query pages and evidence bundles are far smaller).
pub const MAX_ANSWER: usize = 256 << 20;

/// Where the node listens: its Unix sockets, or the web view's TCP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Unix(PathBuf),
    /// `host:port`, e.g. `127.0.0.1:8080`.
    Tcp(String),
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "{}", p.display()),
            Endpoint::Tcp(a) => write!(f, "{a}"),
        }
    }
}

/// Any request: what typed calls are made of, and what tests of error paths send.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: Method,
    /// Path and query, e.g. `/v1/events?kind=x`.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl RawRequest {
    pub fn new(method: Method, path: impl Into<String>) -> RawRequest {
        RawRequest {
            method,
            path: path.into(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    pub fn get(path: impl Into<String>) -> RawRequest {
        RawRequest::new(Method::GET, path)
    }

    pub fn header(mut self, name: &str, value: &str) -> RawRequest {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// A body with its content type.
    pub fn body(mut self, content_type: &str, body: impl Into<Bytes>) -> RawRequest {
        self.headers
            .push(("content-type".to_string(), content_type.to_string()));
        self.body = body.into();
        self
    }

    /// A JSON body.
    pub fn json<B: Serialize + ?Sized>(self, body: &B) -> Result<RawRequest, ClientError> {
        let bytes = serde_json::to_vec(body).map_err(|source| ClientError::Decode {
            what: "serialisable JSON",
            source,
        })?;
        Ok(self.body("application/json", bytes))
    }

    fn build(self, default_host: &str) -> Result<Request<Full<Bytes>>, ClientError> {
        let mut req = Request::builder().method(self.method).uri(self.path);
        // A caller reaching a named host (a webhook) says so; otherwise the endpoint's.
        if !self
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("host"))
        {
            req = req.header("host", default_host);
        }
        for (k, v) in &self.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        Ok(req.body(Full::new(self.body))?)
    }
}

/// A complete answer, whatever its status.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    /// Header names in lowercase, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Reply {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The reply, or the typed API error when its status is 4xx/5xx.
    pub fn ok(self) -> Result<Reply, ClientError> {
        if self.status >= 400 {
            Err(ClientError::from_answer(self.status, &self.body))
        } else {
            Ok(self)
        }
    }

    /// The body as `T`.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, ClientError> {
        serde_json::from_slice(&self.body).map_err(|source| ClientError::Decode {
            what: std::any::type_name::<T>(),
            source,
        })
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOW: usize = 2000;
        let shown: String = self.text().chars().take(SHOW).collect();
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &shown)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// A kept-alive connection: requests on it go one after another.
#[derive(Debug)]
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    /// `Host` when the request names none: `fedci` on a Unix socket, the address on TCP.
    host: String,
}

impl Conn {
    /// Sends a request; the answer's body still streams.
    pub async fn open(&mut self, req: RawRequest) -> Result<Response<Incoming>, ClientError> {
        self.sender.ready().await?;
        Ok(self.sender.send_request(req.build(&self.host)?).await?)
    }

    /// Sends a request and reads the whole answer (any status), within [`REQUEST_TIMEOUT`].
    pub async fn send(&mut self, req: RawRequest) -> Result<Reply, ClientError> {
        let work = async {
            let resp = self.open(req).await?;
            read_reply(resp).await
        };
        tokio::time::timeout(REQUEST_TIMEOUT, work)
            .await
            .map_err(|_| ClientError::Timeout(REQUEST_TIMEOUT))?
    }
}

impl Conn {
    /// Like [`Conn::send`]; a 4xx/5xx answer becomes [`ClientError::Api`].
    pub async fn call(&mut self, req: RawRequest) -> Result<Reply, ClientError> {
        self.send(req).await?.ok()
    }

    /// `POST /v1/events` on this connection.
    pub async fn publish(&mut self, req: &PublishRequest) -> Result<Published, ClientError> {
        self.call(RawRequest::new(Method::POST, "/v1/events").json(req)?)
            .await?
            .parse()
    }
}

/// An answer's headers, names in lowercase, in the order received.
pub(crate) fn header_list<B>(resp: &Response<B>) -> Vec<(String, String)> {
    resp.headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

async fn read_reply(resp: Response<Incoming>) -> Result<Reply, ClientError> {
    let status = resp.status().as_u16();
    let headers = header_list(&resp);
    let body = Limited::new(resp.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| match e.downcast::<hyper::Error>() {
            Ok(h) => ClientError::Http(*h),
            Err(_) => ClientError::TooLarge(MAX_ANSWER),
        })?
        .to_bytes();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// A client of one node endpoint. Cheap to clone; every call opens its own connection.
#[derive(Debug, Clone)]
pub struct Client {
    endpoint: Endpoint,
}

impl Client {
    /// A client of the node's Unix socket (`fedci.sock` or `admin.sock`).
    pub fn new(socket: impl Into<PathBuf>) -> Client {
        Client {
            endpoint: Endpoint::Unix(socket.into()),
        }
    }

    pub fn with_endpoint(endpoint: Endpoint) -> Client {
        Client { endpoint }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Opens a connection for several requests in a row.
    pub async fn connect(&self) -> Result<Conn, ClientError> {
        let connect_err = |source: std::io::Error| match source.kind() {
            std::io::ErrorKind::PermissionDenied => {
                ClientError::NotPermitted(self.endpoint.to_string())
            }
            _ => ClientError::Connect {
                endpoint: self.endpoint.to_string(),
                source,
            },
        };
        let host = match &self.endpoint {
            Endpoint::Unix(_) => "fedci".to_string(),
            Endpoint::Tcp(addr) => addr.clone(),
        };
        let sender = match &self.endpoint {
            Endpoint::Unix(path) => {
                let io = tokio::net::UnixStream::connect(path)
                    .await
                    .map_err(connect_err)?;
                handshake(io).await?
            }
            Endpoint::Tcp(addr) => {
                let io = tokio::net::TcpStream::connect(addr.as_str())
                    .await
                    .map_err(connect_err)?;
                handshake(io).await?
            }
        };
        Ok(Conn { sender, host })
    }

    /// Sends a request on a new connection; the answer's body still streams.
    pub async fn open(&self, req: RawRequest) -> Result<Response<Incoming>, ClientError> {
        self.connect().await?.open(req).await
    }

    /// Sends a request and reads the whole answer, whatever its status.
    pub async fn send(&self, req: RawRequest) -> Result<Reply, ClientError> {
        let work = async {
            let resp = self.open(req).await?;
            read_reply(resp).await
        };
        tokio::time::timeout(REQUEST_TIMEOUT, work)
            .await
            .map_err(|_| ClientError::Timeout(REQUEST_TIMEOUT))?
    }

    /// Sends a request; a 4xx/5xx answer becomes [`ClientError::Api`].
    pub async fn call(&self, req: RawRequest) -> Result<Reply, ClientError> {
        self.send(req).await?.ok()
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.call(RawRequest::get(path)).await?.parse()
    }

    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.call(RawRequest::new(Method::POST, path).json(body)?)
            .await?
            .parse()
    }

    /// `POST /v1/events`: the node signs and stores it; answers after the commit.
    pub async fn publish(&self, req: &PublishRequest) -> Result<Published, ClientError> {
        self.post("/v1/events", req).await
    }

    /// `POST /v1/events/raw`: a pre-signed COSE_Sign1 event.
    pub async fn publish_raw(&self, cose: impl Into<Bytes>) -> Result<Published, ClientError> {
        self.call(RawRequest::new(Method::POST, "/v1/events/raw").body("application/cose", cose))
            .await?
            .parse()
    }

    /// `GET /v1/events/{id}` as JSON.
    pub async fn event(&self, id: &str) -> Result<EventItem, ClientError> {
        self.get(&format!("/v1/events/{id}")).await
    }

    /// `GET /v1/events/{id}` as the signed COSE_Sign1 bytes exactly as stored.
    pub async fn event_cose(&self, id: &str) -> Result<Bytes, ClientError> {
        let req = RawRequest::get(format!("/v1/events/{id}")).header("accept", "application/cose");
        Ok(self.call(req).await?.body)
    }

    /// `GET /v1/events/{id}?format=…`: the event as a CDEvent, CloudEvent or Eiffel event
    /// (422 when the format has no rendering of its kind).
    pub async fn event_as(
        &self,
        id: &str,
        format: Format,
    ) -> Result<serde_json::Value, ClientError> {
        self.get(&format!("/v1/events/{id}?format={format}")).await
    }

    /// One page of `GET /v1/events`.
    pub async fn query(&self, q: &EventQuery) -> Result<Page, ClientError> {
        self.get(&q.path("/v1/events")).await
    }

    /// One page of `GET /v1/events` in an interop format (`q.format`).
    pub async fn query_as(&self, q: &EventQuery) -> Result<Page<FormatItem>, ClientError> {
        self.get(&q.path("/v1/events")).await
    }

    /// Every matching event, page after page, up to `max` of them.
    pub async fn query_all(
        &self,
        q: &EventQuery,
        max: usize,
    ) -> Result<Vec<EventItem>, ClientError> {
        let mut q = q.clone();
        let mut out = Vec::new();
        loop {
            let page = self.query(&q).await?;
            let empty = page.events.is_empty();
            out.extend(page.events);
            if page.complete || out.len() >= max || (empty && q.after == Some(page.next_after)) {
                out.truncate(max);
                return Ok(out);
            }
            q.after = Some(page.next_after);
        }
    }

    /// `GET /v1/stream`: history, then live events, one NDJSON line each.
    pub async fn stream(&self, q: &EventQuery) -> Result<EventStream, ClientError> {
        let resp = self.open(RawRequest::get(q.path("/v1/stream"))).await?;
        EventStream::from_response(resp).await
    }

    pub async fn consumers(&self) -> Result<Consumers, ClientError> {
        self.get("/v1/consumers").await
    }

    pub async fn ack(&self, consumer: &str, arrival: u64) -> Result<ConsumerAck, ClientError> {
        self.post(
            &format!("/v1/consumers/{consumer}/ack"),
            &AckRequest { arrival },
        )
        .await
    }

    pub async fn remove_consumer(&self, consumer: &str) -> Result<ConsumerRemoved, ClientError> {
        self.call(RawRequest::new(
            Method::DELETE,
            format!("/v1/consumers/{consumer}"),
        ))
        .await?
        .parse()
    }

    /// `GET /v1/trace/{id}` as a graph.
    pub async fn trace(
        &self,
        id: &EventId,
        direction: Direction,
        depth: u32,
    ) -> Result<TraceGraph, ClientError> {
        self.get(&trace_path(id, direction, depth, "json")).await
    }

    /// `GET /v1/trace/{id}` in another format: `dot`, `mermaid` (text) or `bundle` (CBOR).
    pub async fn trace_as(
        &self,
        id: &str,
        direction: Direction,
        depth: u32,
        format: &str,
    ) -> Result<Bytes, ClientError> {
        let req = RawRequest::get(trace_path(id, direction, depth, format));
        Ok(self.call(req).await?.body)
    }

    pub async fn status(&self) -> Result<Status, ClientError> {
        self.get("/v1/status").await
    }

    pub async fn trust(&self) -> Result<Trust, ClientError> {
        self.get("/v1/trust").await
    }

    /// Pins a community's root (admin socket).
    pub async fn pin(&self, community: &str, key: &str) -> Result<PinAnswer, ClientError> {
        let req = PinRequest {
            community: community.to_string(),
            key: key.to_string(),
        };
        self.post("/v1/trust/pins", &req).await
    }

    /// Dials and remembers a peer (admin socket).
    pub async fn add_peer(&self, addr: &str) -> Result<PeerAdded, ClientError> {
        self.post(
            "/v1/peers",
            &PeerRequest {
                addr: addr.to_string(),
            },
        )
        .await
    }

    /// Blocks or unblocks a peer (admin socket).
    pub async fn block_peer(&self, peer_id: &str, blocked: bool) -> Result<Blocked, ClientError> {
        let path = if blocked {
            "/v1/peers/block"
        } else {
            "/v1/peers/unblock"
        };
        let req = BlockRequest {
            peer_id: peer_id.to_string(),
        };
        self.post(path, &req).await
    }

    /// `GET /metrics`: Prometheus text.
    pub async fn metrics(&self) -> Result<String, ClientError> {
        Ok(self.call(RawRequest::get("/metrics")).await?.text())
    }
}

fn trace_path(
    id: &(impl std::fmt::Display + ?Sized),
    direction: Direction,
    depth: u32,
    format: &str,
) -> String {
    with_query(
        &format!("/v1/trace/{id}"),
        &[
            ("direction", direction.as_str().to_string()),
            ("depth", depth.to_string()),
            ("format", format.to_string()),
        ],
    )
}

async fn handshake<IO>(io: IO) -> Result<SendRequest<Full<Bytes>>, ClientError>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(async move {
        // The connection ends with the last answer or when the peer goes; callers see that
        // as an error on their own request.
        let _ = conn.await;
    });
    Ok(sender)
}
