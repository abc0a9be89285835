//! The initiator's narrowing of differing topics down to the stretches of author time that
//! differ, before any item set is built: both sides sum their per-epoch fingerprints
//! ([`crate::store::epochs`]) in buckets, coarse first, and only buckets that differ are
//! looked at more finely. What is left are epochs (about 65 s each) that differ, grouped
//! into [`Slice`]s small enough to reconcile with bounded memory on both sides. A round
//! that agrees on all but the last minute of a topic of a million events builds sets of
//! that minute only.

use super::{MAX_ROUND_TRIPS, Misbehaviour, Requester, RoundStats, SyncError};
use crate::store::Store;
use crate::store::epochs::{Bucket, epoch_times};
use crate::sync::protocol::{
    EpochBucket, EpochQuery, MAX_EPOCH_BUCKETS, MAX_EPOCH_RANGES, MAX_SPAN_ITEMS,
    MAX_TOPICS_PER_FRAME, Request, Response,
};
use libp2p::PeerId;
use std::collections::BTreeMap;

/// Bucket widths in epochs, coarsest first: about 25 days, 18.6 hours, 35 minutes, 65 s.
/// Each level splits a differing bucket of the level before into at most 32.
pub const LEVELS: [u64; 4] = [1 << 15, 1 << 10, 1 << 5, 1];

/// A stretch of a topic to reconcile: its events whose author time is in `span` (ms), about
/// `items` of them on the side that holds more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    pub topic: String,
    pub span: (u64, u64),
    pub items: u64,
}

impl Slice {
    /// The first of the equal stretches of time, of about `max_items` events each, this
    /// slice divides into, and the rest of it (`None` when it holds no more than that). A
    /// slice is one epoch or more, and an epoch may hold far more events than a set may;
    /// cutting up front spares both sides the sets they would start and give up on while
    /// halving their way down (a million events in two epochs cost the responder some 30
    /// refused sets of 65,536 events). Parts are cut one at a time, as they are reconciled:
    /// the count may be the peer's claim, and a slice claimed to hold 2^40 events must not
    /// become millions of slices in memory. A part that still holds too many (events are not
    /// evenly spread) is halved then.
    pub fn split_first(self, max_items: u64) -> (Slice, Option<Slice>) {
        let (lo, hi) = self.span;
        let ms = hi.saturating_sub(lo);
        let n = self.items.div_ceil(max_items.max(1)).min(ms);
        if n <= 1 {
            return (self, None);
        }
        // 2 <= n <= ms, so the first part is at least a millisecond and ends before `hi`.
        let end = lo + ms / n;
        let first_items = self.items.div_ceil(n);
        let first = Slice {
            topic: self.topic.clone(),
            span: (lo, end),
            items: first_items,
        };
        let rest = Slice {
            topic: self.topic,
            span: (end, hi),
            items: self.items - first_items,
        };
        (first, Some(rest))
    }

    /// The two halves of this slice's span, or `None` when it is one millisecond wide.
    pub fn halves(&self) -> Option<[Slice; 2]> {
        let (lo, hi) = self.span;
        let mid = lo + (hi - lo) / 2;
        (mid > lo).then(|| {
            let half = |span| Slice {
                topic: self.topic.clone(),
                span,
                items: self.items.div_ceil(2),
            };
            [half((lo, mid)), half((mid, hi))]
        })
    }
}

