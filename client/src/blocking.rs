//! The same client for synchronous callers (the integration tests): each call runs the async
//! [`crate::Client`] on one small shared runtime. Never call it from inside a tokio runtime.

use crate::error::ClientError;
use crate::types::*;
use crate::{Endpoint, EventQuery, RawRequest, Reply};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

fn runtime() -> Result<&'static tokio::runtime::Runtime, ClientError> {
    static RT: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fedci-client")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| ClientError::Stream(format!("cannot start the client runtime: {e}")))
}

/// Runs one future of the async client to completion.
pub fn wait<T>(f: impl Future<Output = Result<T, ClientError>>) -> Result<T, ClientError> {
    runtime()?.block_on(f)
}

/// A blocking client of one node endpoint.
#[derive(Debug, Clone)]
pub struct Client {
    inner: crate::Client,
}

impl Client {
    pub fn new(socket: impl Into<PathBuf>) -> Client {
        Client {
            inner: crate::Client::new(socket),
        }
    }

    pub fn with_endpoint(endpoint: Endpoint) -> Client {
        Client {
            inner: crate::Client::with_endpoint(endpoint),
        }
    }

    /// The async client underneath, for calls this wrapper does not name: `wait(c.inner().x())`.
    pub fn inner(&self) -> &crate::Client {
        &self.inner
    }

    pub fn send(&self, req: RawRequest) -> Result<Reply, ClientError> {
        wait(self.inner.send(req))
    }

    pub fn call(&self, req: RawRequest) -> Result<Reply, ClientError> {
        wait(self.inner.call(req))
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        wait(self.inner.get(path))
    }

    pub fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        wait(self.inner.post(path, body))
    }

    pub fn publish(&self, req: &PublishRequest) -> Result<Published, ClientError> {
        wait(self.inner.publish(req))
    }

    pub fn event(&self, id: &str) -> Result<EventItem, ClientError> {
        wait(self.inner.event(id))
    }

    pub fn query(&self, q: &EventQuery) -> Result<Page, ClientError> {
        wait(self.inner.query(q))
    }

    pub fn query_all(&self, q: &EventQuery, max: usize) -> Result<Vec<EventItem>, ClientError> {
        wait(self.inner.query_all(q, max))
    }

    pub fn status(&self) -> Result<Status, ClientError> {
        wait(self.inner.status())
    }

    pub fn trust(&self) -> Result<Trust, ClientError> {
        wait(self.inner.trust())
    }

    /// Opens `GET path` (a `/v1/stream?…` path) as a stream.
    pub fn stream_path(&self, path: &str) -> Result<EventStream, ClientError> {
        let inner = wait(async {
            let resp = self.inner.open(RawRequest::get(path)).await?;
            crate::EventStream::from_response(resp).await
        })?;
        Ok(EventStream { inner })
    }

    pub fn stream(&self, q: &EventQuery) -> Result<EventStream, ClientError> {
        self.stream_path(&q.path("/v1/stream"))
    }
}

/// A blocking [`crate::EventStream`].
#[derive(Debug)]
pub struct EventStream {
    inner: crate::EventStream,
}

impl EventStream {
    pub fn status(&self) -> u16 {
        self.inner.status
    }

    /// Header names in lowercase, in the order received.
    pub fn headers(&self) -> &[(String, String)] {
        &self.inner.headers
    }

    /// The next non-blank line, or None if none arrived within `timeout` or the stream ended.
    pub fn next_line(&mut self, timeout: Duration) -> Result<Option<String>, ClientError> {
        let inner = &mut self.inner;
        let next =
            runtime()?.block_on(async { tokio::time::timeout(timeout, inner.next_line()).await });
        match next {
            Err(_) | Ok(None) => Ok(None),
            Ok(Some(line)) => line.map(Some),
        }
    }

    /// The next line parsed as `T`, or None on timeout or end.
    pub fn next_item<T: DeserializeOwned>(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<T>, ClientError> {
        let inner = &mut self.inner;
        let next = runtime()?
            .block_on(async { tokio::time::timeout(timeout, inner.next_item::<T>()).await });
        match next {
            Err(_) | Ok(None) => Ok(None),
            Ok(Some(item)) => item.map(|(_, t)| Some(t)),
        }
    }
}
