//! What the writer keeps between transactions ([`State`]): arrival and own positions with
//! their durable reservations, and the trust store, loaded from what is committed when the
//! store opens or recovers from a failed commit.

use super::super::StoreError;
use super::super::schema::*;
use crate::now_ms;
use fedci_keys::{PublicKey, TrustStore};
use fedci_proto::Event;
use fedci_proto::vocab::Kind;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};

/// What the writer keeps between transactions.
#[derive(Debug, Clone)]
pub(crate) struct State {
    /// Next arrival position: at or above every position ever handed out (see [`super::announce`]).
    pub next_seq: u64,
    /// The newest arrival position stored: committed, or applied in the open transaction.
    pub last_seq: u64,
    /// Durably committed high-water marks below which positions may be announced before
    /// their commit.
    pub reserved_seq: u64,
    pub reserved_own_seq: u64,
    /// Next `seq` for events this node signs: kept above every stored event of its own key.
    pub own_seq: u64,
    pub own_author: Option<[u8; 32]>,
    pub trust: TrustStore,
}

impl State {
    /// Creates all tables if needed and loads counters, pins and rosters in force.
    pub fn load(db: &Database, own_author: Option<[u8; 32]>) -> Result<State, StoreError> {
        let w = db.begin_write()?;
        {
            w.open_table(EVENTS)?;
            w.open_table(INFO)?;
            w.open_table(ARRIVALS)?;
            w.open_table(ARRIVED_AT)?;
            w.open_table(BY_KIND)?;
            w.open_table(BY_COMMUNITY)?;
            w.open_table(BY_TOPIC)?;
            w.open_table(TOPIC_SUMS)?;
            w.open_table(TOPIC_EPOCHS)?;
            w.open_multimap_table(LINKS_REV)?;
            w.open_table(MISSING)?;
            w.open_table(CONSUMERS)?;
            w.open_table(CONSUMER_OWNERS)?;
            w.open_table(PINS)?;
            w.open_table(ROSTERS)?;
            w.open_table(PEERS)?;
            w.open_table(META)?;
        }
        w.commit()?;
        rebuild_topic_sums(db)?;
        crate::store::epochs::build_once(db)?;
        super::promotion::build_once(db)?;
        let r = db.begin_read()?;
        let meta = r.open_table(META)?;
        let get = |k: &str| -> Result<u64, StoreError> {
            Ok(meta.get(k)?.map(|g| g.value()).unwrap_or(0))
        };
        let stored_next = get("next_seq")?.max(1);
        let stored_own = get("own_seq")?;
        // A store written before reservations existed has none: nothing was announced early.
        let reserved_seq = meta.get("reserved_seq")?.map_or(stored_next, |g| g.value());
        let reserved_own_seq = meta
            .get("reserved_own_seq")?
            .map_or(stored_own, |g| g.value());
        // Positions below the marks may have been announced before a crash: never reuse them.
        let next_seq = stored_next.max(reserved_seq);
        let own_seq = stored_own.max(reserved_own_seq);
        let last_seq = r
            .open_table(ARRIVALS)?
            .last()?
            .map_or(0, |(k, _)| k.value());
        let mut trust = TrustStore::new();
        let events = r.open_table(EVENTS)?;
        for item in r.open_table(PINS)?.iter()? {
            let (community, key) = item?;
            let key = PublicKey::from_bytes(key.value())
                .map_err(|e| StoreError::Corrupt(format!("pin of {}: {e}", community.value())))?;
            trust.pin(community.value(), key);
        }
        // Every stored roster, not only the newest: trust judges events by the roster in force
        // at their time. Rosters of a root no longer pinned are simply refused here.
        let roster_kind = Kind::TrustRoster.as_str();
        for item in r
            .open_table(BY_KIND)?
            .range((roster_kind, 0)..=(roster_kind, u64::MAX))?
        {
            let (_, id) = item?;
            let raw = events.get(id.value())?.ok_or_else(|| {
                StoreError::Corrupt(format!("roster {} missing", hex::encode(id.value())))
            })?;
            let event = Event::from_trusted_bytes(raw.value()).map_err(|e| {
                StoreError::Corrupt(format!("roster {}: {e}", hex::encode(id.value())))
            })?;
            let _ = trust.apply_roster(&event, now_ms());
        }
        Ok(State {
            next_seq,
            last_seq,
            reserved_seq,
            reserved_own_seq,
            own_seq,
            own_author,
            trust,
        })
    }
}

/// A store written before topic fingerprints existed gets them computed once.
fn rebuild_topic_sums(db: &Database) -> Result<(), StoreError> {
    let w = db.begin_write()?;
    {
        let mut sums = w.open_table(TOPIC_SUMS)?;
        if !sums.is_empty()? {
            return Ok(());
        }
        let by_topic = w.open_table(BY_TOPIC)?;
        let mut acc: std::collections::BTreeMap<String, (u64, [u8; 32])> = Default::default();
        for item in by_topic.iter()? {
            let (k, _) = item?;
            let (topic, _, id) = k.value();
            let e = acc.entry(topic.to_string()).or_insert((0, [0; 32]));
            e.0 += 1;
            crate::store::digest::add(&mut e.1, id);
        }
        for (topic, v) in acc {
            sums.insert(topic.as_str(), v)?;
        }
    }
    w.commit()?;
    Ok(())
}

impl State {
    /// Any change of pins or roster history: what readers judge stored events by.
    pub(super) fn trust_changed(&self, after: &State) -> bool {
        self.trust != after.trust
    }
}
