//! What each subcommand does.

use super::admin;
use super::{Cli, Command, FilterArgs, PeerCommand, TrustCommand, watch};
use crate::home::Home;
use anyhow::{Context, Result, bail};
use fedci_client::types::{Direction, EventItem, Format, LinkRequest, PublishRequest, Status};
use fedci_client::{Client, ClientError, EventQuery};
use fedci_keys::PublicKey;
use serde_json::Value;
use std::io::Write;
use tokio_util::sync::CancellationToken;

pub async fn run_command(cli: Cli) -> Result<()> {
    // Offline verification needs no home: it must work on a machine that never ran a node.
    if let Command::Verify { file, roots, json } = &cli.command {
        return super::evidence::verify(file, roots, *json);
    }
    let home = Home::resolve(cli.home)?;
    match cli.command {
        Command::Init { community, root } => {
            let join = root.as_deref().map(parse_key).transpose()?;
            init(&home, &community, join).await
        }
        Command::Run(args) => {
            let opts = crate::daemon::RunOptions {
                listen: args.listen,
                peers: args.peer,
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
        Command::Verify { .. } => unreachable_verify(),
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
        Command::Publish { kind, data, links } => {
            publish(&client(&home)?, kind, &data, &links).await
        }
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

/// `verify` is answered before the home is resolved.
fn unreachable_verify() -> Result<()> {
    bail!("verify runs without a home")
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
        None => arg.parse()?,
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

async fn publish(client: &Client, kind: String, data: &str, links: &[String]) -> Result<()> {
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
    let published = client
        .publish(&PublishRequest { kind, data, links })
        .await?;
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
    Ok(())
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
    let mut out = std::io::stdout().lock();
    if as_json {
        writeln!(out, "{}", serde_json::to_string_pretty(&s)?)?;
    } else {
        out.write_all(render_status(&s).as_bytes())?;
    }
    Ok(())
}

/// `status` for people: one line per fact.
pub(super) fn render_status(s: &Status) -> String {
    use fedci_client::types::{RosterKeys, StoreState};
    use std::fmt::Write as _;
    let mut o = String::new();
    let opt = |v: Option<u64>| v.map_or("?".to_string(), |n| n.to_string());
    let _ = writeln!(o, "community   {}", s.community);
    let _ = writeln!(o, "node key    {}", s.node_key);
    let _ = writeln!(o, "root key    {}", s.root_key.as_deref().unwrap_or("?"));
    let _ = writeln!(
        o,
        "events      {} (last arrival {})",
        opt(s.events),
        s.last_arrival
    );
    match s.store.state {
        StoreState::Ok => {
            let _ = writeln!(o, "store       ok");
        }
        StoreState::Failing => {
            let _ = writeln!(
                o,
                "store       FAILING: {} (retry {}; publishes are refused until it recovers)",
                s.store.error.as_deref().unwrap_or("unknown error"),
                opt(s.store.retries)
            );
        }
    }
    if let Some(n) = s.untrusted_events.filter(|n| *n > 0) {
        let _ = writeln!(
            o,
            "untrusted   {n} stored event(s) no longer authorised (revoked key or re-pinned root): not served in queries or streams"
        );
    }
    for p in &s.pins {
        let roster = match &p.roster {
            Some(r) => {
                let keys = match &r.keys {
                    RosterKeys::Count(n) => *n,
                    RosterKeys::Entries(e) => e.len(),
                };
                format!("roster serial {}, {keys} key(s)", r.serial)
            }
            None => "no roster yet".into(),
        };
        let _ = writeln!(o, "trusts      {:<12} {}", p.community, roster);
    }
    for (name, cursor) in &s.consumers {
        let _ = writeln!(o, "consumer    {name:<12} at arrival {cursor}");
    }
    for (reason, n) in &s.rejected {
        let _ = writeln!(o, "rejected    {reason:<20} {n}");
    }
    if let Some(net) = &s.network {
        let _ = writeln!(
            o,
            "network     {}",
            serde_json::to_string(net).unwrap_or_default()
        );
    }
    o
}

fn print_bytes(body: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(body)?;
    if !body.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    Ok(())
}
