//! What an authenticated route needs beyond authentication ([`Needs`]), and the route layer
//! that checks it.
//!
//! The check runs after authentication and before the handler's extractors, so a credential
//! without the scope gets 403 `INSUFFICIENT_SCOPE` whatever its body, path or query hold: a
//! read-only key learns nothing about what a write route would accept.

use crate::ApiError;
use accounts::{Principal, Scope};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Caller;

/// The scopes a route accepts: any one of them will do; none means every authenticated caller
/// (e.g. `/v1/auth/me`, or `/mcp`, which offers each caller the tools its scopes allow).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Needs(Vec<Scope>);

impl Needs {
    /// Authentication alone.
    pub const AUTHENTICATION: Needs = Needs(Vec::new());

    /// Any one of `scopes`.
    pub fn any_of(scopes: impl IntoIterator<Item = Scope>) -> Self {
        let mut scopes: Vec<Scope> = scopes.into_iter().collect();
        scopes.sort();
        scopes.dedup();
        Self(scopes)
    }

    /// The accepted scopes, sorted; empty when authentication is enough.
    pub fn scopes(&self) -> &[Scope] {
        &self.0
    }

    pub fn admits(&self, principal: &Principal) -> bool {
        self.0.is_empty() || self.0.iter().any(|scope| principal.has(*scope))
    }

    /// `Ok` if `principal` may call the route, else the 403 naming what it lacks.
    pub fn check(&self, principal: &Principal) -> Result<(), ApiError> {
        if self.admits(principal) {
            return Ok(());
        }
        let wanted: Vec<&str> = self.0.iter().map(|scope| scope.as_str()).collect();
        Err(ApiError::forbidden(format!(
            "This credential lacks the {} scope",
            wanted.join(" or ")
        ))
        .with_type("INSUFFICIENT_SCOPE"))
    }
}

impl From<Scope> for Needs {
    fn from(scope: Scope) -> Self {
        Self(vec![scope])
    }
}

/// The route layer: 403 unless the authenticated caller holds one of the route's scopes.
/// A request that reaches it unauthenticated (a route wired without the authentication layer)
/// is refused with 401 rather than let through.
pub async fn require_scope(State(needs): State<Needs>, request: Request, next: Next) -> Response {
    let verdict = match request.extensions().get::<Caller>() {
        Some(caller) => needs.check(caller),
        None => Err(ApiError::unauthenticated("Authentication required")),
    };
    match verdict {
        Ok(()) => next.run(request).await,
        Err(err) => err.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use accounts::NewApiKey;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt;
    use secrecy::ExposeSecret;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::routes::{Access, route_table};
    use crate::testing::embedded_state;

    /// Sends `body` as JSON to `method path` with `credential`; the status and JSON body.
    async fn send(
        router: &axum::Router,
        method: &str,
        path: &str,
        credential: &str,
        body: &str,
    ) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {credential}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        let response = router.clone().oneshot(request).await.expect("response");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Path parameters filled with values every parser accepts, so nothing but the scope (and
    /// the body) could be refused.
    fn concrete(path: &str) -> String {
        path.replace("{base_id}", "appAAAAAAAAAAAAAA")
            .replace("{table}", "tblAAAAAAAAAAAAAA")
            .replace("{record_id}", "recAAAAAAAAAAAAAA")
            .replace("{field_id}", "fldAAAAAAAAAAAAAA")
            .replace("{key_id}", "key_1")
            .replace("{session_id}", "ses_1")
    }

    /// Every authenticated route that needs a scope answers 403 `INSUFFICIENT_SCOPE` to a
    /// credential holding every other scope, before it looks at a malformed body (which a
    /// credential with the scope gets a 400 for, on `PUT /v1/budget`).
    #[tokio::test]
    async fn the_scope_is_checked_before_the_body() {
        let state = embedded_state();
        let router = crate::platform_router(state.clone());
        let owner = state
            .accounts()
            .register("owner@example.com", "correct horse battery", None)
            .await
            .expect("register");
        let session = state
            .accounts()
            .authenticate(&owner.tokens.access_token)
            .await
            .expect("the access token authenticates");
        let mut keys: BTreeMap<Needs, String> = BTreeMap::new();
        let mut checked = 0;
        for spec in route_table() {
            if spec.access != Access::Authenticated || spec.needs.scopes().is_empty() {
                continue;
            }
            if !keys.contains_key(&spec.needs) {
                let others: Vec<String> = Scope::ALL
                    .iter()
                    .filter(|scope| !spec.needs.scopes().contains(scope))
                    .map(|scope| scope.to_string())
                    .collect();
                let created = state
                    .accounts()
                    .create_api_key(
                        &session,
                        NewApiKey {
                            name: format!("without {:?}", spec.needs.scopes()),
                            scopes: others,
                            expires_at: None,
                        },
                    )
                    .await
                    .expect("create a key");
                keys.insert(spec.needs.clone(), created.key.expose_secret().to_string());
            }
            let key = &keys[&spec.needs];
            let (status, body) =
                send(&router, &spec.method, &concrete(&spec.path), key, "[1, {").await;
            assert_eq!(
                (status, body["error"]["type"].as_str()),
                (StatusCode::FORBIDDEN, Some("INSUFFICIENT_SCOPE")),
                "{} {} without {:?}: {body}",
                spec.method,
                spec.path,
                spec.needs
            );
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} scoped routes");

        // The same malformed body from a credential with the scope is a 400: the body was bad.
        let token = &owner.tokens.access_token;
        let (status, body) = send(&router, "PUT", "/v1/budget", token, "[1, {").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
}
