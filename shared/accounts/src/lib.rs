//! Accounts: tenants, users, sessions and API keys, and the one place where a bearer token
//! becomes a [`Principal`].
//!
//! - Passwords: argon2id ([`password`] documents the parameters).
//! - Access tokens: Ed25519 JWTs for 15 minutes, tied to a session ([`jwt`]).
//! - Refresh tokens: opaque, rotating, single-use; reuse revokes the session ([`service`]).
//! - API keys: opaque, scoped, stored as hashes ([`api_keys`], [`opaque_token`]).
//! - Store layout: every item under `TENANT#<id>` ([`layout`]).

pub mod api_keys;
mod authenticate;
pub mod email;
pub mod error;
pub mod jwt;
pub mod layout;
pub mod lockout;
pub mod opaque_token;
pub mod password;
pub mod principal;
pub mod records;
pub mod scopes;
pub mod service;

pub use api_keys::{ApiKeyView, CreatedApiKey, MAX_KEYS_PER_TENANT, NewApiKey};
pub use error::AccountError;
pub use jwt::{TokenService, TokenSettings};
pub use principal::{Credential, Principal};
pub use scopes::{Role, Scope, Scopes};
pub use service::{Accounts, ProfileChange, SignedIn, TenantView, TokenPair, UserView};
