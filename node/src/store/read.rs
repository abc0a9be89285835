//! Reads on redb snapshots: single events, filtered pages in arrival order, cursors, counts.
//!
//! Pages are bounded three ways: by `limit` (events returned), by bytes (as the caller renders
//! them) and by a scan budget (rows looked at), so a sparse filter over a large store answers
//! promptly with a cursor to continue from, and a page of large events stays small in memory.

use super::schema::*;
use super::{Store, StoreError};
use fedci_proto::filter::Filter;
use fedci_proto::{Event, EventId};
use redb::{ReadTransaction, ReadableTable, ReadableTableMetadata};
use std::collections::BTreeMap;

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
        let r = self.begin_read()?;
        Ok(r.open_table(EVENTS)?
            .get(&id.0)?
            .map(|g| g.value().to_vec()))
    }

    /// An event with its arrival seq.
    pub fn get(&self, id: &EventId) -> Result<Option<StoredEvent>, StoreError> {
        let r = self.begin_read()?;
        load(&r, &id.0)
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
        let mut visit =
            |seq: u64, id: &Id| -> Result<bool, StoreError> {
                scanned += 1;
                if let Some(ev) = load(&r, id)?
                    && filter.matches(&ev.event)
                    && trust.authorise(&ev.event).is_ok()
                {
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
            Plan::Arrivals => scan(
                r.open_table(ARRIVALS)?.range(after.saturating_add(1)..)?,
                |s| s,
                &mut visit,
            )?,
            Plan::Kinds(keys) => merge_scan(&r.open_table(BY_KIND)?, &keys, after, &mut visit)?,
            Plan::Communities(keys) => {
                merge_scan(&r.open_table(BY_COMMUNITY)?, &keys, after, &mut visit)?
            }
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
        Ok(r.open_table(ARRIVED_AT)?.get(seq)?.map(|g| g.value()))
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

/// Walks index rows, calling `visit(seq, id)` until it says stop. Returns true if stopped early.
fn scan<K: redb::Key + 'static>(
    range: redb::Range<'static, K, &'static Id>,
    seq_of: impl Fn(K::SelfType<'_>) -> u64,
    visit: &mut impl FnMut(u64, &Id) -> Result<bool, StoreError>,
) -> Result<bool, StoreError> {
    for item in range {
        let (k, id) = item?;
        if !visit(seq_of(k.value()), id.value())? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Most index keys (kinds or communities) one query merges; past it, the arrival log is walked.
const MAX_MERGE: usize = 64;

/// Which rows a query walks.
enum Plan {
    /// The filter names kinds of which the store holds none.
    Nothing,
    Arrivals,
    /// These exact kinds, merged in arrival order.
    Kinds(Vec<String>),
    Communities(Vec<String>),
}

type SeqIndex = redb::ReadOnlyTable<(&'static str, u64), &'static Id>;

/// Picks the narrowest index the filter allows; every candidate is still checked in full.
/// A kind pattern `family.*` becomes the kinds the index holds under that prefix, found by
/// seeking (O(log n) each), so a pattern that matches nothing costs no row scan.
fn plan(r: &ReadTransaction, filter: &Filter) -> Result<Plan, StoreError> {
    if !filter.kinds.is_empty() && !filter.kinds.iter().any(|k| k == "*") {
        let t = r.open_table(BY_KIND)?;
        let mut kinds = std::collections::BTreeSet::new();
        for pattern in &filter.kinds {
            match pattern.strip_suffix(".*") {
                Some(family) => {
                    // `family_of("x")` is "x", so the bare family name matches too.
                    if has_key(&t, family)? {
                        kinds.insert(family.to_string());
                    }
                    keys_with_prefix(&t, &format!("{family}."), &mut kinds)?;
                }
                None => {
                    if has_key(&t, pattern)? {
                        kinds.insert(pattern.clone());
                    }
                }
            }
            if kinds.len() > MAX_MERGE {
                break;
            }
        }
        if kinds.is_empty() {
            return Ok(Plan::Nothing);
        }
        if kinds.len() <= MAX_MERGE {
            return Ok(Plan::Kinds(kinds.into_iter().collect()));
        }
    }
    if !filter.communities.is_empty() && filter.communities.len() <= MAX_MERGE {
        let mut communities = filter.communities.clone();
        communities.sort();
        communities.dedup();
        return Ok(Plan::Communities(communities));
    }
    Ok(Plan::Arrivals)
}

fn has_key(t: &SeqIndex, key: &str) -> Result<bool, StoreError> {
    Ok(t.range((key, 0)..=(key, u64::MAX))?
        .next()
        .transpose()?
        .is_some())
}

/// Adds the distinct keys starting with `prefix`, one seek per key, stopping past
/// [`MAX_MERGE`].
fn keys_with_prefix(
    t: &SeqIndex,
    prefix: &str,
    out: &mut std::collections::BTreeSet<String>,
) -> Result<(), StoreError> {
    use std::ops::Bound;
    let mut from: Option<String> = None;
    while out.len() <= MAX_MERGE {
        let next = match &from {
            None => t.range((prefix, 0)..)?.next(),
            Some(k) => t
                .range::<(&str, u64)>((Bound::Excluded((k.as_str(), u64::MAX)), Bound::Unbounded))?
                .next(),
        };
        let Some(item) = next.transpose()? else {
            break;
        };
        let key = item.0.value().0.to_string();
        if !key.starts_with(prefix) {
            break;
        }
        out.insert(key.clone());
        from = Some(key);
    }
    Ok(())
}

/// Walks the rows of several index keys in arrival order (a k-way merge), calling
/// `visit(seq, id)` until it says stop. Returns true if stopped early.
fn merge_scan(
    t: &SeqIndex,
    keys: &[String],
    after: u64,
    visit: &mut impl FnMut(u64, &Id) -> Result<bool, StoreError>,
) -> Result<bool, StoreError> {
    use std::cmp::Reverse;
    let mut ranges = Vec::with_capacity(keys.len());
    let mut heads = std::collections::BinaryHeap::new();
    for (i, key) in keys.iter().enumerate() {
        let mut range =
            t.range((key.as_str(), after.saturating_add(1))..=(key.as_str(), u64::MAX))?;
        if let Some(item) = range.next().transpose()? {
            heads.push(Reverse((item.0.value().1, i, *item.1.value())));
        }
        ranges.push(range);
    }
    while let Some(Reverse((seq, i, id))) = heads.pop() {
        if !visit(seq, &id)? {
            return Ok(true);
        }
        if let Some(range) = ranges.get_mut(i)
            && let Some(item) = range.next().transpose()?
        {
            heads.push(Reverse((item.0.value().1, i, *item.1.value())));
        }
    }
    Ok(false)
}

/// Loads a stored event. Bytes in the store were verified when they came in.
pub(super) fn load(r: &ReadTransaction, id: &Id) -> Result<Option<StoredEvent>, StoreError> {
    let Some(info) = r.open_table(INFO)?.get(id)? else {
        return Ok(None);
    };
    let seq = info.value().0;
    let Some(raw) = r.open_table(EVENTS)?.get(id)? else {
        return Err(StoreError::Corrupt(format!(
            "event {} indexed but missing",
            hex::encode(id)
        )));
    };
    let event = Event::from_trusted_bytes(raw.value())
        .map_err(|e| StoreError::Corrupt(format!("event {}: {e}", hex::encode(id))))?;
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
        let t = r.open_table(EVENTS)?;
        let trust = self.trust();
        let mut out = Vec::new();
        let mut withheld = Vec::new();
        let mut bytes = 0;
        for id in ids {
            if let Some(raw) = t.get(&id.0)? {
                let vouched = Event::from_trusted_bytes(raw.value())
                    .is_ok_and(|e| trust.authorise(&e).is_ok());
                if !vouched {
                    withheld.push(*id);
                    continue;
                }
                bytes += raw.value().len();
                if bytes > max_bytes {
                    break;
                }
                out.push(raw.value().to_vec());
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
