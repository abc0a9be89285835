//! Whether the store can write: the writer sets it, the API reports it (`status`, `/metrics`)
//! and refuses writes at once while it is failing instead of queueing them.

use super::StoreError;
use crate::metrics::Metrics;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

#[derive(Debug)]
pub struct Health {
    failing: AtomicBool,
    /// The last error (shared with the writes it refused), and the failure as shown.
    detail: Mutex<Option<(Arc<StoreError>, Failure)>>,
    metrics: Arc<Metrics>,
}

/// Why the store is failing, since when, and how often it has tried to recover.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub error: String,
    pub since_ms: u64,
    pub retries: u64,
}

/// The store's state as `status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct HealthView {
    /// `ok` or `failing`.
    pub state: &'static str,
    #[serde(flatten)]
    pub failure: Option<Failure>,
}

impl Health {
    pub fn new(metrics: Arc<Metrics>) -> Health {
        Health {
            failing: AtomicBool::new(false),
            detail: Mutex::new(None),
            metrics,
        }
    }

    pub fn is_failing(&self) -> bool {
        self.failing.load(Relaxed)
    }

    /// The last error, if failing.
    pub fn error(&self) -> Option<Arc<StoreError>> {
        let detail = self.detail.lock().ok()?;
        detail.as_ref().map(|(e, _)| e.clone())
    }

    pub fn view(&self) -> HealthView {
        let failure = self
            .detail
            .lock()
            .ok()
            .and_then(|d| d.as_ref().map(|(_, f)| f.clone()));
        HealthView {
            state: if failure.is_some() { "failing" } else { "ok" },
            failure,
        }
    }

    /// A write failed (or a recovery attempt did): `retries` attempts so far.
    pub(crate) fn set_failing(&self, error: Arc<StoreError>, retries: u64) {
        if let Ok(mut d) = self.detail.lock() {
            let since_ms = d.as_ref().map_or_else(crate::now_ms, |(_, f)| f.since_ms);
            let failure = Failure {
                error: error.to_string(),
                since_ms,
                retries,
            };
            *d = Some((error, failure));
        }
        self.failing.store(true, Relaxed);
        self.metrics.store_failing.store(1, Relaxed);
    }

    pub(crate) fn set_ok(&self) {
        if let Ok(mut d) = self.detail.lock() {
            *d = None;
        }
        self.failing.store(false, Relaxed);
        self.metrics.store_failing.store(0, Relaxed);
    }
}
