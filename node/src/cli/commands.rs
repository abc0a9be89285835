//! What each subcommand does.

use super::admin;
use super::{Cli, Command, FilterArgs, PeerCommand, TrustCommand, watch};
use crate::home::Home;
use anyhow::{Context, Result, bail};
use fedci_client::types::{Direction, EventItem, Format, LinkRequest, PublishRequest};
use fedci_client::{Client, ClientError, EventQuery};
use fedci_keys::PublicKey;
use serde_json::Value;
use std::io::Write;
use tokio_util::sync::CancellationToken;

pub async fn run_command(cli: Cli) -> Result<()> {
    // Offline verification needs no home: it must work on a machine that never ran a node.
    match &cli.command {
        Command::Verify { file, roots, json } => {
            return super::evidence::verify(file, roots, *json);
        }
        Command::Completions { shell } => return super::completions::completions(*shell),
        Command::Manpage => return super::completions::manpage(),
        _ => {}
    }
    let home = Home::resolve(cli.home)?;
    let filter = match &cli.command {
        Command::Query { filter, .. } => Some(("query", filter)),
        Command::Watch { filter, .. } => Some(("watch", filter)),
        _ => None,
    };
    if let Some((name, filter)) = filter {
        for warning in super::hints::kind_warnings(name, &filter.kinds) {
            eprintln!("{warning}");
        }
    }
    match cli.command {
        Command::Init { community, root } => {
            let join = root.as_deref().map(parse_key).transpose()?;
            init(&home, &community, join).await
        }
        Command::Run(args) => {
            let opts = crate::daemon::RunOptions {
                listen: args.listen,
                peers: args.peer,
                #[cfg(feature = "test-hooks")]
                tamper: args.tamper_relay,
                http: args.http,
                http_token: args.http_token,
            };
            run(home, opts).await
        }
        Command::Roster(cmd) => super::roster::roster(&home, cmd).await,
        Command::Artifacts(args) => super::promotion::artifacts(&client(&home)?, &args).await,
        Command::Manifest { id, json } => {
            super::promotion::manifest(&client(&home)?, &id, json).await
        }
        Command::Consumer(cmd) => admin::consumer(&home, cmd).await,
        Command::Export {
            id,
            up,
            down,
            both: _,
            depth,
            out,
            format,
        } => match format.as_str() {
            "intoto" => super::intoto::export(&client(&home)?, &id, depth, &out).await,
            _ => super::evidence::export(&client(&home)?, &id, up, down, depth, &out).await,
        },
        Command::Verify { .. } | Command::Completions { .. } | Command::Manpage => {
            unreachable_verify()
        }
        Command::Peer(PeerCommand::List { json }) => {
            super::peer::list(&admin_client(&home)?, json).await
        }
        Command::Peer(PeerCommand::Remove { target }) => {
            super::peer::remove(&admin_client(&home)?, &target).await
        }
        Command::Peer(PeerCommand::Block { peer_id }) => {
            admin_client(&home)?.block_peer(&peer_id, true).await?;
            say!("blocked {peer_id}");
            Ok(())
        }
        Command::Peer(PeerCommand::Unblock { peer_id }) => {
            admin_client(&home)?.block_peer(&peer_id, false).await?;
            say!("unblocked {peer_id}");
            Ok(())
        }
        Command::Publish {
            kind,
            data,
            links,
            strict_links,
        } => publish(&client(&home)?, kind, &data, &links, strict_links).await,
        Command::Get {
            id,
            raw,
            field,
            format,
        } => {
            let format = format.as_deref().map(str::parse::<Format>).transpose();
            let format = format.map_err(anyhow::Error::msg)?;
            get(&client(&home)?, &id, raw, field.as_deref(), format).await
        }
        Command::Query {
            filter,
            limit,
            last,
            field,
            format,
        } => {
            let format = format.as_deref().map(str::parse::<Format>).transpose();
            let format = format.map_err(anyhow::Error::msg)?;
            query(
                &client(&home)?,
                &filter,
                limit,
                last,
                field.as_deref(),
                format,
            )
            .await
        }
        Command::Watch {
            filter,
            consumer,
            exec,
            post,
            headers,
            format,
            count,
        } => {
            let post = post
                .map(|url| super::webhook::Webhook::new(&url, &headers))
                .transpose()?;
            let format = format.as_deref().map(str::parse::<Format>).transpose();
            let format = format.map_err(anyhow::Error::msg)?;
            let watch = watch::Watch {
                client: client(&home)?,
                home: home.dir.clone(),
                filter,
                consumer,
                exec,
                post,
                format,
                count,
            };
            watch.run().await
        }
        Command::Trace {
            id,
            up,
            down,
            depth,
            format,
        } => {
            let dir = direction(up, down);
            let body = client(&home)?.trace_as(&id, dir, depth, &format).await?;
            print_bytes(&body)
        }
        Command::Status { json } => status(&client(&home)?, json).await,
        Command::Trust(TrustCommand::Add { community, key }) => {
            admin::trust_add(&home, &community, &key).await
        }
        Command::Trust(TrustCommand::List) => admin::trust_list(&home).await,
        Command::Peer(PeerCommand::Add { addr }) => {
            let added = admin_client(&home)?.add_peer(&addr).await?;
            say!(
                "{}",
                if added.new {
                    "peer added"
                } else {
                    "peer already known; dialled again"
                }
            );
            Ok(())
        }
    }
}

