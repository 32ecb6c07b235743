//! `Principal`: who is calling, once a bearer token has been checked.

use crate::scopes::{Scope, Scopes};

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A user's access token, tied to the login session that issued it.
    Session { session_id: String },
    /// An API key.
    ApiKey { key_id: String },
}

/// The authenticated caller: always exactly one tenant. Every handler reads the tenant from
/// here, never from the request, so no request can name another tenant's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant_id: String,
    /// The user behind the call: the session's user, or the user who created the API key.
    pub user_id: String,
    pub scopes: Scopes,
    pub credential: Credential,
}

impl Principal {
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(scope)
    }

    /// The session id when the caller used an access token.
    pub fn session_id(&self) -> Option<&str> {
        match &self.credential {
            Credential::Session { session_id } => Some(session_id),
            Credential::ApiKey { .. } => None,
        }
    }
}
