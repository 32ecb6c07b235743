//! Sign-in lockout: five failures for an email within 15 minutes lock it for 15 minutes.
//!
//! Counted per email whether or not an account exists, so the lock itself reveals nothing.
//! Each attempt is counted *before* the password is checked (an atomic add in the ephemeral
//! table, with a TTL) and forgiven on success. Counting first is what makes the limit hold under
//! concurrency: twenty guesses fired at once get five password checks and fifteen refusals,
//! instead of twenty checks that all passed a "not locked yet" read.

use basics::Clock;
use ports::{Table, TableStore, Update};
use serde_json::Value;

use crate::error::AccountError;
use crate::layout;

pub const MAX_FAILURES: i64 = 5;
pub const LOCK_SECONDS: i64 = 15 * 60;

pub struct Lockout<'a> {
    store: &'a dyn TableStore,
    clock: &'a dyn Clock,
}

/// An attempt that was admitted; it counts as a failure unless [`Lockout::succeeded`] says
/// otherwise.
#[must_use = "an attempt must end in `failed` or `succeeded`"]
pub struct Attempt {
    email: String,
    /// This attempt's number within the window.
    number: i64,
}

impl<'a> Lockout<'a> {
    pub fn new(store: &'a dyn TableStore, clock: &'a dyn Clock) -> Self {
        Self { store, clock }
    }

    fn locked(&self, until: i64) -> AccountError {
        let now = self.clock.epoch_seconds();
        AccountError::Locked {
            retry_after: u64::try_from(until - now).unwrap_or(1).max(1),
        }
    }

    /// Admits one attempt for the email, or refuses with `Locked`: while a lock holds, or when
    /// this attempt would be past the limit.
    pub async fn begin(&self, email: &str) -> Result<Attempt, AccountError> {
        let key = layout::login_failures(email);
        let now = self.clock.epoch_seconds();
        let current = self.store.get(Table::Ephemeral, &key).await?;
        let locked_until = current
            .as_ref()
            .and_then(|item| item.get("locked_until"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if locked_until > now {
            return Err(self.locked(locked_until));
        }
        let item = self
            .store
            .update(
                Table::Ephemeral,
                &key,
                Update::new()
                    .add("failures", 1)
                    .set_if_absent("expires_at", now + LOCK_SECONDS),
                None,
            )
            .await?;
        let number = item.get("failures").and_then(Value::as_i64).unwrap_or(0);
        if number > MAX_FAILURES {
            // Concurrent attempts past the limit: refuse, and make sure the lock is set.
            let until = self.lock(email).await?;
            return Err(self.locked(until));
        }
        Ok(Attempt {
            email: email.to_string(),
            number,
        })
    }

    /// The attempt failed: at the limit, the email is locked.
    pub async fn failed(&self, attempt: Attempt) -> Result<(), AccountError> {
        if attempt.number >= MAX_FAILURES {
            self.lock(&attempt.email).await?;
            tracing::warn!(
                failures = attempt.number,
                "sign-in locked for {} minutes after repeated failures",
                LOCK_SECONDS / 60
            );
        }
        Ok(())
    }

    /// The attempt succeeded: the email's failures are forgotten.
    pub async fn succeeded(&self, attempt: Attempt) -> Result<(), AccountError> {
        self.clear(&attempt.email).await
    }

    /// Forgets an email's failures.
    pub async fn clear(&self, email: &str) -> Result<(), AccountError> {
        self.store
            .delete(Table::Ephemeral, &layout::login_failures(email), None)
            .await?;
        Ok(())
    }

    /// Locks the email from now (keeping a lock that already runs longer); returns until when.
    async fn lock(&self, email: &str) -> Result<i64, AccountError> {
        let until = self.clock.epoch_seconds() + LOCK_SECONDS;
        let item = self
            .store
            .update(
                Table::Ephemeral,
                &layout::login_failures(email),
                Update::new()
                    .set_if_absent("locked_until", until)
                    .set("expires_at", until),
                None,
            )
            .await?;
        Ok(item
            .get("locked_until")
            .and_then(Value::as_i64)
            .unwrap_or(until))
    }
}
