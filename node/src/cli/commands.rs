//! What each subcommand does.

use super::admin;
use super::client::Client;
use super::{Cli, Command, FilterArgs, PeerCommand, TrustCommand, watch, with_query};
use anyhow::{Context, Result, bail};
use fedci_keys::PublicKey;
use fedci_node::home::Home;
use hyper::Method;
use serde_json::{Value, json};
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
            let opts = fedci_node::daemon::RunOptions {
                listen: args.listen,
                peers: args.peer,
                tamper: args.tamper_relay,
                http: args.http,
                http_token: args.http_token,
            };
            run(home, opts).await
        }
        Command::Roster(cmd) => super::roster::roster(&home, cmd).await,
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
            admin_client(&home)?
                .post_json("/v1/peers/block", &json!({ "peer_id": peer_id }))
                .await?;
            say!("blocked {peer_id}");
            Ok(())
        }
        Command::Peer(PeerCommand::Unblock { peer_id }) => {
            admin_client(&home)?
                .post_json("/v1/peers/unblock", &json!({ "peer_id": peer_id }))
                .await?;
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
            let path = match format {
                Some(f) => format!("{id}?format={f}"),
                None => id,
            };
            get(&client(&home)?, &path, raw, field.as_deref()).await
        }
        Command::Query {
            filter,
            limit,
            last,
            field,
            format,
        } => {
            query(
                &client(&home)?,
                &filter,
                limit,
                last,
                field.as_deref(),
                format.as_deref(),
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
            watch::watch(client(&home)?, filter, consumer, exec, post, format, count).await
        }
        Command::Trace {
            id,
            up,
            down,
            depth,
            format,
        } => {
            let dir = if up {
                "up"
            } else if down {
                "down"
            } else {
                "both"
            };
            let path = with_query(
                &format!("/v1/trace/{id}"),
                &[
                    ("direction", dir.into()),
                    ("depth", depth.to_string()),
                    ("format", format),
                ],
            );
            let resp = client(&home)?
                .request(Method::GET, &path, None, None)
                .await?;
            print_bytes(&resp.body)
        }
        Command::Status { json } => status(&client(&home)?, json).await,
        Command::Trust(TrustCommand::Add { community, key }) => {
            admin::trust_add(&home, &community, &key).await
        }
        Command::Trust(TrustCommand::List) => admin::trust_list(&home).await,
        Command::Peer(PeerCommand::Add { addr }) => {
            let v = admin_client(&home)?
                .post_json("/v1/peers", &json!({ "addr": addr }))
                .await?;
            say!(
                "{}",
                if v["new"] == true {
                    "peer added"
                } else {
                    "peer already known; dialled again"
                }
            );
            Ok(())
        }
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

async fn run(home: Home, opts: fedci_node::daemon::RunOptions) -> Result<()> {
    let shutdown = CancellationToken::new();
    let signal = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        signal.cancel();
    });
    fedci_node::daemon::run(home, opts, shutdown).await?;
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
            Ok(json!({ "rel": rel, "target": target }))
        })
        .collect::<Result<Vec<_>>>()?;
    let path = match strict_links {
        true => "/v1/events?strict_links=true",
        false => "/v1/events",
    };
    let v = client
        .post_json(path, &json!({ "kind": kind, "data": data, "links": links }))
        .await?;
    let answer: super::render::Published = serde_json::from_value(v)?;
    for target in &answer.dangling {
        eprintln!(
            "fedci-node publish: warning: this node holds no event {target}: the link is kept dangling until it arrives (--strict-links refuses)"
        );
    }
    say!("{}", answer.id);
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

async fn get(client: &Client, id: &str, raw: bool, field: Option<&str>) -> Result<()> {
    let accept = raw.then_some("application/cose");
    let resp = client
        .request(Method::GET, &format!("/v1/events/{id}"), None, accept)
        .await?;
    if raw {
        std::io::stdout().write_all(&resp.body)?;
        return Ok(());
    }
    match field {
        Some(path) => {
            let event: Value = serde_json::from_slice(&resp.body)?;
            if !super::hints::field_exists(&event, path) {
                bail!("event {id} has no field {path:?}");
            }
            for line in super::field_lines(&event, path) {
                say!("{line}");
            }
            Ok(())
        }
        None => print_bytes(&resp.body),
    }
}

async fn query(
    client: &Client,
    filter: &FilterArgs,
    limit: usize,
    last: Option<usize>,
    field: Option<&str>,
    format: Option<&str>,
) -> Result<()> {
    let mut after = 0u64;
    let mut events: std::collections::VecDeque<Value> = std::collections::VecDeque::new();
    let mut seen = 0usize;
    // With --last, every matching event is read (only N are kept), whatever --limit says.
    let limit = if last.is_some() { usize::MAX } else { limit };
    while seen < limit {
        let mut pairs = filter.query_pairs();
        pairs.push(("after", after.to_string()));
        pairs.push(("limit", (limit - seen).min(1000).to_string()));
        let page = client.get_json(&with_query("/v1/events", &pairs)).await?;
        for ev in page["events"].as_array().into_iter().flatten() {
            seen += 1;
            match last {
                // Keep only the newest N in memory; print them at the end.
                Some(n) => {
                    events.push_back(ev.clone());
                    if events.len() > n {
                        events.pop_front();
                    }
                }
                None => emit(client, ev, field, format).await?,
            }
        }
        after = page["next_after"].as_u64().unwrap_or(after);
        if page["complete"] == true {
            break;
        }
    }
    for ev in &events {
        emit(client, ev, field, format).await?;
    }
    if last.is_none() && seen >= limit && more_match(client, filter, after).await? {
        eprintln!(
            "fedci-node query: stopped at --limit {limit}; more events match (raise --limit, or continue with a narrower --since)"
        );
    }
    Ok(())
}

/// Whether at least one more event matches after `after` (one small page).
async fn more_match(client: &Client, filter: &FilterArgs, after: u64) -> Result<bool> {
    let mut pairs = filter.query_pairs();
    pairs.push(("after", after.to_string()));
    pairs.push(("limit", "1".into()));
    let page: super::render::Page =
        serde_json::from_value(client.get_json(&with_query("/v1/events", &pairs)).await?)?;
    Ok(!page.events.is_empty())
}

/// Prints one event of a query: whole, one field of it, or in an interop format (an event
/// the format has no rendering for is named on stderr and skipped).
async fn emit(
    client: &Client,
    ev: &Value,
    field: Option<&str>,
    format: Option<&str>,
) -> Result<()> {
    let converted;
    let ev = match format {
        Some(f) => {
            let id = ev["id"].as_str().unwrap_or_default();
            match client
                .get_json(&format!("/v1/events/{id}?format={f}"))
                .await
            {
                Ok(v) => {
                    converted = v;
                    &converted
                }
                Err(super::client::ClientError::Api {
                    status: 422,
                    message,
                    ..
                }) => {
                    eprintln!("fedci-node query: skipped {id}: {message}");
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        }
        None => ev,
    };
    let mut out = std::io::stdout().lock();
    match field {
        Some(path) => {
            for line in super::field_lines(ev, path) {
                writeln!(out, "{line}")?;
            }
        }
        None => writeln!(out, "{ev}")?,
    }
    Ok(())
}

async fn status(client: &Client, as_json: bool) -> Result<()> {
    let resp = client
        .request(Method::GET, "/v1/status", None, None)
        .await?;
    if as_json {
        let v: Value = serde_json::from_slice(&resp.body)?;
        say!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let s: super::render::Status = serde_json::from_slice(&resp.body)?;
    say!("{}", super::render::status(&s).trim_end());
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
