//! What can go wrong with accounts, and how each case answers over HTTP.

use ports::{SecretError, StoreError};

use crate::jwt::TokenError;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Bad input; the message says which field and why.
    #[error("{0}")]
    Invalid(String),
    #[error("An account with this email already exists")]
    EmailTaken,
    /// Wrong email or password: one answer for both, so it does not reveal which.
    #[error("The email or password is incorrect")]
    BadCredentials,
    #[error("Too many failed sign-ins; try again in {retry_after} seconds")]
    Locked { retry_after: u64 },
    /// The bearer token or refresh token is missing, invalid, expired or revoked.
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secrets(#[from] SecretError),
    #[error("{0}")]
    Internal(String),
}

impl From<TokenError> for AccountError {
    fn from(err: TokenError) -> Self {
        match err {
            TokenError::Invalid(reason) => AccountError::Unauthenticated(reason.to_string()),
            TokenError::Secrets(err) => AccountError::Secrets(err),
            TokenError::Keys(detail) => AccountError::Internal(detail),
        }
    }
}
