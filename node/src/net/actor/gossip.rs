//! The swarm task's share of gossip: subscriptions that follow interests and pins, publishing
//! our events, and handing each received message to a validation task (bounded in number).

use super::*;

impl Actor {
    /// Subscribes to exactly the topics our interests and pins call for.
    pub(super) fn resubscribe(&mut self) {
        let trust = self.trust_rx.borrow_and_update().clone();
        let want = self.config.interests.topics(&trust);
        let gs = &mut self.swarm.behaviour_mut().gossipsub;
        for t in want.difference(&self.subscribed) {
            let topic = IdentTopic::new(t.to_string());
            if let Err(e) = gs.subscribe(&topic) {
                tracing::warn!(topic = %t, error = %e, "subscribe failed");
            }
        }
        for t in self.subscribed.difference(&want) {
            gs.unsubscribe(&IdentTopic::new(t.to_string()));
        }
        self.subscribed = want;
        self.update_snapshot();
    }

    pub(super) fn publish(&mut self, event: &Event) {
        let topic = IdentTopic::new(Topic::for_event(event.community(), event.kind()).to_string());
        match self
            .swarm
            .behaviour_mut()
            .gossipsub
            .publish(topic.clone(), event.raw().to_vec())
        {
            Ok(_) => {
                self.counters.published.fetch_add(1, Relaxed);
            }
            // No subscriber known yet: catch-up delivers it later. Not an error for the publisher.
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                self.counters.publish_no_peers.fetch_add(1, Relaxed);
            }
            Err(gossipsub::PublishError::Duplicate) => {}
            Err(e) => tracing::warn!(id = %event.id().short(), error = %e, "gossip publish failed"),
        }
        #[cfg(feature = "test-hooks")]
        if self.config.tamper
            && let Ok(bad) = fedci_proto::envelope::tampered_copy(event)
        {
            let _ = self.swarm.behaviour_mut().gossipsub.publish(topic, bad);
        }
    }

    pub(super) fn on_gossip(&mut self, ev: gossipsub::Event) {
        match ev {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                let Ok(permit) = self.inflight.clone().try_acquire_owned() else {
                    self.counters.ignored.fetch_add(1, Relaxed);
                    self.swarm
                        .behaviour_mut()
                        .gossipsub
                        .report_message_validation_result(
                            &message_id,
                            &propagation_source,
                            MessageAcceptance::Ignore,
                        );
                    return;
                };
                let admission = self.admission.clone();
                let tx = self.internal_tx.clone();
                tokio::spawn(async move {
                    let verdict = validate(
                        admission,
                        message_id,
                        propagation_source,
                        message.topic.into_string(),
                        message.data,
                    )
                    .await;
                    let _ = tx.send(Internal::Verdict(verdict)).await;
                    // Held until the verdict is queued, so pending verdicts are bounded too.
                    drop(permit);
                });
            }
            gossipsub::Event::Subscribed { peer_id, topic, .. } => {
                tracing::debug!(peer = %peer_id, topic = %topic, "peer subscribed");
                if self
                    .subscribed
                    .iter()
                    .any(|t| t.to_string() == topic.as_str())
                {
                    self.schedule_sync(peer_id, false);
                }
            }
            _ => {}
        }
    }
}
