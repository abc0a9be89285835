//! Reads on redb snapshots: single events, filtered pages in arrival order, cursors, counts.
//!
//! Pages are bounded three ways: by `limit` (events returned), by bytes (as the caller renders
//! them) and by a scan budget (rows looked at), so a sparse filter over a large store answers
//! promptly with a cursor to continue from, and a page of large events stays small in memory.

use super::index::Rows;
use super::row::Row;
use super::schema::*;
use super::{Store, StoreError};
use fedci_proto::filter::Filter;
use fedci_proto::{Event, EventId};
use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata};
use std::collections::BTreeMap;

/// Longest [`Store::read_settled`] waits for the commit of an event already announced.
pub const COMMIT_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Most rows one query page looks at before answering with a cursor.
pub const SCAN_BUDGET: usize = 100_000;

/// An event with its arrival seq on this node.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub seq: u64,
    pub event: Event,
}

/// How much one query page may hold: events, and bytes as the caller renders them.
#[derive(Debug, Clone, Copy)]
pub struct PageLimit {
    pub events: usize,
    pub bytes: usize,
}

/// One page of a query: rendered events in arrival order, and where the next page starts.
#[derive(Debug, Clone)]
pub struct QueryPage<T> {
    pub items: Vec<T>,
    /// Sum of the rendered sizes of `items`.
    pub bytes: usize,
    /// Arrival seq of the last row consumed: pass it as `after` to continue.
    pub next_after: u64,
    /// True when the store holds nothing more to look at (as of this snapshot).
    pub complete: bool,
}

