//! Streamable HTTP, statelessly: one POST in, one reply out.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::header::{ACCEPT, ALLOW, CONTENT_TYPE, ORIGIN};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{Map, Value};

use crate::backend::McpBackend;
use crate::jsonrpc::{
    self, ErrorId, INTERNAL_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, Message, RpcError,
};
use crate::methods::{CLIENT_CAPABILITIES_META_KEY, Call, PROTOCOL_VERSION_META_KEY, ServerInfo};
use crate::version::{DEFAULT_HEADERLESS_VERSION, ProtocolVersion};

/// `MCP-Protocol-Version` (2025-06-18 and later).
pub const MCP_PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";
/// `Mcp-Method` (2026-07-28): mirrors the body's `method`.
pub const MCP_METHOD_HEADER: &str = "mcp-method";
/// `Mcp-Name` (2026-07-28): mirrors `params.name` (`tools/call`, `prompts/get`) or
/// `params.uri` (`resources/read`), possibly as `=?base64?…?=`.
pub const MCP_NAME_HEADER: &str = "mcp-name";

/// The HTTP answer to hand back to the client (the caller's web framework sends it as is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// Empty for `202 Accepted` and `405`; otherwise one JSON value (`Content-Type:
    /// application/json`).
    pub body: Vec<u8>,
}

impl HttpReply {
    fn json(status: StatusCode, value: &Value) -> HttpReply {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        HttpReply {
            status,
            headers,
            body: value.to_string().into_bytes(),
        }
    }

    fn empty(status: StatusCode) -> HttpReply {
        HttpReply {
            status,
            headers: HeaderMap::new(),
            body: Vec::new(),
        }
    }

    fn error(status: StatusCode, id: &ErrorId, error: &RpcError) -> HttpReply {
        HttpReply::json(status, &jsonrpc::error_response(id, error))
    }

    /// The body as JSON, when there is one.
    pub fn body_json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// As an `http::Response`. In an axum handler, `(reply.status, reply.headers, reply.body)`
    /// is already an `IntoResponse`.
    pub fn into_response(self) -> http::Response<Vec<u8>> {
        let mut response = http::Response::new(self.body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}

/// `405 Method Not Allowed` with `Allow: POST`: the answer to GET (this server offers no SSE
/// stream; 2025 transports allow 405 here, 2026-07-28 removed the GET stream), to DELETE (there
/// are no sessions to end) and to any other method.
pub fn method_not_allowed() -> HttpReply {
    let mut reply = HttpReply::empty(StatusCode::METHOD_NOT_ALLOWED);
    reply
        .headers
        .insert(ALLOW, HeaderValue::from_static("POST"));
    reply
}

/// GET on the MCP endpoint: 405 (see [`method_not_allowed`]).
pub fn handle_get() -> HttpReply {
    method_not_allowed()
}

/// DELETE on the MCP endpoint: 405 (see [`method_not_allowed`]).
pub fn handle_delete() -> HttpReply {
    method_not_allowed()
}

/// The request's `Origin`: `Ok(None)` when absent; [`ForbiddenOrigin`] when it is sent more
/// than once or is not visible ASCII (refused like a foreign origin).
pub fn origin_header(headers: &HeaderMap) -> Result<Option<&str>, ForbiddenOrigin> {
    match single_header(headers, ORIGIN.as_str()) {
        HeaderRead::Absent => Ok(None),
        HeaderRead::Value(origin) => Ok(Some(origin)),
        HeaderRead::Malformed => Err(ForbiddenOrigin),
    }
}

/// Guards against DNS rebinding (every transport revision: "Servers MUST validate the Origin
/// header"; 2025-11-25 and 2026-07-28: "If the Origin header is present and invalid, servers
/// MUST respond with HTTP 403 Forbidden"). A request without `Origin` (not from a browser) passes;
/// a present one must equal an allowed origin (scheme, host and port, ignoring ASCII case and a
/// trailing `/`). Run it before authentication, on every method.
pub fn check_origin(origin: Option<&str>, allowed: &[String]) -> Result<(), ForbiddenOrigin> {
    let Some(origin) = origin else { return Ok(()) };
    let origin = normalize_origin(origin);
    if allowed
        .iter()
        .any(|allowed| normalize_origin(allowed) == origin)
    {
        return Ok(());
    }
    Err(ForbiddenOrigin)
}

/// A request whose `Origin` header is present but unusable or not allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForbiddenOrigin;

impl ForbiddenOrigin {
    /// 403 Forbidden with a JSON-RPC error that has no `id`.
    pub fn reply(self) -> HttpReply {
        HttpReply::error(
            StatusCode::FORBIDDEN,
            &ErrorId::Absent,
            &RpcError::invalid_request("Forbidden: Origin not allowed"),
        )
    }
}

impl std::fmt::Display for ForbiddenOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Origin not allowed")
    }
}

