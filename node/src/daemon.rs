//! The daemon: opens the store (which also locks the home), binds the socket, serves the API
//! and, when configured, runs the network; everything stops on the shutdown signal.

use crate::api::{self, AppState};
use crate::home::{Home, HomeError};
use crate::metrics::Metrics;
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
}

/// Runs a node from its home until `shutdown` is cancelled.
pub async fn run(home: Home, shutdown: CancellationToken) -> Result<(), DaemonError> {
    let config = Arc::new(home.load_config()?);
    let node_key = Arc::new(home.load_node_key()?);
    let metrics = Arc::new(Metrics::default());
    let (store, writer) = match Store::open(
        &home.store_path(),
        Some(node_key.public().to_bytes()),
        metrics.clone(),
    ) {
        Err(StoreError::AlreadyOpen) => return Err(DaemonError::AlreadyRunning(home.dir.clone())),
        other => other?,
    };
    // We hold the store's lock, so any socket file left here is from a node that died.
    let socket = home.socket_path(&config);
    let listener = bind_socket(&socket)?;
    tracing::info!(community = %config.community, socket = %socket.display(), node_key = %node_key.public(), "fedci-node ready");

    let state = AppState {
        store: store.clone(),
        node_key,
        config,
        metrics,
        started: Instant::now(),
        shutdown: shutdown.clone(),
        outbound: None,
        net: None,
    };
    let served = api::serve(listener, state).await;
    shutdown.cancel();
    let _ = std::fs::remove_file(&socket);
    drop(store);
    tokio::task::spawn_blocking(move || writer.join())
        .await
        .ok();
    tracing::info!("fedci-node stopped");
    served.map_err(DaemonError::Serve)
}

fn bind_socket(path: &Path) -> Result<UnixListener, DaemonError> {
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
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(io)?;
    Ok(listener)
}
