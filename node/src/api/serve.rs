//! Accepting connections on a Unix socket and serving a router on them: a cap on open
//! connections in total and per client process (its pid, from the socket's peer credentials),
//! a header-read timeout, an idle timeout, and a graceful end on shutdown. Any listener with
//! any router is served by [`serve_listener`] (generic over [`Listener`]: Unix or TCP), so a
//! second socket reuses all of it.

use super::access::PeerCred;
use super::limits::ClientId;
use crate::config::Config;
use crate::metrics::Metrics;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Largest read or write buffer of one connection (hyper's default is ~400 KB): request
/// heads beyond it are refused, so idle connections stay cheap.
const MAX_BUF: usize = 64 << 10;
/// How long open connections get to finish after shutdown before they are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// At most one "connection refused" warning this often; the rest are summed into it.
const REFUSED_LOG_EVERY: Duration = Duration::from_secs(10);

/// A socket [`serve_listener`] accepts connections on: the Unix API socket, or the read-only
/// web view's TCP listener.
pub trait Listener: Send + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn accept(&self) -> impl Future<Output = io::Result<Self::Stream>> + Send;
    /// The key of the per-client cap: the peer's pid on a Unix socket; `None` where there is
    /// none, so all such connections share one per-client budget.
    fn client(stream: &Self::Stream) -> Option<i32>;
    /// Who is calling, for consumer ownership: the peer's uid on a Unix socket, else nobody.
    fn caller(stream: &Self::Stream) -> PeerCred;
    /// Writes what the socket takes at once, without waiting.
    fn try_write(stream: &Self::Stream, buf: &[u8]) -> io::Result<usize>;
}

impl Listener for UnixListener {
    type Stream = UnixStream;
    async fn accept(&self) -> io::Result<UnixStream> {
        UnixListener::accept(self).await.map(|(s, _)| s)
    }
    fn client(stream: &UnixStream) -> Option<i32> {
        stream.peer_cred().ok().and_then(|c| c.pid())
    }
    fn caller(stream: &UnixStream) -> PeerCred {
        PeerCred::of(stream)
    }
    fn try_write(stream: &UnixStream, buf: &[u8]) -> io::Result<usize> {
        stream.try_write(buf)
    }
}

impl Listener for TcpListener {
    type Stream = TcpStream;
    async fn accept(&self) -> io::Result<TcpStream> {
        let (s, _) = TcpListener::accept(self).await?;
        // Small JSON answers and NDJSON lines should leave at once, not after Nagle's delay.
        let _ = s.set_nodelay(true);
        Ok(s)
    }
    fn client(_: &TcpStream) -> Option<i32> {
        None
    }
    fn caller(_: &TcpStream) -> PeerCred {
        PeerCred { uid: None }
    }
    fn try_write(stream: &TcpStream, buf: &[u8]) -> io::Result<usize> {
        stream.try_write(buf)
    }
}

/// Limits of one socket's connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub max_connections: usize,
    pub max_per_client: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

impl ConnLimits {
    pub fn from_config(c: &Config) -> Self {
        ConnLimits {
            max_connections: c.max_connections.max(1),
            max_per_client: c.max_connections_per_client.max(1),
            header_timeout: Duration::from_secs(c.header_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(c.idle_timeout_secs.max(1)),
        }
    }
}

/// Serves `app` on every connection `listener` accepts until `shutdown` fires, then lets open
/// connections finish (streams end on the same signal) for a few seconds.
pub async fn serve_listener<L: Listener>(
    listener: L,
    app: Router,
    limits: ConnLimits,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let slots = Arc::new(Slots::new(limits, metrics.clone()));
    let mut conns = JoinSet::new();
    let mut refusals = RefusalLog::default();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            _ = shutdown.cancelled() => break,
        };
        let stream = match accepted {
            Ok(stream) => stream,
            Err(e) => {
                // Out of file descriptors, most likely: back off instead of spinning.
                refusals.accept_failed(&e);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
                    _ = shutdown.cancelled() => break,
                }
            }
        };
        let client = L::client(&stream);
        match slots.take(client) {
            Ok(slot) => {
                let caller = L::caller(&stream);
                conns.spawn(serve_conn(
                    stream,
                    caller,
                    app.clone(),
                    limits,
                    slot,
                    metrics.clone(),
                    shutdown.clone(),
                ));
            }
            Err(cap) => {
                metrics.api_connections_refused.fetch_add(1, Relaxed);
                refusals.refused(client, cap);
                refuse(&stream, L::try_write);
            }
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while conns.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::debug!(
            open = conns.len(),
            "dropping API connections still open at shutdown"
        );
    }
    Ok(())
}

