//! A node's home directory: keys, config, store and socket, and `init` that creates them.

use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::{Outcome, Store, StoreError};
use fedci_keys::{KeyError, PublicKey, Roster, RosterEntry, SecretKey};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a home could not be created or read.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error("{0} is already initialised (it has a config.toml)")]
    AlreadyInitialised(PathBuf),
    #[error(
        "{0} is not a fedci home (no config.toml): run `fedci-node --home {0} init --community NAME`"
    )]
    NotInitialised(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid config: {message}")]
    Config { path: PathBuf, message: String },
    #[error("invalid community name {0:?}: 1-32 of a-z, 0-9, '-'")]
    BadCommunity(String),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot sign the first roster: {0}")]
    Roster(String),
    #[error("no home given: pass --home DIR or set FEDCI_HOME")]
    NoHome,
}

/// The home's mode: the group (CI users) may reach the CI socket; others get nothing.
pub const HOME_MODE: u32 = 0o750;

/// Paths inside a home.
#[derive(Debug, Clone)]
pub struct Home {
    pub dir: PathBuf,
}

/// What `init` made.
#[derive(Debug)]
pub struct InitReport {
    pub community: String,
    pub root_key: PublicKey,
    pub node_key: PublicKey,
}

impl Home {
    /// `--home` if given (clap also fills it from FEDCI_HOME), else the per-user data dir.
    pub fn resolve(arg: Option<PathBuf>) -> Result<Home, HomeError> {
        if let Some(dir) = arg {
            return Ok(Home { dir });
        }
        let base = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
            .ok_or(HomeError::NoHome)?;
        Ok(Home {
            dir: base.join("fedci"),
        })
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.toml")
    }
    pub fn root_key_path(&self) -> PathBuf {
        self.dir.join("root.key")
    }
    pub fn root_pub_path(&self) -> PathBuf {
        self.dir.join("root.pub")
    }
    pub fn node_key_path(&self) -> PathBuf {
        self.dir.join("node.key")
    }
    pub fn store_path(&self) -> PathBuf {
        self.dir.join("store.redb")
    }

    pub fn socket_path(&self, config: &Config) -> PathBuf {
        self.dir.join(&config.socket)
    }

    pub fn admin_socket_path(&self, config: &Config) -> PathBuf {
        self.dir.join(&config.admin_socket)
    }

    /// The home is 0750 at most (the group reaches the CI socket, others nothing) and the
    /// store 0600; a wider mode (a copied or hand-made home) is narrowed, with a warning, or
    /// only warned about when this user may not change it.
    pub fn tighten_modes(&self) {
        for (path, max) in [(self.dir.clone(), HOME_MODE), (self.store_path(), 0o600)] {
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let mode = meta.permissions().mode() & 0o7777;
            // Only permission bits: a setgid home (so sockets get the CI group) stays setgid.
            let wide = mode & 0o777 & !max;
            if wide == 0 {
                continue;
            }
            let narrowed = mode & !wide;
            let (mode, now) = (format!("{mode:o}"), format!("{narrowed:o}"));
            match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(narrowed)) {
                Ok(()) => {
                    tracing::warn!(path = %path.display(), %mode, %now, "mode was wider than the node allows; narrowed")
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), %mode, want = %now, error = %e, "mode is wider than the node allows and cannot be narrowed")
                }
            }
        }
    }

    pub fn load_config(&self) -> Result<Config, HomeError> {
        let path = self.config_path();
        let text = std::fs::read_to_string(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => HomeError::NotInitialised(self.dir.clone()),
            _ => HomeError::Io {
                path: path.clone(),
                source,
            },
        })?;
        let config: Config = toml::from_str(&text).map_err(|e| HomeError::Config {
            path: path.clone(),
            message: e.message().to_string(),
        })?;
        fedci_proto::body::check_community(&config.community)
            .map_err(|_| HomeError::BadCommunity(config.community.clone()))?;
        Ok(config)
    }

    pub fn load_node_key(&self) -> Result<SecretKey, HomeError> {
        Ok(SecretKey::load(&self.node_key_path())?)
    }

    /// Creates the home of a new community: keys, `root.pub`, config, and a store that pins
    /// our own root and holds the first roster (serial 1) naming the node key for every kind.
    /// With `join`, the home is another node of an existing community: no root key is made,
    /// the store pins `join` (the community's root, which is never re-pinned later), and the
    /// root's holder authorises the new node key with `roster add`.
    pub async fn init(
        &self,
        community: &str,
        join: Option<PublicKey>,
    ) -> Result<InitReport, HomeError> {
        fedci_proto::body::check_community(community)
            .map_err(|_| HomeError::BadCommunity(community.to_string()))?;
        if self.config_path().exists() {
            return Err(HomeError::AlreadyInitialised(self.dir.clone()));
        }
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| HomeError::Io { path, source }
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(HOME_MODE)
            .create(&self.dir)
            .map_err(io(&self.dir))?;
        let node = SecretKey::generate()?;
        node.save(&self.node_key_path())?;
        let (root_key, root_secret) = match join {
            Some(key) => (key, None),
            None => {
                let root = SecretKey::generate()?;
                root.save(&self.root_key_path())?;
                (root.public(), Some(root))
            }
        };
        root_key.save(&self.root_pub_path(), &format!("fedci root key of community {community}: pin it with `fedci-node trust add {community} @root.pub`"))?;

        let (store, writer) = Store::open(
            &self.store_path(),
            Some(node.public().to_bytes()),
            Arc::new(Metrics::default()),
        )?;
        store
            .pin(community.to_string(), root_key, community)
            .await?;
        if let Some(root) = &root_secret {
            let roster = Roster {
                community: community.to_string(),
                serial: 1,
                entries: vec![RosterEntry::any_kind(node.public())],
                ended: vec![],
            };
            let event = roster
                .sign(root, crate::now_ms(), None)
                .map_err(|e| HomeError::Roster(e.to_string()))?;
            match store.ingest(vec![event], "init").await?.first() {
                Some(Outcome::Stored { .. }) => {}
                other => return Err(HomeError::Roster(format!("{other:?}"))),
            }
        }
        drop(store);
        // Joining waits for the writer thread: not on the runtime's threads.
        let _ = tokio::task::spawn_blocking(move || writer.join()).await;

        // The config is written last: its presence marks a complete home.
        let config = Config {
            community: community.to_string(),
            ..Config::default()
        };
        let text = toml::to_string(&config).map_err(|e| HomeError::Config {
            path: self.config_path(),
            message: e.to_string(),
        })?;
        std::fs::write(self.config_path(), text).map_err(io(&self.config_path()))?;
        // Group may traverse the home to reach the 0660 CI socket; keys, the store and the
        // admin socket stay 0600.
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(HOME_MODE))
            .map_err(io(&self.dir))?;
        std::fs::set_permissions(self.store_path(), std::fs::Permissions::from_mode(0o600))
            .map_err(io(&self.store_path()))?;
        Ok(InitReport {
            community: community.to_string(),
            root_key,
            node_key: node.public(),
        })
    }
}
