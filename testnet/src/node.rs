//! One `fedci-node` process under control: its home, its child process, and the CLI calls a CI
//! job would make against it. The one node harness: the testnet runs its nodes with it and the
//! integration tests wrap it (`fedci_tests::Node`) with their panicking conveniences.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a node may take to open its socket (a debug build on a busy 2-core machine).
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a node may take to exit after SIGTERM.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(20);

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
    /// Extra environment of `run` (the tests' hooks).
    pub env: Vec<(String, String)>,
    /// `run`s started so far: each is headed in the log.
    runs: u32,
}

impl Node {
    pub fn new(name: &str, home: PathBuf, bin: &Path) -> Node {
        Node {
            name: name.to_string(),
            home,
            bin: bin.to_path_buf(),
            child: None,
            run_args: Vec::new(),
            env: Vec::new(),
            runs: 0,
        }
    }

    /// The CI socket: what a CI job uses.
    pub fn socket(&self) -> PathBuf {
        self.home.join("fedci.sock")
    }

    /// Where `run`'s stdout and stderr go (appended across restarts).
    pub fn log_path(&self) -> PathBuf {
        self.home.join("node.log")
    }

    /// The whole log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// A `fedci-node --home HOME` command, ready for more arguments (FEDCI_HOME of our own
    /// environment does not leak in).
    pub fn command(&self) -> Command {
        self.in_home(Command::new(&self.bin))
    }

    /// `cmd` (this node's binary, perhaps behind a wrapper) given `--home HOME`.
    fn in_home(&self, mut cmd: Command) -> Command {
        cmd.env_remove("FEDCI_HOME").arg("--home").arg(&self.home);
        cmd
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
        self.command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| self.spawn_error(source))
    }

    /// `init --community NAME`; returns the root public key.
    pub fn init(&self, community: &str) -> Result<String, NodeError> {
        let out = self.cli(&["init", "--community", community])?;
        Ok(out.lines().last().unwrap_or_default().trim().to_string())
    }

    /// Starts `run` (with `run_args` and `env`), its output appended to `node.log` under a
    /// header line, and waits until the socket answers.
    pub fn start(&mut self) -> Result<(), NodeError> {
        use std::io::Write;
        self.runs += 1;
        let open = || {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.log_path())
        };
        let mut log = open().map_err(|source| self.spawn_error(source))?;
        writeln!(
            log,
            "===== fedci-node run #{} {:?} =====",
            self.runs, self.run_args
        )
        .map_err(|source| self.spawn_error(source))?;
        let err = open().map_err(|source| self.spawn_error(source))?;
        // Benchmarks may pin the node to CPUs (`--node-cpus`); CLI calls are never pinned.
        let child = self
            .in_home(crate::pin::command(&self.bin))
            .arg("run")
            .args(&self.run_args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|source| self.spawn_error(source))?;
        self.child = Some(child);
        self.wait_ready(START_TIMEOUT)
    }

    fn spawn_error(&self, source: std::io::Error) -> NodeError {
        NodeError::Spawn {
            node: self.name.clone(),
            source,
        }
    }

    /// Polls the socket until it accepts a connection (requests then queue until the API
    /// serves them), the process exits, or the deadline passes.
    pub fn wait_ready(&mut self, limit: Duration) -> Result<(), NodeError> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(NodeError::NotReady {
                    node: self.name.clone(),
                    waited: start.elapsed(),
                    log: format!("exited during startup ({status})\n{}", self.log_tail()),
                });
            }
            if std::os::unix::net::UnixStream::connect(self.socket()).is_ok() {
                return Ok(());
            }
            std::thread::sleep(POLL);
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

    /// Waits for the process to exit by itself: its status, or None if it was not running
    /// or still runs after `timeout` (it is left running).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.as_mut()?.try_wait() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(POLL);
        }
    }

    /// SIGTERM and wait (clean shutdown): the exit status, or None if it was not running or
    /// did not exit within [`STOP_TIMEOUT`] (then it is killed).
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let pid = self.pid()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        let status = self.wait_exit(STOP_TIMEOUT);
        if status.is_none() {
            self.kill9();
        }
        status
    }

    /// SIGKILL: the crash case.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log_tail(&self) -> String {
        let text = self.log();
        let lines: Vec<_> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}
