//! The promotion index, kept by the writer in the transaction that stores each event: which
//! `confidence.modified` events reach which artifacts (as SUBJECT, or through the ELEMENT
//! links of compositions, nested to any depth), artifacts by time, and where each artifact
//! was published.
//!
//! Links arrive in any order, so every id, held or not, collects the confidences that reach
//! it ([`CONF_REACH`]); when the event of that id arrives it passes them on: a composition to
//! its elements, an artifact into [`ARTIFACTS_BY_CONF`]. Entries are only ever added (the
//! index is a set of facts, each true for good); which confidence is *in force* (the newest
//! trusted one per name) is decided when reading, over an artifact's own entries only. So the
//! cost of a write is the number of ids the confidence newly reaches, and the cost of a read
//! does not depend on the size of the store.

use super::{Tables, now_ms};
use crate::store::StoreError;
use crate::store::schema::*;
use fedci_proto::Event;
use fedci_proto::vocab::Kind;
use redb::{Database, ReadableDatabase, ReadableTable};

/// Most new index entries one event may make: a hostile web of huge nested compositions
/// cannot stall the writer. Past it the event is still stored; the index misses the rest and
/// `fedci_promotion_capped_total` counts it.
pub const MAX_REACH: usize = 65_536;

/// Marks a store whose promotion index covers every stored event.
const BUILT: &str = "promotion_index_v1";

/// The tables of the index, opened with the writer's others.
pub(super) struct PromoTables<'t> {
    reach: redb::Table<'t, (&'static Id, &'static str, u64, &'static Id), &'static str>,
    by_conf: redb::Table<'t, (&'static str, &'static str, u64, &'static Id), ()>,
    by_time: redb::Table<'t, (u64, u64), ()>,
    locations: redb::Table<'t, (&'static Id, u64, &'static Id), ()>,
}

impl<'t> PromoTables<'t> {
    pub(super) fn open(txn: &'t redb::WriteTransaction) -> Result<Self, StoreError> {
        Ok(PromoTables {
            reach: txn.open_table(CONF_REACH)?,
            by_conf: txn.open_table(ARTIFACTS_BY_CONF)?,
            by_time: txn.open_table(ARTIFACTS_BY_TIME)?,
            locations: txn.open_table(LOCATIONS)?,
        })
    }
}

/// One confidence event, as the index carries it.
#[derive(Debug, Clone)]
struct Conf {
    name: String,
    time: u64,
    id: Id,
    value: String,
}

/// Updates the index for an event just stored at arrival `seq` (its row is written). Returns
/// false when [`MAX_REACH`] cut the propagation short.
pub(super) fn on_stored(t: &mut Tables<'_>, seq: u64, event: &Event) -> Result<bool, StoreError> {
    let id = event.id().0;
    let body = event.body();
    let mut budget = MAX_REACH;
    match Kind::parse(event.kind()) {
        Some(Kind::ArtifactCreated) => {
            t.promo.by_time.insert((body.time, seq), ())?;
            for conf in reaching(t, &id)? {
                t.promo.by_conf.insert(
                    (conf.name.as_str(), conf.value.as_str(), body.time, &id),
                    (),
                )?;
            }
        }
        Some(Kind::CompositionDefined) => {
            let elements = targets(event, "ELEMENT");
            for conf in reaching(t, &id)? {
                for element in &elements {
                    if !spread(t, element, &conf, &mut budget)? {
                        return Ok(false);
                    }
                }
            }
        }
        Some(Kind::ConfidenceModified) => {
            let (Some(name), Some(value)) = (body.data_str("name"), body.data_str("value")) else {
                return Ok(true);
            };
            let conf = Conf {
                name: name.to_string(),
                time: body.time,
                id,
                value: value.to_string(),
            };
            for subject in targets(event, "SUBJECT") {
                if !spread(t, &subject, &conf, &mut budget)? {
                    return Ok(false);
                }
            }
        }
        Some(Kind::ArtifactPublished) => {
            for artifact in targets(event, "ARTIFACT") {
                t.promo.locations.insert((&artifact, body.time, &id), ())?;
            }
        }
        _ => {}
    }
    Ok(true)
}

/// The targets of an event's links of one rel, each once.
fn targets(event: &Event, rel: &str) -> Vec<Id> {
    let mut out: Vec<Id> = Vec::new();
    for link in event.body().links.iter().filter(|l| l.rel == rel) {
        if !out.contains(&link.target.0) {
            out.push(link.target.0);
        }
    }
    out
}

/// Every confidence recorded as reaching `id`.
fn reaching(t: &Tables<'_>, id: &Id) -> Result<Vec<Conf>, StoreError> {
    let mut out = Vec::new();
    for item in t.promo.reach.range((id, "", 0, &[0u8; 32])..)? {
        let (k, v) = item?;
        let (key_id, name, time, conf) = k.value();
        if key_id != id {
            break;
        }
        out.push(Conf {
            name: name.to_string(),
            time,
            id: *conf,
            value: v.value().to_string(),
        });
    }
    Ok(out)
}

/// Records that `conf` reaches `start` and, through held compositions, their elements.
/// An id already reached by it is not walked again (diamonds, repeats). False when the
/// budget ran out.
fn spread(
    t: &mut Tables<'_>,
    start: &Id,
    conf: &Conf,
    budget: &mut usize,
) -> Result<bool, StoreError> {
    let mut stack = vec![*start];
    while let Some(x) = stack.pop() {
        let key = (&x, conf.name.as_str(), conf.time, &conf.id);
        if t.promo.reach.get(key)?.is_some() {
            continue;
        }
        if *budget == 0 {
            return Ok(false);
        }
        *budget -= 1;
        t.promo.reach.insert(key, conf.value.as_str())?;
        let Some((_, row)) = t.ev.find(&x)? else {
            continue;
        };
        match row.kind() {
            Some(Kind::ArtifactCreated) => {
                t.promo
                    .by_conf
                    .insert((conf.name.as_str(), conf.value.as_str(), row.time, &x), ())?;
            }
            Some(Kind::CompositionDefined) => {
                // Stored bytes were verified at ingest.
                let Ok(event) = row.event() else {
                    continue;
                };
                stack.extend(targets(&event, "ELEMENT"));
            }
            _ => {}
        }
    }
    Ok(true)
}

/// A store written before the index existed gets it built once, replaying its events in
/// arrival order (the index is the same whatever order they came in).
pub(super) fn build_once(db: &Database) -> Result<(), StoreError> {
    {
        let r = db.begin_read()?;
        if r.open_table(META)?.get(BUILT)?.is_some() {
            return Ok(());
        }
    }
    let w = db.begin_write()?;
    {
        let mut t = Tables::open(&w)?;
        let seqs: Vec<u64> = {
            let mut seqs = Vec::new();
            for item in t.ev.log.events.iter()? {
                seqs.push(item?.0.value());
            }
            seqs
        };
        let mut capped = 0u64;
        for seq in seqs {
            let Some(row) = t.ev.at(seq)? else {
                continue;
            };
            let Ok(event) = row.event() else {
                continue;
            };
            if !on_stored(&mut t, seq, &event)? {
                capped += 1;
            }
        }
        if capped > 0 {
            tracing::warn!(
                events = capped,
                "promotion index: propagation capped while building"
            );
        }
        t.meta.insert(BUILT, now_ms())?;
    }
    w.commit()?;
    Ok(())
}
