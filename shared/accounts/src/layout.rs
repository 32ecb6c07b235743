//! Where accounts live in the table store. Every item is under its tenant's partition
//! (`TENANT#<id>`), so no query can cross tenants by construction. The only exceptions are the
//! two lookups that run before the tenant is known: the email index used at login, and the
//! login-failure counter; neither holds tenant data.

use ports::Key;

pub fn tenant_pk(tenant_id: &str) -> String {
    format!("TENANT#{tenant_id}")
}

/// The tenant's own record.
pub fn tenant(tenant_id: &str) -> Key {
    Key::new(tenant_pk(tenant_id), "TENANT")
}

pub fn user(tenant_id: &str, user_id: &str) -> Key {
    Key::new(tenant_pk(tenant_id), format!("USER#{user_id}"))
}

/// Email -> (tenant, user); its conditional creation is what makes emails unique.
pub fn email_index(email: &str) -> Key {
    Key::new(format!("EMAIL#{email}"), "EMAIL")
}

/// Prefix of a user's sessions, so that "revoke the others" is one query.
pub fn sessions_prefix(user_id: &str) -> String {
    format!("SESSION#{user_id}#")
}

pub fn session(tenant_id: &str, user_id: &str, session_id: &str) -> Key {
    Key::new(
        tenant_pk(tenant_id),
        format!("{}{session_id}", sessions_prefix(user_id)),
    )
}

pub fn refresh_token(tenant_id: &str, token_id: &str) -> Key {
    Key::new(tenant_pk(tenant_id), format!("REFRESH#{token_id}"))
}

pub const API_KEY_PREFIX: &str = "APIKEY#";

pub fn api_key(tenant_id: &str, key_id: &str) -> Key {
    Key::new(tenant_pk(tenant_id), format!("{API_KEY_PREFIX}{key_id}"))
}

/// How many keys the tenant holds: the counter that makes [`crate::api_keys::MAX_KEYS_PER_TENANT`]
/// hold under concurrency (it moves in the same transaction as each key's creation or deletion).
pub fn api_key_count(tenant_id: &str) -> Key {
    Key::new(tenant_pk(tenant_id), "COUNT#APIKEYS")
}

/// Login failures per email (by hash: the ephemeral table needs no addresses in its keys).
pub fn login_failures(email: &str) -> Key {
    Key::new(
        format!("LOGIN#{}", basics::digest::sha256_hex(email)),
        "FAILURES",
    )
}
