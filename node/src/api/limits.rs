//! Memory bounds shared by all API requests: how many streams are open, and how many bytes of
//! query answers are being built or written at once. A permit is held until the answer has
//! been handed to the socket, so clients that never read cannot pile answers up in memory.

use super::ApiError;
use crate::config::Config;
use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Permits of the answer budget are KiB, so one page's share fits a `u32`.
const UNIT: usize = 1024;
/// How long a query waits for its share of the answer budget before a 503 `busy`.
const ANSWER_WAIT: Duration = Duration::from_secs(5);
/// Query answers one client process may have in flight, so one that never reads its answers
/// cannot hold the whole budget.
const ANSWERS_PER_CLIENT: usize = 4;

/// The client process of a connection (its pid from the socket's peer credentials; `None`
/// when the kernel does not say), put in every request's extensions by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientId(pub Option<i32>);

#[derive(Debug)]
pub struct ApiLimits {
    streams: Arc<Semaphore>,
    answers: Arc<Semaphore>,
    per_client: Arc<Mutex<HashMap<ClientId, usize>>>,
    /// Largest query page, in events.
    pub page_events: usize,
    /// Largest query page, in bytes of its JSON answer.
    pub page_bytes: usize,
}

impl ApiLimits {
    pub fn from_config(c: &Config) -> Self {
        let budget_units = (c.api_buffer_bytes / UNIT).max(1);
        let page_units = (c.max_page_bytes / UNIT).clamp(1, budget_units);
        ApiLimits {
            streams: Arc::new(Semaphore::new(c.max_streams)),
            answers: Arc::new(Semaphore::new(budget_units)),
            per_client: Arc::default(),
            page_events: c.max_page.max(1),
            page_bytes: page_units * UNIT,
        }
    }

    /// A place for one more open stream, or 503 `too_many_streams`.
    pub fn stream(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.streams.clone().try_acquire_owned().map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too_many_streams",
                "the node serves as many streams as it allows (max_streams); retry later",
            )
        })
    }

    /// Room for one query page ([`ApiLimits::page_bytes`]), or 503 `busy` if this client
    /// already has [`ANSWERS_PER_CLIENT`] answers in flight, or if other answers hold the
    /// budget for longer than a few seconds.
    pub async fn answer(&self, client: ClientId) -> Result<AnswerPermit, ApiError> {
        let busy = |why: &str| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                format!("{why}; retry later"),
            )
        };
        let mine = ClientSlot::take(&self.per_client, client)
            .ok_or_else(|| busy("this client has as many query answers in flight as it may"))?;
        let units = u32::try_from(self.page_bytes / UNIT).unwrap_or(u32::MAX);
        match tokio::time::timeout(ANSWER_WAIT, self.answers.clone().acquire_many_owned(units))
            .await
        {
            Ok(Ok(bytes)) => Ok(AnswerPermit {
                bytes,
                _client: mine,
            }),
            _ => Err(busy(
                "too many query answers are in flight (api_buffer_bytes)",
            )),
        }
    }
}

/// A query answer's share of the budget and its place among its client's answers.
#[derive(Debug)]
pub struct AnswerPermit {
    bytes: OwnedSemaphorePermit,
    _client: ClientSlot,
}

#[derive(Debug)]
struct ClientSlot {
    map: Arc<Mutex<HashMap<ClientId, usize>>>,
    client: ClientId,
}

impl ClientSlot {
    fn take(map: &Arc<Mutex<HashMap<ClientId, usize>>>, client: ClientId) -> Option<ClientSlot> {
        let mut m = map.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(client).or_default();
        if *n >= ANSWERS_PER_CLIENT {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            map: map.clone(),
            client,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.client);
            }
        }
    }
}

/// A response body of `bytes` that gives back the part of `permit` it does not use now, and
/// the rest once hyper has taken the last of it (hyper stops polling a body while its write
/// buffer is full, so the end of the stream is seen only when the client has read most of it).
pub fn body_with_permit(bytes: Bytes, mut permit: AnswerPermit) -> Body {
    let used = bytes.len().div_ceil(UNIT).max(1);
    if let Some(spare) = permit.bytes.num_permits().checked_sub(used)
        && spare > 0
    {
        drop(permit.bytes.split(spare));
    }
    let chunks =
        futures::stream::unfold((Some(bytes), Some(permit)), |(bytes, permit)| async move {
            let chunk = bytes?;
            Some((Ok::<_, std::convert::Infallible>(chunk), (None, permit)))
        });
    Body::from_stream(chunks)
}
