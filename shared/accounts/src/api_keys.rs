//! API keys: created with a name, scopes and an optional expiry; shown once; stored as a hash;
//! revoked by deleting, which takes effect on the next request.

use chrono::{DateTime, Datelike, Utc};
use ports::{Condition, Query, StoreError, Table, TransactOp, Update, from_item, to_item};
use secrecy::SecretString;
use serde::Serialize;

use crate::error::AccountError;
use crate::layout;
use crate::opaque_token::{OpaqueToken, TokenKind, display_prefix};
use crate::principal::Principal;
use crate::records::ApiKeyRecord;
use crate::scopes::Scopes;
use crate::service::{Accounts, MAX_NAME_CHARS};

/// A tenant holds at most this many keys: listing stays one page, and a leaked admin token
/// cannot mint keys without bound.
pub const MAX_KEYS_PER_TENANT: usize = 100;

/// The attribute of the tenant's key counter ([`layout::api_key_count`]).
const KEY_COUNT: &str = "count";

/// What listings show of a key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub scopes: Scopes,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
}

/// A key just created: the view plus the key itself, which is never shown again.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub view: ApiKeyView,
    #[serde(serialize_with = "crate::service::expose")]
    pub key: SecretString,
}

impl ApiKeyView {
    pub(crate) fn of(record: &ApiKeyRecord) -> Self {
        Self {
            id: record.key_id.clone(),
            name: record.name.clone(),
            prefix: record.prefix.clone(),
            scopes: record.scopes.clone(),
            created_at: record.created_at.clone(),
            last_used_at: record.last_used_at.clone(),
            expires_at: record.key_expires_at.clone(),
        }
    }
}

/// The request to create a key, as parsed input.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<String>,
}

impl Accounts {
    pub async fn create_api_key(
        &self,
        principal: &Principal,
        request: NewApiKey,
    ) -> Result<CreatedApiKey, AccountError> {
        if principal.session_id().is_none() {
            // A key minting keys would outlive its own expiry and revocation.
            return Err(AccountError::Forbidden(
                "API keys are created by a signed-in user, not by another API key".into(),
            ));
        }
        let name = request.name.trim().to_string();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(AccountError::Invalid(format!(
                "name is required, at most {MAX_NAME_CHARS} characters"
            )));
        }
        let scopes = Scopes::parse(&request.scopes).map_err(AccountError::Invalid)?;
        if !scopes.is_subset_of(&principal.scopes) {
            return Err(AccountError::Forbidden(
                "A key cannot have scopes its creator does not have".into(),
            ));
        }
        let expires_at = match request.expires_at.as_deref() {
            None => None,
            Some(raw) => {
                let when = DateTime::parse_from_rfc3339(raw).map_err(|_| {
                    AccountError::Invalid(format!(
                        "expires_at must be an RFC 3339 time such as 2027-01-31T00:00:00Z, not {raw:?}"
                    ))
                })?;
                let when = when.with_timezone(&Utc);
                if when <= self.clock.now() {
                    return Err(AccountError::Invalid(
                        "expires_at must be in the future".into(),
                    ));
                }
                if when.year() > 9999 {
                    return Err(AccountError::Invalid(
                        "expires_at must be before the year 10000".into(),
                    ));
                }
                Some(when.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            }
        };
        let (key, parsed) =
            OpaqueToken::issue(TokenKind::ApiKey, &principal.tenant_id, self.ids.as_ref());
        let record = ApiKeyRecord {
            key_id: parsed.id.clone(),
            name,
            prefix: display_prefix(TokenKind::ApiKey, &parsed.id),
            scopes,
            hash: parsed.hash,
            created_by: principal.user_id.clone(),
            created_at: self.now_rfc3339(),
            last_used_at: None,
            key_expires_at: expires_at,
        };
        let put = TransactOp::Put {
            table: Table::Core,
            item: to_item(&layout::api_key(&principal.tenant_id, &parsed.id), &record)?,
            condition: Some(Condition::NotExists),
        };
        match self.counted_key_write(&principal.tenant_id, put, 1).await {
            Ok(()) => {}
            Err(err) if err.is_condition_failure() => {
                return Err(AccountError::Invalid(format!(
                    "A tenant can hold at most {MAX_KEYS_PER_TENANT} keys; delete unused ones first"
                )));
            }
            Err(err) => return Err(err.into()),
        }
        tracing::info!(
            tenant_id = principal.tenant_id,
            key_id = record.key_id,
            "created an API key"
        );
        Ok(CreatedApiKey {
            view: ApiKeyView::of(&record),
            key,
        })
    }

