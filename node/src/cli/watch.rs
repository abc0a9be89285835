//! `watch`: follow the node's stream, print or trigger per event, acknowledge as we go.
//!
//! Delivery is at-least-once: the cursor is acknowledged only after the event was printed or
//! its command exited 0, so an event in flight when the watcher dies is delivered again. A
//! lost connection (node restarting) or a line that is not an event is retried with backoff;
//! a durable consumer resumes from its stored cursor, an anonymous one from the last event it
//! handled.

use super::FilterArgs;
use super::webhook::Webhook;
use anyhow::Result;
use fedci_client::types::{EventItem, Format};
use fedci_client::{Client, ClientError, Endpoint, EventQuery};
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Longest silence on the stream before reconnecting (three keepalive periods).
const READ_TIMEOUT: Duration = Duration::from_secs(45);

/// One `watch` command.
#[derive(Debug)]
pub struct Watch {
    pub client: Client,
    /// The node's home, passed on to every `--exec` command as `FEDCI_HOME`.
    pub home: PathBuf,
    pub filter: FilterArgs,
    pub consumer: Option<String>,
    pub exec: Option<String>,
    pub post: Option<Webhook>,
    pub format: Option<Format>,
    pub count: Option<u64>,
}

/// Why a stream was left: reconnect, or stop for good.
enum Leave {
    Reconnect,
    Done,
}

impl Watch {
    pub async fn run(self) -> Result<()> {
        let mut after: Option<u64> = None;
        let mut handled = 0u64;
        let mut backoff = Duration::from_millis(250);
        loop {
            let q = EventQuery {
                consumer: self.consumer.clone(),
                after: if self.consumer.is_some() { None } else { after },
                ..self.filter.to_query()
            };
            let mut stream = match self.client.stream(&q).await {
                Ok(s) => s,
                // The node is restarting, or one of its caps (streams, connections) is full
                // (503): a place frees up when another client leaves, so wait for it rather
                // than fail the job.
                Err(e) if e.is_transient() => {
                    eprintln!("fedci-node watch: {e}; retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let mut progressed = false;
            let leave = loop {
                // The node sends a keepalive line every 15 s; silence for three of those means
                // a wedged node or connection, so reconnect.
                let Ok(next) = tokio::time::timeout(READ_TIMEOUT, stream.next_item()).await else {
                    eprintln!("fedci-node watch: no data for {READ_TIMEOUT:?}; reconnecting");
                    break Leave::Reconnect;
                };
                let (line, event): (String, EventItem) = match next {
                    Some(Ok(item)) => item,
                    Some(Err(e)) => {
                        // A broken line or connection: what was not acknowledged comes again.
                        eprintln!("fedci-node watch: {e}; reconnecting");
                        break Leave::Reconnect;
                    }
                    None => {
                        eprintln!("fedci-node watch: node closed the stream; reconnecting");
                        break Leave::Reconnect;
                    }
                };
                progressed = true;
                self.handle(&line, &event).await?;
                after = Some(event.arrival);
                handled += 1;
                if self.count.is_some_and(|n| handled >= n) {
                    break Leave::Done;
                }
            };
            if let Leave::Done = leave {
                return Ok(());
            }
            if progressed {
                backoff = Duration::from_millis(250);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Delivers one event (print, command or webhook), then acknowledges it.
    async fn handle(&self, line: &str, event: &EventItem) -> Result<()> {
        let converted = match self.format {
            Some(f) if self.post.is_none() => convert(&self.client, event, f).await?,
            _ => Some(line.to_string()),
        };
        match (converted, &self.exec, &self.post) {
            // The format has no rendering of this event: named on stderr, skipped.
            (None, _, _) => {}
            (Some(line), Some(cmd), _) => {
                until_success("command", event, || self.run_once(cmd, &line, event)).await;
            }
            (Some(_), None, Some(hook)) => {
                until_success("POST", event, || post_once(&self.client, hook, event)).await;
            }
            (Some(line), None, None) => {
                let mut out = std::io::stdout().lock();
                out.write_all(line.as_bytes())?;
                out.write_all(b"\n")?;
                out.flush()?;
            }
        }
        if let Some(c) = &self.consumer
            && let Err(e) = self.client.ack(c, event.arrival).await
        {
            // Not fatal: the event is delivered again after a reconnect.
            eprintln!(
                "fedci-node watch: ack of arrival {} failed: {e}",
                event.arrival
            );
        }
        Ok(())
    }

    async fn run_once(&self, cmd: &str, line: &str, event: &EventItem) -> Result<(), String> {
        let mut child = tokio::process::Command::new("sh");
        child.arg("-c").arg(cmd);
        for (k, v) in self.child_env(event) {
            child.env(k, v);
        }
        let mut child = child
            .stdin(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start sh: {e}"))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A command that does not read its stdin closes the pipe early; that is fine.
            let _ = stdin.write_all(line.as_bytes()).await;
            let _ = stdin.write_all(b"\n").await;
        }
        let status = child.wait().await.map_err(|e| e.to_string())?;
        if status.success() {
            Ok(())
        } else {
            Err(match status.code() {
                Some(c) => format!("exit {c}"),
                None => "killed by a signal".into(),
            })
        }
    }

    /// What an `--exec` command finds in its environment: the event, and the node it came
    /// from, so its own `fedci-node publish` reaches the same node whatever the caller's env.
    pub fn child_env(&self, event: &EventItem) -> Vec<(&'static str, String)> {
        let e = &event.event;
        let mut env = vec![
            ("FEDCI_EVENT_ID", e.id.to_string()),
            ("FEDCI_EVENT_KIND", e.kind.clone()),
            ("FEDCI_EVENT_COMMUNITY", e.community.clone()),
            // The author's per-key counter, as in the event body.
            ("FEDCI_EVENT_SEQ", e.seq.to_string()),
            // This node's position of the event (what cursors count).
            ("FEDCI_ARRIVAL", event.arrival.to_string()),
            ("FEDCI_HOME", self.home.display().to_string()),
        ];
        if let Endpoint::Unix(socket) = self.client.endpoint() {
            env.push(("FEDCI_SOCKET", socket.display().to_string()));
        }
        env
    }
}

/// Repeats one delivery (command or webhook) until it succeeds, backing off between attempts:
/// the cursor moves only after it did.
async fn until_success<F, Fut>(what: &str, event: &EventItem, mut attempt: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut backoff = Duration::from_secs(1);
    loop {
        match attempt().await {
            Ok(()) => return,
            Err(why) => {
                eprintln!(
                    "fedci-node watch: {what} failed for event {} ({why}); retrying in {backoff:?}",
                    event.event.id
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// The event in `format`, as one JSON line; None (and a note on stderr) when the format has
/// no rendering for its kind.
async fn convert(client: &Client, event: &EventItem, format: Format) -> Result<Option<String>> {
    let id = event.event.id.to_string();
    match client.event_as(&id, format).await {
        Ok(doc) => Ok(Some(doc.to_string())),
        Err(ClientError::Api {
            status: 422,
            message,
            ..
        }) => {
            eprintln!("fedci-node watch: skipped {id}: {message}");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Fetches the event as CDEvents from the node and posts it to the webhook.
async fn post_once(client: &Client, hook: &Webhook, event: &EventItem) -> Result<(), String> {
    let doc = client
        .event_as(&event.event.id.to_string(), Format::Cdevents)
        .await
        .map_err(|e| format!("fetching it as CDEvents: {e}"))?;
    hook.post_once(&doc).await
}