/// The walk of `trace` and `export`: both ways unless one is asked for.
pub(super) fn direction(up: bool, down: bool) -> Direction {
    match (up, down) {
        (true, _) => Direction::Up,
        (_, true) => Direction::Down,
        _ => Direction::Both,
    }
}

/// `verify`, `completions` and `manpage` are answered before the home is resolved.
fn unreachable_verify() -> Result<()> {
    bail!("this command runs without a home")
}

/// The CI socket: what CI jobs use.
pub(super) fn client(home: &Home) -> Result<Client> {
    let config = home.load_config()?;
    Ok(Client::new(home.socket_path(&config)))
}

/// The owner-only admin socket: trust, peers, rosters, anyone's consumers.
pub(super) fn admin_client(home: &Home) -> Result<Client> {
    let config = home.load_config()?;
    Ok(Client::new(home.admin_socket_path(&config)))
}

/// A public key as 64 hex characters, or @FILE (a `root.pub`).
pub(super) fn parse_key(arg: &str) -> Result<PublicKey> {
    Ok(match arg.strip_prefix('@') {
        Some(path) => PublicKey::from_file(std::path::Path::new(path))?,
        None => {
            arg.parse().map_err(|e: fedci_keys::KeyError| {
                match super::hints::key_file_hint(arg) {
                    Some(hint) => anyhow::anyhow!("{e}; {hint}"),
                    None => e.into(),
                }
            })?
        }
    })
}

async fn init(home: &Home, community: &str, join: Option<PublicKey>) -> Result<()> {
    let r = home.init(community, join).await?;
    say!(
        "initialised community {} in {}",
        r.community,
        home.dir.display()
    );
    say!("node key: {}", r.node_key);
    say!(
        "root key (other communities pin it with `fedci-node trust add {} @{}`):",
        r.community,
        home.root_pub_path().display()
    );
    say!("{}", r.root_key);
    Ok(())
}

