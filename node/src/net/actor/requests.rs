//! The swarm task's side of the sync protocol: requests from peers (answered by helper tasks,
//! a bounded number at once, each permit held until its answer is written), answers to our
//! own requests, and failures.

use super::*;
use crate::sync::take_offer;
use libp2p::request_response;

/// An answer not written after this long has lost its connection; its permit is reclaimed.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

impl Actor {
    pub(super) fn on_sync(&mut self, ev: request_response::Event<Request, Response>) {
        use request_response::{Event as E, Message as M};
        match ev {
            E::Message {
                peer,
                message:
                    M::Request {
                        request_id,
                        request,
                        channel,
                    },
                ..
            } => {
                // Answering costs reads, CPU and memory until written; a bounded number run at
                // once, the rest are told to come back.
                let Ok(permit) = self.inbound.clone().try_acquire_owned() else {
                    let busy = Response::Error {
                        message: "busy; try again later".into(),
                    };
                    let _ = self.swarm.behaviour_mut().sync.send_response(channel, busy);
                    return;
                };
                if matches!(request, Request::Fetch { .. } | Request::Reconcile { .. }) {
                    // The peer is in a round of its own with us: ours need not offer to it.
                    self.requester.note_round_request(peer);
                }
                let (admission, tx) = (self.admission.clone(), self.internal_tx.clone());
                let responder = self.responder.clone();
                tokio::spawn(async move {
                    let (response, misbehaved) = match request {
                        Request::Offer { events } => take_offer(&admission, peer, events).await,
                        other => (responder.answer(admission.store(), other).await, false),
                    };
                    let respond = Internal::Respond {
                        peer,
                        request_id,
                        channel,
                        response,
                        permit,
                        misbehaved,
                    };
                    let _ = tx.send(respond).await;
                });
            }
            E::Message {
                message:
                    M::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Ok(response));
                }
            }
            E::OutboundFailure {
                peer,
                error,
                request_id,
                ..
            } => {
                tracing::debug!(%peer, %error, "sync request failed");
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Err(error));
                }
            }
            E::InboundFailure {
                peer,
                error,
                request_id,
                ..
            } => {
                tracing::debug!(%peer, %error, "sync request from peer failed");
                self.answering.remove(&request_id);
            }
            E::ResponseSent { request_id, .. } => {
                self.answering.remove(&request_id);
            }
        }
    }

    /// Hands an answer to libp2p; its permit is released once it is written or has failed.
    pub(super) fn respond(
        &mut self,
        request_id: InboundRequestId,
        channel: ResponseChannel<Response>,
        response: Response,
        permit: OwnedSemaphorePermit,
    ) {
        let sync = &mut self.swarm.behaviour_mut().sync;
        if sync.send_response(channel, response).is_ok() {
            self.answering
                .insert(request_id, (permit, tokio::time::Instant::now()));
        }
    }

    /// Reclaims permits of answers whose end libp2p never reported.
    pub(super) fn forget_stale_answers(&mut self) {
        let now = tokio::time::Instant::now();
        self.answering
            .retain(|_, (_, since)| now.duration_since(*since) < ANSWER_TIMEOUT);
    }
}
