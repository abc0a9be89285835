//! Headless Chromium for the web view's tests: `--dump-dom` and `--screenshot` for a page as
//! it stands once loaded, and a DevTools-protocol session (over `--remote-debugging-pipe`, two
//! FIFOs, so no WebSocket client is needed) to watch a page live and evaluate JavaScript in it.
//! A missing `/usr/bin/chromium` fails the test with how to install it; it never skips.

use crate::Background;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Flags every run needs in a container, and nothing that reaches the Internet.
fn base_args(profile: &Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--hide-scrollbars",
        "--mute-audio",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

/// Panics, with the command that fixes it, when Chromium is not installed.
pub fn require_chromium() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: the web view's browser test needs Debian's chromium package \
         (apt-get install -y chromium; .ci/run installs it)"
    );
}

/// Runs Chromium once on `url` with `extra` flags and returns its stdout.
fn run_once(dir: &Path, url: &str, extra: &[String]) -> String {
    require_chromium();
    let profile = tempfile::tempdir_in(dir).expect("chromium profile dir");
    let out = Command::new(CHROMIUM)
        .args(base_args(profile.path()))
        .args(extra)
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("running {CHROMIUM}: {e}"));
    assert!(
        out.status.success(),
        "chromium on {url} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The page's DOM once it has loaded and its scripts have run for `budget` of virtual time.
pub fn dump_dom(dir: &Path, url: &str, budget: Duration) -> String {
    run_once(
        dir,
        url,
        &[
            format!("--virtual-time-budget={}", budget.as_millis()),
            "--dump-dom".into(),
        ],
    )
}

/// A PNG of the page at `width`×`height` after `budget` of virtual time, written to `out`.
pub fn screenshot(dir: &Path, url: &str, budget: Duration, out: &Path, size: (u32, u32)) {
    let _ = std::fs::remove_file(out);
    run_once(
        dir,
        url,
        &[
            format!("--virtual-time-budget={}", budget.as_millis()),
            format!("--window-size={},{}", size.0, size.1),
            format!("--screenshot={}", out.display()),
        ],
    );
    let png =
        std::fs::read(out).unwrap_or_else(|e| panic!("no screenshot at {}: {e}", out.display()));
    assert!(
        png.starts_with(b"\x89PNG"),
        "{} is not a PNG",
        out.display()
    );
}

/// One live page in a headless Chromium driven over the DevTools protocol.
pub struct Page {
    // Declared first so the browser dies before its pipes close.
    browser: Background,
    to: std::fs::File,
    from: mpsc::Receiver<Value>,
    session: String,
    next_id: u64,
    _dir: tempfile::TempDir,
}

impl Page {
    /// Starts Chromium and opens `url` in a new tab.
    pub fn open(dir: &Path, url: &str) -> Page {
        require_chromium();
        let tmp = tempfile::tempdir_in(dir).expect("chromium dir");
        let fifo_in = tmp.path().join("cdp.in");
        let fifo_out = tmp.path().join("cdp.out");
        for f in [&fifo_in, &fifo_out] {
            let ok = Command::new("mkfifo")
                .arg(f)
                .status()
                .expect("running mkfifo");
            assert!(ok.success(), "mkfifo {} failed", f.display());
        }
        let args: Vec<String> = base_args(&tmp.path().join("profile"))
            .into_iter()
            .chain(["--remote-debugging-pipe".into(), "about:blank".into()])
            .collect();
        let script = format!(
            "exec {CHROMIUM} {} 3<{} 4>{}",
            args.iter()
                .map(|a| format!("'{a}'"))
                .collect::<Vec<_>>()
                .join(" "),
            fifo_in.display(),
            fifo_out.display()
        );
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &script]);
        let browser = Background::spawn(cmd, &tmp.path().join("chromium.log"), "chromium");
        // The shell opens cdp.in, then cdp.out: open them in the same order.
        let to = std::fs::OpenOptions::new()
            .write(true)
            .open(&fifo_in)
            .expect("opening cdp.in");
        let from_file = std::fs::File::open(&fifo_out).expect("opening cdp.out");
        let (tx, from) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(from_file);
            let mut buf = Vec::new();
            while let Ok(n) = r.read_until(0, &mut buf) {
                if n == 0 {
                    return;
                }
                buf.pop_if(|b| *b == 0);
                if let Ok(v) = serde_json::from_slice::<Value>(&buf)
                    && tx.send(v).is_err()
                {
                    return;
                }
                buf.clear();
            }
        });
        let mut page = Page {
            browser,
            to,
            from,
            session: String::new(),
            next_id: 0,
            _dir: tmp,
        };
        let target = page.call("Target.createTarget", json!({"url": url}));
        let target = cdp_str(&target, "/targetId");
        let attached = page.call(
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        );
        page.session = cdp_str(&attached, "/sessionId");
        page
    }

    /// Sends one command (to the page once attached) and waits for its answer.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.try_call(method, params)
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// [`Page::call`], with the protocol's error answer as `Err`.
    fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let msg = if self.session.is_empty() {
            json!({"id": id, "method": method, "params": params})
        } else {
            json!({"id": id, "method": method, "params": params, "sessionId": self.session})
        };
        let mut bytes = serde_json::to_vec(&msg).expect("json");
        bytes.push(0);
        self.to.write_all(&bytes).expect("writing to chromium");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self.from.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "chromium did not answer {method} within 60 s; log:\n{}",
                    self.browser.log()
                )
            });
            if v.get("id").and_then(Value::as_u64) == Some(id) {
                return match v.get("error") {
                    Some(e) => Err(e.clone()),
                    None => Ok(v.get("result").cloned().unwrap_or_default()),
                };
            }
        }
    }

    /// Evaluates `expr` in the page and returns its value (JSON-serialisable values only).
    pub fn eval(&mut self, expr: &str) -> Value {
        self.try_eval(expr)
            .unwrap_or_else(|e| panic!("evaluating {expr}: {e}"))
    }

    /// [`Page::eval`], with a thrown exception or a context lost to navigation as `Err`.
    fn try_eval(&mut self, expr: &str) -> Result<Value, Value> {
        let r = self.try_call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        )?;
        match r.get("exceptionDetails") {
            Some(e) => Err(e.clone()),
            None => Ok(r.pointer("/result/value").cloned().unwrap_or_default()),
        }
    }

    /// Waits until `expr` is true in the page (an exception, e.g. while the page is still
    /// loading, counts as not yet); panics naming `what` at the deadline.
    pub fn wait_for(&mut self, expr: &str, timeout: Duration, what: &str) {
        let deadline = Instant::now() + timeout;
        while self.try_eval(expr) != Ok(Value::Bool(true)) {
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what} in the page; body:\n{:?}",
                self.try_eval("document.body ? document.body.innerText : ''")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("pid", &self.browser.pid())
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        self.browser.kill9();
    }
}

/// Where a test's browser artifacts go: `target/web-artifacts/`, kept after the run.
pub fn artifact_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("web-artifacts");
    std::fs::create_dir_all(&dir).expect("creating target/web-artifacts");
    dir
}

/// A string field of a DevTools protocol answer (not the node's API), which must be there.
fn cdp_str(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("chromium's answer has no {pointer}: {v}"))
        .to_owned()
}
