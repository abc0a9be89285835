//! Reads on redb snapshots: single events, filtered pages in arrival order, cursors, counts.
//!
//! Pages are bounded twice: by `limit` (events returned) and by a scan budget (rows looked
//! at), so a sparse filter over a large store answers promptly with a cursor to continue from.

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

/// One page of a query: events in arrival order, and where the next page starts.
#[derive(Debug, Clone)]
pub struct QueryPage {
    pub events: Vec<StoredEvent>,
    /// Arrival seq of the last row looked at: pass it as `after` to continue.
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

    /// Events matching `filter` with arrival seq > `after`, in arrival order. Events the
    /// current trust no longer authorises (revoked, re-pinned root) are left out.
    pub fn query(
        &self,
        filter: &Filter,
        after: u64,
        limit: usize,
    ) -> Result<QueryPage, StoreError> {
        let r = self.begin_read()?;
        let trust = self.trust();
        let mut page = QueryPage {
            events: Vec::new(),
            next_after: after,
            complete: true,
        };
        let mut scanned = 0usize;
        // Pick the narrowest index the filter allows; every candidate is still checked in full.
        let single_kind = match filter.kinds.as_slice() {
            [k] if !k.contains('*') => Some(k.as_str()),
            _ => None,
        };
        let single_community = match filter.communities.as_slice() {
            [c] => Some(c.as_str()),
            _ => None,
        };
        let mut visit = |seq: u64, id: &Id| -> Result<bool, StoreError> {
            scanned += 1;
            page.next_after = seq;
            if let Some(ev) = load(&r, id)?
                && filter.matches(&ev.event)
                && trust.authorise(&ev.event).is_ok()
            {
                page.events.push(ev);
            }
            let more = page.events.len() < limit && scanned < SCAN_BUDGET;
            Ok(more)
        };
        let stopped_early = if let Some(kind) = single_kind {
            scan(
                r.open_table(BY_KIND)?
                    .range((kind, after.saturating_add(1))..=(kind, u64::MAX))?,
                |(_, s)| s,
                &mut visit,
            )?
        } else if let Some(community) = single_community {
            scan(
                r.open_table(BY_COMMUNITY)?
                    .range((community, after.saturating_add(1))..=(community, u64::MAX))?,
                |(_, s)| s,
                &mut visit,
            )?
        } else {
            scan(
                r.open_table(ARRIVALS)?.range(after.saturating_add(1)..)?,
                |s| s,
                &mut visit,
            )?
        };
        page.complete = !stopped_early;
        Ok(page)
    }

    /// This node's clock when it stored the event at arrival `seq` (None for events stored
    /// before arrival times were recorded).
    pub fn arrived_at(&self, seq: u64) -> Result<Option<u64>, StoreError> {
        let r = self.begin_read()?;
        Ok(r.open_table(ARRIVED_AT)?.get(seq)?.map(|g| g.value()))
    }

    /// A durable consumer's cursor (0 if unknown).
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
    /// A topic's (author time, id) items, in order: the set catch-up reconciles.
    pub fn topic_items(&self, topic: &str) -> Result<Vec<(u64, [u8; 32])>, StoreError> {
        let r = self.begin_read()?;
        let t = r.open_table(BY_TOPIC)?;
        let mut out = Vec::new();
        for item in t.range((topic, 0, &[0u8; 32])..=(topic, u64::MAX, &[0xffu8; 32]))? {
            let (k, _) = item?;
            let (_, time, id) = k.value();
            out.push((time, *id));
        }
        Ok(out)
    }

    /// The raw bytes of those of `ids` we hold, stopping once `max_bytes` are gathered. Events
    /// the current trust no longer authorises (revoked since, re-pinned root) are not handed
    /// out: a node passes on only what it vouches for.
    pub fn get_raws(&self, ids: &[EventId], max_bytes: usize) -> Result<Vec<Vec<u8>>, StoreError> {
        let r = self.begin_read()?;
        let t = r.open_table(EVENTS)?;
        let trust = self.trust();
        let mut out = Vec::new();
        let mut bytes = 0;
        for id in ids {
            if let Some(raw) = t.get(&id.0)? {
                let vouched = Event::from_trusted_bytes(raw.value())
                    .is_ok_and(|e| trust.authorise(&e).is_ok());
                if !vouched {
                    continue;
                }
                bytes += raw.value().len();
                if bytes > max_bytes {
                    break;
                }
                out.push(raw.value().to_vec());
            }
        }
        Ok(out)
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
