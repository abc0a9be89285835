//! One `fedci-node` process under the testnet's control: its home, its child process, and the
//! CLI calls a CI job would make against it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("{node}: `fedci-node {args}` failed: {stderr}")]
    Cli {
        node: String,
        args: String,
        stderr: String,
    },
    #[error("{node}: cannot start: {source}")]
    Spawn {
        node: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{node}: not ready after {waited:?}; log:\n{log}")]
    NotReady {
        node: String,
        waited: Duration,
        log: String,
    },
}

/// A node's home and (when running) its process.
#[derive(Debug)]
pub struct Node {
    pub name: String,
    pub home: PathBuf,
    bin: PathBuf,
    child: Option<Child>,
    /// Extra arguments for `run` (listen, peers).
    pub run_args: Vec<String>,
}

impl Node {
    pub fn new(name: &str, home: PathBuf, bin: &Path) -> Node {
        Node {
            name: name.to_string(),
            home,
            bin: bin.to_path_buf(),
            child: None,
            run_args: Vec::new(),
        }
    }

    pub fn socket(&self) -> PathBuf {
        self.home.join("fedci.sock")
    }

    pub fn log_path(&self) -> PathBuf {
        self.home.join("node.log")
    }

    /// Runs `fedci-node --home HOME ARGS…` and returns stdout on success.
    pub fn cli(&self, args: &[&str]) -> Result<String, NodeError> {
        let out = self.cli_output(args)?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(NodeError::Cli {
                node: self.name.clone(),
                args: args.join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            })
        }
    }

    pub fn cli_output(&self, args: &[&str]) -> Result<Output, NodeError> {
        Command::new(&self.bin)
            .arg("--home")
            .arg(&self.home)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| NodeError::Spawn {
                node: self.name.clone(),
                source,
            })
    }

    /// `init --community NAME`; returns the root public key.
    pub fn init(&self, community: &str) -> Result<String, NodeError> {
        let out = self.cli(&["init", "--community", community])?;
        Ok(out.lines().last().unwrap_or_default().trim().to_string())
    }

    /// Starts `run` with stderr to `node.log` and waits until the socket answers.
    pub fn start(&mut self) -> Result<(), NodeError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|source| NodeError::Spawn {
                node: self.name.clone(),
                source,
            })?;
        let child = Command::new(&self.bin)
            .arg("--home")
            .arg(&self.home)
            .arg("run")
            .args(&self.run_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|source| NodeError::Spawn {
                node: self.name.clone(),
                source,
            })?;
        self.child = Some(child);
        self.wait_ready(Duration::from_secs(20))
    }

    /// Polls `status` until it answers or the deadline passes.
    pub fn wait_ready(&mut self, limit: Duration) -> Result<(), NodeError> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(NodeError::NotReady {
                    node: self.name.clone(),
                    waited: start.elapsed(),
                    log: format!("exited with {status}\n{}", self.log_tail()),
                });
            }
            if std::os::unix::net::UnixStream::connect(self.socket()).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(NodeError::NotReady {
            node: self.name.clone(),
            waited: limit,
            log: self.log_tail(),
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// SIGTERM and wait (clean shutdown).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGKILL: the crash case.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<_> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}
