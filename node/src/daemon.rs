//! The daemon: opens the store (which also locks the home), binds the CI socket (0660) and
//! the admin socket (0600), serves the API on both and, when configured, runs the network;
//! everything stops on the shutdown signal, or when the store's writer or the network task
//! stops on its own (then the node exits with that error: [`crate::supervise`]).

use crate::api::{self, AppState, Role};
use crate::home::{Home, HomeError};
use crate::interests::Interests;
use crate::metrics::Metrics;
use crate::net::{self, NetConfig, behaviour::Mesh};
use crate::store::{Store, StoreError};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Home(#[from] HomeError),
    #[error("another fedci-node is already running on this home ({0})")]
    AlreadyRunning(PathBuf),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("socket {path}: {source}")]
    Socket {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} exists and is not a socket; move it away or set `socket` in config.toml")]
    SocketPathTaken(PathBuf),
    #[error("API server: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Net(#[from] net::NetError),
    #[error(transparent)]
    Web(#[from] crate::web::WebError),
    #[error("not a multiaddr {addr:?}: {message}")]
    BadAddr { addr: String, message: String },
    #[error(transparent)]
    Stopped(#[from] crate::supervise::TaskStopped),
}

fn parse_addrs(addrs: &[String]) -> Result<Vec<libp2p::Multiaddr>, DaemonError> {
    addrs
        .iter()
        .map(|a| {
            a.parse()
                .map_err(|e: libp2p::multiaddr::Error| DaemonError::BadAddr {
                    addr: a.clone(),
                    message: e.to_string(),
                })
        })
        .collect()
}

/// What `run`'s flags change for this run only.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Replaces the config's listen addresses when not empty.
    pub listen: Vec<String>,
    /// Peers to dial; remembered in the store, like `peer add`, so a restart without
    /// `--peer` dials them again (`peer remove` forgets one).
    pub peers: Vec<String>,
    /// Test fixture: gossip a corrupted copy of every event (a misbehaving relay).
    #[cfg(feature = "test-hooks")]
    pub tamper: bool,
    /// Serve the read-only web view on this TCP address (`--http`).
    pub http: Option<std::net::SocketAddr>,
    /// The bearer token file the web view requires (`--http-token`); needed off loopback.
    pub http_token: Option<PathBuf>,
}

