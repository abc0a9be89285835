//! Driver for `fedci-testnet hostile-peer`: a libp2p peer speaking fedci's gossip and sync
//! protocols that sends whatever it is told to (forged copies, offers of forged events, floods
//! of fetch requests, sybil connections). See `testnet/src/hostile.rs` for the line protocol.

use crate::testnet_bin;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running hostile peer; killed on drop.
#[derive(Debug)]
pub struct Hostile {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    peer_id: String,
}

impl Hostile {
    /// Starts the hostile peer and waits for its `ready` line.
    pub fn start() -> Hostile {
        let mut child = Command::new(testnet_bin())
            .arg("hostile-peer")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawning fedci-testnet hostile-peer");
        let stdin = child.stdin.take().expect("hostile stdin");
        let stdout = child.stdout.take().expect("hostile stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut h = Hostile {
            child,
            stdin,
            lines,
            peer_id: String::new(),
        };
        let ready = h.expect_line(Duration::from_secs(30));
        h.peer_id = ready
            .strip_prefix("ready ")
            .unwrap_or_else(|| panic!("hostile peer's first line is not `ready`: {ready:?}"))
            .to_owned();
        h
    }

    /// The hostile peer's libp2p peer id.
    pub fn peer_id(&self) -> &str {
        &self.peer_id
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("writing to the hostile peer");
        self.stdin
            .flush()
            .expect("flushing the hostile peer's stdin");
    }

    /// The next line the hostile peer prints; panics after `timeout`.
    pub fn expect_line(&mut self, timeout: Duration) -> String {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => line,
            Err(e) => panic!("hostile peer printed nothing within {timeout:?} ({e})"),
        }
    }

    /// Sends `command` and returns its answer line, which must start with `want`.
    fn call(&mut self, command: &str, want: &str, timeout: Duration) -> String {
        self.send(command);
        let line = self.expect_line(timeout);
        assert!(
            line.starts_with(want),
            "hostile peer: `{}` answered {line:?}",
            command.chars().take(120).collect::<String>()
        );
        line
    }

    /// Connects to `addr` (a multiaddr with `/p2p/`).
    pub fn dial(&mut self, addr: &str) {
        self.call(
            &format!("dial {addr}"),
            "connected",
            Duration::from_secs(30),
        );
    }

    /// Tries to connect to `addr`; true if the connection was established.
    pub fn try_dial(&mut self, addr: &str) -> bool {
        let line = self.call(&format!("dial {addr}"), "", Duration::from_secs(30));
        line.starts_with("connected")
    }

    /// Publishes `bytes` on gossip `topic` (once some peer is subscribed to it).
    pub fn publish(&mut self, topic: &str, bytes: &[u8]) {
        let cmd = format!("publish {topic} {}", hex(bytes));
        self.call(&cmd, "published", Duration::from_secs(30));
    }

    /// Sends a sync `Offer` of `events` to `peer`; returns the answer line
    /// (`offer taken N`, `offer refused …` or `offer failed …`).
    pub fn offer(&mut self, peer: &str, events: &[Vec<u8>]) -> String {
        let list: Vec<String> = events.iter().map(|e| hex(e)).collect();
        let cmd = format!("offer {peer} {}", list.join(","));
        self.call(&cmd, "offer", Duration::from_secs(60))
    }

    /// Sends `total` sync `Fetch` requests for `ids` (hex event ids), `concurrency` at once,
    /// and waits for all answers: returns `(answered, failed, events, bytes)`.
    pub fn fetch_flood(
        &mut self,
        peer: &str,
        ids: &[String],
        total: u64,
        concurrency: usize,
        timeout: Duration,
    ) -> (u64, u64, u64, u64) {
        let cmd = format!("fetch {peer} {total} {concurrency} {}", ids.join(","));
        let line = self.call(&cmd, "fetch ", timeout);
        let field = |name: &str| -> u64 {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{name}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name}= in {line:?}"))
        };
        (
            field("ok"),
            field("failed"),
            field("events"),
            field("bytes"),
        )
    }

    /// Opens `n` connections to `addr`, each under a fresh identity, kept until the hostile
    /// peer ends; returns how many got established (the node may close them right after).
    pub fn sybils(&mut self, addr: &str, n: usize) -> usize {
        let line = self.call(
            &format!("sybils {addr} {n}"),
            "sybils",
            Duration::from_secs(120),
        );
        line.split_whitespace()
            .find_map(|w| w.strip_prefix("established="))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no established= in {line:?}"))
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A copy of a COSE_Sign1 event with one bit of its signature flipped: the signature is the
/// last element of the envelope, so the last byte belongs to it. Same payload, so same event id.
pub fn flip_signature_bit(raw: &[u8]) -> Vec<u8> {
    let mut bad = raw.to_vec();
    let last = bad.last_mut().expect("empty event");
    *last ^= 0x01;
    bad
}
