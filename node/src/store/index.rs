//! How an event is written into the event tables, and found again: the one `put` that the
//! writer and the migration share, lookups by id, and the interning of (kind, community)
//! pairs and topics to small codes.
//!
//! Why this shape (issue 16): the first format keyed events by their random id and kept eight
//! indexes with strings in their keys, so every event cost about 3× its own bytes (random
//! inserts leave redb leaves half empty). Here the event is stored once, in the byte log in
//! arrival order (see [`super::log`]), and every index key is fixed-width and small.

use super::StoreError;
use super::log::{self, Appender};
use super::row::{self, Row};
use super::schema::*;
use fedci_proto::{Event, Topic};
use redb::{ReadOnlyTable, ReadTransaction, ReadableTable, ReadableTableMetadata};
use std::collections::HashMap;

/// The id's first 8 bytes: the key of [`IDS`].
pub fn prefix(id: &Id) -> u64 {
    let mut p = [0u8; 8];
    p.copy_from_slice(&id[..8]);
    u64::from_be_bytes(p)
}

/// The held event with this id, with its arrival seq: every row under the id's prefix is
/// checked against the full id (ids that share a prefix are all kept).
pub fn find(
    ids: &impl ReadableTable<(u64, u64), ()>,
    events: &impl ReadableTable<u64, (u64, u32)>,
    log: &impl ReadableTable<u64, &'static [u8]>,
    id: &Id,
) -> Result<Option<(u64, Row)>, StoreError> {
    let p = prefix(id);
    for item in ids.range((p, 0)..=(p, u64::MAX))? {
        let seq = item?.0.value().1;
        if let Some(bytes) = log::row_bytes(events, log, seq)? {
            let row = Row::parse(bytes)?;
            if row.id()? == *id {
                return Ok(Some((seq, row)));
            }
        }
    }
    Ok(None)
}

/// The tables events are read from, in a read transaction.
pub struct Rows {
    pub ids: ReadOnlyTable<(u64, u64), ()>,
    pub events: ReadOnlyTable<u64, (u64, u32)>,
    pub log: ReadOnlyTable<u64, &'static [u8]>,
}

impl Rows {
    pub fn open(r: &ReadTransaction) -> Result<Rows, StoreError> {
        Ok(Rows {
            ids: r.open_table(IDS)?,
            events: r.open_table(EVENTS)?,
            log: r.open_table(LOG)?,
        })
    }

    /// The held event with this id, with its arrival seq.
    pub fn find(&self, id: &Id) -> Result<Option<(u64, Row)>, StoreError> {
        find(&self.ids, &self.events, &self.log, id)
    }

    /// The row at arrival `seq`, if held.
    pub fn at(&self, seq: u64) -> Result<Option<Row>, StoreError> {
        log::row_bytes(&self.events, &self.log, seq)?
            .map(Row::parse)
            .transpose()
    }

    /// The row at arrival `seq`, which an index names: its absence is corruption.
    pub fn indexed(&self, seq: u64) -> Result<Row, StoreError> {
        self.at(seq)?
            .ok_or_else(|| StoreError::Corrupt(format!("indexed event {seq} missing")))
    }

    /// The row at `span` (from iterating [`Rows::events`]).
    pub fn read(&self, span: log::Span) -> Result<Row, StoreError> {
        Row::parse(log::read(&self.log, span)?)
    }
}

/// The event tables one stored event is written to, opened once per write transaction.
pub struct EventTables<'t> {
    /// The log and its index by arrival.
    pub log: Appender<'t>,
    pub ids: redb::Table<'t, (u64, u64), ()>,
    pub pairs: redb::Table<'t, (&'static str, &'static str), u32>,
    pub by_pair: redb::Table<'t, (u32, u64), ()>,
    pub topic_codes: redb::Table<'t, &'static str, u32>,
    pub by_topic: redb::Table<'t, (u32, u64, u64), ()>,
    pub topic_sums: redb::Table<'t, &'static str, (u64, [u8; 32])>,
    pub topic_epochs: redb::Table<'t, (&'static str, u64), (u64, [u8; 32])>,
    /// Codes looked up or made in this transaction (only: a failed commit takes its new
    /// codes with it).
    /// kind → community → (pair code, topic code, topic).
    codes: HashMap<String, HashMap<String, Codes>>,
    /// Fingerprint additions of this transaction's events, per topic and per (topic,
    /// epoch): written once per transaction by [`EventTables::finish`], not once per event.
    sums: HashMap<String, (u64, [u8; 32])>,
    epochs: HashMap<String, HashMap<u64, (u64, [u8; 32])>>,
}

impl<'t> EventTables<'t> {
    pub fn open(txn: &'t redb::WriteTransaction) -> Result<Self, StoreError> {
        Ok(EventTables {
            log: Appender::open(txn)?,
            ids: txn.open_table(IDS)?,
            pairs: txn.open_table(PAIRS)?,
            by_pair: txn.open_table(BY_PAIR)?,
            topic_codes: txn.open_table(TOPIC_CODES)?,
            by_topic: txn.open_table(BY_TOPIC)?,
            topic_sums: txn.open_table(TOPIC_SUMS)?,
            topic_epochs: txn.open_table(TOPIC_EPOCHS)?,
            codes: HashMap::new(),
            sums: HashMap::new(),
            epochs: HashMap::new(),
        })
    }

