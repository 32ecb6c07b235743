//! `/v0/{base}/{table}/` is `/v0/{base}/{table}`: Airtable serves a path under `/v0` with one
//! trailing slash as the same path without it, and the official JS client (npm `airtable`)
//! relies on that: it sends creates, batch updates, batch replaces and its older list calls to
//! `/v0/{base}/{table}/`. The route table names every path once, without the slash (API Gateway
//! HTTP APIs refuse route keys that end in `/` and match a request with a trailing slash to the
//! route without it), so the router drops that one slash before routing.
//!
//! Only under `/v0`, Airtable's contract; `/v1` is ours and is spelled one way.

use axum::extract::Request;
use http::Uri;
use http::uri::PathAndQuery;

/// The prefix whose paths accept one trailing slash.
const AIRTABLE_PREFIX: &str = "/v0/";

/// Rewrites the request's URI when its path is a `/v0` path with one trailing slash; anything
/// else passes untouched (and routes, or not, as it is).
pub async fn drop_trailing_slash(mut request: Request) -> Request {
    if let Some(uri) = without_trailing_slash(request.uri()) {
        *request.uri_mut() = uri;
    }
    request
}

/// The URI without the one trailing slash of a `/v0/…/` path, query kept; `None` when there is
/// nothing to drop.
fn without_trailing_slash(uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    let trimmed = path.strip_suffix('/')?;
    if !path.starts_with(AIRTABLE_PREFIX) || trimmed.len() < AIRTABLE_PREFIX.len() {
        return None;
    }
    let path_and_query = match uri.query() {
        Some(query) => format!("{trimmed}?{query}"),
        None => trimmed.to_string(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(PathAndQuery::try_from(path_and_query).ok()?);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(uri: &str) -> Option<String> {
        let uri: Uri = uri.parse().expect("uri");
        without_trailing_slash(&uri).map(|u| u.to_string())
    }

    #[test]
    fn one_trailing_slash_under_v0_is_dropped_and_the_query_kept() {
        assert_eq!(
            rewritten("/v0/appX/My%20Table/").as_deref(),
            Some("/v0/appX/My%20Table")
        );
        assert_eq!(rewritten("/v0/appX/T/?").as_deref(), Some("/v0/appX/T?"));
        assert_eq!(
            rewritten("/v0/appX/T/?fields%5B%5D=a+b&pageSize=3").as_deref(),
            Some("/v0/appX/T?fields%5B%5D=a+b&pageSize=3")
        );
        assert_eq!(
            rewritten("http://h:1/v0/meta/bases/").as_deref(),
            Some("http://h:1/v0/meta/bases")
        );
        // One slash only: an empty last segment stays empty.
        assert_eq!(rewritten("/v0/appX//").as_deref(), Some("/v0/appX/"));
    }

    /// Through the platform router: a slashed `/v0` path reaches its route (401 without
    /// credentials, like the plain path), where it used to fall through to the 404 fallback.
    #[tokio::test]
    async fn the_platform_router_routes_slashed_v0_paths() {
        use axum::body::Body;
        use http::StatusCode;
        use tower::ServiceExt;

        let router = crate::platform_router(crate::testing::embedded_state());
        for (method, path) in [
            ("POST", "/v0/appSandboxDemoCRM/Contacts/"),
            ("PATCH", "/v0/appSandboxDemoCRM/Contacts/?"),
            ("PUT", "/v0/appSandboxDemoCRM/Contacts/"),
            ("GET", "/v0/appSandboxDemoCRM/Contacts/?pageSize=3"),
            (
                "DELETE",
                "/v0/appSandboxDemoCRM/Contacts/recAAAAAAAAAAAAAA/",
            ),
            ("GET", "/v0/meta/bases/"),
        ] {
            let request = Request::builder()
                .method(method)
                .uri(path)
                .body(Body::empty())
                .expect("request");
            let response = router.clone().oneshot(request).await.expect("response");
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path}"
            );
        }
        let request = Request::builder()
            .uri("/v1/health/")
            .body(Body::empty())
            .expect("request");
        let response = router.oneshot(request).await.expect("response");
        assert_eq!(
            response.status(),
            StatusCode::NOT_FOUND,
            "only /v0 is Airtable's"
        );
    }

    #[test]
    fn other_paths_are_left_alone() {
        for uri in [
            "/v0/appX/T",
            "/v0/",
            "/v0",
            "/v1/auth/me/",
            "/mcp/",
            "/",
            "/v0?x=1",
        ] {
            assert_eq!(rewritten(uri), None, "{uri}");
        }
    }
}
