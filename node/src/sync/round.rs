//! The initiator side of catch-up: one round with one peer.

use super::narrow::{Slice, differing_slices};
use super::serve::{WHOLE, build_storage, fingerprints};
use super::{
    FETCH_CONCURRENCY, FETCH_PAGE, FRAME_LIMIT, MAX_IDS_PER_ROUND, MAX_ROUND_TRIPS, Misbehaviour,
    Requester, RoundStats, SyncError,
};
use crate::admit::{Admission, Verdict, Via};
use crate::store::{Store, digest};
use crate::sync::protocol::{
    MAX_DIGEST_TOPICS, MAX_SPAN_ITEMS, MAX_TOPICS_PER_FRAME, Request, Response, TopicMessage,
};
use fedci_proto::EventId;
use libp2p::PeerId;
use libp2p::futures::{StreamExt, stream};
use negentropy::{Id, Negentropy, NegentropyStorageBase, NegentropyStorageVector};
use serde_bytes::ByteBuf;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Instant;

/// Reconciles `topics` with `peer`, fetches what we lack, offers what it lacks (when `offer`),
/// then fetches missing link targets. Never fails: errors end the round and are reported in
/// the stats. Rounds started because a peer connected run on both sides at once, so they
/// only fetch; periodic rounds, which only one side starts, also offer.
pub async fn sync_with(
    peer: PeerId,
    req: &Requester,
    admission: &Admission,
    mut topics: Vec<String>,
    offer_back: bool,
) -> RoundStats {
    let store = admission.store();
    let started = Instant::now();
    let mut stats = RoundStats {
        topics: topics.len(),
        ..RoundStats::default()
    };
    // Rosters first: they decide whether everything else can be believed.
    topics.sort_by_key(|t| !t.ends_with("/trust"));
    let result = async {
        // One small round trip tells which topics differ at all; only those are reconciled.
        let differing = differing_topics(peer, req, store, &topics, &mut stats).await?;
        let (trust, rest): (Vec<String>, Vec<String>) =
            differing.into_iter().partition(|t| t.ends_with("/trust"));
        for phase in [trust, rest] {
            if phase.is_empty() {
                continue;
            }
            let fetch_only = !offer_back;
            let mut queue: VecDeque<Slice> =
                differing_slices(peer, req, store, (&phase, fetch_only), &mut stats)
                    .await?
                    .into();
            // The next chunk is reconciled while the last one's events are fetched and
            // verified: reconciling is mostly the peer's work (building its sets), verifying
            // ours, so neither waits for the other. A phase ends with its last fetch, so
            // rosters are in before any other event is judged. The two together hold no more
            // ids, and send no more requests at once, than one chunk alone did.
            let mut fetched: Option<(Vec<EventId>, Vec<EventId>)> = None;
            while !queue.is_empty() || fetched.is_some() {
                let held = fetched
                    .as_ref()
                    .map_or(0, |(need, have)| need.len().max(have.len()));
                let room = MAX_IDS_PER_ROUND.saturating_sub(held);
                let chunk = (!queue.is_empty() && room >= MAX_IDS_PER_ROUND / 2)
                    .then(|| next_chunk(&mut queue));
                let beside = chunk.is_some() && fetched.is_some();
                let mut fetch_stats = RoundStats::default();
                // Round trips are bounded per round, not per chunk: the count carries on.
                let before = stats.round_trips;
                let mut reconcile_stats = RoundStats {
                    round_trips: before,
                    ..RoundStats::default()
                };
                let fetching = fetch_and_offer(
                    peer,
                    req,
                    admission,
                    fetched.take(),
                    (offer_back, FETCH_CONCURRENCY - usize::from(beside)),
                    &mut fetch_stats,
                );
                let reconciling = async {
                    match chunk {
                        Some(c) => reconcile(peer, req, store, c, room, &mut reconcile_stats)
                            .await
                            .map(Some),
                        None => Ok(None),
                    }
                };
                // The first error ends both: a peer caught lying in one is not served on in
                // the other.
                let joined = futures::future::try_join(fetching, reconciling).await;
                reconcile_stats.round_trips -= before;
                stats.absorb(fetch_stats);
                stats.absorb(reconcile_stats);
                if let ((), Some((need, have, split))) = joined? {
                    // Slices too large for one side come back halved, first in line.
                    for s in split.into_iter().rev() {
                        queue.push_front(s);
                    }
                    stats.need += need.len();
                    stats.have += have.len();
                    fetched = Some((need, have));
                }
            }
        }
        let missing = store
            .read(|s| s.missing_targets_from(&rand::random(), FETCH_PAGE))
            .await?;
        if !missing.is_empty() {
            let strict = false;
            fetch(
                peer,
                req,
                admission,
                missing,
                (strict, FETCH_CONCURRENCY),
                &mut stats,
            )
            .await?;
        }
        Ok::<(), SyncError>(())
    }
    .await;
    if let Err(e) = result {
        stats.misbehaved = matches!(e, SyncError::Misbehaved(_));
        stats.error = Some(e.to_string());
    }
    stats.millis = started.elapsed().as_millis() as u64;
    stats
}

