//! The announce point: where a batch's newly stored events leave the writer, and the
//! durable reservation of positions that makes announcing before the commit safe.
//!
//! DESIGN NOTE: forward and stream on validation, not on commit (issue 16).
//!
//! * The writer stays the single sequencer. Dedupe, the trust decision and the arrival
//!   position of every event are decided inside its write transaction, in order, exactly as
//!   when events were announced after the commit. Right after a batch is applied and BEFORE
//!   `txn.commit()` (the fsync), every newly stored event of the batch is announced: to live
//!   streams (the store's [`Feed`](crate::store::feed::Feed)), to the network when it is a
//!   local publish (gossiped), and, when it came by gossip, its verdict goes to gossipsub
//!   (forwarded now; see [`Store::ingest_early`](crate::store::Store::ingest_early)). So a
//!   fanout's fsyncs on each hop overlap instead of adding up. A local publish whose checks
//!   are all settled before the writer (trust in force, links to held events of allowed
//!   kinds, a store that takes writes) is gossiped by the API as soon as it is signed, so
//!   it does not even wait for the writer (see `api/events.rs`, `gossip_now`).
//! * What still waits for the commit: a publisher's `201`, catch-up's verdicts, acks, pins,
//!   metrics. An acknowledged publish therefore survives kill -9 exactly as before.
//! * Positions handed out are never reused. META holds `reserved_seq` / `reserved_own_seq`,
//!   high-water marks committed before any position below them is announced: a batch is
//!   announced early only if all its arrival positions are below the durably committed
//!   `reserved_seq` and every own seq it stores is below `reserved_own_seq`. A batch that
//!   would cross a mark raises it by [`RESERVE_BLOCK`] in its own transaction and is announced
//!   after its commit (once per block: rare). On open, and after a failed commit, the writer
//!   continues from the reserved marks, never rolling positions back. So after kill -9 or a
//!   failed commit no position a stream or a peer has seen is given to a different event;
//!   the positions of what was lost stay unused (arrival positions have gaps: nothing may
//!   assume they are dense).
//! * Acks move a durable cursor only up to the newest position applied in the same
//!   transaction or committed before it (`State::last_seq`), never up to a position only
//!   announced: an ack is never committed before the event it acknowledges. A stream may
//!   deliver an event that a crash then loses; the client's ack of it is either refused
//!   (clamped) or, after a failed commit, names a position no event will ever hold.
//! * A trust change (pin, re-pin, a roster that revokes) clears the feed once committed:
//!   streams that had not read its events yet read them from the store, which checks every
//!   event against the trust in force at read time, as for any history.
//! * A failed commit clears the feed. What the batch had announced may have gone out to
//!   peers and streams without being stored here: at-least-once. A relay that crashed after
//!   forwarding gets the event back through catch-up (range reconciliation compares stored
//!   sets, so the event it lacks is fetched from any peer that holds it) and stores it at a
//!   new position above the reservation; its durable consumers see it then. Nothing to build
//!   for that beyond the rules above.
//! * Events from peers by gossip are committed without an fsync
//!   (`Durability::None`) when nothing else in the batch needs one; local publishes, acks,
//!   admin changes and reservation raises always get one, and the writer fsyncs (an empty
//!   durable commit) once idle for [`FLUSH_AFTER`](super::durability::FLUSH_AFTER), or with the next
//!   batch past it, and at shutdown. redb makes a durable commit persist every commit before
//!   it. So nothing anyone was promised waits on a receiver's fsync: no `201` names a peer's
//!   event, and an ack is durable together with every event below it. A crash loses at most
//!   about a second of peers' events here, exactly the case of the previous point (their
//!   positions stay unused, catch-up brings them back at new ones). Under a steady stream
//!   from peers a receiver's writer thus blocks on a disk flush about once a second instead
//!   of once per batch.
//! * A read by id of an event announced but not committed yet waits for its commit
//!   ([`Store::read_settled`](crate::store::Store::read_settled)): GET by id, its interop
//!   formats, a trace from it (and its evidence bundle) and a composition's manifest. A job
//!   triggered by a stream reads its event at once, and whatever a read finds is committed,
//!   hence in every query and trace after it.
//! * A commit of gossip messages may hold several announced batches: the writer keeps the
//!   transaction open up to [`LINGER`](super::linger::LINGER) for more to join
//!   ([`super::linger`]). Each joins as a batch of its own, announced under the rules above;
//!   anything that waits on a commit ends the wait, and a failure fails them all together.

use super::{Outcome, Request, State};
use crate::store::StoredEvent;
use crate::store::feed::Feed;

/// How far a reservation reaches past the positions in use when it is raised.
pub const RESERVE_BLOCK: u64 = 65_536;

impl State {
    /// Whether every position the applied batch used is below the durable reservation.
    pub(super) fn within_reservation(&self) -> bool {
        self.next_seq <= self.reserved_seq && self.own_seq <= self.reserved_own_seq
    }

    /// Raises both marks a block past what is in use (written in the batch's transaction).
    pub(super) fn raise_reservation(&mut self) {
        self.reserved_seq = self.next_seq.saturating_add(RESERVE_BLOCK);
        self.reserved_own_seq = self.own_seq.saturating_add(RESERVE_BLOCK);
    }
}

/// Hands the events a batch stored to live streams, to the network (local publishes) and to
/// the gossip validations waiting for their verdict.
pub(super) fn announce(feed: &Feed, batch: &mut [Request], answers: &[super::Answer]) {
    let mut fresh = Vec::new();
    let mut verdicts = Vec::new();
    for (req, answer) in batch.iter_mut().zip(answers) {
        let (
            Request::Ingest {
                events,
                announce,
                early,
                ..
            },
            super::Answer::Outcomes(outcomes),
        ) = (req, answer)
        else {
            continue;
        };
        for (event, outcome) in events.iter().zip(outcomes) {
            if let Outcome::Stored { seq } = outcome {
                if let Some(out) = announce {
                    // Best effort: catch-up delivers what a full queue drops.
                    let _ = out.try_send(event.clone());
                }
                fresh.push(StoredEvent {
                    seq: *seq,
                    event: event.clone(),
                });
            }
        }
        if let Some(early) = early.take() {
            verdicts.push((early, outcomes.clone()));
        }
    }
    // The feed first: whoever hears a verdict may read the event at once.
    feed.push(fresh);
    for (early, outcomes) in verdicts {
        // The caller may have gone; nothing to undo.
        let _ = early.send(outcomes);
    }
}