impl Store {
    /// The raw bytes of an event.
    pub fn get_raw(&self, id: &EventId) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_row(id, |row| Ok(row.into_raw()))
    }

    /// The kind of a held event, read from its row (the event is parsed only for a custom
    /// kind).
    pub fn kind_of(&self, id: &EventId) -> Result<Option<String>, StoreError> {
        self.with_row(id, |row| row.kind_name())
    }

    /// `f` of the row of a held event.
    fn with_row<T>(
        &self,
        id: &EventId,
        f: impl FnOnce(Row) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let r = self.begin_read()?;
        match Rows::open(&r)?.find(&id.0)? {
            Some((_, row)) => f(row).map(Some),
            None => Ok(None),
        }
    }

    /// A committed event with its arrival seq.
    pub fn get(&self, id: &EventId) -> Result<Option<StoredEvent>, StoreError> {
        let r = self.begin_read()?;
        load(&r, &id.0)
    }

    /// `f`, a read about event `id` (None when the store does not hold it), run once; when
    /// it finds nothing and `id` was announced but not committed yet, run again after that
    /// commit, waited for up to [`COMMIT_WAIT`]. A gossip message is streamed as soon as it
    /// is applied and committed up to the writer's linger (10 ms) later; a CI job triggered
    /// by the stream reads its event at once (`fedci-node get "$FEDCI_EVENT_ID"`). That read
    /// must find it, and what it found must then be in every other read too (queries,
    /// traces): so it waits for the commit rather than answer from the live feed. None if
    /// the event is neither committed nor announced, or its commit did not come in time.
    pub async fn read_settled<T: Send + 'static>(
        &self,
        id: EventId,
        f: impl Fn(&Store) -> Result<Option<T>, StoreError> + Clone + Send + 'static,
    ) -> Result<Option<T>, StoreError> {
        // Whatever was committed before the read is in it: only a later position can be
        // announced, missed by the read, and due to be committed.
        let settled = *self.inner.committed.borrow();
        if let Some(found) = self.read(f.clone()).await? {
            return Ok(Some(found));
        }
        let Some(seq) = self.inner.feed.find_after(&id, settled).map(|e| e.seq) else {
            // A commit that landed between the read and the scan may have left the feed
            // meanwhile (a trust change empties it right after its commit): read once more.
            if *self.inner.committed.borrow() > settled {
                return self.read(f).await;
            }
            return Ok(None);
        };
        let mut committed = self.inner.committed.clone();
        // A timeout (or a writer gone) leaves the answer to the read below.
        let _ = tokio::time::timeout(COMMIT_WAIT, committed.wait_for(|c| *c >= seq)).await;
        self.read(f).await
    }

    /// For each (id, envelope bytes), whether the store holds that event in exactly those
    /// bytes: an index lookup, a hash of the row to confirm the id and a comparison each, a
    /// fraction of what verifying an event costs.
    pub fn holds_exactly<'a>(
        &self,
        items: impl IntoIterator<Item = (EventId, &'a [u8])>,
    ) -> Result<Vec<bool>, StoreError> {
        let r = self.begin_read()?;
        let rows = Rows::open(&r)?;
        items
            .into_iter()
            .map(|(id, raw)| Ok(rows.find(&id.0)?.is_some_and(|(_, row)| row.raw() == raw)))
            .collect()
    }

    /// Events matching `filter` with arrival seq > `after`, in arrival order, each turned by
    /// `render` into what the caller keeps and its size in bytes. Only one decoded event is
    /// alive at a time, so a page costs what its rendered items cost. The page stops before
    /// an item that would take it past `limit.bytes` (a first item always fits, so paging
    /// advances), after `limit.events` items, or after [`SCAN_BUDGET`] rows. Events the
    /// current trust no longer authorises (revoked, re-pinned root) are left out.
    pub fn query<T>(
        &self,
        filter: &Filter,
        after: u64,
        limit: PageLimit,
        mut render: impl FnMut(&StoredEvent) -> Result<(T, usize), StoreError>,
    ) -> Result<QueryPage<T>, StoreError> {
        let r = self.begin_read()?;
        let trust = self.trust();
        let mut page = QueryPage {
            items: Vec::new(),
            bytes: 0,
            next_after: after,
            complete: true,
        };
        let mut scanned = 0usize;
        let rows = Rows::open(&r)?;
        let mut visit =
            |seq: u64, row: Row| -> Result<bool, StoreError> {
                scanned += 1;
                let ev = StoredEvent {
                    seq,
                    event: row.event()?,
                };
                if filter.matches(&ev.event) && trust.authorise(&ev.event).is_ok() {
                    let (item, size) = render(&ev)?;
                    if !page.items.is_empty() && page.bytes.saturating_add(size) > limit.bytes {
                        // Left for the next page: `next_after` stays before it.
                        return Ok(false);
                    }
                    page.items.push(item);
                    page.bytes = page.bytes.saturating_add(size);
                }
                page.next_after = seq;
                Ok(page.items.len() < limit.events
                    && page.bytes < limit.bytes
                    && scanned < SCAN_BUDGET)
            };
        let stopped_early = match plan(&r, filter)? {
            Plan::Nothing => false,
            Plan::Arrivals => {
                let mut stopped = false;
                for item in rows.events.range(after.saturating_add(1)..)? {
                    let (seq, span) = item?;
                    if !visit(seq.value(), rows.read(span.value())?)? {
                        stopped = true;
                        break;
                    }
                }
                stopped
            }
            Plan::Pairs(codes) => merge_scan(&r.open_table(BY_PAIR)?, &codes, after, &mut |seq| {
                visit(seq, rows.indexed(seq)?)
            })?,
        };
        self.metrics()
            .query_rows_scanned
            .fetch_add(scanned as u64, std::sync::atomic::Ordering::Relaxed);
        page.complete = !stopped_early;
        Ok(page)
    }

    /// This node's clock when it stored the event at arrival `seq` (None for events stored
    /// before arrival times were recorded).
    pub fn arrived_at(&self, seq: u64) -> Result<Option<u64>, StoreError> {
        let r = self.begin_read()?;
        let Some(row) = Rows::open(&r)?.at(seq)? else {
            return Ok(None);
        };
        let at = row.arrived_at;
        Ok((at != 0).then_some(at))
    }

    /// A durable consumer's cursor (None if unknown).
    pub fn cursor(&self, consumer: &str) -> Result<Option<u64>, StoreError> {
        let r = self.begin_read()?;
        Ok(r.open_table(CONSUMERS)?.get(consumer)?.map(|g| g.value()))
    }

    pub fn consumers(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let r = self.begin_read()?;
        let mut out = BTreeMap::new();
        for item in r.open_table(CONSUMERS)?.iter()? {
            let (k, v) = item?;
            out.insert(k.value().to_string(), v.value());
        }
        Ok(out)
    }

    /// Total events stored.
    pub fn count(&self) -> Result<u64, StoreError> {
        let r = self.begin_read()?;
        Ok(r.open_table(EVENTS)?.len()?)
    }

    /// Events per topic (`fedci/1/<community>/<family>`).
    pub fn topic_counts(&self) -> Result<BTreeMap<String, u64>, StoreError> {
        let r = self.begin_read()?;
        let mut out = BTreeMap::new();
        for item in r.open_table(TOPIC_SUMS)?.iter()? {
            let (k, v) = item?;
            out.insert(k.value().to_string(), v.value().0);
        }
        Ok(out)
    }

    /// Up to `limit` link targets we lack, starting at `start` in id order and wrapping
    /// around. Catch-up starts each round at a random id, so targets no peer can serve do
    /// not hide the others forever.
    pub fn missing_targets_from(
        &self,
        start: &Id,
        limit: usize,
    ) -> Result<Vec<EventId>, StoreError> {
        let r = self.begin_read()?;
        let t = r.open_table(MISSING)?;
        let mut out = Vec::new();
        for item in t
            .range::<&Id>(start..)?
            .chain(t.range::<&Id>(..start)?)
            .take(limit)
        {
            out.push(EventId(*item?.0.value()));
        }
        Ok(out)
    }

    /// How many link targets we lack.
    pub fn missing_count(&self) -> Result<u64, StoreError> {
        let r = self.begin_read()?;
        Ok(r.open_table(MISSING)?.len()?)
    }

    /// Peers remembered across restarts.
    pub fn peers(&self) -> Result<Vec<String>, StoreError> {
        let r = self.begin_read()?;
        let mut out = Vec::new();
        for item in r.open_table(PEERS)?.iter()? {
            out.push(item?.0.value().to_string());
        }
        Ok(out)
    }
}

