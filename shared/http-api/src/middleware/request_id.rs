//! Gives every request an id (the caller's `X-Request-Id` when sane, else the Lambda request id,
//! else a fresh one), opens a `request` span carrying it so every log line written while serving
//! the request names it, returns it in `X-Request-Id`, and logs one line per request.

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use basics::IdGenerator;
use tracing::Instrument;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

fn caller_request_id(request: &Request) -> Option<String> {
    let value = request.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let sane = !value.is_empty()
        && value.len() <= 128
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/=+".contains(c));
    sane.then(|| value.to_string())
}

fn lambda_request_id(request: &Request) -> Option<String> {
    request
        .extensions()
        .get::<lambda_http::Context>()
        .map(|context| context.request_id.clone())
        .filter(|id| !id.is_empty())
}

pub async fn trace_request(request: Request, next: Next) -> Response {
    let id = caller_request_id(&request)
        .or_else(|| lambda_request_id(&request))
        .unwrap_or_else(|| basics::RandomIds.new_id("req"));
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        %method,
        %path,
        tenant_id = tracing::field::Empty
    );
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, elapsed_ms, "request failed");
        } else {
            tracing::info!(status, elapsed_ms, "request served");
        }
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}
