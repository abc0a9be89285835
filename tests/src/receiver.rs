//! A tiny HTTP/1.1 receiver on 127.0.0.1 standing in for a CI system's endpoint (a webhook,
//! Jenkins' buildWithParameters, GitLab's pipeline trigger): it records every request and
//! answers 503 to the first `refuse` of them, 200 to the rest.

use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest body recorded; the receiver is for small CI calls.
const MAX_BODY: usize = 1 << 20;

/// One request the receiver accepted: method, path with query, lowercase header names, and
/// the body as JSON (a JSON string holding the text when it is not JSON, null when empty).
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

#[derive(Debug)]
pub struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// Requests answered 503 so far.
    pub refused: Arc<AtomicUsize>,
    port: u16,
}

impl Receiver {
    /// Serves `listener` on a thread until the test process ends.
    pub fn start(listener: TcpListener, refuse: usize) -> Receiver {
        let port = listener.local_addr().expect("receiver address").port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(AtomicUsize::new(0));
        let (g, r) = (got.clone(), refused.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let Some(req) = read_request(&conn) else {
                    continue;
                };
                let mut conn = conn;
                if r.load(Ordering::SeqCst) < refuse {
                    r.fetch_add(1, Ordering::SeqCst);
                    let _ = conn.write_all(
                        b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    );
                    continue;
                }
                g.lock().expect("lock").push(req);
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
                );
            }
        });
        Receiver { got, refused, port }
    }

    /// A receiver on a free port of 127.0.0.1.
    pub fn bind() -> Receiver {
        Receiver::start(TcpListener::bind("127.0.0.1:0").expect("bind"), 0)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn got(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }
}

fn read_request(conn: &TcpStream) -> Option<Received> {
    conn.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    let mut r = BufReader::new(conn);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = HashMap::new();
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let len: usize = headers
        .get("content-length")
        .map_or(Some(0), |l| l.parse().ok())?;
    let mut body = vec![0; len.min(MAX_BODY)];
    r.read_exact(&mut body).ok()?;
    let body = match body.is_empty() {
        true => Value::Null,
        false => serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned())),
    };
    Some(Received {
        method,
        path,
        headers,
        body,
    })
}