/// Most (kind, community) pairs one query merges; past it, the arrival log is walked.
const MAX_MERGE: usize = 64;
/// Most interned pairs a plan looks at: past it, the arrival log is walked.
const MAX_PLAN_ROWS: usize = 1024;

/// Which rows a query walks.
enum Plan {
    /// The filter names kinds or communities of which the store holds nothing.
    Nothing,
    Arrivals,
    /// These (kind, community) pairs, merged in arrival order.
    Pairs(Vec<u32>),
}

/// Picks the narrowest rows the filter allows; every candidate is still checked in full. The
/// kinds a filter names (exact, or every kind of a `family.*`) are found by seeking in the
/// interned pairs, which are keyed by kind, so a pattern that matches nothing costs no row
/// scan; a filter on communities alone looks at every pair.
fn plan(r: &ReadTransaction, filter: &Filter) -> Result<Plan, StoreError> {
    let by_kind = !filter.kinds.is_empty() && !filter.kinds.iter().any(|k| k == "*");
    if !by_kind && filter.communities.is_empty() {
        return Ok(Plan::Arrivals);
    }
    let pairs = r.open_table(PAIRS)?;
    let mut codes = std::collections::BTreeSet::new();
    let mut looked = 0usize;
    let mut take = |kind: &str, community: &str, code: u32| {
        if filter.matches_kind(kind) && filter.matches_community(community) {
            codes.insert(code);
        }
    };
    if by_kind {
        for pattern in &filter.kinds {
            // `family_of("x")` is "x", so the bare family name is a prefix of its kinds too;
            // an exact kind is its own rows only.
            let (start, exact) = match pattern.strip_suffix(".*") {
                Some(family) => (family, false),
                None => (pattern.as_str(), true),
            };
            for item in pairs.range((start, "")..)? {
                let (k, code) = item?;
                let (kind, community) = k.value();
                if !kind.starts_with(start) || (exact && kind != start) {
                    break;
                }
                looked += 1;
                if looked > MAX_PLAN_ROWS {
                    return Ok(Plan::Arrivals);
                }
                take(kind, community, code.value());
            }
        }
    } else {
        for item in pairs.iter()? {
            let (k, code) = item?;
            looked += 1;
            if looked > MAX_PLAN_ROWS {
                return Ok(Plan::Arrivals);
            }
            let (kind, community) = k.value();
            take(kind, community, code.value());
        }
    }
    Ok(match codes.len() {
        0 => Plan::Nothing,
        n if n > MAX_MERGE => Plan::Arrivals,
        _ => Plan::Pairs(codes.into_iter().collect()),
    })
}

