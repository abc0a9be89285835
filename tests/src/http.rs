//! A tiny HTTP/1.1 client over a Unix socket (or TCP, for the web view): one request per connection (`Connection: close`),
//! `Content-Length` or `chunked` responses, and NDJSON streams read line by line. Enough to talk
//! to the node the way `curl --unix-socket` does, without an async runtime.

use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// Longest a plain request may take before the client gives up.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A complete HTTP response.
pub struct Response {
    pub status: u16,
    /// Header names in lowercase, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy), for messages and text formats.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the status and body when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response body is not JSON ({e}): {self:?}"))
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOW: usize = 2000;
        let text = self.text();
        let shown: String = text.chars().take(SHOW).collect();
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &shown)
            .field("body_len", &self.body.len())
            .finish()
    }
}

fn write_request(
    stream: &mut impl Write,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<()> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if !body.is_empty() && !has("content-type") {
        head.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    // The server may answer (413, 400) and close before reading an oversized body: a broken
    // pipe here is not an error, the response is what counts.
    match stream.write_all(body) {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
            ) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// Sends one request and reads the whole response.
pub fn request(
    socket: &Path,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Response> {
    let stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
    exchange(stream, method, path, headers, body)
}

/// [`request`] over TCP (the web view's listener), to `addr` such as `127.0.0.1:8080`.
pub fn request_tcp(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Response> {
    let stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
    exchange(stream, method, path, headers, body)
}

fn exchange(
    mut stream: impl Read + Write,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Response> {
    write_request(&mut stream, method, path, headers, body)?;
    let mut raw = Vec::new();
    if let Err(e) = stream.read_to_end(&mut raw) {
        // A reset after the response arrived (the server closed with our body unread) still
        // leaves a usable response.
        if raw.is_empty() || e.kind() != io::ErrorKind::ConnectionReset {
            return Err(e);
        }
    }
    parse_response(&raw)
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn parse_head(head: &[u8]) -> io::Result<(u16, Vec<(String, String)>)> {
    let head = std::str::from_utf8(head).map_err(|_| invalid("response head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line: {status_line:?}")))?;
    let headers = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok((status, headers))
}

fn is_chunked(headers: &[(String, String)]) -> bool {
    headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"))
}

/// Parses a complete response (read until the server closed).
pub fn parse_response(raw: &[u8]) -> io::Result<Response> {
    let end = find(raw, b"\r\n\r\n").ok_or_else(|| {
        invalid(format!(
            "no end of headers in {:?}",
            String::from_utf8_lossy(raw)
        ))
    })?;
    let (status, headers) = parse_head(&raw[..end])?;
    let rest = &raw[end + 4..];
    let body = if is_chunked(&headers) {
        let mut dec = Dechunker::default();
        dec.feed(rest)?;
        if !dec.done {
            return Err(invalid("chunked body ended early"));
        }
        dec.body
    } else if let Some((_, len)) = headers.iter().find(|(k, _)| k == "content-length") {
        let len: usize = len.parse().map_err(|_| invalid("bad content-length"))?;
        if rest.len() < len {
            return Err(invalid(format!(
                "body shorter than content-length ({} < {len})",
                rest.len()
            )));
        }
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Incremental decoder for `Transfer-Encoding: chunked`: feed it bytes as they arrive; it keeps
/// any incomplete chunk for the next feed, so a read timeout never loses data.
#[derive(Debug, Default)]
struct Dechunker {
    pending: Vec<u8>,
    body: Vec<u8>,
    done: bool,
}

impl Dechunker {
    fn feed(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.pending.extend_from_slice(bytes);
        while !self.done {
            let Some(eol) = find(&self.pending, b"\r\n") else {
                return Ok(());
            };
            let size_line = std::str::from_utf8(&self.pending[..eol])
                .map_err(|_| invalid("chunk size is not UTF-8"))?;
            let size_hex = size_line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|_| invalid(format!("bad chunk size {size_line:?}")))?;
            if size == 0 {
                self.done = true;
                self.pending.clear();
                return Ok(());
            }
            let start = eol + 2;
            if self.pending.len() < start + size + 2 {
                return Ok(());
            }
            self.body
                .extend_from_slice(&self.pending[start..start + size]);
            self.pending.drain(..start + size + 2);
        }
        Ok(())
    }
}

/// An open NDJSON stream (`GET /v1/stream`), read one line at a time.
#[derive(Debug)]
pub struct EventStream {
    stream: UnixStream,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    chunked: bool,
    dec: Dechunker,
    /// Decoded body bytes not yet returned as lines (for non-chunked bodies too).
    lines: Vec<u8>,
    eof: bool,
}

impl EventStream {
    /// Sends `GET path` and reads the response head.
    pub fn open(socket: &Path, path: &str) -> io::Result<EventStream> {
        let mut stream = UnixStream::connect(socket)?;
        stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
        write_request(&mut stream, "GET", path, &[], &[])?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        let end = loop {
            if let Some(end) = find(&raw, b"\r\n\r\n") {
                break end;
            }
            let n = stream.read(&mut buf)?;
            if n == 0 {
                return Err(invalid("stream closed before the response head"));
            }
            raw.extend_from_slice(&buf[..n]);
        };
        let (status, headers) = parse_head(&raw[..end])?;
        let chunked = is_chunked(&headers);
        let mut s = EventStream {
            stream,
            status,
            headers,
            chunked,
            dec: Dechunker::default(),
            lines: Vec::new(),
            eof: false,
        };
        s.accept(&raw[end + 4..])?;
        Ok(s)
    }

    fn accept(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.chunked {
            self.dec.feed(bytes)?;
            self.lines.append(&mut self.dec.body);
            if self.dec.done {
                self.eof = true;
            }
        } else {
            self.lines.extend_from_slice(bytes);
        }
        Ok(())
    }

    /// The next non-blank line, or None if none arrived before `timeout` or the stream ended.
    pub fn next_line(&mut self, timeout: Duration) -> io::Result<Option<String>> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 8192];
        loop {
            while let Some(nl) = self.lines.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.lines.drain(..=nl).collect();
                let line = String::from_utf8_lossy(&line).trim().to_owned();
                if !line.is_empty() {
                    return Ok(Some(line));
                }
            }
            if self.eof {
                return Ok(None);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            self.stream.set_read_timeout(Some(deadline - now))?;
            match self.stream.read(&mut buf) {
                Ok(0) => self.eof = true,
                Ok(n) => self.accept(&buf[..n])?,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The next event of the stream as JSON (keepalive blank lines skipped).
    pub fn next_event(&mut self, timeout: Duration) -> Option<serde_json::Value> {
        let line = self.next_line(timeout).expect("reading the event stream")?;
        Some(
            serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stream line is not JSON ({e}): {line}")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_length_and_chunked() {
        let r = parse_response(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (201, &b"{}"[..]));
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab\n\r\n2;x=y\r\ncd\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.body, b"ab\ncd");
        assert!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab")
                .is_err()
        );
    }

    #[test]
    fn dechunker_keeps_partial_chunks() {
        let mut d = Dechunker::default();
        d.feed(b"5\r\nhel").unwrap();
        assert!(d.body.is_empty());
        d.feed(b"lo\r\n0\r\n").unwrap();
        assert_eq!(d.body, b"hello");
        assert!(d.done);
    }
}