/// Compares per-topic set fingerprints with the peer: one fingerprint over all topics first,
/// per-topic fingerprints only when that differs. Returns the topics that differ.
async fn differing_topics(
    peer: PeerId,
    req: &Requester,
    store: &Store,
    topics: &[String],
    stats: &mut RoundStats,
) -> Result<Vec<String>, SyncError> {
    let mut out = Vec::new();
    for chunk in topics.chunks(MAX_DIGEST_TOPICS) {
        let ours = fingerprints(store, chunk.to_vec()).await?;
        let combined = ByteBuf::from(digest::combine(&ours).to_vec());
        stats.round_trips += 1;
        stats.bytes_sent += chunk.iter().map(|t| t.len() as u64).sum::<u64>() + 16;
        let request = Request::Digest {
            topics: chunk.to_vec(),
            combined,
        };
        let Response::Digest {
            same,
            fingerprints: theirs,
        } = req.call(peer, request).await?
        else {
            return Err(Misbehaviour::WrongAnswer("digest").into());
        };
        stats.bytes_received += 1 + theirs.iter().map(|f| f.len() as u64).sum::<u64>();
        if same {
            continue;
        }
        if theirs.len() != chunk.len() {
            return Err(Misbehaviour::DigestLength.into());
        }
        out.extend(
            chunk
                .iter()
                .zip(&ours)
                .zip(&theirs)
                .filter(|((_, o), t)| o[..] != t[..])
                .map(|((topic, _), _)| topic.clone()),
        );
    }
    Ok(out)
}

/// Most events of the slices one reconcile request covers, so the sets held at once stay
/// small on both sides (40 bytes an event).
const CHUNK_ITEMS: u64 = 2 * MAX_SPAN_ITEMS as u64;

/// Events a slice is cut down to before it is reconciled: half of what a set may hold, so
/// that a part holding more than its share (events are not evenly spread in time) still fits.
const SLICE_ITEMS: u64 = MAX_SPAN_ITEMS as u64 / 2;

/// The next slices to reconcile together: at most [`MAX_TOPICS_PER_FRAME`] of them and about
/// [`CHUNK_ITEMS`] events (always at least one slice). Of a slice of more than
/// [`SLICE_ITEMS`] events only the first part is taken; the rest stays first in line.
fn next_chunk(queue: &mut VecDeque<Slice>) -> Vec<Slice> {
    let mut chunk = Vec::new();
    let mut items: u64 = 0;
    while let Some(s) = queue.pop_front() {
        let (s, rest) = s.split_first(SLICE_ITEMS);
        if let Some(rest) = rest {
            queue.push_front(rest);
        }
        if !chunk.is_empty()
            && (chunk.len() == MAX_TOPICS_PER_FRAME || items.saturating_add(s.items) > CHUNK_ITEMS)
        {
            queue.push_front(s);
            break;
        }
        items = items.saturating_add(s.items);
        chunk.push(s);
    }
    chunk
}

