//! The `fedci-node` command line: `init` and `run` act on the home; every other command is a
//! client of the running node: CI commands on its CI socket, trust, peer and roster commands
//! on its owner-only admin socket (`trust` also works with the node stopped).

/// `println!` that returns the write error instead of panicking (e.g. `| head` closing the
/// pipe); `main` treats a broken pipe as a normal end.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?;
    }};
}

mod admin;
mod commands;
mod completions;
mod evidence;
mod hints;
mod intoto;
mod peer;
mod promotion;
mod render;
mod roster;
mod watch;
mod webhook;

pub use commands::run_command;
pub use fedci_client::ClientError;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// fedci-node: one community's node in the fedci federation of CI systems.
///
/// A node stores signed events (artifact built, baseline composed, confidence earned), shares
/// them with other communities' nodes, and serves them to this community's CI jobs on a local
/// socket. Start with `init`, then `run`; CI jobs use `publish`, `watch`, `query` and `trace`.
#[derive(Debug, Parser)]
#[command(name = "fedci-node", version, propagate_version = true)]
pub struct Cli {
    /// The node's home directory (keys, config, store, sockets).
    /// [default: $XDG_DATA_HOME/fedci, else ~/.local/share/fedci]
    #[arg(long, global = true, env = "FEDCI_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a home: root and node keys, config, a store that trusts this community.
    ///
    /// Prints the community's root public key (also written to root.pub): give that file to
    /// other communities so they can `trust add` you.
    Init {
        /// The community this node speaks for (a-z, 0-9, '-'), e.g. `odl`.
        #[arg(long)]
        community: String,
        /// Join an existing community as another node: pin its root (64 hex, or @FILE, its
        /// root.pub) instead of making a new one. The root's holder then authorises this
        /// node's key with `roster add`. A node's own root is never re-pinned later.
        #[arg(long, value_name = "KEY")]
        root: Option<String>,
    },
    /// Run the node until SIGINT or SIGTERM.
    Run(RunArgs),
    /// Publish an event signed by this node; prints its id once it is durably stored.
    Publish {
        /// Event kind, e.g. `artifact.created`, or a custom `x-<org>.<name>`.
        #[arg(long)]
        kind: String,
        /// Event data as a JSON object, or @FILE to read it from a file (@- for stdin).
        #[arg(long, default_value = "{}")]
        data: String,
        /// A link to another event, as REL=ID (e.g. ARTIFACT=3fa4…). Repeatable. A link to
        /// an event this node has never seen is kept (dangling) with a warning on stderr.
        #[arg(long = "link", value_name = "REL=ID")]
        links: Vec<String>,
        /// Refuse to publish (exit 1, nothing stored) when a --link points at an event this
        /// node does not hold.
        #[arg(long)]
        strict_links: bool,
    },
    /// Print one event as JSON (or its raw COSE bytes with --raw).
    Get {
        /// The event id (64 hex), as `publish` printed it.
        id: String,
        /// Write the signed COSE_Sign1 bytes exactly as stored.
        #[arg(long, conflicts_with = "field")]
        raw: bool,
        /// Print one field instead of the whole event, e.g. `data.branch`, `kind`,
        /// `links.0.target`; `links.REL` prints the targets of the REL links, one per line.
        /// A path the event does not have is an error (exit 1).
        #[arg(long, value_name = "PATH")]
        field: Option<String>,
        /// Print the event as a CDEvent, a structured CloudEvent or an Eiffel event instead.
        #[arg(long, value_parser = ["cdevents", "cloudevents", "eiffel"], conflicts_with_all = ["raw", "field"])]
        format: Option<String>,
    },
    /// Print stored events matching a filter, one JSON per line, in arrival order.
    Query {
        #[command(flatten)]
        filter: FilterArgs,
        /// Stop after this many events (pages are fetched as needed); says so on stderr
        /// when more events match.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
        /// Print only the newest N of the matching events.
        #[arg(long, value_name = "N")]
        last: Option<usize>,
        /// Print one field per event instead of the event (see `get --field`).
        #[arg(long, value_name = "PATH")]
        field: Option<String>,
        /// Print each event as a CDEvent, a structured CloudEvent or an Eiffel event.
        #[arg(long, value_parser = ["cdevents", "cloudevents", "eiffel"])]
        format: Option<String>,
    },
    /// Follow events as they arrive (history first), optionally running a command per event.
    ///
    /// With --consumer the position is stored in the node: a watcher that stops and starts
    /// again resumes where it left off. With --exec the position advances only when the
    /// command exits 0; a failing command is retried with backoff (at-least-once).
    Watch {
        #[command(flatten)]
        filter: FilterArgs,
        /// Durable consumer name: resume from its stored cursor, acknowledge as we go.
        #[arg(long)]
        consumer: Option<String>,
        /// Shell command to run per event: event JSON on stdin; in the environment
        /// FEDCI_EVENT_ID, FEDCI_EVENT_KIND, FEDCI_EVENT_COMMUNITY, FEDCI_EVENT_SEQ (the
        /// author's seq in the event), FEDCI_ARRIVAL (its position on this node), and
        /// FEDCI_HOME and FEDCI_SOCKET (this node), so the command's own `fedci-node` calls
        /// reach the same node.
        #[arg(long, value_name = "CMD")]
        exec: Option<String>,
        /// POST each event to this http:// URL as a binary-mode CloudEvent (CDEvents body,
        /// ce-* headers); the position advances only on a 2xx, retried with backoff.
        #[arg(long, value_name = "URL", conflicts_with = "exec")]
        post: Option<String>,
        /// Extra header for --post, as 'Name: value' (e.g. Authorization). Repeatable.
        #[arg(long = "header", value_name = "NAME: VALUE", requires = "post")]
        headers: Vec<String>,
        /// Print (or give --exec) each event as a CDEvent, a structured CloudEvent or an
        /// Eiffel event; events the format has no rendering for are skipped.
        #[arg(long, value_parser = ["cdevents", "cloudevents", "eiffel"], conflicts_with = "post")]
        format: Option<String>,
        /// Exit after this many events have been handled (default: follow forever).
        #[arg(long)]
        count: Option<u64>,
    },
    /// Show where an event came from (--up) and what came of it (--down).
    Trace {
        /// The event id (64 hex) to start from.
        id: String,
        /// Only upstream: what this event links to, transitively.
        #[arg(long, conflicts_with = "down")]
        up: bool,
        /// Only downstream: what links to this event, transitively.
        #[arg(long)]
        down: bool,
        /// How many links deep to walk.
        #[arg(long, default_value_t = 10)]
        depth: u32,
        /// json, dot (Graphviz) or mermaid.
        #[arg(long, default_value = "json", value_parser = ["json", "dot", "mermaid"])]
        format: String,
    },
    /// The node's state: community, keys, events, consumers, pins, rejections.
    Status {
        /// Print the full status as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Manage the communities this node trusts.
    #[command(subcommand)]
    Trust(TrustCommand),
    /// Manage libp2p peers.
    ///
    /// Peers given to `run --peer` or `peer add` are remembered in the home's store
    /// (store.redb) and dialled again at every start until `peer remove`; peers in
    /// config.toml's `peers` are dialled too and change only by editing that file.
    #[command(subcommand)]
    Peer(PeerCommand),
    /// Manage this community's roster (needs the root key): which node keys may publish.
    #[command(subcommand)]
    Roster(RosterCommand),
    /// Write the evidence bundle of a trace: the exact signed bytes of its events and the
    /// rosters that authorise them (RFC 8742 CBOR sequence), for `verify` anywhere.
    Export {
        /// The event id (64 hex) whose trace to export.
        id: String,
        /// Only upstream: what this event was made from.
        #[arg(long, conflicts_with_all = ["down", "both"])]
        up: bool,
        /// Only downstream: what was made from it.
        #[arg(long, conflicts_with = "both")]
        down: bool,
        /// Both directions (the default).
        #[arg(long)]
        both: bool,
        /// How many links deep to walk.
        #[arg(long, default_value_t = 10)]
        depth: u32,
        /// The bundle file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// `bundle` (signed events, for `verify`) or `intoto`: the confidence chain upstream
        /// as in-toto Statement v1 lines (SLSA Verification Summaries).
        #[arg(long, default_value = "bundle", value_parser = ["bundle", "intoto"])]
        format: String,
    },
    /// Verify an evidence bundle offline, against root keys you give: needs no home, no node,
    /// no network. Exit 0 and the verified chain, or exit 1 and one line per refused event.
    Verify {
        /// The bundle file (`export --out`), or - for stdin.
        file: PathBuf,
        /// A community's root key: COMMUNITY=@root.pub or COMMUNITY=HEX. Repeatable; events of
        /// communities without one are unverified (a failure).
        #[arg(long = "root", value_name = "COMMUNITY=@FILE|HEX", required = true)]
        roots: Vec<String>,
        /// Print the verdict as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Durable consumers (the cursors of `watch --consumer`).
    #[command(subcommand)]
    Consumer(ConsumerCommand),
    /// Artifacts by the confidence in force, newest first, with where to download them.
    /// Exit 1 when nothing matches.
    Artifacts(promotion::ArtifactsArgs),
    /// What a composition (baseline) is made of, recursively: each element's identity,
    /// version, digest, locations and confidences in force; elements not held are listed.
    Manifest {
        /// The composition.defined event's id.
        id: String,
        /// Print the manifest as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script, e.g.
    /// `fedci-node completions bash > /etc/bash_completion.d/fedci-node`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `fedci-node manpage > /usr/local/share/man/man1/fedci-node.1`.
    Manpage,
}

#[derive(Debug, Subcommand)]
pub enum ConsumerCommand {
    /// List consumers and their cursors.
    List,
    /// Forget a consumer: it starts from the beginning next time. The node's owner may remove
    /// any consumer; anyone else only those their uid made.
    Remove {
        /// The consumer's name (`watch --consumer NAME`).
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RosterCommand {
    /// Show the roster in force.
    Show,
    /// Authorise a node key (64 hex) to publish; signs and publishes a new roster.
    Add {
        /// The node key to authorise (64 hex, as `status` prints it on that node).
        key: String,
        /// Kind patterns it may publish (`artifact.*`, `*`). Repeatable; default all.
        #[arg(long = "kind")]
        kinds: Vec<String>,
        /// The root key file (default: root.key in the home).
        #[arg(long, value_name = "FILE")]
        root_key: Option<PathBuf>,
    },
    /// Retire a node key now: a new roster without it. Its events so far stay valid
    /// (same as `retire` with no --at, except the key may be added back later).
    Remove {
        /// The node key to leave out (64 hex).
        key: String,
        #[arg(long, value_name = "FILE")]
        root_key: Option<PathBuf>,
    },
    /// Retire a node key for good: its events up to --at stay valid, later ones are refused.
    Retire {
        /// The node key to retire (64 hex).
        key: String,
        /// ms since epoch or RFC 3339; default now.
        #[arg(long, value_parser = parse_time)]
        at: Option<u64>,
        #[arg(long, value_name = "FILE")]
        root_key: Option<PathBuf>,
    },
    /// Revoke a compromised node key: its events from --since on are refused everywhere,
    /// including those already stored; earlier ones stay valid.
    Revoke {
        /// The compromised node key (64 hex).
        key: String,
        /// ms since epoch or RFC 3339: when the key stopped being trustworthy.
        #[arg(long, value_parser = parse_time)]
        since: u64,
        #[arg(long, value_name = "FILE")]
        root_key: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Log filter (e.g. `info`, `fedci_node=debug`); also read from RUST_LOG.
    /// [default: info,libp2p=warn]
    #[arg(long, value_name = "FILTER")]
    pub log: Option<String>,
    /// libp2p listen address (multiaddr), e.g. /ip4/127.0.0.1/tcp/4001. Repeatable;
    /// replaces the config's `listen`.
    #[arg(long, value_name = "MULTIADDR")]
    pub listen: Vec<String>,
    /// A peer to dial (multiaddr with /p2p/<peer id>). Repeatable. Remembered in the home's
    /// store like `peer add`: later runs dial it without --peer, until `peer remove`.
    #[arg(long, value_name = "MULTIADDR")]
    pub peer: Vec<String>,
    /// Test fixture (built with the `test-hooks` feature only): behave as a misbehaving node
    /// that gossips a corrupted copy of every event and serves forged events to catch-up.
    /// Used by the tests to show peers refuse and penalise such a node.
    #[cfg(feature = "test-hooks")]
    #[arg(long)]
    pub tamper_relay: bool,
    /// Serve the read-only web view (the page and the API's GET routes) on this TCP address,
    /// e.g. 127.0.0.1:8080. Off by default. Writes are refused (405).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,
    /// File holding the bearer token every web view request must carry; required when
    /// --http is not a loopback address.
    #[arg(long, value_name = "FILE", requires = "http")]
    pub http_token: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Pin a community's root key: KEY as 64 hex characters, or @FILE (their root.pub).
    Add {
        /// The community whose root to pin, e.g. `opnfv`.
        community: String,
        /// Its root key: 64 hex characters, or @FILE to read it from their root.pub.
        key: String,
    },
    /// List pinned communities and the rosters in force.
    List,
}

#[derive(Debug, Subcommand)]
pub enum PeerCommand {
    /// Dial a peer now and remember it across restarts (in the home's store).
    Add {
        /// Multiaddr with /p2p/<peer id>, as printed by `status --json` of the other node.
        addr: String,
    },
    /// List remembered and configured peers, and whether each is connected.
    List {
        /// Print the node's answer as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Forget a remembered peer: no longer dialled, disconnected now (it may still dial us).
    Remove {
        /// The peer's multiaddr as `peer list` shows it, or its peer id (every remembered
        /// address of that peer is forgotten).
        target: String,
    },
    /// Disconnect a peer and refuse it until `unblock` (or a restart).
    Block {
        /// The peer id (12D3KooW…), as `status --json` or `peer list` shows it.
        peer_id: String,
    },
    /// Allow a blocked peer again.
    Unblock {
        /// The peer id (12D3KooW…).
        peer_id: String,
    },
}

#[derive(Debug, Args, Clone, Default)]
pub struct FilterArgs {
    /// Kind or pattern (`artifact.created`, `artifact.*`, `*`). Repeatable.
    #[arg(long = "kind")]
    pub kinds: Vec<String>,
    /// Community. Repeatable.
    #[arg(long = "community")]
    pub communities: Vec<String>,
    /// Only events whose time is at or after this: RFC 3339, ms since epoch, or a duration
    /// back from now (`2h`, `30m`, `7d`).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<u64>,
    /// Only events whose time is before this: same forms as --since.
    #[arg(long, value_parser = parse_time)]
    pub until: Option<u64>,
    /// Only events that link to this event id.
    #[arg(long)]
    pub link: Option<String>,
}

impl FilterArgs {
    /// The filter as an API query (no position yet).
    pub fn to_query(&self) -> fedci_client::EventQuery {
        fedci_client::EventQuery {
            kinds: self.kinds.clone(),
            communities: self.communities.clone(),
            since: self.since,
            until: self.until,
            link: self.link.clone(),
            ..Default::default()
        }
    }
}

/// Milliseconds since the epoch, an RFC 3339 time, or a duration back from now (`2h`,
/// `30m`, `7d`).
fn parse_time(s: &str) -> Result<u64, String> {
    if let Ok(ms) = s.parse::<u64>() {
        return Ok(ms);
    }
    if let Ok(ago) = humantime::parse_duration(s) {
        return Ok(crate::now_ms().saturating_sub(ago.as_millis() as u64));
    }
    humantime::parse_rfc3339_weak(s)
        .map_err(|e| {
            format!(
                "{e}: give ms since epoch, an RFC 3339 time like 2026-11-22T10:00:00Z, or a duration back from now like 2h, 30m, 7d"
            )
        })?
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .map_err(|e| e.to_string())
}

/// The value at a dot path in an event's JSON, as lines of text: strings bare, other values
/// as JSON, `links.REL` as the targets of that rel. Empty when the path does not exist.
pub fn field_lines(item: &fedci_client::types::EventItem, path: &str) -> Vec<String> {
    if let Some(rel) = path.strip_prefix("links.")
        && rel.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        && !rel.is_empty()
    {
        return item
            .event
            .links
            .iter()
            .filter(|l| l.rel == rel)
            .map(|l| l.target.to_string())
            .collect();
    }
    value_lines(&serde_json::to_value(item).unwrap_or_default(), path)
}

/// The value at a dot path in any JSON document (see [`field_lines`]).
pub fn value_lines(doc: &serde_json::Value, path: &str) -> Vec<String> {
    let mut v = Some(doc);
    for part in path.split('.') {
        v = v.and_then(|v| match part.parse::<usize>() {
            Ok(i) if v.is_array() => v.get(i),
            _ => v.get(part),
        });
    }
    match v {
        None | Some(serde_json::Value::Null) => vec![],
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(other) => vec![other.to_string()],
    }
}

/// An error and its causes on one line, as both binaries print them (no backtrace, whatever
/// RUST_BACKTRACE says): causes the message already quotes are skipped.
pub fn one_line(e: &anyhow::Error) -> String {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !line.contains(&cause) {
            line = format!("{line}: {cause}");
        }
    }
    line.replace('\n', " ")
}

#[cfg(test)]
mod tests;
