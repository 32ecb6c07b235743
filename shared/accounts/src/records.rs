//! The stored forms of accounts (see [`crate::layout`] for where each lives).

use serde::{Deserialize, Serialize};

use crate::scopes::{Role, Scopes};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantRecord {
    pub tenant_id: String,
    pub name: String,
    pub owner_user_id: String,
    pub created_at: String,
}

/// `Debug` leaves out the password hash.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct UserRecord {
    pub user_id: String,
    pub tenant_id: String,
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    pub role: Role,
    /// argon2id PHC string; never leaves the store.
    pub password_hash: String,
    pub created_at: String,
    pub updated_at: String,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("user_id", &self.user_id)
            .field("tenant_id", &self.tenant_id)
            .field("role", &self.role)
            .field("password_hash", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// The email index entry: which user an address belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailIndexRecord {
    pub tenant_id: String,
    pub user_id: String,
}

/// A login session: one chain (family) of refresh tokens. Access tokens name it in `sid`, and
/// every request checks it, so revoking it ends the access tokens too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub session_id: String,
    pub user_id: String,
    pub created_at: String,
    #[serde(default)]
    pub revoked: bool,
    /// TTL: a session unused for the refresh lifetime disappears.
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshTokenRecord {
    pub token_id: String,
    pub session_id: String,
    pub user_id: String,
    /// SHA-256 of the token.
    pub hash: String,
    /// Set when the token is exchanged; a second exchange is reuse.
    #[serde(default)]
    pub used: bool,
    pub expires_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub key_id: String,
    pub name: String,
    /// What listings show: `pak_` and the first characters of the id.
    pub prefix: String,
    pub scopes: Scopes,
    /// SHA-256 of the key.
    pub hash: String,
    pub created_by: String,
    pub created_at: String,
    #[serde(default)]
    pub last_used_at: Option<String>,
    /// When the key stops working, if ever (RFC 3339).
    #[serde(default)]
    pub key_expires_at: Option<String>,
}