/// Runs negentropy for several slices at once; returns (ids we need, ids the peer needs,
/// slices that held too many events for one side, halved), at most `room` ids of each.
async fn reconcile(
    peer: PeerId,
    req: &Requester,
    store: &Store,
    slices: Vec<Slice>,
    room: usize,
    stats: &mut RoundStats,
) -> Result<(Vec<EventId>, Vec<EventId>, Vec<Slice>), SyncError> {
    type Key = (String, (u64, u64));
    let mut negs: HashMap<Key, (Slice, Negentropy<'static, NegentropyStorageVector>)> =
        HashMap::new();
    let mut split = Vec::new();
    let mut pending = Vec::new();
    for slice in slices {
        let Some(storage) = build_storage(store, &slice.topic, slice.span, MAX_SPAN_ITEMS).await?
        else {
            split.extend(halved(slice));
            continue;
        };
        stats.largest_set = stats.largest_set.max(storage.size().unwrap_or(0));
        let mut n = Negentropy::owned(storage, FRAME_LIMIT)?;
        let message = n.initiate()?;
        pending.push(TopicMessage {
            topic: slice.topic.clone(),
            message: ByteBuf::from(message),
            span: Some(slice.span),
            too_large: false,
        });
        negs.insert((slice.topic.clone(), slice.span), (slice, n));
    }
    let (mut have, mut need): (Vec<Id>, Vec<Id>) = (Vec::new(), Vec::new());
    while !pending.is_empty() {
        stats.round_trips += 1;
        if stats.round_trips > MAX_ROUND_TRIPS {
            return Err(SyncError::NoAgreement(MAX_ROUND_TRIPS));
        }
        stats.bytes_sent += pending
            .iter()
            .map(|t| (t.topic.len() + t.message.len()) as u64)
            .sum::<u64>();
        let key = |t: &TopicMessage| (t.topic.clone(), t.span.unwrap_or(WHOLE));
        let asked: HashSet<Key> = pending.iter().map(key).collect();
        let Response::Reconcile { topics: replies } = req
            .call(peer, Request::Reconcile { topics: pending })
            .await?
        else {
            return Err(Misbehaviour::WrongAnswer("reconcile").into());
        };
        pending = Vec::new();
        let mut answered = HashSet::new();
        for reply in replies {
            stats.bytes_received += (reply.topic.len() + reply.message.len()) as u64;
            let k = key(&reply);
            if !asked.contains(&k) || !answered.insert(k.clone()) {
                return Err(Misbehaviour::UnaskedSpan(reply.topic, reply.span).into());
            }
            if reply.too_large {
                if let Some((slice, _)) = negs.remove(&k) {
                    split.extend(halved(slice));
                }
                continue;
            }
            let Some((_, n)) = negs.get_mut(&k) else {
                continue;
            };
            match n.reconcile_with_ids(&reply.message, &mut have, &mut need) {
                Ok(Some(next)) => pending.push(TopicMessage {
                    topic: reply.topic,
                    message: ByteBuf::from(next),
                    span: reply.span,
                    too_large: false,
                }),
                Ok(None) => {}
                Err(e) => return Err(Misbehaviour::Reconciliation(e).into()),
            }
        }
        if answered.len() != asked.len() {
            return Err(Misbehaviour::Unanswered.into());
        }
        // A peer may announce any number of ids; take a bounded share now, the rest next round.
        if need.len() >= room {
            need.truncate(room);
            break;
        }
    }
    let ids = |v: Vec<Id>| {
        v.into_iter()
            .take(room)
            .map(|i| EventId(i.to_bytes()))
            .collect::<Vec<_>>()
    };
    Ok((ids(need), ids(have), split))
}

/// The halves of a slice too large to reconcile at once; a one-millisecond slice that is
/// still too large (more than `MAX_SPAN_ITEMS` events claiming the same millisecond) is
/// left out of catch-up, and said so.
fn halved(slice: Slice) -> Vec<Slice> {
    match slice.halves() {
        Some(h) => h.into(),
        None => {
            tracing::warn!(topic = %slice.topic, time = slice.span.0,
                "more events in one millisecond than catch-up reconciles; left out");
            Vec::new()
        }
    }
}

/// Fetches what one reconciled chunk found we need, `concurrency` requests in flight, then
/// offers what the peer needs (when `offer_back`); nothing for `None`.
async fn fetch_and_offer(
    peer: PeerId,
    req: &Requester,
    admission: &Admission,
    found: Option<(Vec<EventId>, Vec<EventId>)>,
    (offer_back, concurrency): (bool, usize),
    stats: &mut RoundStats,
) -> Result<(), SyncError> {
    let Some((need, have)) = found else {
        return Ok(());
    };
    fetch(peer, req, admission, need, (true, concurrency), stats).await?;
    if offer_back {
        // Offering is a courtesy: its failure must not cost us the rest of the round.
        if let Err(e) = offer(peer, req, admission.store(), have, stats).await {
            tracing::debug!(%peer, error = %e, "offer failed");
        }
    }
    Ok(())
}

/// Fetches `ids` in pages, a few in flight, through the one admission path. An answer may be
/// short (the peer's byte budget): the ids it left out are asked again in a later page. With
/// `strict`, the peer announced these ids itself, so an answer with none of them is a lie;
/// forged events always are. Ids remembered as refused are not fetched at all.
async fn fetch(
    peer: PeerId,
    req: &Requester,
    admission: &Admission,
    ids: Vec<EventId>,
    (strict, concurrency): (bool, usize),
    stats: &mut RoundStats,
) -> Result<(), SyncError> {
    // Claim the ids no other round is fetching; the guard releases them however this ends
    // (also when the round is cancelled by its time limit).
    let claim = Claim::new(&req.in_flight, admission.not_refused(ids));
    let mut pages: VecDeque<Vec<EventId>> = claim
        .ids
        .chunks(FETCH_PAGE)
        .map(<[EventId]>::to_vec)
        .collect();
    let mut requests = stream::FuturesUnordered::new();
    loop {
        while requests.len() < concurrency.max(1)
            && let Some(page) = pages.pop_front()
        {
            requests.push(fetch_page(peer, req, admission, page));
        }
        let Some(answer) = requests.next().await else {
            return Ok(());
        };
        let (page, bytes, verdict, withheld) = answer?;
        stats.bytes_received += bytes;
        stats.received += verdict.answered.len();
        stats.stored += verdict.stored;
        if let Some(e) = verdict.store_error {
            return Err(SyncError::Store(e));
        }
        if verdict.forged > 0 {
            return Err(Misbehaviour::Forged(verdict.forged).into());
        }
        // Withheld ids (held, but no longer vouched for by the peer) are not asked again this
        // round, and are no lie. They are not remembered as refused: the claim is the peer's
        // word only, and believing it for other peers would let anyone censor an id.
        let rest: Vec<EventId> = page
            .into_iter()
            .filter(|id| !verdict.answered.contains(id) && !withheld.contains(id))
            .collect();
        if rest.is_empty() {
            continue;
        }
        if verdict.answered.is_empty() {
            if strict {
                return Err(Misbehaviour::NotServed(rest.len()).into());
            }
            // Link targets the peer does not hold either: nothing more to ask it.
            continue;
        }
        pages.push_back(rest);
    }
}

/// One fetch request and the admission of its answer: (ids asked, bytes received, verdict,
/// ids the peer withheld).
async fn fetch_page(
    peer: PeerId,
    req: &Requester,
    admission: &Admission,
    page: Vec<EventId>,
) -> Result<(Vec<EventId>, u64, Verdict, HashSet<EventId>), SyncError> {
    let request = Request::Fetch {
        ids: page.iter().map(|i| ByteBuf::from(i.0.to_vec())).collect(),
    };
    let Response::Events { events, withheld } = req.call(peer, request).await? else {
        return Err(Misbehaviour::WrongAnswer("fetch").into());
    };
    let bytes = events.iter().map(|e| e.len() as u64).sum::<u64>();
    let requested: HashSet<EventId> = page.iter().copied().collect();
    // Only ids we asked for count; anything else in the list is ignored.
    let withheld: HashSet<EventId> = withheld
        .iter()
        .filter_map(|b| EventId::try_from(b.as_slice()).ok())
        .filter(|id| requested.contains(id))
        .collect();
    let raws = events.into_iter().map(ByteBuf::into_vec).collect();
    let verdict = admission.admit(peer, Via::Fetch { requested }, raws).await;
    Ok((page, bytes, verdict, withheld))
}

/// Bytes of events in one offer: what a peer accepts in a request, less room for framing.
const OFFER_BYTES: usize = super::protocol::MAX_REQUEST_BYTES as usize - (256 << 10);

/// Offers the peer the events it lacks, in pages. Events a page has no room for wait for the
/// next round. A peer catching up from us in a round of its own is offered nothing more:
/// it takes what it lacks itself, and each event offered as well would cost it a second
/// verification and us a second read.
async fn offer(
    peer: PeerId,
    req: &Requester,
    store: &Store,
    ids: Vec<EventId>,
    stats: &mut RoundStats,
) -> Result<(), SyncError> {
    for page in ids.chunks(FETCH_PAGE) {
        if req.peer_is_catching_up(&peer) {
            tracing::debug!(%peer, "peer is catching up from us; offer left to its own round");
            break;
        }
        let page = page.to_vec();
        let raws = store.read(move |s| s.get_raws(&page, OFFER_BYTES)).await?;
        stats.bytes_sent += raws.iter().map(|r| r.len() as u64).sum::<u64>();
        stats.offered += raws.len();
        req.call(
            peer,
            Request::Offer {
                events: raws.into_iter().map(ByteBuf::from).collect(),
            },
        )
        .await?;
    }
    Ok(())
}

/// Ids this round is fetching, released from the shared in-flight set on drop.
struct Claim<'a> {
    set: &'a std::sync::Mutex<HashSet<EventId>>,
    ids: Vec<EventId>,
}

impl<'a> Claim<'a> {
    fn new(set: &'a std::sync::Mutex<HashSet<EventId>>, ids: Vec<EventId>) -> Self {
        let ids = match set.lock() {
            Ok(mut s) => ids.into_iter().filter(|id| s.insert(*id)).collect(),
            Err(_) => ids,
        };
        Claim { set, ids }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.set.lock() {
            for id in &self.ids {
                s.remove(id);
            }
        }
    }
}