/// Narrows `topics` (which differ as a whole) down to the slices that differ. A round that
/// only fetches (`fetch_only`) also leaves out buckets the peer holds nothing of: there is
/// nothing to fetch there, and a late joiner's first round against a node holding a million
/// events would otherwise have both sides build the sets of all of them to learn only that.
pub async fn differing_slices(
    peer: PeerId,
    req: &Requester,
    store: &Store,
    (topics, fetch_only): (&[String], bool),
    stats: &mut RoundStats,
) -> Result<Vec<Slice>, SyncError> {
    let mut looking: Vec<EpochQuery> = topics
        .iter()
        .map(|t| EpochQuery {
            topic: t.clone(),
            ranges: vec![(0, u64::MAX)],
        })
        .collect();
    let mut slices = Vec::new();
    for width in LEVELS {
        let mut next = Vec::new();
        for batch in batches(looking) {
            stats.round_trips += 1;
            if stats.round_trips > MAX_ROUND_TRIPS {
                return Err(SyncError::NoAgreement(MAX_ROUND_TRIPS));
            }
            stats.bytes_sent += batch
                .iter()
                .map(|q| (q.topic.len() + 16 * q.ranges.len()) as u64)
                .sum::<u64>();
            let ours = own_buckets(store, width, batch.clone()).await?;
            let request = Request::Epochs {
                width,
                topics: batch.clone(),
            };
            let Response::Epochs { topics: theirs } = req.call(peer, request).await? else {
                return Err(Misbehaviour::WrongAnswer("epochs request").into());
            };
            if theirs.len() != batch.len()
                || theirs.iter().map(Vec::len).sum::<usize>() > MAX_EPOCH_BUCKETS
            {
                return Err(Misbehaviour::EpochsLength.into());
            }
            stats.bytes_received += theirs.iter().map(|b| 40 * b.len() as u64).sum::<u64>();
            for ((query, ours), theirs) in batch.into_iter().zip(ours).zip(theirs) {
                let theirs = checked(&query, width, theirs)?;
                let differ = differing(&ours, &theirs, fetch_only);
                if differ.is_empty() {
                    continue;
                }
                if width == 1 {
                    slices.extend(group(&query.topic, &differ));
                } else {
                    next.push(EpochQuery {
                        topic: query.topic,
                        ranges: differ
                            .iter()
                            .map(|&(start, _)| (start, start.saturating_add(width)))
                            .collect(),
                    });
                }
            }
        }
        looking = next;
    }
    Ok(slices)
}

/// Splits queries into requests of at most [`MAX_TOPICS_PER_FRAME`] topics and
/// [`MAX_EPOCH_RANGES`] ranges.
fn batches(queries: Vec<EpochQuery>) -> Vec<Vec<EpochQuery>> {
    let mut out: Vec<Vec<EpochQuery>> = Vec::new();
    let mut ranges = 0;
    for q in queries {
        for chunk in q.ranges.chunks(MAX_EPOCH_RANGES) {
            let fits = out.last().is_some_and(|b| {
                b.len() < MAX_TOPICS_PER_FRAME && ranges + chunk.len() <= MAX_EPOCH_RANGES
            });
            if !fits {
                out.push(Vec::new());
                ranges = 0;
            }
            ranges += chunk.len();
            if let Some(b) = out.last_mut() {
                b.push(EpochQuery {
                    topic: q.topic.clone(),
                    ranges: chunk.to_vec(),
                });
            }
        }
    }
    out
}

async fn own_buckets(
    store: &Store,
    width: u64,
    batch: Vec<EpochQuery>,
) -> Result<Vec<Vec<Bucket>>, SyncError> {
    let found = store
        .read(move |s| {
            batch
                .iter()
                .map(|q| s.epoch_buckets(&q.topic, &q.ranges, width, MAX_EPOCH_BUCKETS))
                .collect::<Result<Option<Vec<_>>, _>>()
        })
        .await?;
    found.ok_or(SyncError::TooManyEpochs(MAX_EPOCH_BUCKETS))
}

/// The peer's buckets of `query`, checked: in order, aligned to `width`, inside the ranges
/// asked, with 16-byte fingerprints.
fn checked(
    query: &EpochQuery,
    width: u64,
    theirs: Vec<EpochBucket>,
) -> Result<Vec<Bucket>, SyncError> {
    let mut out: Vec<Bucket> = Vec::with_capacity(theirs.len());
    for b in theirs {
        let bad = || Misbehaviour::EpochBucket(query.topic.clone(), b.start);
        let fingerprint: [u8; 16] = b.fingerprint.as_slice().try_into().map_err(|_| bad())?;
        let in_order = out.last().is_none_or(|last| last.start < b.start);
        let asked = query
            .ranges
            .iter()
            .any(|&(from, to)| from <= b.start && b.start < to);
        if !in_order || b.start % width != 0 || !asked || b.count == 0 {
            return Err(bad().into());
        }
        out.push(Bucket {
            start: b.start,
            count: b.count,
            fingerprint,
        });
    }
    Ok(out)
}