    /// The tenant's keys, oldest first.
    pub async fn list_api_keys(
        &self,
        principal: &Principal,
    ) -> Result<Vec<ApiKeyView>, AccountError> {
        let mut views: Vec<ApiKeyView> = self
            .api_key_records(&principal.tenant_id)
            .await?
            .iter()
            .map(ApiKeyView::of)
            .collect();
        views.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(views)
    }

    async fn api_key_records(&self, tenant_id: &str) -> Result<Vec<ApiKeyRecord>, AccountError> {
        let mut records = Vec::new();
        let mut cursor = None;
        loop {
            let page = self
                .store
                .query(
                    Table::Core,
                    Query::partition(layout::tenant_pk(tenant_id))
                        .begins_with(layout::API_KEY_PREFIX)
                        .after(cursor),
                )
                .await?;
            for item in page.items {
                records.push(from_item::<ApiKeyRecord>(item)?);
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(records),
            }
        }
    }

    /// Writes a key's creation (`by = 1`) or deletion (`by = -1`) in one transaction with the
    /// tenant's key counter, so the cap holds however many requests race: a creation goes
    /// through only while the counter is below [`MAX_KEYS_PER_TENANT`], and a counter cannot
    /// drift from the keys because both change together or not at all. A condition failure
    /// means the cap was reached (creation) or the key is gone (deletion).
    async fn counted_key_write(
        &self,
        tenant_id: &str,
        op: TransactOp,
        by: i64,
    ) -> Result<(), StoreError> {
        self.ensure_key_counter(tenant_id).await?;
        let condition = if by > 0 {
            Condition::number_below(KEY_COUNT, MAX_KEYS_PER_TENANT as i64)
        } else {
            Condition::Exists
        };
        self.store
            .transact_write(vec![
                op,
                TransactOp::Update {
                    table: Table::Core,
                    key: layout::api_key_count(tenant_id),
                    update: Update::new().add(KEY_COUNT, by),
                    condition: Some(condition),
                },
            ])
            .await
    }

    /// Creates the tenant's key counter from its keys when it does not exist yet (a new tenant,
    /// or one whose keys predate the counter). The count is exact: every creation and deletion
    /// needs the counter, so none can happen between the listing and the conditional put, and
    /// of concurrent initialisations only the first put lands.
    async fn ensure_key_counter(&self, tenant_id: &str) -> Result<(), StoreError> {
        let key = layout::api_key_count(tenant_id);
        if self.store.get(Table::Core, &key).await?.is_some() {
            return Ok(());
        }
        let existing = match self.api_key_records(tenant_id).await {
            Ok(records) => records.len(),
            Err(AccountError::Store(err)) => return Err(err),
            Err(err) => return Err(StoreError::InvalidItem(err.to_string())),
        };
        let item = to_item(&key, &serde_json::json!({ KEY_COUNT: existing }))?;
        match self
            .store
            .put(Table::Core, item, Some(Condition::NotExists))
            .await
        {
            Err(err) if !err.is_condition_failure() => Err(err),
            _ => Ok(()),
        }
    }

    /// Deletes one of the tenant's keys; another tenant's key id is simply not found.
    pub async fn revoke_api_key(
        &self,
        principal: &Principal,
        key_id: &str,
    ) -> Result<(), AccountError> {
        let shown: String = key_id.chars().take(64).collect();
        let not_found = || AccountError::NotFound(format!("No API key {shown:?}"));
        let well_formed = key_id.strip_prefix("key_").is_some_and(|rest| {
            !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        });
        if !well_formed {
            return Err(not_found());
        }
        let delete = TransactOp::Delete {
            table: Table::Core,
            key: layout::api_key(&principal.tenant_id, key_id),
            condition: Some(Condition::Exists),
        };
        let result = self
            .counted_key_write(&principal.tenant_id, delete, -1)
            .await;
        match result {
            Ok(_) => {
                tracing::info!(
                    tenant_id = principal.tenant_id,
                    key_id,
                    "revoked an API key"
                );
                Ok(())
            }
            Err(err) if err.is_condition_failure() => Err(not_found()),
            Err(err) => Err(err.into()),
        }
    }
}
