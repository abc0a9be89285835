//! redb table definitions. Names carry a version so a format change is a new table, not a
//! silent reinterpretation of old bytes.

use redb::{MultimapTableDefinition, TableDefinition};

pub type Id = [u8; 32];

/// id → raw COSE bytes, exactly as received.
pub const EVENTS: TableDefinition<&Id, &[u8]> = TableDefinition::new("events_v1");
/// id → (arrival seq, author time, kind, community): what indexes and link checks need
/// without parsing the event.
pub const INFO: TableDefinition<&Id, (u64, u64, &str, &str)> = TableDefinition::new("info_v1");
/// arrival seq → id: the order events reached this node; consumer cursors point into it.
pub const ARRIVALS: TableDefinition<u64, &Id> = TableDefinition::new("arrivals_v1");
/// arrival seq → this node's clock (ms) when it stored the event: what an author's claimed
/// `time` can be compared with (a backdated event shows up as one that arrived late).
pub const ARRIVED_AT: TableDefinition<u64, u64> = TableDefinition::new("arrived_at_v1");
/// (kind, arrival seq) → id.
pub const BY_KIND: TableDefinition<(&str, u64), &Id> = TableDefinition::new("by_kind_v1");
/// (community, arrival seq) → id.
pub const BY_COMMUNITY: TableDefinition<(&str, u64), &Id> = TableDefinition::new("by_community_v1");
/// (topic, author time, id) → (): the per-topic item set that catch-up reconciles.
pub const BY_TOPIC: TableDefinition<(&str, u64, &Id), ()> = TableDefinition::new("by_topic_v1");
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
/// counters: `next_seq` (next arrival seq), `own_seq` (next seq for events this node signs),
/// and the reservations `reserved_seq` / `reserved_own_seq` below which positions may have
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
/// (artifact time, artifact id) → (): every held `artifact.created`, newest last.
pub const ARTIFACTS_BY_TIME: TableDefinition<(u64, &Id), ()> =
    TableDefinition::new("artifacts_by_time_v1");
/// (artifact id, publication time, `artifact.published` id) → (): where each artifact is.
pub const LOCATIONS: TableDefinition<(&Id, u64, &Id), ()> = TableDefinition::new("locations_v1");
