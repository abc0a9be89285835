//! Memory bounds shared by all API requests: how many streams are open, and how many bytes of
//! query answers are being built or written at once. A permit is held until the answer has
//! been handed to the socket, so clients that never read cannot pile answers up in memory.

use super::ApiError;
use crate::config::Config;
use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Permits of the answer budget are KiB, so one page's share fits a `u32`.
const UNIT: usize = 1024;
/// How long a query waits for its share of the answer budget before a 503 `busy`.
const ANSWER_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct ApiLimits {
    streams: Arc<Semaphore>,
    answers: Arc<Semaphore>,
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

    /// Room for one query page ([`ApiLimits::page_bytes`]), or 503 `busy` if other answers
    /// hold the budget for longer than a few seconds.
    pub async fn answer(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        let units = u32::try_from(self.page_bytes / UNIT).unwrap_or(u32::MAX);
        match tokio::time::timeout(ANSWER_WAIT, self.answers.clone().acquire_many_owned(units))
            .await
        {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many query answers are in flight (api_buffer_bytes); retry later",
            )),
        }
    }
}

/// A response body of `bytes` that gives back the part of `permit` it does not use now, and
/// the rest once hyper has taken the last of it (hyper stops polling a body while its write
/// buffer is full, so the end of the stream is seen only when the client has read most of it).
pub fn body_with_permit(bytes: Bytes, mut permit: OwnedSemaphorePermit) -> Body {
    let used = u32::try_from(bytes.len().div_ceil(UNIT).max(1)).unwrap_or(u32::MAX);
    if let Some(spare) = permit.num_permits().checked_sub(used as usize)
        && spare > 0
    {
        drop(permit.split(spare));
    }
    let chunks =
        futures::stream::unfold((Some(bytes), Some(permit)), |(bytes, permit)| async move {
            let chunk = bytes?;
            Some((Ok::<_, std::convert::Infallible>(chunk), (None, permit)))
        });
    Body::from_stream(chunks)
}