impl std::error::Error for ForbiddenOrigin {}

fn normalize_origin(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// Handles one POST to the MCP endpoint: every JSON-RPC message the client sends arrives this
/// way. Check the origin and authenticate first, then build `backend` for the caller.
///
/// - A request is answered `200` with one JSON object (never SSE), or with an error status
///   where the protocol revision asks for one (see the crate docs for the table).
/// - Notifications and client responses are answered `202 Accepted` with no body.
/// - No session: nothing is minted, a client's `Mcp-Session-Id` is ignored.
pub async fn handle_post(
    headers: &HeaderMap,
    body: &[u8],
    backend: &dyn McpBackend,
    server: &ServerInfo,
) -> HttpReply {
    if !accepts_json(headers) {
        return HttpReply::error(
            StatusCode::NOT_ACCEPTABLE,
            &ErrorId::Absent,
            &RpcError::invalid_request("Not Acceptable: the client must accept application/json"),
        );
    }
    if !content_type_is_json(headers) {
        return HttpReply::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &ErrorId::Absent,
            &RpcError::invalid_request(
                "Unsupported Media Type: Content-Type must be application/json",
            ),
        );
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(error) => {
            return HttpReply::error(
                StatusCode::BAD_REQUEST,
                &ErrorId::Null,
                &RpcError::parse_error(error),
            );
        }
    };
    let version_header = VersionHeader::read(headers);
    match &value {
        Value::Array(items) => handle_batch(items, &version_header, backend, server).await,
        single => handle_single(single, &version_header, headers, backend, server).await,
    }
}

/// The `MCP-Protocol-Version` header as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
enum VersionHeader {
    Absent,
    Supported(ProtocolVersion),
    Unsupported(String),
    /// Sent twice, or not visible ASCII.
    Malformed,
}

impl VersionHeader {
    fn read(headers: &HeaderMap) -> VersionHeader {
        match single_header(headers, MCP_PROTOCOL_VERSION_HEADER) {
            HeaderRead::Absent => VersionHeader::Absent,
            HeaderRead::Malformed => VersionHeader::Malformed,
            HeaderRead::Value(value) => match ProtocolVersion::parse(value) {
                Some(version) => VersionHeader::Supported(version),
                None => VersionHeader::Unsupported(value.to_owned()),
            },
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            VersionHeader::Supported(version) => Some(version.as_str()),
            VersionHeader::Unsupported(value) => Some(value),
            VersionHeader::Absent | VersionHeader::Malformed => None,
        }
    }
}

enum HeaderRead<'a> {
    Absent,
    Value(&'a str),
    Malformed,
}

fn single_header<'a>(headers: &'a HeaderMap, name: &str) -> HeaderRead<'a> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return HeaderRead::Absent;
    };
    if values.next().is_some() {
        return HeaderRead::Malformed;
    }
    match first.to_str() {
        Ok(value) => HeaderRead::Value(value),
        Err(_) => HeaderRead::Malformed,
    }
}

/// Which protocol era serves a message.
enum Route {
    /// Initialize-based, at this revision (for `initialize` itself, negotiation decides).
    Legacy(ProtocolVersion),
    /// Stateless 2026-07-28 rules: `_meta`, routing headers, the 2026 HTTP status table.
    Modern,
}

