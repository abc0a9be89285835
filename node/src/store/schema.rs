//! redb table definitions. Names carry a version so a format change is a new table, not a
//! silent reinterpretation of old bytes.

use redb::{MultimapTableDefinition, TableDefinition};

pub type Id = [u8; 32];

/// The format this version writes (META `schema`); a store of a newer one is not opened.
pub const SCHEMA_VERSION: u64 = 3;

/// chunk number → [`super::log::CHUNK`] bytes of the byte log: every event's row (a
/// [`super::row`] header, then the COSE bytes exactly as received) back to back in arrival
/// order, cut into chunks that fill a 4 KiB page exactly (the last one is shorter). Rows of
/// any size cost their bytes and nothing more: a table of one row per entry wastes what is
/// left of each page (issue 16).
pub const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log_v3");
/// arrival seq → (offset, length) of the event's row in [`LOG`]. Keyed by arrival, every
/// insert lands past every other key, so redb keeps these leaves packed: 20 bytes an event.
pub const EVENTS: TableDefinition<u64, (u64, u32)> = TableDefinition::new("events_v3");
/// (first 8 bytes of the id, arrival seq) → (): finds an event by id. Fixed-width and small,
/// because it is the one index whose inserts land at random. Ids that share a prefix are all
/// kept (the seq tells them apart) and readers confirm against the event's own id. Only an
/// authorised author can put events here, and k of them under one prefix take about
/// 2^(64(k-1)/k) hashes (2^43 for three, 2^58 for ten), so a lookup reads a few rows at most.
pub const IDS: TableDefinition<(u64, u64), ()> = TableDefinition::new("ids_v3");
/// (kind, community) → code: the pairs events are indexed by, interned to small integers.
pub const PAIRS: TableDefinition<(&str, &str), u32> = TableDefinition::new("pairs_v2");
/// (pair code, arrival seq) → (): a kind's events per community, in arrival order.
pub const BY_PAIR: TableDefinition<(u32, u64), ()> = TableDefinition::new("by_pair_v2");
/// topic → code.
pub const TOPIC_CODES: TableDefinition<&str, u32> = TableDefinition::new("topic_codes_v2");
/// (topic code, author time, arrival seq) → (): the per-topic item set that catch-up
/// reconciles, by author time.
pub const BY_TOPIC: TableDefinition<(u32, u64, u64), ()> = TableDefinition::new("by_topic_v2");
/// topic → (events, 256-bit wrapping sum of their ids): a set fingerprint kept up to date
/// by the writer, so catch-up can tell in one small round trip whether two nodes agree.
pub const TOPIC_SUMS: TableDefinition<&str, (u64, [u8; 32])> =
    TableDefinition::new("topic_sums_v1");
/// (topic, epoch = author time >> 16) → (events, 256-bit wrapping sum of their ids): the same
/// fingerprint per epoch of about 65 s, so catch-up narrows a difference down to the epochs
/// that differ and never builds a topic's whole item set (see `epochs.rs`).
pub const TOPIC_EPOCHS: TableDefinition<(&str, u64), (u64, [u8; 32])> =
    TableDefinition::new("topic_epochs_v1");
/// link target → source ids: `trace --down` is an index walk.
pub const LINKS_REV: MultimapTableDefinition<&Id, &Id> =
    MultimapTableDefinition::new("links_rev_v1");