/// Runs a node from its home until `shutdown` is cancelled.
pub async fn run(
    home: Home,
    opts: RunOptions,
    shutdown: CancellationToken,
) -> Result<(), DaemonError> {
    let web_token = match opts.http {
        Some(addr) => Some(crate::web::check_options(addr, opts.http_token.as_deref())?),
        None => None,
    };
    let mut config = home.load_config()?;
    if !opts.listen.is_empty() {
        config.listen = opts.listen.clone();
    }
    // Checked before anything is opened, so a typo costs nothing.
    parse_addrs(&opts.peers)?;
    let config = Arc::new(config);
    raise_open_files_limit(&config);
    let node_key = Arc::new(home.load_node_key()?);
    let metrics = Arc::new(Metrics::default());
    let (store, mut writer) = match Store::open(
        &home.store_path(),
        Some(node_key.public().to_bytes()),
        metrics.clone(),
    ) {
        Err(StoreError::AlreadyOpen) => return Err(DaemonError::AlreadyRunning(home.dir.clone())),
        other => other?,
    };
    home.tighten_modes();
    // Remembered before the network starts: it dials the configured and remembered peers.
    for addr in &opts.peers {
        store.add_peer(addr.clone()).await?;
    }
    // We hold the store's lock, so any socket file left here is from a node that died.
    let socket = home.socket_path(&config);
    let admin_socket = home.admin_socket_path(&config);
    let listener = bind_socket(&socket, 0o660)?;
    let admin_listener = bind_socket(&admin_socket, 0o600)?;
    let web_listener = match opts.http {
        Some(addr) => Some(crate::web::bind(addr).await?),
        None => None,
    };
    tracing::info!(community = %config.community, socket = %socket.display(), admin_socket = %admin_socket.display(), node_key = %node_key.public(), "fedci-node ready");

    if !config.score_ip_whitelist.is_empty() {
        tracing::warn!(
            "score_ip_whitelist is ignored: fedci no longer uses gossipsub's peer scoring; remove it from the configuration"
        );
    }
    let (net, outbound, net_task) = if config.listen.is_empty() {
        (None, None, None)
    } else {
        let net_config = NetConfig {
            listen: parse_addrs(&config.listen)?,
            peers: parse_addrs(&config.peers)?,
            interests: Interests::new(&config.community, config.interests.clone()),
            mesh: Mesh::default(),
            #[cfg(feature = "test-hooks")]
            tamper: opts.tamper,
            sync_interval: std::time::Duration::from_secs(config.sync_interval_secs),
            limits: crate::net::limits::ConnLimits {
                inbound: config.max_inbound_connections,
                pending: config.max_pending_connections,
                per_ip: config.max_connections_per_ip,
            },
        };
        let (handle, outbound, task) =
            net::start(net_config, store.clone(), &node_key, shutdown.clone())?;
        (
            Some(Arc::new(handle) as Arc<dyn crate::Network>),
            Some(outbound),
            Some(task),
        )
    };
    let state = AppState {
        store: store.clone(),
        node_key,
        limits: Arc::new(api::ApiLimits::from_config(&config)),
        config,
        metrics: metrics.clone(),
        started: Instant::now(),
        shutdown: shutdown.clone(),
        outbound,
        net,
    };
    let web_task = match (web_listener, web_token) {
        (Some(l), Some(token)) => {
            let addr = l.local_addr().map_err(DaemonError::Serve)?;
            tracing::info!(http = %addr, token = token.is_some(), "read-only web view listening");
            Some(tokio::spawn(crate::web::serve(l, state.clone(), token)))
        }
        _ => None,
    };
    // Either server failing stops the node: half an API is worse than a clear exit.
    let serve = |listener, role| {
        let (state, shutdown) = (state.clone(), shutdown.clone());
        async move {
            let served = api::serve(listener, state, role).await;
            shutdown.cancel();
            served
        }
    };
    let (ci, admin, supervised) = tokio::join!(
        serve(listener, Role::Ci),
        serve(admin_listener, Role::Admin),
        crate::supervise::supervise(writer.stopped(), net_task, shutdown.clone(), &metrics),
    );
    drop(state);
    let served = ci.and(admin);
    if let Some(task) = web_task {
        let _ = task.await;
    }
    let _ = std::fs::remove_file(&socket);
    let _ = std::fs::remove_file(&admin_socket);
    drop(store);
    tokio::task::spawn_blocking(move || writer.join())
        .await
        .ok();
    tracing::info!("fedci-node stopped");
    supervised?;
    served.map_err(DaemonError::Serve)
}

/// Raises the soft open-files limit to the hard one: every socket connection and libp2p peer
/// is a descriptor, and the common soft limit of 1,024 is low for a node. Warns when even the
/// raised limit leaves little room beside the API's connection cap.
fn raise_open_files_limit(config: &crate::config::Config) {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            let cap = config.max_connections as u64;
            if limit < cap.saturating_add(256) {
                tracing::warn!(
                    open_files = limit,
                    max_connections = cap,
                    "the open-files limit leaves little room beside the API connection cap"
                );
            } else {
                tracing::debug!(open_files = limit, "open-files limit");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-files limit"),
    }
}

fn bind_socket(path: &Path, mode: u32) -> Result<UnixListener, DaemonError> {
    let io = |source| DaemonError::Socket {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path).map_err(io)?,
        Ok(_) => return Err(DaemonError::SocketPathTaken(path.to_path_buf())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io)?;
    Ok(listener)
}
