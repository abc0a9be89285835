//! Offline verification of an evidence bundle against root keys the verifier brings.
//!
//! Pure: bytes and pins in, a [`Verdict`] out. The checks are the node's own: every item
//! decodes as a signed, canonical, vocabulary-valid event ([`Event::decode`]); each
//! community's rosters are signed by the root given for it and their chain links go to lower
//! serials; each author is authorised by the roster in force at the event's time
//! ([`TrustStore::authorise`], retire and revoke included); links between events of the bundle
//! point at kinds the link rules allow. Links that leave the bundle are listed, not refused.

use crate::bundle::{self, BundleError};
use crate::{PublicKey, RejectReason, Roster, TrustStore};
use fedci_proto::vocab::{self, Kind};
use fedci_proto::{Event, EventId};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// An event that passed every check.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub id: EventId,
    pub kind: String,
    pub community: String,
    /// The signing key, hex.
    pub signer: String,
    pub time: u64,
    /// Serial of the roster that authorised it (for a roster: its own serial).
    pub roster_serial: u64,
    pub links: Vec<(String, EventId)>,
}

/// An item refused, with the event id when the item had one.
#[derive(Debug, Clone, Serialize)]
pub struct Refused {
    /// Position of the item in the bundle (0-based).
    pub item: usize,
    pub id: Option<EventId>,
    pub reason: String,
}

/// A link from a bundle event to an event not in the bundle.
#[derive(Debug, Clone, Serialize)]
pub struct ExternalLink {
    pub from: EventId,
    pub rel: String,
    pub to: EventId,
}

/// The outcome of [`verify_bundle`]: it passed only if nothing was refused.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub ok: bool,
    /// Events (rosters excluded) that verified, in bundle order.
    pub events: Vec<Verified>,
    /// Rosters that verified, by community then serial.
    pub rosters: Vec<Verified>,
    pub refused: Vec<Refused>,
    pub external_links: Vec<ExternalLink>,
}

/// Verifies a bundle against `roots` (community → pinned root). Never panics on any input.
pub fn verify_bundle(bytes: &[u8], roots: &BTreeMap<String, PublicKey>) -> Verdict {
    let mut verdict = Verdict {
        ok: false,
        events: Vec::new(),
        rosters: Vec::new(),
        refused: Vec::new(),
        external_links: Vec::new(),
    };
    let items = match bundle::split(bytes) {
        Ok(items) => items,
        Err(e) => {
            verdict.refused.push(Refused {
                item: item_of(&e),
                id: None,
                reason: format!("not a bundle: {e}"),
            });
            return verdict;
        }
    };
    let mut refuse = |item: usize, id: Option<EventId>, reason: String| {
        verdict.refused.push(Refused { item, id, reason });
    };
    // 1. Each item on its own: signature, id, canonical body, vocabulary.
    let mut events: Vec<(usize, Event)> = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, raw) in items.iter().enumerate() {
        match Event::decode(raw) {
            Ok(e) if seen.insert(e.id()) => events.push((i, e)),
            Ok(_) => {} // the same event twice says nothing new
            Err(e) => refuse(i, Event::id_of(raw), format!("invalid event: {e}")),
        }
    }
    // 2. Rosters: signed by the root given for their community, chained to lower serials.
    let mut trust = TrustStore::new();
    for (c, k) in roots {
        trust.pin(c, *k);
    }
    let by_id: BTreeMap<EventId, &Event> = events.iter().map(|(_, e)| (e.id(), e)).collect();
    let is_roster = |e: &Event| e.kind() == Kind::TrustRoster.as_str();
    let mut roster_ok = BTreeSet::new();
    for (i, e) in events.iter().filter(|(_, e)| is_roster(e)) {
        if let Err(why) = check_roster(e, &by_id, roots) {
            refuse(*i, Some(e.id()), why);
            continue;
        }
        // No clock here: an offline check judges history, not freshness.
        match trust.apply_roster(e, u64::MAX) {
            Ok(_) => {
                roster_ok.insert(e.id());
            }
            Err(err) => refuse(*i, Some(e.id()), format!("roster refused: {err}")),
        }
    }
    // 3. Other events: authorised by the roster in force at their time.
    let mut ok_events = Vec::new();
    for (i, e) in events.iter().filter(|(_, e)| !is_roster(e)) {
        match trust.authorise(e) {
            Ok(serial) => ok_events.push((*i, e, serial)),
            Err(r) => refuse(*i, Some(e.id()), reason_text(r, e, roots)),
        }
    }
    // 4. Links inside the bundle hold; links leaving it are listed.
    let mut external = Vec::new();
    let mut verified = Vec::new();
    for (i, e, serial) in ok_events {
        let mut bad = None;
        for l in &e.body().links {
            match by_id.get(&l.target) {
                Some(t) => {
                    if let Err(v) = vocab::check_target(e.kind(), &l.rel, t.kind()) {
                        bad = Some(format!("link {} → {}: {v}", l.rel, l.target.short()));
                    }
                }
                None => external.push(ExternalLink {
                    from: e.id(),
                    rel: l.rel.clone(),
                    to: l.target,
                }),
            }
        }
        match bad {
            Some(why) => refuse(i, Some(e.id()), why),
            None => verified.push(summary(e, serial)),
        }
    }
    for held in roots.keys().flat_map(|c| trust.history(c)) {
        if let Some(e) = by_id.get(&held.id).filter(|e| roster_ok.contains(&e.id())) {
            verdict.rosters.push(summary(e, held.roster.serial));
        }
    }
    verdict.events = verified;
    verdict.external_links = external;
    verdict.refused.sort_by_key(|r| r.item);
    verdict.ok = verdict.refused.is_empty() && !verdict.events.is_empty();
    verdict
}

