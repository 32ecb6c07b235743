//! Bearer tokens, scopes and base access. Missing and unknown tokens both give 401
//! `AUTHENTICATION_REQUIRED`; a token that may not reach a base or lacks a scope gets the same
//! 403 `INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND` as an unknown base, as Airtable does.

use crate::errors::{ApiError, ApiResult};
use crate::model::{Snapshot, Token};
use axum::http::HeaderMap;

/// The token from `Authorization: Bearer …`.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Looks the token up.
pub fn authenticate(snap: &Snapshot, headers: &HeaderMap) -> ApiResult<Token> {
    let given = bearer(headers).ok_or_else(ApiError::authentication_required)?;
    snap.tokens
        .iter()
        .find(|t| t.token == given)
        .cloned()
        .ok_or_else(ApiError::authentication_required)
}

/// Checks scope and base access for one request.
pub fn authorize(
    snap: &Snapshot,
    token: &Token,
    scope: Option<&str>,
    base_id: Option<&str>,
    writes: bool,
) -> ApiResult<()> {
    if let Some(scope) = scope
        && !token.has_scope(scope)
    {
        return Err(ApiError::model_not_found());
    }
    if let Some(base_id) = base_id {
        let base = snap
            .bases
            .iter()
            .find(|b| b.id == base_id)
            .ok_or_else(ApiError::model_not_found)?;
        if !token.can_reach(base_id) || base.permission_level == "none" {
            return Err(ApiError::model_not_found());
        }
        if writes && matches!(base.permission_level.as_str(), "read" | "comment") {
            return Err(ApiError::invalid_permissions(
                "You are not permitted to perform this operation",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert("authorization", HeaderValue::from_static("Bearer abc"));
        assert_eq!(bearer(&h), Some("abc"));
        h.insert("authorization", HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
    }
}
