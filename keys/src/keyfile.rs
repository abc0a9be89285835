//! Ed25519 key pairs and their files.
//!
//! A secret key file holds the 32-byte seed as hex after a comment line. It is created `0600`
//! and refused on load if group or others can read it (like ssh). Secrets never appear in
//! `Debug` output and are zeroed on drop (ed25519-dalek's `zeroize`).

use ed25519_dalek::{SigningKey, VerifyingKey};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use zeroize::Zeroizing;

/// Why a key could not be made, read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is readable by group or others (mode {mode:o}); run `chmod 600 {path}`")]
    InsecurePermissions { path: PathBuf, mode: u32 },
    #[error("{path}: not a fedci key file (expected 64 hex characters)")]
    Malformed { path: PathBuf },
    #[error("not an Ed25519 public key (64 hex characters): {0:?}")]
    BadPublicKey(String),
    #[error("no randomness available: {0}")]
    Random(String),
}

/// A signing key. Debug shows only the public half.
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(seed.as_mut()).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(Self::from_seed(&seed))
    }

    pub fn from_seed(seed: &[u8; 32]) -> Self {
        SecretKey(SigningKey::from_bytes(seed))
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.0
    }

    /// A copy of the seed, for libraries that build their own key type from it (libp2p).
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// Writes the key to a new file created with mode 0600. Never overwrites.
    pub fn save(&self, path: &Path) -> Result<(), KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        let text = Zeroizing::new(format!(
            "# fedci secret key (Ed25519 seed, hex). Keep this file private.\n{}\n",
            hex::encode(self.0.to_bytes())
        ));
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// Reads a key file, refusing one that group or others can read.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::InsecurePermissions {
                path: path.to_path_buf(),
                mode,
            });
        }
        let text = Zeroizing::new(std::io::read_to_string(file).map_err(io)?);
        let malformed = || KeyError::Malformed {
            path: path.to_path_buf(),
        };
        let line = key_line(&text).ok_or_else(malformed)?;
        let mut seed = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(line, seed.as_mut()).map_err(|_| malformed())?;
        Ok(Self::from_seed(&seed))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public: {})", self.public())
    }
}

/// A public key, shown and parsed as 64 hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(pub VerifyingKey);

impl PublicKey {
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        VerifyingKey::from_bytes(bytes)
            .map(PublicKey)
            .map_err(|_| KeyError::BadPublicKey(hex::encode(bytes)))
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Reads a public key file (such as `root.pub`): the first line that is not a comment.
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        key_line(&text)
            .ok_or_else(|| KeyError::Malformed {
                path: path.to_path_buf(),
            })?
            .parse()
    }

    /// Writes a public key file with a comment saying whose key it is.
    pub fn save(&self, path: &Path, comment: &str) -> Result<(), KeyError> {
        std::fs::write(path, format!("# {comment}\n{self}\n")).map_err(|source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0.as_bytes()))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", &self.to_string()[..12])
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || KeyError::BadPublicKey(s.chars().take(80).collect());
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s.trim(), &mut bytes).map_err(|_| bad())?;
        PublicKey::from_bytes(&bytes).map_err(|_| bad())
    }
}

fn key_line(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_load_round_trip_with_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.key");
        let key = SecretKey::generate().unwrap();
        key.save(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(SecretKey::load(&path).unwrap().public(), key.public());
        // Never overwrites.
        assert!(matches!(key.save(&path), Err(KeyError::Io { .. })));
    }

    #[test]
    fn refuses_readable_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.key");
        SecretKey::generate().unwrap().save(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            SecretKey::load(&path),
            Err(KeyError::InsecurePermissions { mode: 0o644, .. })
        ));
    }

    #[test]
    fn debug_shows_no_secret() {
        let key = SecretKey::from_seed(&[0xab; 32]);
        let shown = format!("{key:?}");
        assert!(!shown.contains(&hex::encode([0xab; 32])));
        assert!(!shown.contains("171, 171"));
        assert!(shown.contains(&key.public().to_string()));
    }

    #[test]
    fn public_key_file_and_parse_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("root.pub");
        let key = SecretKey::generate().unwrap().public();
        key.save(&path, "root key of community odl").unwrap();
        assert_eq!(PublicKey::from_file(&path).unwrap(), key);
        assert!("zz".parse::<PublicKey>().is_err());
        let garbage = dir.path().join("garbage.key");
        std::fs::write(&garbage, "not hex\n").unwrap();
        std::fs::set_permissions(&garbage, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            SecretKey::load(&garbage),
            Err(KeyError::Malformed { .. })
        ));
    }
}