/// Serves one connection until it ends, times out, or shutdown has let it finish.
async fn serve_conn<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    cred: PeerCred,
    app: Router,
    limits: ConnLimits,
    slot: Slot,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Tracked {
        inner: stream,
        activity: activity.clone(),
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_BUF);
    // The slot is held for as long as this function runs, i.e. the connection lives.
    let app = app
        .layer(axum::Extension(ClientId(slot.client)))
        .layer(axum::Extension(ConnectInfo(cred)));
    let conn = builder.serve_connection(io, TowerToHyperService::new(app));
    tokio::pin!(conn);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    if e.is_timeout() {
                        metrics.api_header_timeouts.fetch_add(1, Relaxed);
                    }
                    tracing::debug!(error = %e, "API connection ended with an error");
                }
                return;
            }
            _ = activity.idle_for(limits.idle_timeout) => {
                metrics.api_idle_timeouts.fetch_add(1, Relaxed);
                tracing::debug!("closing an idle API connection");
                return;
            }
            _ = shutdown.cancelled(), if !shutting_down => {
                shutting_down = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Tells a refused client why, if its socket takes the bytes at once, then closes.
fn refuse<S>(stream: &S, try_write: fn(&S, &[u8]) -> io::Result<usize>) {
    const BODY: &str = r#"{"error":{"code":"too_many_connections","message":"the node has too many open connections from this client or in total; retry later"}}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = try_write(stream, answer.as_bytes());
}

/// Which cap refused a connection.
#[derive(Debug, Clone, Copy)]
enum Cap {
    Total,
    PerClient,
}

/// Open connections, in total and per client pid (`None`: credentials unavailable).
struct Slots {
    limits: ConnLimits,
    metrics: Arc<Metrics>,
    open: Mutex<(usize, HashMap<Option<i32>, usize>)>,
}

impl Slots {
    fn new(limits: ConnLimits, metrics: Arc<Metrics>) -> Self {
        Slots {
            limits,
            metrics,
            open: Mutex::new((0, HashMap::new())),
        }
    }

    fn take(self: &Arc<Self>, client: Option<i32>) -> Result<Slot, Cap> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let (total, per) = &mut *open;
        if *total >= self.limits.max_connections {
            return Err(Cap::Total);
        }
        let mine = per.entry(client).or_default();
        if *mine >= self.limits.max_per_client {
            return Err(Cap::PerClient);
        }
        *mine += 1;
        *total += 1;
        self.metrics.api_connections_open.fetch_add(1, Relaxed);
        Ok(Slot {
            slots: self.clone(),
            client,
        })
    }
}

/// One open connection's place; given back on drop.
struct Slot {
    slots: Arc<Slots>,
    client: Option<i32>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        let (total, per) = &mut *open;
        *total = total.saturating_sub(1);
        if let Some(n) = per.get_mut(&self.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                per.remove(&self.client);
            }
        }
        self.slots
            .metrics
            .api_connections_open
            .fetch_sub(1, Relaxed);
    }
}

/// Rate-limited warnings about refused connections and failed accepts.
#[derive(Default)]
struct RefusalLog {
    last: Option<Instant>,
    suppressed: u64,
}

impl RefusalLog {
    fn due(&mut self) -> Option<u64> {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < REFUSED_LOG_EVERY)
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }

    fn refused(&mut self, client: Option<i32>, cap: Cap) {
        if let Some(suppressed) = self.due() {
            let cap = match cap {
                Cap::Total => "max_connections",
                Cap::PerClient => "max_connections_per_client",
            };
            tracing::warn!(
                pid = client.map_or(-1, i64::from),
                cap,
                also_refused_since_last_warning = suppressed,
                "API connection refused: connection cap reached"
            );
        }
    }

    fn accept_failed(&mut self, e: &io::Error) {
        if let Some(suppressed) = self.due() {
            tracing::warn!(error = %e, also_refused_since_last_warning = suppressed, "API socket accept failed");
        }
    }
}

/// When a byte last moved on a connection, in ms since it opened.
struct Activity {
    opened: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            opened: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Relaxed);
    }

    /// Resolves once nothing has moved for `idle`.
    async fn idle_for(&self, idle: Duration) {
        loop {
            let deadline = self.opened + Duration::from_millis(self.last_ms.load(Relaxed)) + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline.into()).await;
        }
    }
}

/// A socket that records when bytes move, for the idle timeout.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(res, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
