//! Durable consumer cursors and who may move them. A cursor belongs to the uid that made it
//! (its first ack over the CI socket, known from the socket's peer credentials): another uid
//! can read it but not ack or delete it. The admin socket may do anything. A cursor without
//! an owner (made before owners were recorded) is claimed by the first uid that acks or
//! deletes it.

use super::{Answer, Tables};
use crate::store::StoreError;
use redb::ReadableTable;

/// Who asks to change a cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// The owner-only admin socket: may change any cursor (and owns what it creates).
    Admin { uid: Option<u32> },
    /// A CI job on the CI socket, identified by its uid.
    Job { uid: u32 },
}

/// What became of an ack or a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerOutcome {
    /// Done; the cursor now (ack) or before it was removed (delete).
    Done { cursor: u64 },
    /// Delete of a cursor that does not exist.
    Missing,
    /// Refused: the cursor belongs to this uid.
    NotOwner { owner: u32 },
}

/// Whether `caller` may change a cursor owned by `owner`, and whether it takes ownership.
fn access(owner: Option<u32>, caller: Caller) -> Result<Option<u32>, u32> {
    match (owner, caller) {
        (Some(_), Caller::Admin { .. }) => Ok(None),
        (None, Caller::Admin { uid }) => Ok(uid),
        (None, Caller::Job { uid }) => Ok(Some(uid)),
        (Some(o), Caller::Job { uid }) if o == uid => Ok(None),
        (Some(o), Caller::Job { .. }) => Err(o),
    }
}

/// Moves `consumer` forward to `seq` (never back, never past `last`).
pub(super) fn ack(
    t: &mut Tables<'_>,
    consumer: &str,
    seq: u64,
    last: u64,
    caller: Caller,
) -> Result<Answer, StoreError> {
    let owner = t.consumer_owners.get(consumer)?.map(|g| g.value());
    let claim = match access(owner, caller) {
        Ok(claim) => claim,
        Err(owner) => return Ok(Answer::Consumer(ConsumerOutcome::NotOwner { owner })),
    };
    let old = t.consumers.get(consumer)?.map(|g| g.value()).unwrap_or(0);
    let new = old.max(seq.min(last));
    t.consumers.insert(consumer, new)?;
    if let Some(uid) = claim {
        t.consumer_owners.insert(consumer, uid)?;
    }
    Ok(Answer::Consumer(ConsumerOutcome::Done { cursor: new }))
}

/// Forgets `consumer`: it starts from the beginning next time.
pub(super) fn remove(
    t: &mut Tables<'_>,
    consumer: &str,
    caller: Caller,
) -> Result<Answer, StoreError> {
    let Some(cursor) = t.consumers.get(consumer)?.map(|g| g.value()) else {
        return Ok(Answer::Consumer(ConsumerOutcome::Missing));
    };
    let owner = t.consumer_owners.get(consumer)?.map(|g| g.value());
    if let Err(owner) = access(owner, caller) {
        return Ok(Answer::Consumer(ConsumerOutcome::NotOwner { owner }));
    }
    t.consumers.remove(consumer)?;
    t.consumer_owners.remove(consumer)?;
    Ok(Answer::Consumer(ConsumerOutcome::Done { cursor }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_rules() {
        let job = |uid| Caller::Job { uid };
        let admin = Caller::Admin { uid: Some(0) };
        // A new cursor belongs to whoever makes it.
        assert_eq!(access(None, job(1000)), Ok(Some(1000)));
        assert_eq!(access(None, admin), Ok(Some(0)));
        // Its owner and the admin may change it; another uid may not.
        assert_eq!(access(Some(1000), job(1000)), Ok(None));
        assert_eq!(access(Some(1000), admin), Ok(None));
        assert_eq!(access(Some(1000), job(1001)), Err(1000));
    }
}
