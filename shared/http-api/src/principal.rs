//! `Caller`: the authenticated principal, as a handler extracts it.

use std::ops::Deref;

use crate::ApiError;
use accounts::Principal;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The principal the authentication middleware put on the request. Only routes behind that
/// middleware can extract it; elsewhere the extraction answers 401.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl Deref for Caller {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::unauthenticated("Authentication required"))
    }
}
