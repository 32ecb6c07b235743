//! Turning a bearer token into a [`Principal`]: an API key (`pak_…`) or an access token (JWT).

use chrono::{DateTime, Utc};
use ports::{Condition, Table, Update};
use secrecy::SecretString;

use crate::error::AccountError;
use crate::layout;
use crate::opaque_token::{OpaqueToken, TokenKind};
use crate::principal::{Credential, Principal};
use crate::records::ApiKeyRecord;
use crate::service::Accounts;

/// `last_used_at` is written at most this often per key, so a busy key does not turn every read
/// into a write.
const LAST_USED_RESOLUTION_SECONDS: i64 = 60;

impl Accounts {
    /// Checks a bearer token. Every failure is `Unauthenticated` with a reason safe to show.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal, AccountError> {
        if bearer.starts_with(TokenKind::ApiKey.prefix()) {
            self.authenticate_api_key(bearer).await
        } else {
            self.authenticate_access_token(bearer).await
        }
    }

    async fn authenticate_access_token(&self, token: &str) -> Result<Principal, AccountError> {
        let claims = self
            .tokens
            .verify(self.secrets.as_ref(), self.clock.as_ref(), token)
            .await?;
        if self
            .active_session(&claims.tid, &claims.sub, &claims.sid)
            .await?
            .is_none()
        {
            return Err(AccountError::Unauthenticated(
                "The session has ended; sign in again".into(),
            ));
        }
        Ok(Principal {
            scopes: claims.role.scopes(),
            tenant_id: claims.tid,
            user_id: claims.sub,
            credential: Credential::Session {
                session_id: claims.sid,
            },
        })
    }

    async fn authenticate_api_key(&self, key: &str) -> Result<Principal, AccountError> {
        let invalid = || AccountError::Unauthenticated("The API key is not valid".into());
        let presented = SecretString::from(key.to_string());
        let parsed = OpaqueToken::parse(TokenKind::ApiKey, &presented).ok_or_else(invalid)?;
        let record: ApiKeyRecord = self
            .get_typed(&layout::api_key(&parsed.tenant_id, &parsed.id))
            .await?
            .ok_or_else(invalid)?;
        if !basics::digest::constant_time_eq(&record.hash, &parsed.hash) {
            return Err(invalid());
        }
        let now = self.clock.now();
        if let Some(expiry) = record.key_expires_at.as_deref()
            && DateTime::parse_from_rfc3339(expiry).map_or(true, |at| at.with_timezone(&Utc) <= now)
        {
            return Err(AccountError::Unauthenticated(
                "The API key has expired".into(),
            ));
        }
        self.touch_api_key(&parsed, &record, now).await;
        Ok(Principal {
            tenant_id: parsed.tenant_id,
            user_id: record.created_by,
            scopes: record.scopes,
            credential: Credential::ApiKey { key_id: parsed.id },
        })
    }

    /// Records when a key was last used, at minute resolution; a failure here never fails the
    /// request it belongs to.
    async fn touch_api_key(&self, parsed: &OpaqueToken, record: &ApiKeyRecord, now: DateTime<Utc>) {
        let fresh = record
            .last_used_at
            .as_deref()
            .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
            .is_some_and(|at| {
                (now - at.with_timezone(&Utc)).num_seconds() < LAST_USED_RESOLUTION_SECONDS
            });
        if fresh {
            return;
        }
        let result = self
            .store
            .update(
                Table::Core,
                &layout::api_key(&parsed.tenant_id, &parsed.id),
                Update::new().set(
                    "last_used_at",
                    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ),
                Some(Condition::Exists),
            )
            .await;
        if let Err(err) = result
            && !err.is_condition_failure()
        {
            tracing::warn!(error = %err, "could not record an API key's last use");
        }
    }
}
