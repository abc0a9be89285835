//! `GET /v1/stream`: NDJSON, history then live, optionally from a durable consumer's cursor.
//!
//! The stream pulls pages from the store as the client reads (hyper only polls when the
//! socket has room), so a slow reader holds at most one page in memory, and a page is bounded
//! in bytes ([`PAGE_BYTES`]) as well as events. Open streams are capped per node
//! (`max_streams`). Once a stream has read everything committed, it serves the store's live
//! feed: events the writer announced, before their commit lands (see the DESIGN NOTE in
//! `store/writer/announce.rs`); when the feed no longer reaches back to its cursor it reads the
//! store again. Announcements and commits wake a stream through a watch channel, which cannot
//! overflow. Cursors are only moved by explicit acks (never past what is committed): delivery
//! is at-least-once.

use super::events::{Params, render_item};
use super::{ApiError, AppState};
use crate::store::{PageLimit, StoreError};
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
    /// Whether everything committed up to `after` has been read from the store.
    caught_up: bool,
    announced: tokio::sync::watch::Receiver<u64>,
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
    let announced = st.store.subscribe_announced();
    let cursor = Cursor {
        st,
        params,
        after,
        buffered: VecDeque::new(),
        caught_up: false,
        announced,
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
        // Mark the current state as seen before reading, so an announce or a commit racing the
        // read wakes us.
        c.announced.borrow_and_update();
        if c.caught_up {
            match from_feed(&mut c) {
                Ok(Some(true)) => continue,
                Ok(Some(false)) => {}
                // The feed no longer reaches back to the cursor: what is missing is committed
                // (or was lost with a failed commit): read the store.
                Ok(None) => c.caught_up = false,
                Err(e) => return Some((Err(std::io::Error::other(e.to_string())), c)),
            }
        }
        if !c.caught_up {
            // Everything up to `committed` is in the snapshot the query reads (taken after).
            let committed = c.st.store.last_seq();
            let filter = c.params.filter.clone();
            let format = c.params.format;
            let after = c.after;
            let page = match c
                .st
                .store
                .read(move |s| s.query(&filter, after, PAGE, |ev| line(ev, format)))
                .await
            {
                Ok(p) => p,
                Err(e) => return Some((Err(std::io::Error::other(e.to_string())), c)),
            };
            c.after = page.next_after;
            c.buffered.extend(page.items);
            if !page.complete {
                continue;
            }
            c.after = c.after.max(committed);
            c.caught_up = true;
            if !c.buffered.is_empty() {
                continue;
            }
            if matches!(from_feed(&mut c), Ok(Some(true))) {
                continue;
            }
        }
        tokio::select! {
            changed = c.announced.changed() => if changed.is_err() { return None },
            _ = tokio::time::sleep(keepalive(&c.st)) => return Some((Ok(Bytes::from_static(b"\n")), c)),
            _ = c.st.shutdown.cancelled() => return None,
        }
    }
}

fn line(
    ev: &crate::store::StoredEvent,
    format: Option<crate::interop::Format>,
) -> Result<(Bytes, usize), StoreError> {
    let (mut line, len) = render_item(ev, format)?;
    line.push(b'\n');
    Ok((Bytes::from(line), len + 1))
}

/// Buffers the feed's events after the cursor that match the stream's filter (a page at
/// most). `Some(true)` if the cursor moved (more may follow); `None` if the feed no longer
/// reaches back to the cursor. Events in the feed passed the writer's trust decision just now, under the newest
/// trust (which the store's readers see only after the commit), so only the filter applies.
fn from_feed(c: &mut Cursor) -> Result<Option<bool>, StoreError> {
    let Some(events) = c.st.store.feed_after(c.after, PAGE.events) else {
        return Ok(None);
    };
    let mut bytes = 0usize;
    let moved = !events.is_empty();
    for ev in events {
        if c.params.filter.matches(&ev.event) {
            let (item, size) = line(&ev, c.params.format)?;
            c.buffered.push_back(item);
            bytes = bytes.saturating_add(size);
        }
        c.after = ev.seq;
        if bytes >= PAGE.bytes {
            break;
        }
    }
    Ok(Some(moved))
}
