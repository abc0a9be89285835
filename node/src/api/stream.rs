//! `GET /v1/stream`: NDJSON, history then live, optionally from a durable consumer's cursor.
//!
//! The stream pulls pages from the store as the client reads (hyper only polls when the
//! socket has room), so a slow reader holds at most one page in memory, and a page is bounded
//! in bytes ([`PAGE_BYTES`]) as well as events. Open streams are capped per node
//! (`max_streams`). New commits wake a stream through a watch channel, which cannot overflow.
//! Cursors are only moved by explicit acks: delivery is at-least-once.

use super::events::{Params, render_item};
use super::{ApiError, AppState};
use crate::store::PageLimit;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::collections::VecDeque;
use std::time::Duration;

/// Most events and bytes (of NDJSON lines) one stream holds at a time.
const PAGE: PageLimit = PageLimit {
    events: 256,
    bytes: PAGE_BYTES,
};
const PAGE_BYTES: usize = 256 << 10;
/// An idle stream sends a blank line this often so clients notice a dead node, and at least
/// three times per idle timeout so the node's own idle timeout never closes a live stream.
const KEEPALIVE: Duration = Duration::from_secs(15);

fn keepalive(st: &AppState) -> Duration {
    KEEPALIVE.min(
        Duration::from_millis(st.config.idle_timeout_secs.saturating_mul(1000) / 3)
            .max(Duration::from_millis(100)),
    )
}

struct Cursor {
    st: AppState,
    params: Params,
    after: u64,
    buffered: VecDeque<Bytes>,
    commits: tokio::sync::watch::Receiver<u64>,
    /// This stream's place under `max_streams`, given back when the client goes.
    _slot: tokio::sync::OwnedSemaphorePermit,
}

pub async fn stream(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(q.as_deref().unwrap_or(""))?;
    let slot = st.limits.stream()?;
    let after = match (params.after, &params.consumer) {
        (Some(a), _) => a,
        (None, Some(name)) => {
            let name = name.clone();
            st.store.read(move |s| s.cursor(&name)).await?.unwrap_or(0)
        }
        (None, None) => 0,
    };
    let commits = st.store.subscribe_commits();
    let cursor = Cursor {
        st,
        params,
        after,
        buffered: VecDeque::new(),
        commits,
        _slot: slot,
    };
    let body = futures::stream::unfold(cursor, next_chunk);
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

async fn next_chunk(mut c: Cursor) -> Option<(Result<Bytes, std::io::Error>, Cursor)> {
    loop {
        if let Some(line) = c.buffered.pop_front() {
            return Some((Ok(line), c));
        }
        if c.st.shutdown.is_cancelled() {
            return None;
        }
        // Mark the current commit as seen before reading, so a commit racing the read wakes us.
        c.commits.borrow_and_update();
        let filter = c.params.filter.clone();
        let format = c.params.format;
        let after = c.after;
        let page = match c
            .st
            .store
            .read(move |s| {
                s.query(&filter, after, PAGE, |ev| {
                    let (mut line, len) = render_item(ev, format)?;
                    line.push(b'\n');
                    Ok((Bytes::from(line), len + 1))
                })
            })
            .await
        {
            Ok(p) => p,
            Err(e) => return Some((Err(std::io::Error::other(e.to_string())), c)),
        };
        c.after = page.next_after;
        c.buffered.extend(page.items);
        if !c.buffered.is_empty() || !page.complete {
            continue;
        }
        tokio::select! {
            changed = c.commits.changed() => if changed.is_err() { return None },
            _ = tokio::time::sleep(keepalive(&c.st)) => return Some((Ok(Bytes::from_static(b"\n")), c)),
            _ = c.st.shutdown.cancelled() => return None,
        }
    }
}
