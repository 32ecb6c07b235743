//! `api-health`: `GET /v1/health` reports whether this function can reach its table store and
//! queue. Each check is a real round trip to the adapter, so a 200 means the platform can serve.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ports::QueueName;
use serde_json::{Map, Value, json};
use utoipa_axum::routes;

use crate::openapi::schemas;
use crate::{AppState, FunctionRoutes};

pub const FUNCTION: &str = "api-health";

/// A check slower than this counts as failed: a health endpoint must answer quickly.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

pub fn routes() -> FunctionRoutes {
    FunctionRoutes::new(FUNCTION)
        .public(routes!(health))
        .public(routes!(openapi_document))
}

/// The outcome of one check.
struct Check {
    error: Option<String>,
    latency_ms: f64,
}

async fn timed<F, T, E>(work: F) -> Check
where
    F: std::future::Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let started = Instant::now();
    let error = match tokio::time::timeout(CHECK_TIMEOUT, work).await {
        Ok(Ok(_)) => None,
        Ok(Err(err)) => Some(err.to_string()),
        Err(_) => Some(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
    };
    Check {
        error,
        latency_ms: (started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
    }
}

#[utoipa::path(
    get,
    path = "/v1/health",
    tag = "health",
    responses(
        (status = 200, description = "The store and the queue answer", body = schemas::Health),
        (status = 503, description = "A check failed; `errors` says which", body = schemas::Health),
    )
)]
async fn health(State(state): State<AppState>) -> Response {
    let (store, queue) = tokio::join!(
        timed(state.store.ping()),
        timed(state.queue.approximate_depth(QueueName::Runs)),
    );
    let mut checks = Map::new();
    let mut latency = Map::new();
    let mut errors = Map::new();
    for (name, check) in [("store", store), ("queue", queue)] {
        let verdict = if check.error.is_none() { "ok" } else { "error" };
        checks.insert(name.into(), json!(verdict));
        latency.insert(name.into(), json!(check.latency_ms));
        if let Some(error) = check.error {
            tracing::warn!(check = name, %error, "health check failed");
            errors.insert(name.into(), json!(error));
        }
    }
    let healthy = errors.is_empty();
    let mut body = json!({
        "status": if healthy { "ok" } else { "unavailable" },
        "version": state.version,
        "checks": checks,
        "latency_ms": latency,
    });
    if !healthy {
        body["errors"] = Value::Object(errors);
    }
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// This API's OpenAPI 3.1 document, generated from the code.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "health",
    responses((status = 200, description = "The OpenAPI 3.1 document of every route", content_type = "application/json", body = serde_json::Value))
)]
async fn openapi_document() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        crate::openapi::DOCUMENT_JSON,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;
    use crate::testing::{embedded_state, embedded_state_with};
    use ports::failing_store::FailingStore;

    async fn call(state: AppState, method: &str, path: &str) -> (StatusCode, Value) {
        let router = crate::function_router(routes(), state);
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .expect("request");
        let response = router.oneshot(request).await.expect("response");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, body)
    }

    #[tokio::test]
    async fn healthy_when_store_and_queue_answer() {
        let (status, body) = call(embedded_state(), "GET", "/v1/health").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["status"], "ok");
        assert_eq!(body["version"], platform::VERSION);
        assert_eq!(body["checks"], json!({"store": "ok", "queue": "ok"}));
        assert!(body.get("errors").is_none());
    }

    /// A store whose backend is down: the one thing this test needs to vary.

    #[tokio::test]
    async fn a_failing_store_turns_health_to_503() {
        let state = embedded_state_with(|ports| {
            ports.store = Arc::new(FailingStore::down("connection refused"))
        });
        let (status, body) = call(state, "GET", "/v1/health").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "unavailable");
        assert_eq!(body["checks"], json!({"store": "error", "queue": "ok"}));
        assert!(
            body["errors"]["store"]
                .as_str()
                .is_some_and(|e| e.contains("connection refused")),
            "{body}"
        );
    }

    #[tokio::test]
    async fn unknown_routes_and_methods_get_the_error_shape() {
        let (status, body) = call(embedded_state(), "GET", "/v1/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["error"]["type"], "NOT_FOUND");
        let (status, body) = call(embedded_state(), "POST", "/v1/health").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(body["error"]["type"], "METHOD_NOT_ALLOWED");
    }
}