/// Starts of the buckets that differ (held by one side only, or with other fingerprints),
/// with the larger of the two counts; with `theirs_only`, of those the peer holds something of.
fn differing(ours: &[Bucket], theirs: &[Bucket], theirs_only: bool) -> Vec<(u64, u64)> {
    let mut all: BTreeMap<u64, (Option<&Bucket>, Option<&Bucket>)> = BTreeMap::new();
    for b in ours {
        all.entry(b.start).or_default().0 = Some(b);
    }
    for b in theirs {
        all.entry(b.start).or_default().1 = Some(b);
    }
    all.into_iter()
        .filter_map(|(start, pair)| match pair {
            (Some(o), Some(t)) if o.fingerprint == t.fingerprint => None,
            (_, None) if theirs_only => None,
            (o, t) => {
                let count = |b: Option<&Bucket>| b.map_or(0, |b| b.count);
                Some((start, count(o).max(count(t))))
            }
        })
        .collect()
}

/// Differing epochs of one topic as slices: runs of consecutive epochs merged while they
/// hold at most [`MAX_SPAN_ITEMS`] together.
fn group(topic: &str, epochs: &[(u64, u64)]) -> Vec<Slice> {
    let mut out: Vec<Slice> = Vec::new();
    let mut last_epoch = None;
    for &(epoch, items) in epochs {
        let (lo, hi) = epoch_times(epoch, epoch.saturating_add(1));
        let joins = last_epoch.is_some_and(|e: u64| e + 1 == epoch);
        match out.last_mut() {
            Some(s) if joins && s.items.saturating_add(items) <= MAX_SPAN_ITEMS as u64 => {
                s.span.1 = hi;
                s.items += items;
            }
            _ => out.push(Slice {
                topic: topic.to_string(),
                span: (lo, hi),
                items,
            }),
        }
        last_epoch = Some(epoch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(start: u64, count: u64, fp: u8) -> Bucket {
        Bucket {
            start,
            count,
            fingerprint: [fp; 16],
        }
    }

    #[test]
    fn only_buckets_that_differ_are_looked_at_again() {
        let ours = [bucket(0, 5, 1), bucket(32, 7, 2), bucket(64, 1, 3)];
        let theirs = [bucket(0, 5, 1), bucket(32, 9, 9), bucket(96, 4, 4)];
        assert_eq!(
            differing(&ours, &theirs, false),
            vec![(32, 9), (64, 1), (96, 4)]
        );
        assert!(differing(&ours, &ours, false).is_empty());
        // A round that only fetches has nothing to look for where the peer holds nothing.
        assert_eq!(differing(&ours, &theirs, true), vec![(32, 9), (96, 4)]);
        assert!(differing(&ours, &[], true).is_empty());
    }

    #[test]
    fn consecutive_epochs_group_up_to_the_span_limit() {
        let big = MAX_SPAN_ITEMS as u64 / 2;
        let s = group("t", &[(10, 3), (11, 4), (13, 1), (14, big), (15, big)]);
        let spans: Vec<_> = s.iter().map(|s| (s.span, s.items)).collect();
        let e = |n: u64| n << crate::store::epochs::EPOCH_SHIFT;
        assert_eq!(
            spans,
            vec![
                ((e(10), e(12)), 7),
                ((e(13), e(15)), big + 1),
                ((e(15), e(16)), big)
            ]
        );
    }

    /// Cuts a slice part by part, as `next_chunk` does.
    fn all_parts(mut s: Slice, max: u64) -> Vec<Slice> {
        let mut out = Vec::new();
        loop {
            let (first, rest) = s.split_first(max);
            out.push(first);
            match rest {
                Some(r) => s = r,
                None => return out,
            }
        }
    }

    #[test]
    fn a_slice_of_too_many_events_is_cut_into_parts_that_cover_it() {
        let s = |span, items| Slice {
            topic: "t".into(),
            span,
            items,
        };
        let e = 1u64 << crate::store::epochs::EPOCH_SHIFT;
        assert_eq!(s((0, e), 100).split_first(1000), (s((0, e), 100), None));
        let parts = all_parts(s((0, e), 550_000), 32_768);
        assert_eq!(parts.len(), 17);
        assert_eq!((parts[0].span.0, parts[16].span.1), (0, e));
        assert!(parts.windows(2).all(|w| w[0].span.1 == w[1].span.0));
        assert!(
            parts
                .iter()
                .all(|p| p.items <= 32_768 && p.span.0 < p.span.1)
        );
        assert_eq!(parts.iter().map(|p| p.items).sum::<u64>(), 550_000);
        // Never narrower than a millisecond.
        assert_eq!(all_parts(s((10, 13), 1_000_000), 1).len(), 3);
        // The last epoch, whose span ends at u64::MAX, and a count a peer may claim: no
        // overflow, and the parts still cover the span exactly.
        let last = crate::store::epochs::epoch_times(u64::MAX >> 16, (u64::MAX >> 16) + 1);
        let (first, rest) = s(last, u64::MAX).split_first(32_768);
        let rest = rest.unwrap();
        assert_eq!(
            (first.span.0, first.span.1, rest.span.1),
            (last.0, rest.span.0, u64::MAX)
        );
        assert_eq!(first.span.1 - first.span.0, 1);
        let odd = all_parts(s((last.0, u64::MAX), 60_000 * 32_768), 32_768);
        assert_eq!(odd.last().unwrap().span.1, u64::MAX);
        assert!(odd.windows(2).all(|w| w[0].span.1 == w[1].span.0));
    }

    #[test]
    fn a_claimed_count_past_u64_does_not_overflow_a_group() {
        let s = group("t", &[(0, 1), (1, u64::MAX)]);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn halves_split_down_to_one_millisecond() {
        let s = Slice {
            topic: "t".into(),
            span: (10, 13),
            items: 5,
        };
        let [a, b] = s.halves().unwrap();
        assert_eq!((a.span, b.span, a.items), ((10, 11), (11, 13), 3));
        assert!(a.halves().is_none());
    }

    #[test]
    fn a_peer_answering_buckets_it_was_not_asked_misbehaves() {
        let q = EpochQuery {
            topic: "t".into(),
            ranges: vec![(32, 64)],
        };
        let b = |start, count| EpochBucket {
            start,
            count,
            fingerprint: serde_bytes::ByteBuf::from(vec![0; 16]),
        };
        assert!(checked(&q, 1, vec![b(33, 1), b(40, 2)]).is_ok());
        assert!(checked(&q, 1, vec![b(64, 1)]).is_err());
        assert!(checked(&q, 1, vec![b(40, 1), b(33, 1)]).is_err());
        assert!(checked(&q, 8, vec![b(33, 1)]).is_err());
        assert!(checked(&q, 1, vec![b(33, 0)]).is_err());
    }

    #[test]
    fn requests_stay_within_their_topic_and_range_limits() {
        let qs: Vec<EpochQuery> = (0..30)
            .map(|i| EpochQuery {
                topic: format!("t{i}"),
                ranges: vec![(0, 1); 100],
            })
            .collect();
        let b = batches(qs);
        assert!(b.iter().all(|r| r.len() <= MAX_TOPICS_PER_FRAME
            && r.iter().map(|q| q.ranges.len()).sum::<usize>() <= MAX_EPOCH_RANGES));
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 30);
    }
}
