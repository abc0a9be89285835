//! A TCP relay on 127.0.0.1 between a dialling node and the node it dials, which records every
//! chunk it forwards (time, direction, bytes): what an exchange really costs on the wire, with
//! Noise, Yamux and multistream-select framing, not what a node says it sent.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which way a chunk went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// From the dialling side to the target.
    ToTarget,
    /// From the target back to the dialling side.
    FromTarget,
}

/// One read forwarded by the relay.
#[derive(Debug, Clone, Copy)]
pub struct Chunk {
    pub at: Instant,
    pub dir: Dir,
    pub bytes: usize,
}

/// Chunks with less than a gap between them, as totals each way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst {
    pub to_target: u64,
    pub from_target: u64,
    pub chunks: usize,
}

type Log = Arc<Mutex<Vec<Chunk>>>;

/// Forwards every connection made to [`Relay::port`] to `target`, logging what passes.
#[derive(Debug)]
pub struct Relay {
    port: u16,
    log: Log,
    stop: Arc<AtomicBool>,
}

impl Relay {
    pub fn start(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the relay");
        let port = listener.local_addr().expect("relay address").port();
        let log: Log = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (l, s) = (log.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(inbound) = conn else { continue };
                let Ok(outbound) = TcpStream::connect(target) else {
                    continue;
                };
                pipe(&inbound, &outbound, Dir::ToTarget, &l);
                pipe(&outbound, &inbound, Dir::FromTarget, &l);
            }
        });
        Relay { port, log, stop }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The chunks forwarded between `from` and `to`.
    pub fn chunks(&self, from: Instant, to: Instant) -> Vec<Chunk> {
        self.log
            .lock()
            .map(|l| {
                l.iter()
                    .filter(|c| c.at >= from && c.at <= to)
                    .copied()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The chunks between `from` and `to`, grouped into bursts separated by at least `gap`
    /// of silence.
    pub fn bursts(&self, from: Instant, to: Instant, gap: Duration) -> Vec<Burst> {
        let mut chunks = self.chunks(from, to);
        chunks.sort_by_key(|c| c.at);
        let mut out: Vec<Burst> = Vec::new();
        let mut last: Option<Instant> = None;
        for c in chunks {
            if last.is_none_or(|l| c.at.duration_since(l) >= gap) {
                out.push(Burst {
                    to_target: 0,
                    from_target: 0,
                    chunks: 0,
                });
            }
            last = Some(c.at);
            if let Some(b) = out.last_mut() {
                b.chunks += 1;
                match c.dir {
                    Dir::ToTarget => b.to_target += c.bytes as u64,
                    Dir::FromTarget => b.from_target += c.bytes as u64,
                }
            }
        }
        out
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        // Wake the accept loop so it sees the flag; open connections end with their nodes.
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Copies `from` to `to` on a thread, logging each read, until either side closes.
fn pipe(from: &TcpStream, to: &TcpStream, dir: Dir, log: &Log) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    let log = log.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if let Ok(mut l) = log.lock() {
                l.push(Chunk {
                    at: Instant::now(),
                    dir,
                    bytes: n,
                });
            }
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
