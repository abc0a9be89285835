//! `GET /v1/stream`: NDJSON, history then live, optionally from a durable consumer's cursor.
//!
//! The stream pulls pages from the store as the client reads (hyper only polls when the
//! socket has room), so a slow reader holds at most one page in memory. New commits wake it
//! through a watch channel, which cannot overflow. Cursors are only moved by explicit acks:
//! delivery is at-least-once.

use super::events::{Item, Params};
use super::{ApiError, AppState};
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::collections::VecDeque;
use std::time::Duration;

/// Events fetched from the store per page.
const PAGE: usize = 256;
/// An idle stream sends a blank line this often so clients notice a dead node.
const KEEPALIVE: Duration = Duration::from_secs(15);

struct Cursor {
    st: AppState,
    params: Params,
    after: u64,
    buffered: VecDeque<Bytes>,
    commits: tokio::sync::watch::Receiver<u64>,
}

pub async fn stream(
    State(st): State<AppState>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::parse(q.as_deref().unwrap_or(""))?;
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
        let after = c.after;
        let page = match c
            .st
            .store
            .read(move |s| s.query(&filter, after, PAGE))
            .await
        {
            Ok(p) => p,
            Err(e) => return Some((Err(std::io::Error::other(e.to_string())), c)),
        };
        c.after = page.next_after;
        for ev in &page.events {
            match serde_json::to_vec(&Item::from(ev)) {
                Ok(mut line) => {
                    line.push(b'\n');
                    c.buffered.push_back(Bytes::from(line));
                }
                Err(e) => return Some((Err(std::io::Error::other(e)), c)),
            }
        }
        if !c.buffered.is_empty() || !page.complete {
            continue;
        }
        tokio::select! {
            changed = c.commits.changed() => if changed.is_err() { return None },
            _ = tokio::time::sleep(KEEPALIVE) => return Some((Ok(Bytes::from_static(b"\n")), c)),
            _ = c.st.shutdown.cancelled() => return None,
        }
    }
}
