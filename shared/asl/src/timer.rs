//! Time for Wait states, retry delays and task timeouts behind a trait, so tests run a
//! two-hour Wait in no time and can read what was slept.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use basics::Clock;
use chrono::{DateTime, Utc};

#[async_trait]
pub trait Timer: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
    async fn sleep(&self, duration: Duration);
}

/// The wall clock and tokio's timer.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioTimer;

#[async_trait]
impl Timer for TokioTimer {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// A timer for tests: sleeping moves a [`basics::ManualClock`] forward at once and is logged.
#[derive(Debug, Clone)]
pub struct ManualTimer {
    pub clock: basics::ManualClock,
    slept: Arc<Mutex<Vec<Duration>>>,
}

impl ManualTimer {
    pub fn at(start: DateTime<Utc>) -> Self {
        Self {
            clock: basics::ManualClock::at(start),
            slept: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Every sleep so far, in order.
    pub fn slept(&self) -> Vec<Duration> {
        self.slept.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl Timer for ManualTimer {
    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    async fn sleep(&self, duration: Duration) {
        self.slept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(duration);
        // A sleep past the end of time (a runaway backoff) stops at the end of time.
        let later = chrono::Duration::from_std(duration)
            .ok()
            .and_then(|by| self.clock.now().checked_add_signed(by))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        self.clock.set(later);
    }
}