/// A dual-era server "selects its behavior from how the client opens" (2026-07-28 versioning,
/// Backward Compatibility): `initialize` selects the legacy era; "a request carrying modern
/// per-request `_meta`" (the `io.modelcontextprotocol/protocolVersion` key), or a 2026-07-28
/// header, the modern one; otherwise the `MCP-Protocol-Version` header names a 2025 revision
/// (absent: 2025-03-26).
fn route(
    version_header: &VersionHeader,
    message: &Message<'_>,
    value: &Value,
) -> Result<Route, (ErrorId, RpcError)> {
    if let Message::Request {
        method: "initialize",
        ..
    } = message
    {
        return Ok(Route::Legacy(DEFAULT_HEADERLESS_VERSION));
    }
    let meta_version = match message {
        Message::Request { .. } => value
            .pointer("/params/_meta")
            .and_then(Value::as_object)
            .and_then(|meta| meta.get(PROTOCOL_VERSION_META_KEY)),
        _ => None,
    };
    if let Some(meta_version) = meta_version {
        // A 2025 request that also carries the envelope, consistently, is served as that 2025
        // revision; every other enveloped request is judged by the 2026 rules (which reject a
        // header that disagrees with `_meta` with -32020, before any version verdict).
        return Ok(match version_header {
            VersionHeader::Supported(version)
                if !version.is_modern() && meta_version.as_str() == Some(version.as_str()) =>
            {
                Route::Legacy(*version)
            }
            _ => Route::Modern,
        });
    }
    let id = match message {
        Message::Request { id, .. } => ErrorId::Id((*id).clone()),
        _ => ErrorId::Null,
    };
    match version_header {
        VersionHeader::Supported(version) if version.is_modern() => Ok(Route::Modern),
        VersionHeader::Supported(version) => Ok(Route::Legacy(*version)),
        VersionHeader::Absent => Ok(Route::Legacy(DEFAULT_HEADERLESS_VERSION)),
        // 2025-06-18/2025-11-25: "an invalid or unsupported MCP-Protocol-Version" is a 400;
        // the body says which versions would do, as 2026-07-28's error does.
        VersionHeader::Unsupported(requested) => {
            Err((id, RpcError::unsupported_protocol_version(requested)))
        }
        VersionHeader::Malformed => Err((
            id,
            RpcError::header_mismatch(
                "Header mismatch: MCP-Protocol-Version must be sent once, in visible ASCII",
            ),
        )),
    }
}

async fn handle_single(
    value: &Value,
    version_header: &VersionHeader,
    headers: &HeaderMap,
    backend: &dyn McpBackend,
    server: &ServerInfo,
) -> HttpReply {
    let message = jsonrpc::classify(value);
    if let Message::Invalid { id, error } = &message {
        return HttpReply::error(StatusCode::BAD_REQUEST, id, error);
    }
    let route = match route(version_header, &message, value) {
        Ok(route) => route,
        Err((id, error)) => return HttpReply::error(StatusCode::BAD_REQUEST, &id, &error),
    };
    match (route, message) {
        // Notifications (e.g. notifications/initialized, notifications/cancelled) carry nothing
        // a stateless server acts on: accepted, 202, no body, in both eras.
        (_, Message::Notification { .. }) => HttpReply::empty(StatusCode::ACCEPTED),
        // 2025 era: a client's response to a server request is accepted like a notification.
        (Route::Legacy(_), Message::Response) => HttpReply::empty(StatusCode::ACCEPTED),
        // 2026-07-28: "The client MUST NOT send JSON-RPC responses".
        (Route::Modern, Message::Response) => HttpReply::error(
            StatusCode::BAD_REQUEST,
            &ErrorId::Null,
            &RpcError::invalid_request(
                "Invalid Request: the body must be a single JSON-RPC request or notification",
            ),
        ),
        (Route::Legacy(version), Message::Request { id, method, params }) => {
            // 2025 era: JSON-RPC errors of a dispatched request travel in a 200 reply.
            let call = Call {
                version,
                backend,
                server,
            };
            let response = match call.run(method, params).await {
                Ok(result) => jsonrpc::result_response(id, result),
                Err(error) => jsonrpc::error_response(&ErrorId::Id(id.clone()), &error),
            };
            HttpReply::json(StatusCode::OK, &response)
        }
        (Route::Modern, Message::Request { id, method, params }) => {
            let error_id = ErrorId::Id(id.clone());
            let outcome = match check_modern_request(version_header, headers, method, params) {
                Ok(version) => {
                    Call {
                        version,
                        backend,
                        server,
                    }
                    .run(method, params)
                    .await
                }
                Err(error) => Err(error),
            };
            match outcome {
                Ok(result) => {
                    HttpReply::json(StatusCode::OK, &jsonrpc::result_response(id, result))
                }
                Err(error) => HttpReply::error(modern_status(error.code), &error_id, &error),
            }
        }
        (_, Message::Invalid { id, error }) => {
            HttpReply::error(StatusCode::BAD_REQUEST, &id, &error)
        }
    }
}