async fn run(home: Home, opts: crate::daemon::RunOptions) -> Result<()> {
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        signal.cancel();
    });
    crate::daemon::run(home, opts, shutdown).await?;
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! { _ = int.recv() => {}, _ = term.recv() => {} }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn publish(
    client: &Client,
    kind: String,
    data: &str,
    links: &[String],
    strict_links: bool,
) -> Result<()> {
    let text = read_arg(data).context("--data")?;
    let data: Value = serde_json::from_str(&text).context("--data is not valid JSON")?;
    let links = links
        .iter()
        .map(|l| {
            let (rel, target) = l
                .split_once('=')
                .with_context(|| format!("--link {l:?}: expected REL=ID"))?;
            Ok(LinkRequest {
                rel: rel.to_string(),
                target: target.to_string(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let req = PublishRequest { kind, data, links };
    let published = match strict_links {
        true => {
            let req =
                fedci_client::RawRequest::new(hyper::Method::POST, "/v1/events?strict_links=true")
                    .json(&req)?;
            client.call(req).await?.parse()?
        }
        false => client.publish(&req).await?,
    };
    for target in &published.dangling {
        eprintln!(
            "fedci-node publish: warning: this node holds no event {target}: the link is kept dangling until it arrives (--strict-links refuses)"
        );
    }
    say!("{}", published.id);
    Ok(())
}

/// `@file` reads a file, `@-` stdin, anything else is the value itself.
fn read_arg(arg: &str) -> Result<String> {
    match arg.strip_prefix('@') {
        Some("-") => Ok(std::io::read_to_string(std::io::stdin())?),
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("cannot read {path}")),
        None => Ok(arg.to_string()),
    }
}

async fn get(
    client: &Client,
    id: &str,
    raw: bool,
    field: Option<&str>,
    format: Option<Format>,
) -> Result<()> {
    if raw {
        std::io::stdout().write_all(&client.event_cose(id).await?)?;
        return Ok(());
    }
    if let Some(f) = format {
        say!("{}", client.event_as(id, f).await?);
        return Ok(());
    }
    let event = client.event(id).await?;
    match field {
        Some(path) => {
            if !super::hints::field_exists(&serde_json::to_value(&event)?, path) {
                bail!("event {id} has no field {path:?}");
            }
            for line in super::field_lines(&event, path) {
                say!("{line}");
            }
        }
        None => say!("{}", serde_json::to_string(&event)?),
    }
    Ok(())
}

async fn query(
    client: &Client,
    filter: &FilterArgs,
    limit: usize,
    last: Option<usize>,
    field: Option<&str>,
    format: Option<Format>,
) -> Result<()> {
    let mut q = EventQuery {
        after: Some(0),
        ..filter.to_query()
    };
    let mut events: std::collections::VecDeque<EventItem> = std::collections::VecDeque::new();
    let mut seen = 0usize;
    // With --last, every matching event is read (only N are kept), whatever --limit says.
    let limit = if last.is_some() { usize::MAX } else { limit };
    while seen < limit {
        q.limit = Some((limit - seen).min(1000));
        let page = client.query(&q).await?;
        for ev in page.events {
            seen += 1;
            match last {
                // Keep only the newest N in memory; print them at the end.
                Some(n) => {
                    events.push_back(ev);
                    if events.len() > n {
                        events.pop_front();
                    }
                }
                None => emit(client, &ev, field, format).await?,
            }
        }
        q.after = Some(page.next_after);
        if page.complete {
            break;
        }
    }
    for ev in &events {
        emit(client, ev, field, format).await?;
    }
    if last.is_none() && seen >= limit && more_match(client, filter, q.after.unwrap_or(0)).await? {
        eprintln!(
            "fedci-node query: stopped at --limit {limit}; more events match (raise --limit, or continue with a narrower --since)"
        );
    }
    Ok(())
}

/// Whether at least one more event matches after `after` (one small page).
async fn more_match(client: &Client, filter: &FilterArgs, after: u64) -> Result<bool> {
    let q = EventQuery {
        after: Some(after),
        limit: Some(1),
        ..filter.to_query()
    };
    Ok(!client.query(&q).await?.events.is_empty())
}

/// Prints one event of a query: whole, one field of it, or in an interop format (an event
/// the format has no rendering for is named on stderr and skipped).
async fn emit(
    client: &Client,
    ev: &EventItem,
    field: Option<&str>,
    format: Option<Format>,
) -> Result<()> {
    let lines = match format {
        Some(f) => match client.event_as(&ev.event.id.to_string(), f).await {
            Ok(doc) => match field {
                Some(path) => super::value_lines(&doc, path),
                None => vec![doc.to_string()],
            },
            Err(ClientError::Api {
                status: 422,
                message,
                ..
            }) => {
                eprintln!("fedci-node query: skipped {}: {message}", ev.event.id);
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        },
        None => match field {
            Some(path) => super::field_lines(ev, path),
            None => vec![serde_json::to_string(ev)?],
        },
    };
    let mut out = std::io::stdout().lock();
    for line in lines {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

async fn status(client: &Client, as_json: bool) -> Result<()> {
    let s = client.status().await?;
    if as_json {
        say!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        say!("{}", super::render::status(&s).trim_end());
    }
    Ok(())
}

fn print_bytes(body: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(body)?;
    if !body.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    Ok(())
}