    /// Writes the fingerprints of the events put in this transaction. Must run before the
    /// commit of any transaction that put events.
    pub fn finish(&mut self) -> Result<(), StoreError> {
        for (topic, (n, add)) in std::mem::take(&mut self.sums) {
            let (count, mut sum) = self
                .topic_sums
                .get(topic.as_str())?
                .map(|g| g.value())
                .unwrap_or((0, [0; 32]));
            super::digest::add(&mut sum, &add);
            self.topic_sums.insert(topic.as_str(), (count + n, sum))?;
        }
        for (topic, epochs) in std::mem::take(&mut self.epochs) {
            for (epoch, (n, add)) in epochs {
                super::epochs::add_sum(&mut self.topic_epochs, &topic, epoch, n, &add)?;
            }
        }
        Ok(())
    }

    /// The arrival seq of a held event.
    pub fn seq_of(&self, id: &Id) -> Result<Option<u64>, StoreError> {
        Ok(self.find(id)?.map(|(seq, _)| seq))
    }

    /// A held event, with its arrival seq.
    pub fn find(&self, id: &Id) -> Result<Option<(u64, Row)>, StoreError> {
        find(&self.ids, &self.log.events, self.log.log(), id)
    }

    /// The row at arrival `seq`, if held.
    pub fn at(&self, seq: u64) -> Result<Option<Row>, StoreError> {
        self.log.row_bytes(seq)?.map(Row::parse).transpose()
    }

    /// Writes `event`'s row at arrival `seq` and its entry by id: what finds it again. The
    /// caller has checked it is not held yet.
    pub fn put_row(
        &mut self,
        seq: u64,
        header: &[u8; row::HEADER],
        id: &Id,
        raw: &[u8],
    ) -> Result<(), StoreError> {
        self.log.append(seq, &[header, raw])?;
        self.ids.insert((prefix(id), seq), ())?;
        Ok(())
    }

    /// Stores `event` at arrival `seq` with every index and fingerprint of the event tables.
    /// The caller has checked it is not held yet.
    pub fn put(&mut self, seq: u64, arrived_at: u64, event: &Event) -> Result<(), StoreError> {
        let body = event.body();
        let id = event.id().0;
        let header = row::header(arrived_at, body.time, &body.kind);
        self.put_row(seq, &header, &id, event.raw())?;
        let codes = match self
            .codes
            .get(body.kind.as_str())
            .and_then(|c| c.get(body.community.as_str()))
        {
            Some(codes) => codes.clone(),
            None => {
                let topic = Topic::for_event(&body.community, &body.kind).to_string();
                let codes = Codes {
                    pair: intern_pair(&mut self.pairs, &body.kind, &body.community)?,
                    topic_code: intern(&mut self.topic_codes, &topic)?,
                    topic,
                };
                self.codes
                    .entry(body.kind.clone())
                    .or_default()
                    .insert(body.community.clone(), codes.clone());
                codes
            }
        };
        let Codes {
            pair,
            topic_code: code,
            topic,
        } = codes;
        self.by_pair.insert((pair, seq), ())?;
        self.by_topic.insert((code, body.time, seq), ())?;
        let epoch = super::epochs::epoch_of(body.time);
        let epochs = match self.epochs.get_mut(topic.as_str()) {
            Some(e) => e,
            None => self.epochs.entry(topic.clone()).or_default(),
        };
        let e = epochs.entry(epoch).or_insert((0, [0; 32]));
        e.0 += 1;
        super::digest::add(&mut e.1, &id);
        let s = self.sums.entry(topic).or_insert((0, [0; 32]));
        s.0 += 1;
        super::digest::add(&mut s.1, &id);
        Ok(())
    }
}

/// The interned codes of one (kind, community) pair.
#[derive(Debug, Clone)]
struct Codes {
    pair: u32,
    topic_code: u32,
    topic: String,
}

/// The code of (kind, community), given the next free one if new. Codes are dense and never
/// reused: the next is the table's length.
fn intern_pair(
    pairs: &mut redb::Table<'_, (&'static str, &'static str), u32>,
    kind: &str,
    community: &str,
) -> Result<u32, StoreError> {
    if let Some(code) = pairs.get((kind, community))? {
        return Ok(code.value());
    }
    let code = next_code(pairs.len()?)?;
    pairs.insert((kind, community), code)?;
    Ok(code)
}

fn intern(codes: &mut redb::Table<'_, &'static str, u32>, name: &str) -> Result<u32, StoreError> {
    if let Some(code) = codes.get(name)? {
        return Ok(code.value());
    }
    let code = next_code(codes.len()?)?;
    codes.insert(name, code)?;
    Ok(code)
}

fn next_code(len: u64) -> Result<u32, StoreError> {
    u32::try_from(len).map_err(|_| StoreError::Corrupt("more than 2^32 interned names".into()))
}

/// The arrival seqs of every held event of `kind` (any community), in arrival order per
/// community: rosters, which the trust store replays on open and after a re-pin.
pub fn seqs_of_kind(
    pairs: &impl ReadableTable<(&'static str, &'static str), u32>,
    by_pair: &impl ReadableTable<(u32, u64), ()>,
    kind: &str,
) -> Result<Vec<u64>, StoreError> {
    let mut codes = Vec::new();
    for item in pairs.range((kind, "")..)? {
        let (k, code) = item?;
        if k.value().0 != kind {
            break;
        }
        codes.push(code.value());
    }
    let mut seqs = Vec::new();
    for code in codes {
        for item in by_pair.range((code, 0)..=(code, u64::MAX))? {
            seqs.push(item?.0.value().1);
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}
