//! Sign-in lockout: five failures for an email within 15 minutes lock it for 15 minutes.
//!
//! Counted per email whether or not an account exists, so the lock itself reveals nothing.
//! The counter lives in the ephemeral table with a TTL, and is an atomic add, so concurrent
//! guesses cannot slip past the limit.

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

impl<'a> Lockout<'a> {
    pub fn new(store: &'a dyn TableStore, clock: &'a dyn Clock) -> Self {
        Self { store, clock }
    }

    /// Refuses with `Locked` while the email is locked.
    pub async fn check(&self, email: &str) -> Result<(), AccountError> {
        let item = self
            .store
            .get(Table::Ephemeral, &layout::login_failures(email))
            .await?;
        let locked_until = item
            .as_ref()
            .and_then(|item| item.get("locked_until"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let now = self.clock.epoch_seconds();
        if locked_until > now {
            return Err(AccountError::Locked {
                retry_after: u64::try_from(locked_until - now).unwrap_or(1),
            });
        }
        Ok(())
    }

    /// Counts one failure, and locks the email when it reaches the limit.
    pub async fn record_failure(&self, email: &str) -> Result<(), AccountError> {
        let key = layout::login_failures(email);
        let now = self.clock.epoch_seconds();
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
        let failures = item.get("failures").and_then(Value::as_i64).unwrap_or(0);
        if failures >= MAX_FAILURES {
            self.store
                .update(
                    Table::Ephemeral,
                    &key,
                    Update::new()
                        .set("locked_until", now + LOCK_SECONDS)
                        .set("expires_at", now + LOCK_SECONDS),
                    None,
                )
                .await?;
            tracing::warn!(
                failures,
                "sign-in locked for {} minutes after repeated failures",
                LOCK_SECONDS / 60
            );
        }
        Ok(())
    }

    /// Forgets the failures after a successful sign-in.
    pub async fn clear(&self, email: &str) -> Result<(), AccountError> {
        self.store
            .delete(Table::Ephemeral, &layout::login_failures(email), None)
            .await?;
        Ok(())
    }
}
