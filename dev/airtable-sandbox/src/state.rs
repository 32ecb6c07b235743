//! The sandbox's shared state: data behind one mutex (critical sections never await), plus the
//! rate limiter, fault plans, counters and settings that the admin API can change at runtime.

use crate::faults::{Counters, Faults};
use crate::model::Snapshot;
use crate::rate_limit::{RateLimiter, RateLimits};
use crate::records::list::ListIterator;
use crate::webhooks::Webhook;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How long an unused list offset stays valid by default.
pub const DEFAULT_OFFSET_TTL: Duration = Duration::from_secs(300);

/// Locks a mutex, recovering from poisoning: one panicked request must not wedge the sandbox.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Mutable data: the bases and tokens, open list iterators, webhooks and transaction numbers.
#[derive(Debug)]
pub struct Data {
    pub snap: Snapshot,
    pub iterators: HashMap<String, ListIterator>,
    pub webhooks: Vec<Webhook>,
    pub transactions: HashMap<String, u64>,
}

impl Data {
    pub fn new(snap: Snapshot) -> Self {
        Self {
            snap,
            iterators: HashMap::new(),
            webhooks: Vec::new(),
            transactions: HashMap::new(),
        }
    }

    /// The next base transaction number (webhook payloads carry it).
    pub fn next_transaction(&mut self, base_id: &str) -> u64 {
        let n = self.transactions.entry(base_id.to_string()).or_insert(0);
        *n += 1;
        *n
    }
}

#[derive(Debug)]
pub struct Shared {
    pub data: Mutex<Data>,
    /// What `reset` restores.
    pub seed: Snapshot,
    pub limiter: Mutex<RateLimiter>,
    pub limits: Mutex<RateLimits>,
    pub faults: Faults,
    pub counters: Counters,
    pub offset_ttl: Mutex<Duration>,
    pub persist: Option<PathBuf>,
    pub http: reqwest::Client,
    /// Serialises file writes so two requests never interleave a persistence file.
    pub persist_lock: Mutex<()>,
}

impl Shared {
    pub fn new(
        seed: Snapshot,
        initial: Snapshot,
        limits: RateLimits,
        offset_ttl: Duration,
        persist: Option<PathBuf>,
    ) -> Self {
        Self {
            data: Mutex::new(Data::new(initial)),
            seed,
            limiter: Mutex::new(RateLimiter::default()),
            limits: Mutex::new(limits),
            faults: Faults::default(),
            counters: Counters::default(),
            offset_ttl: Mutex::new(offset_ttl),
            persist,
            http: reqwest::Client::new(),
            persist_lock: Mutex::new(()),
        }
    }

    /// Back to the seed: data, iterators, webhooks, limiter, faults and counters.
    pub fn reset(&self) {
        *lock(&self.data) = Data::new(self.seed.clone());
        lock(&self.limiter).clear();
        self.faults.clear();
        self.counters.clear();
        self.save();
    }

    /// Writes the data to the persistence file, if there is one. Failures are logged, not fatal:
    /// the in-memory sandbox keeps serving.
    pub fn save(&self) {
        let Some(path) = &self.persist else { return };
        let text = {
            let data = lock(&self.data);
            serde_json::to_string_pretty(&data.snap)
        };
        let text = match text {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "could not serialise the sandbox state");
                return;
            }
        };
        let _guard = lock(&self.persist_lock);
        let tmp = path.with_extension("tmp");
        if let Err(e) = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path)) {
            tracing::warn!(error = %e, path = %path.display(), "could not persist the sandbox state");
        }
    }
}