/// link targets we do not hold yet (dangling links) → number of links pointing at them.
pub const MISSING: TableDefinition<&Id, u64> = TableDefinition::new("missing_v1");
/// durable consumer name → last acknowledged arrival seq.
pub const CONSUMERS: TableDefinition<&str, u64> = TableDefinition::new("consumers_v1");
/// durable consumer name → uid that owns it (may ack or delete it over the CI socket).
pub const CONSUMER_OWNERS: TableDefinition<&str, u32> = TableDefinition::new("consumer_owners_v1");
/// community → pinned root public key.
pub const PINS: TableDefinition<&str, &Id> = TableDefinition::new("pins_v1");
/// community → id of the roster event in force.
pub const ROSTERS: TableDefinition<&str, &Id> = TableDefinition::new("rosters_v1");
/// multiaddr → () : peers added at run time, remembered across restarts.
pub const PEERS: TableDefinition<&str, ()> = TableDefinition::new("peers_v1");
/// counters: `schema` (the format the store is in: [`SCHEMA_VERSION`]), `next_seq` (next
/// arrival seq), `own_seq` (next seq for events this node signs), and the reservations `reserved_seq` / `reserved_own_seq` below which positions may have
/// been announced before their commit (absent in stores written before them: see
/// `writer/announce.rs`).
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta_v1");
/// scratch space the writer fills and empties to prove the disk takes writes again after a
/// failure (see `writer/recover.rs`); empty at rest.
pub const PROBE: TableDefinition<u64, &[u8]> = TableDefinition::new("probe_v1");

// Promotion index (see `writer/promotion.rs`), kept up to date by the writer.

/// (event id, confidence name, confidence time, confidence id) → confidence value: every
/// `confidence.modified` that reaches an artifact or composition, directly as SUBJECT or
/// through the ELEMENT links of held compositions. The key may be an id not held yet (a
/// confidence on a composition that has not arrived): its arrival passes them on.
pub const CONF_REACH: TableDefinition<(&Id, &str, u64, &Id), &str> =
    TableDefinition::new("conf_reach_v1");
/// (confidence name, value, artifact time, artifact id) → (): held artifacts some confidence
/// of that name and value reached. A superset of "in force": readers confirm with
/// [`CONF_REACH`] (a later FAILURE, a revoked issuer).
pub const ARTIFACTS_BY_CONF: TableDefinition<(&str, &str, u64, &Id), ()> =
    TableDefinition::new("artifacts_by_conf_v1");
/// (artifact time, arrival seq) → (): every held `artifact.created`, newest last.
pub const ARTIFACTS_BY_TIME: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("artifacts_by_time_v2");
/// (artifact id, publication time, `artifact.published` id) → (): where each artifact is.
pub const LOCATIONS: TableDefinition<(&Id, u64, &Id), ()> = TableDefinition::new("locations_v1");

/// The tables of the second format that the third replaced, read only by
/// [`super::migrate`] and deleted once their events are in the tables above.
pub mod v2 {
    use redb::TableDefinition;

    /// arrival seq → row: a 49-byte header (arrived_at, time, kind tag, id) then the COSE
    /// bytes.
    pub const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events_v2");
    /// Length of a row's header in [`EVENTS`].
    pub const HEADER: usize = 49;
    /// Dropped after the move: rebuilt as `ids_v3`, `artifacts_by_time_v2`.
    pub const DROPPED: [&str; 3] = ["events_v2", "ids_v2", "artifacts_by_time_v1"];
}

/// The tables of the first format (`_v1`), read only by [`super::migrate`] and deleted once
/// their events are in the tables above.
pub mod v1 {
    use super::Id;
    use redb::TableDefinition;

    /// id → raw COSE bytes.
    pub const EVENTS: TableDefinition<&Id, &[u8]> = TableDefinition::new("events_v1");
    /// arrival seq → id.
    pub const ARRIVALS: TableDefinition<u64, &Id> = TableDefinition::new("arrivals_v1");
    /// arrival seq → this node's clock when it stored the event (absent in early stores).
    pub const ARRIVED_AT: TableDefinition<u64, u64> = TableDefinition::new("arrived_at_v1");
    /// Tables of the first format, dropped after the move (with the promotion index's
    /// artifacts by time, rebuilt keyed by arrival).
    pub const DROPPED: [&str; 8] = [
        "events_v1",
        "info_v1",
        "arrivals_v1",
        "arrived_at_v1",
        "by_kind_v1",
        "by_community_v1",
        "by_topic_v1",
        "artifacts_by_time_v1",
    ];
}
