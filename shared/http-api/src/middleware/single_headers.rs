//! Headers whose meaning depends on there being exactly one: a request that sends one of them
//! twice is refused with 400 before anything reads it.
//!
//! Each of these is read with "the first value" (`HeaderMap::get`), so a second copy would be
//! silently ignored, and what the platform did would depend on which copy a proxy in between
//! kept: two `Idempotency-Key`s protected a write under the first key only (a retry with the
//! second wrote again), two `Authorization`s authenticate as whichever comes first, two `Host`s
//! are forbidden by HTTP/1.1 (RFC 9112 §3.2: "a server MUST respond with a 400").

use crate::ApiError;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The headers that must not repeat.
const SINGLE_VALUED: [&str; 7] = [
    "host",
    "authorization",
    "content-type",
    "content-length",
    "origin",
    crate::functions::records::IDEMPOTENCY_KEY,
    mcp::MCP_PROTOCOL_VERSION_HEADER,
];

pub async fn refuse_repeated_headers(request: Request, next: Next) -> Response {
    if let Some(name) = repeated_header(request.headers()) {
        return ApiError::bad_request(format!(
            "The {name} header was sent more than once; send it once"
        ))
        .into_response();
    }
    next.run(request).await
}

fn repeated_header(headers: &http::HeaderMap) -> Option<&'static str> {
    SINGLE_VALUED
        .into_iter()
        .find(|name| headers.get_all(*name).iter().nth(1).is_some())
}

#[cfg(test)]
mod tests {
    use http::header::HOST;
    use http::{HeaderMap, HeaderValue};

    use super::*;

    #[test]
    fn a_header_sent_twice_is_named() {
        let mut headers = HeaderMap::new();
        headers.append("idempotency-key", HeaderValue::from_static("k1"));
        assert_eq!(repeated_header(&headers), None);
        headers.append("idempotency-key", HeaderValue::from_static("k2"));
        assert_eq!(repeated_header(&headers), Some("idempotency-key"));

        let mut headers = HeaderMap::new();
        headers.append(HOST, HeaderValue::from_static("a"));
        headers.append(HOST, HeaderValue::from_static("b"));
        assert_eq!(repeated_header(&headers), Some("host"));

        // Headers that may repeat are left alone.
        let mut headers = HeaderMap::new();
        headers.append("accept", HeaderValue::from_static("application/json"));
        headers.append("accept", HeaderValue::from_static("text/event-stream"));
        assert_eq!(repeated_header(&headers), None);
    }
}
