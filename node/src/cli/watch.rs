//! `watch`: follow the node's stream, print or trigger per event, acknowledge as we go.
//!
//! Delivery is at-least-once: the cursor is acknowledged only after the event was printed or
//! its command exited 0, so an event in flight when the watcher dies is delivered again. A
//! lost connection (node restarting) is retried with backoff; a durable consumer resumes from
//! its stored cursor, an anonymous one from the last event it handled.

use super::client::{Client, ClientError, api_error};
use super::webhook::Webhook;
use super::{FilterArgs, with_query};
use anyhow::{Result, bail};
use http_body_util::BodyExt;
use hyper::Method;
use serde_json::{Value, json};
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Longest line accepted from the stream (an event's JSON is far smaller).
const MAX_LINE: usize = 4 << 20;
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Longest silence on the stream before reconnecting (three keepalive periods).
const READ_TIMEOUT: Duration = Duration::from_secs(45);

pub async fn watch(
    client: Client,
    filter: FilterArgs,
    consumer: Option<String>,
    exec: Option<String>,
    post: Option<Webhook>,
    format: Option<String>,
    count: Option<u64>,
) -> Result<()> {
    let mut after: Option<u64> = None;
    let mut handled = 0u64;
    let mut backoff = Duration::from_millis(250);
    loop {
        let mut pairs = filter.query_pairs();
        match (&consumer, after) {
            (Some(c), _) => pairs.push(("consumer", c.clone())),
            (None, Some(a)) => pairs.push(("after", a.to_string())),
            (None, None) => {}
        }
        let resp = match client
            .send(Method::GET, &with_query("/v1/stream", &pairs), None, None)
            .await
        {
            Ok(r) => r,
            Err(e @ (ClientError::Connect { .. } | ClientError::Http(_))) => {
                eprintln!("fedci-node watch: {e}; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if resp.status().as_u16() == 503 {
            // A cap of the node (streams, connections) is full: a place frees up when
            // another client leaves, so wait for it rather than fail the job.
            eprintln!("fedci-node watch: the node is at a limit (503); retrying in {backoff:?}");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            continue;
        }
        if resp.status().as_u16() >= 400 {
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            return Err(api_error(status, &body).into());
        }
        backoff = Duration::from_millis(250);
        let mut body = resp.into_body();
        let mut buf: Vec<u8> = Vec::new();
        loop {
            // The node sends a keepalive line every 15 s; silence for three of those means a
            // wedged node or connection, so reconnect.
            let Ok(next) = tokio::time::timeout(READ_TIMEOUT, body.frame()).await else {
                eprintln!("fedci-node watch: no data for {READ_TIMEOUT:?}; reconnecting");
                break;
            };
            let frame = match next {
                Some(Ok(f)) => f,
                Some(Err(e)) => {
                    eprintln!("fedci-node watch: stream interrupted: {e}; reconnecting");
                    break;
                }
                None => {
                    eprintln!("fedci-node watch: node closed the stream; reconnecting");
                    break;
                }
            };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            buf.extend_from_slice(&data);
            if buf.len() > MAX_LINE {
                bail!("stream line over {MAX_LINE} bytes");
            }
            while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = buf.drain(..=nl).collect();
                let line = &line[..line.len() - 1];
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue; // keepalive
                }
                let event: Value = serde_json::from_slice(line)?;
                let arrival = event["arrival"].as_u64().unwrap_or(0);
                let converted = match &format {
                    Some(f) if post.is_none() => convert(&client, &event, f).await?,
                    _ => Some(line.to_vec()),
                };
                let line: &[u8] = converted.as_deref().unwrap_or_default();
                match (&exec, &post) {
                    // The format has no rendering of this event: named on stderr, skipped.
                    _ if converted.is_none() => {}
                    (Some(cmd), _) => {
                        until_success("command", &event, || run_once(cmd, line, &event)).await;
                    }
                    (None, Some(hook)) => {
                        let client = &client;
                        until_success("POST", &event, || post_once(client, hook, &event)).await;
                    }
                    (None, None) => {
                        let mut out = std::io::stdout().lock();
                        out.write_all(line)?;
                        out.write_all(b"\n")?;
                        out.flush()?;
                    }
                }
                if let Some(c) = &consumer {
                    let path = format!("/v1/consumers/{c}/ack");
                    if let Err(e) = client
                        .post_json(&path, &json!({ "arrival": arrival }))
                        .await
                    {
                        // Not fatal: the event is delivered again after a reconnect.
                        eprintln!("fedci-node watch: ack of arrival {arrival} failed: {e}");
                    }
                }
                after = Some(arrival);
                handled += 1;
                if count.is_some_and(|n| handled >= n) {
                    return Ok(());
                }
            }
        }
        tokio::time::sleep(backoff).await;
    }
}

/// Repeats one delivery (command or webhook) until it succeeds, backing off between attempts:
/// the cursor moves only after it did.
async fn until_success<F, Fut>(what: &str, event: &Value, mut attempt: F)
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
                    event["id"].as_str().unwrap_or_default()
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// The event in `format`, as one JSON line; None (and a note on stderr) when the format has
/// no rendering for its kind.
async fn convert(client: &Client, event: &Value, format: &str) -> Result<Option<Vec<u8>>> {
    let id = event["id"].as_str().unwrap_or_default();
    match client
        .request(
            Method::GET,
            &format!("/v1/events/{id}?format={format}"),
            None,
            None,
        )
        .await
    {
        Ok(resp) => {
            let doc: Value = serde_json::from_slice(&resp.body)?;
            Ok(Some(serde_json::to_vec(&doc)?))
        }
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
async fn post_once(client: &Client, hook: &Webhook, event: &Value) -> Result<(), String> {
    let id = event["id"].as_str().unwrap_or_default();
    let resp = client
        .request(
            Method::GET,
            &format!("/v1/events/{id}?format=cdevents"),
            None,
            None,
        )
        .await
        .map_err(|e| format!("fetching it as CDEvents: {e}"))?;
    let doc: Value = serde_json::from_slice(&resp.body).map_err(|e| e.to_string())?;
    hook.post_once(&doc).await
}

async fn run_once(cmd: &str, line: &[u8], event: &Value) -> Result<(), String> {
    let field = |k: &str| event[k].as_str().unwrap_or_default().to_string();
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .env("FEDCI_EVENT_ID", field("id"))
        .env("FEDCI_EVENT_KIND", field("kind"))
        .env("FEDCI_EVENT_COMMUNITY", field("community"))
        .env(
            "FEDCI_EVENT_SEQ",
            event["arrival"].as_u64().unwrap_or(0).to_string(),
        )
        .stdin(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start sh: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its stdin closes the pipe early; that is fine.
        let _ = stdin.write_all(line).await;
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
