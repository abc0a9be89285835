//! NDJSON streams (`GET /v1/stream`): lines through tokio-util's `LinesCodec`, bounded in
//! length, keepalive blank lines skipped.

use crate::error::ClientError;
use futures::{StreamExt, TryStreamExt};
use http_body_util::{BodyDataStream, BodyExt, Limited};
use hyper::Response;
use hyper::body::Incoming;
use serde::de::DeserializeOwned;
use std::pin::Pin;
use tokio::io::AsyncRead;
use tokio_util::codec::{FramedRead, LinesCodec, LinesCodecError};
use tokio_util::io::StreamReader;

/// Longest line accepted from a stream (an event's JSON is at most a few hundred KiB).
pub const MAX_LINE: usize = 4 << 20;
/// Most bytes read of an error answer to a stream request.
const MAX_ERROR_BODY: usize = 64 << 10;

type Reader = Pin<Box<dyn AsyncRead + Send>>;

/// An open stream, read one line at a time.
pub struct EventStream {
    pub status: u16,
    /// Header names in lowercase, in the order received.
    pub headers: Vec<(String, String)>,
    lines: FramedRead<Reader, LinesCodec>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl EventStream {
    /// The stream of a 2xx answer; an error answer becomes [`ClientError::Api`].
    pub async fn from_response(resp: Response<Incoming>) -> Result<EventStream, ClientError> {
        let status = resp.status().as_u16();
        if status >= 400 {
            let body = Limited::new(resp.into_body(), MAX_ERROR_BODY)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            return Err(ClientError::from_answer(status, &body));
        }
        let headers = crate::client::header_list(&resp);
        let data = BodyDataStream::new(resp.into_body()).map_err(std::io::Error::other);
        let reader: Reader = Box::pin(StreamReader::new(data));
        Ok(EventStream {
            status,
            headers,
            lines: FramedRead::new(reader, LinesCodec::new_with_max_length(MAX_LINE)),
        })
    }

    /// The next non-blank line; None when the node ended the stream. Cancel-safe: a line
    /// half received stays buffered for the next call.
    pub async fn next_line(&mut self) -> Option<Result<String, ClientError>> {
        loop {
            return match self.lines.next().await? {
                Ok(line) if line.trim().is_empty() => continue,
                Ok(line) => Some(Ok(line)),
                Err(LinesCodecError::MaxLineLengthExceeded) => Some(Err(ClientError::Stream(
                    format!("a line over {MAX_LINE} bytes"),
                ))),
                Err(LinesCodecError::Io(e)) => Some(Err(ClientError::Stream(e.to_string()))),
            };
        }
    }

    /// The next line and its parse as `T` (e.g. [`crate::types::EventItem`]); a line that is
    /// not a `T` is [`ClientError::BadLine`], and the stream can still be read on.
    pub async fn next_item<T: DeserializeOwned>(
        &mut self,
    ) -> Option<Result<(String, T), ClientError>> {
        let line = match self.next_line().await? {
            Ok(l) => l,
            Err(e) => return Some(Err(e)),
        };
        Some(match serde_json::from_str(&line) {
            Ok(item) => Ok((line, item)),
            Err(source) => Err(ClientError::BadLine { line, source }),
        })
    }
}