fn item_of(e: &BundleError) -> usize {
    match e {
        BundleError::Truncated { item, .. }
        | BundleError::Malformed { item, .. }
        | BundleError::ItemTooLarge { item, .. } => *item,
        BundleError::TooLarge(_) | BundleError::TooManyItems => 0,
    }
}

fn check_roster(
    e: &Event,
    by_id: &BTreeMap<EventId, &Event>,
    roots: &BTreeMap<String, PublicKey>,
) -> Result<(), String> {
    let c = e.community();
    let root = roots
        .get(c)
        .ok_or_else(|| format!("no root given for community {c}: roster unverified"))?;
    if &root.to_bytes() != e.author() {
        return Err(format!(
            "roster of {c} is not signed by the root given for {c} (signed by {})",
            short_key(e.author())
        ));
    }
    let serial = Roster::from_event(e).map_err(|r| r.to_string())?.serial;
    for l in e
        .body()
        .links
        .iter()
        .filter(|l| l.rel == "PREVIOUS_VERSION")
    {
        let prev = by_id.get(&l.target).ok_or_else(|| {
            format!(
                "roster chain of {c} broken: previous roster {} is not in the bundle",
                l.target.short()
            )
        })?;
        let prev_serial = Roster::from_event(prev).map_err(|r| r.to_string())?.serial;
        if prev_serial >= serial || prev.community() != c {
            return Err(format!(
                "roster chain of {c}: serial {serial} follows serial {prev_serial}"
            ));
        }
    }
    Ok(())
}

fn reason_text(r: RejectReason, e: &Event, roots: &BTreeMap<String, PublicKey>) -> String {
    let c = e.community();
    match r {
        RejectReason::UnpinnedCommunity => {
            format!("no root given for community {c}: event unverified")
        }
        RejectReason::NoRoster if roots.contains_key(c) => {
            format!("no roster of {c} in the bundle verifies against the root given")
        }
        other => format!(
            "{} (signer {}, {} at {})",
            other,
            short_key(e.author()),
            e.kind(),
            e.time()
        ),
    }
}

fn summary(e: &Event, serial: u64) -> Verified {
    Verified {
        id: e.id(),
        kind: e.kind().to_string(),
        community: e.community().to_string(),
        signer: hex::encode(e.author()),
        time: e.time(),
        roster_serial: serial,
        links: e
            .body()
            .links
            .iter()
            .map(|l| (l.rel.clone(), l.target))
            .collect(),
    }
}

fn short_key(k: &[u8; 32]) -> String {
    hex::encode(&k[..6])
}

impl Verdict {
    /// The verified chain as text: events no other bundle event links to at the top, what they
    /// link to below them; then the rosters that authorised them. On failure, one line per
    /// refused item.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if !self.ok {
            if self.refused.is_empty() {
                out.push_str("REFUSED bundle holds no event to verify\n");
            }
            for r in &self.refused {
                let who =
                    r.id.map_or_else(|| format!("item {}", r.item), |id| id.short());
                out.push_str(&format!("REFUSED {who}  {}\n", r.reason));
            }
            return out;
        }
        let by_id: BTreeMap<EventId, &Verified> = self.events.iter().map(|v| (v.id, v)).collect();
        let targets: BTreeSet<EventId> = self
            .events
            .iter()
            .flat_map(|v| v.links.iter().map(|(_, t)| *t))
            .collect();
        let mut shown = BTreeSet::new();
        out.push_str(&format!(
            "VERIFIED {} events, {} rosters\n",
            self.events.len(),
            self.rosters.len()
        ));
        for top in self.events.iter().filter(|v| !targets.contains(&v.id)) {
            tree(&mut out, top, &by_id, &mut shown, "", None);
        }
        for r in &self.rosters {
            out.push_str(&format!(
                "roster {:<8} serial {:<3} root {}  {}\n",
                r.community,
                r.roster_serial,
                &r.signer[..12],
                r.id.short()
            ));
        }
        for l in &self.external_links {
            out.push_str(&format!(
                "link leaves the bundle: {} {} → {}\n",
                l.from.short(),
                l.rel,
                l.to.short()
            ));
        }
        out
    }
}

/// Deepest level the tree prints.
const MAX_TREE_DEPTH: usize = 64;

fn tree(
    out: &mut String,
    v: &Verified,
    by_id: &BTreeMap<EventId, &Verified>,
    shown: &mut BTreeSet<EventId>,
    indent: &str,
    rel: Option<&str>,
) {
    let again = !shown.insert(v.id);
    out.push_str(&format!(
        "{indent}{}{} {}  key {}  roster #{}  {}{}\n",
        rel.map(|r| format!("{r} → ")).unwrap_or_default(),
        v.kind,
        v.community,
        &v.signer[..12],
        v.roster_serial,
        v.id.short(),
        if again { "  (shown above)" } else { "" }
    ));
    if again {
        return;
    }
    // A long PREVIOUS_VERSION chain must not exhaust the stack.
    if indent.len() >= 4 * MAX_TREE_DEPTH {
        out.push_str(&format!("{indent}    …\n"));
        return;
    }
    let child_indent = format!("{indent}    ");
    for (rel, target) in &v.links {
        if let Some(t) = by_id.get(target) {
            tree(out, t, by_id, shown, &child_indent, Some(rel));
        }
    }
}
