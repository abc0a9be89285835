//! What the writer keeps between transactions ([`State`]): arrival and own positions with
//! their durable reservations, and the trust store, loaded from what is committed when the
//! store opens or recovers from a failed commit.

use super::super::StoreError;
use super::super::index::{self, EventTables, Rows};
use super::super::schema::*;
use crate::now_ms;
use fedci_keys::{PublicKey, TrustStore};
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
    /// Moves a store of the first format into the second, creates all tables if needed and
    /// loads counters, pins and rosters in force.
    pub fn load(db: &Database, own_author: Option<[u8; 32]>) -> Result<State, StoreError> {
        {
            let r = db.begin_read()?;
            // A store no version wrote yet has no META table: nothing to check.
            if let Ok(meta) = r.open_table(META)
                && let Some(v) = meta.get("schema")?.map(|g| g.value())
                && v > SCHEMA_VERSION
            {
                return Err(StoreError::NewerFormat(v));
            }
        }
        crate::store::migrate::run(db)?;
        let w = db.begin_write()?;
        {
            let fresh = w.open_table(EVENTS)?.is_empty()?;
            EventTables::open(&w)?;
            let mut meta = w.open_table(META)?;
            if fresh && meta.get("schema")?.is_none() {
                meta.insert("schema", SCHEMA_VERSION)?;
            }
            drop(meta);
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
        let rows = Rows::open(&r)?;
        let last_seq = rows.events.last()?.map_or(0, |(k, _)| k.value());
        let mut trust = TrustStore::new();
        for item in r.open_table(PINS)?.iter()? {
            let (community, key) = item?;
            let key = PublicKey::from_bytes(key.value())
                .map_err(|e| StoreError::Corrupt(format!("pin of {}: {e}", community.value())))?;
            trust.pin(community.value(), key);
        }
        // Every stored roster, not only the newest: trust judges events by the roster in force
        // at their time. Rosters of a root no longer pinned are simply refused here.
        let roster_kind = Kind::TrustRoster.as_str();
        let (pairs, by_pair) = (r.open_table(PAIRS)?, r.open_table(BY_PAIR)?);
        for seq in index::seqs_of_kind(&pairs, &by_pair, roster_kind)? {
            let _ = trust.apply_roster(&rows.indexed(seq)?.event()?, now_ms());
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

impl State {
    /// Any change of pins or roster history: what readers judge stored events by.
    pub(super) fn trust_changed(&self, after: &State) -> bool {
        self.trust != after.trust
    }
}
