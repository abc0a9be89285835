//! Watching the parts the node cannot live without: the store's writer thread and the swarm
//! task. One that ends before shutdown (a panic, a bug) stops the node with an error that says
//! which and why, counted in `/metrics`, instead of leaving a daemon that answers on its socket
//! and stores or relays nothing.

use crate::metrics::Metrics;
use std::any::Any;
use std::future::Future;
use tokio::task::{JoinError, JoinHandle};
use tokio_util::sync::CancellationToken;

/// A part of the node the daemon watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Writer,
    Network,
}

impl Task {
    /// The `task` label of `fedci_task_stopped`.
    pub fn label(self) -> &'static str {
        match self {
            Task::Writer => "writer",
            Task::Network => "network",
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Task::Writer => "store's writer",
            Task::Network => "network task",
        })
    }
}

/// A watched part ended while the node was meant to run.
#[derive(Debug, thiserror::Error)]
#[error("the {task} stopped: {cause}")]
pub struct TaskStopped {
    pub task: Task,
    /// Its panic message, or how it ended.
    pub cause: String,
}

/// Waits for `shutdown` while watching the writer (`writer` resolves with why it stopped) and
/// the swarm task. When either ends first, logs it, sets its `fedci_task_stopped` gauge and
/// cancels `shutdown`, so the node stops and exits with the returned error. On a normal
/// shutdown, waits for the swarm task to finish.
pub async fn supervise(
    writer: impl Future<Output = String>,
    mut network: Option<JoinHandle<()>>,
    shutdown: CancellationToken,
    metrics: &Metrics,
) -> Result<(), TaskStopped> {
    let network_ended = async {
        match network.as_mut() {
            Some(task) => task.await,
            None => std::future::pending().await,
        }
    };
    let stopped = tokio::select! {
        biased;
        () = shutdown.cancelled() => None,
        cause = writer => Some(TaskStopped { task: Task::Writer, cause }),
        ended = network_ended => Some(TaskStopped { task: Task::Network, cause: join_cause(ended) }),
    };
    let Some(stopped) = stopped else {
        if let Some(task) = network {
            let _ = task.await;
        }
        return Ok(());
    };
    tracing::error!(task = %stopped.task, cause = %stopped.cause, "a part the node needs stopped; shutting down");
    metrics.task_stopped(stopped.task.label());
    shutdown.cancel();
    Err(stopped)
}

fn join_cause(ended: Result<(), JoinError>) -> String {
    match ended {
        Ok(()) => "it returned before shutdown".into(),
        Err(e) if e.is_panic() => panic_message(e.into_panic().as_ref()),
        Err(e) => e.to_string(),
    }
}

/// The message of a panic payload.
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message");
    format!("panicked: {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicked_network_task_stops_the_node() {
        let metrics = Metrics::default();
        let shutdown = CancellationToken::new();
        let network = tokio::spawn(async { panic!("swarm broke") });
        let e = supervise(
            std::future::pending(),
            Some(network),
            shutdown.clone(),
            &metrics,
        )
        .await
        .expect_err("a panicked network task is an error");
        assert_eq!(e.task, Task::Network);
        assert!(e.cause.contains("swarm broke"), "{e}");
        assert!(shutdown.is_cancelled(), "the node is told to stop");
        assert!(
            metrics
                .render(&[])
                .contains("fedci_task_stopped{task=\"network\"} 1"),
            "{}",
            metrics.render(&[])
        );
    }

    #[tokio::test]
    async fn a_stopped_writer_stops_the_node() {
        let metrics = Metrics::default();
        let shutdown = CancellationToken::new();
        let e = supervise(
            async { "panicked: disk on fire".to_string() },
            None,
            shutdown.clone(),
            &metrics,
        )
        .await
        .expect_err("a stopped writer is an error");
        assert_eq!(e.task, Task::Writer);
        assert_eq!(
            e.to_string(),
            "the store's writer stopped: panicked: disk on fire"
        );
        assert!(shutdown.is_cancelled());
    }

    #[tokio::test]
    async fn a_shutdown_waits_for_the_network_task_and_is_no_error() {
        let metrics = Metrics::default();
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let network = tokio::spawn(async move { token.cancelled().await });
        shutdown.cancel();
        supervise(std::future::pending(), Some(network), shutdown, &metrics)
            .await
            .expect("a normal shutdown");
        assert!(!metrics.render(&[]).contains("fedci_task_stopped{"));
    }
}
