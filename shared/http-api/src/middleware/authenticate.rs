//! The one authentication middleware: `Authorization: Bearer <access token | API key>` becomes
//! a [`Caller`] in the request's extensions, after the tenant's rate limit and usage metering.
//!
//! Missing or invalid credentials get 401 with `WWW-Authenticate: Bearer`; a tenant over its
//! per-minute limit gets 429 with `Retry-After`. Every authenticated request counts towards the
//! tenant's usage: under its route group when admitted, under `throttled` when refused.

use crate::ApiError;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metering::UsageTally;

use crate::{AppState, Caller};

/// Where requests refused by the tenant limit are counted, instead of their route group.
pub const THROTTLED_GROUP: &str = "throttled";

/// The usage group a function's requests count under: `api-records` -> `records`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteGroup(pub &'static str);

impl RouteGroup {
    pub fn of_function(function: &'static str) -> Self {
        Self(function.strip_prefix("api-").unwrap_or(function))
    }
}

/// The bearer token of a request, or the 401 that explains what is missing.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Err(ApiError::unauthenticated(
            "Authentication required: send Authorization: Bearer <access token or API key>",
        ));
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthenticated("The Authorization header is not valid text"))?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::unauthenticated(
            "Use the Bearer scheme: Authorization: Bearer <access token or API key>",
        ));
    }
    Ok(token)
}

pub async fn authenticate(
    State((state, group)): State<(AppState, RouteGroup)>,
    mut request: Request,
    next: Next,
) -> Response {
    let principal = {
        let token = match bearer_token(request.headers()) {
            Ok(token) => token,
            Err(err) => return err.into_response(),
        };
        match state.accounts().authenticate(token).await {
            Ok(principal) => principal,
            Err(err) => return ApiError::from(err).into_response(),
        }
    };
    tracing::Span::current().record("tenant_id", principal.tenant_id.as_str());
    let tenant_id = principal.tenant_id.clone();
    // The limit first: a refused request is counted as throttled, not as use of the group.
    let admitted = state.tenant_rate_limit().admit(&tenant_id).await;
    let refusal = match admitted {
        Ok(Ok(())) => None,
        Ok(Err(limited)) => Some(Ok(limited)),
        Err(err) => Some(Err(err)),
    };
    let Some(refusal) = refusal else {
        // Admitted: the request and what the handler used are counted in one write at the end.
        let tally = UsageTally::new();
        request.extensions_mut().insert(tally.clone());
        request.extensions_mut().insert(Caller(principal));
        let response = next.run(request).await;
        record(&state, &tenant_id, group.0, &tally.take()).await;
        return response;
    };
    record(&state, &tenant_id, THROTTLED_GROUP, &[]).await;
    match refusal {
        Ok(limited) => ApiError::rate_limited(
            format!(
                "This tenant is over its limit of {} requests per minute; retry in {} s",
                limited.limit, limited.retry_after
            ),
            limited.retry_after,
        )
        .with_type("TENANT_RATE_LIMITED")
        .into_response(),
        Err(err) => ApiError::from(err).into_response(),
    }
}

/// Counts one request (and what it used) for the tenant. Metering must not take the API down
/// with it: a failure is logged.
async fn record(state: &AppState, tenant_id: &str, group: &str, used: &[(String, i64)]) {
    if let Err(err) = state
        .usage()
        .record_request_with(tenant_id, group, used)
        .await
    {
        tracing::warn!(error = %err, "could not count a request");
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(value: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(AUTHORIZATION, HeaderValue::from_str(value).expect("header"));
        }
        headers
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        assert_eq!(bearer_token(&headers(Some("Bearer abc"))).ok(), Some("abc"));
        assert_eq!(
            bearer_token(&headers(Some("bearer  abc "))).ok(),
            Some("abc")
        );
        for bad in [
            None,
            Some("Basic abc"),
            Some("Bearer"),
            Some("Bearer   "),
            Some("abc"),
        ] {
            assert!(bearer_token(&headers(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn groups_drop_the_api_prefix() {
        assert_eq!(RouteGroup::of_function("api-records").0, "records");
        assert_eq!(RouteGroup::of_function("worker-runs").0, "worker-runs");
    }
}