/// Walks the rows of several pairs in arrival order (a k-way merge), calling `visit(seq)`
/// until it says stop. Returns true if stopped early.
fn merge_scan(
    t: &redb::ReadOnlyTable<(u32, u64), ()>,
    codes: &[u32],
    after: u64,
    visit: &mut impl FnMut(u64) -> Result<bool, StoreError>,
) -> Result<bool, StoreError> {
    use std::cmp::Reverse;
    let mut ranges = Vec::with_capacity(codes.len());
    let mut heads = std::collections::BinaryHeap::new();
    for (i, &code) in codes.iter().enumerate() {
        let mut range = t.range((code, after.saturating_add(1))..=(code, u64::MAX))?;
        if let Some(item) = range.next().transpose()? {
            heads.push(Reverse((item.0.value().1, i)));
        }
        ranges.push(range);
    }
    while let Some(Reverse((seq, i))) = heads.pop() {
        if !visit(seq)? {
            return Ok(true);
        }
        if let Some(range) = ranges.get_mut(i)
            && let Some(item) = range.next().transpose()?
        {
            heads.push(Reverse((item.0.value().1, i)));
        }
    }
    Ok(false)
}

/// Loads a stored event. Bytes in the store were verified when they came in.
pub(super) fn load(r: &ReadTransaction, id: &Id) -> Result<Option<StoredEvent>, StoreError> {
    let Some((seq, row)) = Rows::open(r)?.find(id)? else {
        return Ok(None);
    };
    let event = row.event()?;
    Ok(Some(StoredEvent { seq, event }))
}

impl Store {
    /// The raw bytes of those of `ids` we hold, stopping once `max_bytes` are gathered. Events
    /// the current trust no longer authorises (revoked since, re-pinned root) are not handed
    /// out: a node passes on only what it vouches for.
    pub fn get_raws(&self, ids: &[EventId], max_bytes: usize) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self.get_vouched(ids, max_bytes)?.0)
    }

    /// [`Store::get_raws`], and the ids held but withheld because the current trust no longer
    /// authorises them.
    pub fn get_vouched(
        &self,
        ids: &[EventId],
        max_bytes: usize,
    ) -> Result<(Vec<Vec<u8>>, Vec<EventId>), StoreError> {
        let r = self.begin_read()?;
        let rows = Rows::open(&r)?;
        let trust = self.trust();
        let mut out = Vec::new();
        let mut withheld = Vec::new();
        let mut bytes = 0;
        for id in ids {
            if let Some((_, row)) = rows.find(&id.0)? {
                let raw = row.into_raw();
                // The four fields trust decides on, read without parsing the body; bytes of
                // another shape take the full parse.
                let vouched = match Event::head_of_trusted(&raw) {
                    Some(head) => trust.vouches(&head),
                    None => {
                        Event::from_trusted_bytes(&raw).is_ok_and(|e| trust.authorise(&e).is_ok())
                    }
                };
                if !vouched {
                    withheld.push(*id);
                    continue;
                }
                bytes += raw.len();
                if bytes > max_bytes {
                    break;
                }
                out.push(raw);
            }
        }
        Ok((out, withheld))
    }
}

impl Store {
    /// A topic's (event count, fingerprint); (0, fingerprint of the empty set) if unknown.
    pub fn topic_digest(&self, topic: &str) -> Result<(u64, [u8; 16]), StoreError> {
        let r = self.begin_read()?;
        let (count, sum) = r
            .open_table(TOPIC_SUMS)?
            .get(topic)?
            .map(|g| g.value())
            .unwrap_or((0, [0; 32]));
        Ok((count, super::digest::fingerprint(count, &sum)))
    }
}