/// 2026-07-28's HTTP status for a JSON-RPC error: 404 for an unimplemented method
/// (streamable-http, Protocol Version Header), 400 for header mismatches, unsupported versions,
/// missing `_meta` and other invalid params or requests, 500 for server faults.
fn modern_status(code: i64) -> StatusCode {
    match code {
        METHOD_NOT_FOUND => StatusCode::NOT_FOUND,
        INTERNAL_ERROR => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// The 2026-07-28 checks before dispatch, in the order of the official Python SDK's inbound
/// ladder: required `_meta` fields (-32602), headers against the body (-32020), then the version
/// itself (-32022). Returns the version to serve.
fn check_modern_request(
    version_header: &VersionHeader,
    headers: &HeaderMap,
    method: &str,
    params: Option<&Map<String, Value>>,
) -> Result<ProtocolVersion, RpcError> {
    let meta = params
        .and_then(|params| params.get("_meta"))
        .and_then(Value::as_object);
    let Some(meta) = meta else {
        return Err(RpcError::invalid_params(format!(
            "Invalid params: params._meta must carry \"{PROTOCOL_VERSION_META_KEY}\" and \"{CLIENT_CAPABILITIES_META_KEY}\""
        )));
    };
    let missing: Vec<&str> = [PROTOCOL_VERSION_META_KEY, CLIENT_CAPABILITIES_META_KEY]
        .into_iter()
        .filter(|key| !meta.contains_key(*key))
        .collect();
    if !missing.is_empty() {
        return Err(RpcError::invalid_params(format!(
            "Invalid params: params._meta is missing {}",
            missing.join(", ")
        )));
    }
    let body_version = &meta[PROTOCOL_VERSION_META_KEY];

    match version_header {
        VersionHeader::Malformed => {
            return Err(RpcError::header_mismatch(
                "Header mismatch: MCP-Protocol-Version must be sent once, in visible ASCII",
            ));
        }
        VersionHeader::Absent => {
            return Err(RpcError::header_mismatch(
                "Header mismatch: the MCP-Protocol-Version header is required",
            ));
        }
        _ => {}
    }
    if version_header.as_str() != body_version.as_str() {
        return Err(RpcError::header_mismatch(format!(
            "Header mismatch: MCP-Protocol-Version header value '{}' does not match body value {}",
            version_header.as_str().unwrap_or_default(),
            body_version
        )));
    }
    match single_header(headers, MCP_METHOD_HEADER) {
        HeaderRead::Value(value) if value == method => {}
        HeaderRead::Value(value) => {
            return Err(RpcError::header_mismatch(format!(
                "Header mismatch: Mcp-Method header value '{value}' does not match body value '{method}'"
            )));
        }
        HeaderRead::Absent => {
            return Err(RpcError::header_mismatch(
                "Header mismatch: the Mcp-Method header is required",
            ));
        }
        HeaderRead::Malformed => {
            return Err(RpcError::header_mismatch(
                "Header mismatch: Mcp-Method must be sent once, in visible ASCII",
            ));
        }
    }
    let name_field = match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    };
    // A missing or non-string name is a malformed request, answered -32602 by the method itself.
    if let Some(field) = name_field
        && let Some(body_name) = params
            .and_then(|params| params.get(field))
            .and_then(Value::as_str)
    {
        match single_header(headers, MCP_NAME_HEADER) {
            HeaderRead::Value(value) => match decode_header_value(value) {
                Some(decoded) if decoded == body_name => {}
                Some(decoded) => {
                    return Err(RpcError::header_mismatch(format!(
                        "Header mismatch: Mcp-Name header value '{decoded}' does not match body value '{body_name}'"
                    )));
                }
                None => {
                    return Err(RpcError::header_mismatch(
                        "Header mismatch: Mcp-Name carries a malformed base64 value",
                    ));
                }
            },
            HeaderRead::Absent => {
                return Err(RpcError::header_mismatch(format!(
                    "Header mismatch: the Mcp-Name header is required for {method}"
                )));
            }
            HeaderRead::Malformed => {
                return Err(RpcError::header_mismatch(
                    "Header mismatch: Mcp-Name must be sent once, in visible ASCII",
                ));
            }
        }
    }

    let Some(requested) = body_version.as_str() else {
        return Err(RpcError::invalid_params(format!(
            "Invalid params: _meta \"{PROTOCOL_VERSION_META_KEY}\" must be a string"
        )));
    };
    match ProtocolVersion::parse(requested) {
        Some(version) if version.is_modern() => Ok(version),
        _ => Err(RpcError::unsupported_protocol_version(requested)),
    }
}

/// Decodes the `=?base64?…?=` sentinel form of `Mcp-Name` (and `Mcp-Param-*`); other values are
/// taken as they are. `None` for a sentinel whose payload is not base64 of UTF-8.
pub fn decode_header_value(value: &str) -> Option<String> {
    let Some(payload) = value
        .strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
    else {
        return Some(value.to_owned());
    };
    let bytes = BASE64.decode(payload).ok()?;
    String::from_utf8(bytes).ok()
}

/// The most messages one batch may hold. Every message of a batch is work (a tool call is an
/// Airtable call), so an unbounded batch would let one HTTP request do unbounded work; clients
/// batch a handful of messages at most (the 2025-03-26 SDKs sent a few notifications and
/// responses together).
pub const MAX_BATCH_MESSAGES: usize = 20;

/// 2025-03-26 allowed a POST body to be a JSON-RPC batch; 2025-06-18 removed batching, and
/// 2026-07-28 requires "a single JSON-RPC request or notification". Batches are therefore served
/// only at 2025-03-26 (the version of a header-less request), else refused with 400 and -32600.
async fn handle_batch(
    items: &[Value],
    version_header: &VersionHeader,
    backend: &dyn McpBackend,
    server: &ServerInfo,
) -> HttpReply {
    let version = match version_header {
        VersionHeader::Absent => DEFAULT_HEADERLESS_VERSION,
        VersionHeader::Supported(version) => *version,
        VersionHeader::Unsupported(requested) => {
            return HttpReply::error(
                StatusCode::BAD_REQUEST,
                &ErrorId::Null,
                &RpcError::unsupported_protocol_version(requested),
            );
        }
        VersionHeader::Malformed => {
            return HttpReply::error(
                StatusCode::BAD_REQUEST,
                &ErrorId::Null,
                &RpcError::header_mismatch(
                    "Header mismatch: MCP-Protocol-Version must be sent once, in visible ASCII",
                ),
            );
        }
    };
    if !version.allows_batches() {
        return HttpReply::error(
            StatusCode::BAD_REQUEST,
            &ErrorId::Null,
            &RpcError::invalid_request(format!(
                "Invalid Request: JSON-RPC batches are not part of protocol version {}",
                version.as_str()
            )),
        );
    }
    if items.is_empty() {
        return HttpReply::error(
            StatusCode::BAD_REQUEST,
            &ErrorId::Null,
            &RpcError::invalid_request("Invalid Request: empty batch"),
        );
    }
    if items.len() > MAX_BATCH_MESSAGES {
        return HttpReply::error(
            StatusCode::BAD_REQUEST,
            &ErrorId::Null,
            &RpcError::invalid_request(format!(
                "Invalid Request: a batch may hold at most {MAX_BATCH_MESSAGES} messages (this one has {})",
                items.len()
            )),
        );
    }
    let call = Call {
        version,
        backend,
        server,
    };
    let mut responses = Vec::new();
    for item in items {
        match jsonrpc::classify(item) {
            Message::Invalid { id, error } => responses.push(jsonrpc::error_response(&id, &error)),
            Message::Notification { .. } | Message::Response => {}
            // 2025-03-26 lifecycle: "The initialization request MUST NOT be part of a JSON-RPC batch".
            Message::Request {
                id,
                method: "initialize",
                ..
            } => {
                responses.push(jsonrpc::error_response(
                    &ErrorId::Id(id.clone()),
                    &RpcError::new(
                        INVALID_REQUEST,
                        "Invalid Request: initialize must not be batched",
                    ),
                ));
            }
            Message::Request { id, method, params } => {
                responses.push(match call.run(method, params).await {
                    Ok(result) => jsonrpc::result_response(id, result),
                    Err(error) => jsonrpc::error_response(&ErrorId::Id(id.clone()), &error),
                });
            }
        }
    }
    if responses.is_empty() {
        // "If the input consists solely of (any number of) JSON-RPC responses or notifications".
        return HttpReply::empty(StatusCode::ACCEPTED);
    }
    HttpReply::json(StatusCode::OK, &Value::Array(responses))
}

/// Whether the client takes `application/json`. Clients must list both `application/json` and
/// `text/event-stream`; this server only ever answers JSON, so only that one is required (as the
/// official Python SDK's server does in JSON-response mode). No `Accept` at all means any type
/// (RFC 9110 §12.5.1); one that excludes JSON gets 406.
fn accepts_json(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(ACCEPT).iter().peekable();
    if values.peek().is_none() {
        return true;
    }
    values.filter_map(|value| value.to_str().ok()).any(|value| {
        value.split(',').any(|range| {
            let media = range
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            matches!(media.as_str(), "application/json" | "application/*" | "*/*")
        })
    })
}

/// `Content-Type` must be `application/json` (parameters such as `charset` allowed) when sent.
fn content_type_is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE) else {
        return true;
    };
    value
        .to_str()
        .ok()
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case("application/json")
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn origin_absent_or_allowed_passes_and_anything_else_is_403() {
        let allowed = vec![
            "https://app.example.com".to_owned(),
            "http://localhost:8080/".to_owned(),
        ];
        assert!(check_origin(None, &allowed).is_ok());
        assert!(check_origin(Some("https://app.example.com"), &allowed).is_ok());
        assert!(check_origin(Some("HTTPS://APP.EXAMPLE.COM/"), &allowed).is_ok());
        assert!(check_origin(Some("http://localhost:8080"), &allowed).is_ok());
        for bad in [
            "https://evil.example",
            "https://app.example.com:8443",
            "null",
            "",
        ] {
            let reply = check_origin(Some(bad), &allowed).expect_err(bad).reply();
            assert_eq!(reply.status, StatusCode::FORBIDDEN);
            let body = reply.body_json().expect("a JSON-RPC error body");
            assert!(body.get("id").is_none(), "no id: {body}");
            assert_eq!(body["error"]["code"], INVALID_REQUEST);
        }
        assert!(check_origin(Some("https://app.example.com"), &[]).is_err());
    }

    #[test]
    fn origin_header_reads_one_visible_ascii_value() {
        assert_eq!(origin_header(&HeaderMap::new()), Ok(None));
        assert_eq!(
            origin_header(&headers(&[("origin", "https://a.example")])),
            Ok(Some("https://a.example"))
        );
        assert_eq!(
            origin_header(&headers(&[
                ("origin", "https://a.example"),
                ("origin", "https://b.example")
            ])),
            Err(ForbiddenOrigin)
        );
        let mut non_ascii = HeaderMap::new();
        non_ascii.insert(
            ORIGIN,
            HeaderValue::from_bytes(b"https://\xe9.example").expect("opaque bytes"),
        );
        assert_eq!(origin_header(&non_ascii), Err(ForbiddenOrigin));
    }

    #[test]
    fn accept_needs_json_when_present() {
        assert!(accepts_json(&HeaderMap::new()));
        assert!(accepts_json(&headers(&[(
            "accept",
            "application/json, text/event-stream"
        )])));
        assert!(accepts_json(&headers(&[(
            "accept",
            "text/event-stream;q=0.9, Application/JSON;q=1"
        )])));
        assert!(accepts_json(&headers(&[("accept", "*/*")])));
        assert!(accepts_json(&headers(&[
            ("accept", "text/event-stream"),
            ("accept", "application/*")
        ])));
        assert!(!accepts_json(&headers(&[("accept", "text/event-stream")])));
        assert!(!accepts_json(&headers(&[("accept", "text/html")])));
    }

    #[test]
    fn content_type_must_be_json_when_present() {
        assert!(content_type_is_json(&HeaderMap::new()));
        assert!(content_type_is_json(&headers(&[(
            "content-type",
            "application/json; charset=utf-8"
        )])));
        assert!(!content_type_is_json(&headers(&[(
            "content-type",
            "application/x-www-form-urlencoded"
        )])));
        assert!(!content_type_is_json(&headers(&[(
            "content-type",
            "text/plain"
        )])));
    }

    #[test]
    fn decodes_base64_header_values() {
        assert_eq!(
            decode_header_value("get_weather").as_deref(),
            Some("get_weather")
        );
        assert_eq!(
            decode_header_value("=?base64?SGVsbG8sIOS4lueVjA==?=").as_deref(),
            Some("Hello, 世界")
        );
        assert_eq!(decode_header_value("=?base64?not base64!?="), None);
        assert_eq!(decode_header_value("=?base64?/w==?="), None);
    }

    #[test]
    fn replies_convert_to_http_responses() {
        let response = method_not_allowed().into_response();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[ALLOW], "POST");
        assert!(response.body().is_empty());
        assert_eq!(handle_get(), handle_delete());
    }

    #[test]
    fn modern_statuses() {
        assert_eq!(modern_status(METHOD_NOT_FOUND), StatusCode::NOT_FOUND);
        assert_eq!(
            modern_status(INTERNAL_ERROR),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            modern_status(jsonrpc::HEADER_MISMATCH),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            modern_status(jsonrpc::UNSUPPORTED_PROTOCOL_VERSION),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            modern_status(jsonrpc::INVALID_PARAMS),
            StatusCode::BAD_REQUEST
        );
    }
}
