//! The last word on error bodies: every refusal leaves in the shape its route documents, whoever
//! produced it.
//!
//! Our handlers and middleware already answer `{"error":{"type","message"}}`, but axum and tower
//! answer some refusals themselves before a handler runs, as `text/plain` or with no body at all:
//! a body over the size limit (413), a path segment that is not valid percent-encoded UTF-8
//! (400), a query string that does not parse, and MCP's bodiless 405. Rather than find each of
//! those one by one (and miss the next), this layer looks at every error response on its way
//! out and rewrites any that is not already JSON:
//!
//! - `/mcp` speaks JSON-RPC, so every error there is a JSON-RPC error response (no `id`, as the
//!   Streamable HTTP transport allows for a rejection that answers no particular request), with
//!   our `type` in `error.data`; errors already in our shape are translated the same way;
//! - everything else gets the platform's shape, whose `type` follows the status (the `/v0`
//!   gateway's shape is Airtable's, which is the same object).
//!
//! The status code and headers such as `Retry-After`, `Allow` and `WWW-Authenticate` are kept.

use crate::ErrorKind;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt;
use serde_json::{Value, json};

/// The MCP endpoint's path: the one route whose errors are JSON-RPC.
const MCP_PATH: &str = "/mcp";

/// The most of a non-JSON error body kept as the message; framework messages are one line.
const MAX_MESSAGE_BYTES: usize = 1_000;

/// How a route's errors are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    /// `{"error":{"type","message"}}` (`/v1`, and `/v0` where it is Airtable's shape).
    Platform,
    /// A JSON-RPC 2.0 error response (`/mcp`).
    JsonRpc,
}

impl Dialect {
    fn of_path(path: &str) -> Self {
        if path == MCP_PATH || path.starts_with("/mcp/") {
            Dialect::JsonRpc
        } else {
            Dialect::Platform
        }
    }
}

pub async fn ensure_error_shape(request: Request, next: Next) -> Response {
    let dialect = Dialect::of_path(request.uri().path());
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(is_json_media_type);
    if is_json && dialect == Dialect::Platform {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let (error_type, message) = if is_json {
        platform_error(&bytes).unwrap_or_else(|| defaults(status, &bytes))
    } else {
        defaults(status, &bytes)
    };
    let value = match dialect {
        Dialect::Platform => json!({"error": {"type": error_type, "message": message}}),
        Dialect::JsonRpc if is_json && is_json_rpc(&bytes) => {
            // Already a JSON-RPC answer (the MCP core's own errors): leave it as it is.
            parts.headers.remove(header::CONTENT_LENGTH);
            return Response::from_parts(parts, Body::from(bytes));
        }
        Dialect::JsonRpc => json!({
            "jsonrpc": "2.0",
            "error": {
                "code": json_rpc_code(status),
                "message": message,
                "data": {"type": error_type, "status": status.as_u16()},
            },
        }),
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(value.to_string()))
}

fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

fn is_json_rpc(bytes: &[u8]) -> bool {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(object)) => object.get("jsonrpc").is_some(),
        Ok(Value::Array(items)) => items.iter().all(|item| item.get("jsonrpc").is_some()),
        _ => false,
    }
}

/// The `type` and `message` of a body already in the platform's shape.
fn platform_error(bytes: &[u8]) -> Option<(String, String)> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    let error = value.get("error")?;
    let error_type = error.get("type")?.as_str()?.to_string();
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Some((error_type, message))
}

/// The `type` the status stands for, and the framework's text (or the status's reason) as the
/// message.
fn defaults(status: StatusCode, bytes: &[u8]) -> (String, String) {
    let error_type = ErrorKind::from_status(status).default_type().to_string();
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_MESSAGE_BYTES)])
        .trim()
        .to_string();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("The request was refused")
            .to_string()
    } else {
        text
    };
    (error_type, message)
}

/// JSON-RPC has codes for malformed requests and for server faults, not for HTTP's refusals;
/// the HTTP status and our `type` in `data` say the rest.
fn json_rpc_code(status: StatusCode) -> i64 {
    if status.is_server_error() {
        mcp::jsonrpc::INTERNAL_ERROR
    } else {
        mcp::jsonrpc::INVALID_REQUEST
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::routing::{get, post};
    use tower::ServiceExt;

    use super::*;

    fn router() -> Router {
        Router::new()
            .route(
                "/v1/plain",
                get(|| async { (StatusCode::PAYLOAD_TOO_LARGE, "too big") }),
            )
            .route(
                "/v1/shaped",
                get(|| async { crate::ApiError::forbidden("no") }),
            )
            .route(
                "/mcp",
                post(|| async {
                    (
                        StatusCode::UNAUTHORIZED,
                        [(header::WWW_AUTHENTICATE, "Bearer")],
                        crate::ApiError::unauthenticated("who are you"),
                    )
                })
                .get(|| async { (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "POST")]) }),
            )
            .route("/v1/ok", get(|| async { "fine" }))
            .layer(axum::middleware::from_fn(ensure_error_shape))
    }

    async fn call(method: &str, path: &str) -> (StatusCode, axum::http::HeaderMap, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .expect("request");
        let response = router().oneshot(request).await.expect("response");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (parts.status, parts.headers, value)
    }

    #[tokio::test]
    async fn plain_text_refusals_get_the_platform_shape_and_keep_their_status() {
        let (status, headers, body) = call("GET", "/v1/plain").await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            body,
            json!({"error": {"type": "PAYLOAD_TOO_LARGE", "message": "too big"}})
        );
    }

    #[tokio::test]
    async fn shaped_errors_and_successes_pass_untouched() {
        let (status, _, body) = call("GET", "/v1/shaped").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["error"]["type"], "FORBIDDEN");
        let (status, _, _) = call("GET", "/v1/ok").await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn mcp_errors_are_json_rpc_with_headers_kept() {
        let (status, headers, body) = call("POST", "/mcp").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(body["jsonrpc"], "2.0");
        assert_eq!(body["error"]["code"], mcp::jsonrpc::INVALID_REQUEST);
        assert_eq!(body["error"]["data"]["type"], "AUTHENTICATION_REQUIRED");
        assert!(body.get("id").is_none());

        let (status, headers, body) = call("GET", "/mcp").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers[header::ALLOW], "POST");
        assert_eq!(body["error"]["data"]["type"], "METHOD_NOT_ALLOWED");
    }
}
