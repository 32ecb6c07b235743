//! A transport-agnostic, stateless MCP (Model Context Protocol) server core, for the `api-mcp`
//! Lambda function: its axum handler calls [`handle_post`] once per HTTP POST and sends back the
//! [`HttpReply`]. Every request stands alone (no sessions, no server-held state), and every
//! answer is one JSON object, never an SSE stream.
//!
//! It speaks, on one endpoint:
//! - **2026-07-28** (stateless): `server/discover`; protocol version, client info and
//!   capabilities in each request's `_meta`; `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name`
//!   headers checked against the body; `resultType`, `ttlMs`/`cacheScope` and
//!   `_meta["io.modelcontextprotocol/serverInfo"]` on results.
//! - **2025-11-25, 2025-06-18, 2025-03-26** (initialize-based): `initialize` negotiates (the
//!   client's version when it is one of these, else 2025-11-25), `notifications/initialized` gets
//!   `202`, later requests are judged by their `MCP-Protocol-Version` header (2025-03-26 when
//!   absent). No `Mcp-Session-Id` is minted, and one sent by a client is ignored, so clients work
//!   without one.
//!
//! Methods: `tools/list`, `tools/call` (text `content`, `structuredContent`, `isError`),
//! `prompts/list`, `prompts/get`, `resources/list`, `resources/read`, `resources/templates/list`
//! (empty), plus `ping` (2025 era) and `server/discover` (2026-07-28). `subscriptions/listen`,
//! `completion/complete` and `logging/setLevel` are not offered (-32601): a Lambda answer cannot
//! hold a notification stream open, and nothing here changes within a request.
//!
//! # Using it
//!
//! ```text
//! every method:   origin_header(&headers).and_then(|origin| check_origin(origin, &allowed))
//!                 Err(forbidden) -> send forbidden.reply() (403)
//! GET, DELETE, …: method_not_allowed() (405, Allow: POST)
//! POST:           authenticate (JWT or API key; the platform's usual 401), build the tenant's
//!                 McpBackend, then handle_post(&headers, &body, &backend, &server_info).await
//! in axum:        (reply.status, reply.headers, reply.body).into_response()
//! ```
//!
//! # Why not rmcp
//!
//! rmcp 3.11 (the official Rust SDK) does implement 2026-07-28 and a stateless, JSON-response
//! mode of its tower `StreamableHttpService`, so it was a real candidate. A small JSON-RPC layer
//! fits better here:
//! - it is a pure function of (headers, body, backend), the shape the platform's "one code path,
//!   routers tested with `oneshot`" design and Lambda's buffered request/response want; rmcp's
//!   service spawns a task per request and relays the reply through channels;
//! - rmcp takes one message per POST, so it refuses the JSON-RPC batches 2025-03-26 allows, and it
//!   answers 406 unless `Accept` lists `text/event-stream` too, although we never stream;
//! - per-revision details we must control (invalid tool arguments as -32602 before 2025-11-25 and
//!   as `isError` results after; resource-not-found -32002 vs -32602; the 2026 status table)
//!   would sit behind rmcp's handler model, which also wants a service factory per session
//!   rather than a backend already scoped to the authenticated tenant;
//! - its dependency tree would add second copies of crates this workspace pins (`sha2` 0.11,
//!   `hmac` 0.13, `rand` 0.10, `base64` 0.23) plus `schemars`, to every Lambda build, and its
//!   major versions move fast.
//!
//! The surface we need is about ten methods; the spec's rules for them are below.
//!
//! # Decisions, with the spec text behind them
//!
//! | case | answer |
//! |---|---|
//! | body is not JSON | 400, -32700, `"id": null` (JSON-RPC 2.0 §5) |
//! | not a JSON-RPC object (`jsonrpc` ≠ "2.0", no `method`, `id: null`) | 400, -32600 |
//! | `params` not an object | 400, -32602 |
//! | notification, any era | 202, no body ("the server MUST return HTTP status code 202 Accepted with no body") |
//! | client-sent response | 2025: 202; 2026: 400, -32600 ("The client MUST NOT send JSON-RPC responses") |
//! | batch (array) | served at 2025-03-26 only (its transport allows batches; 2025-06-18 removed them, 2026-07-28 wants "a single JSON-RPC request or notification"); other versions 400, -32600; `initialize` inside a batch is an -32600 element ("MUST NOT be part of a JSON-RPC batch"); only notifications/responses: 202 |
//! | `Accept` present without `application/json` (or `application/*`, `*/*`) | 406. We answer JSON only, so `text/event-stream` is not required; no `Accept` at all means any type (RFC 9110 §12.5.1) |
//! | `Content-Type` present and not `application/json` | 415 |
//! | GET, DELETE | 405 with `Allow: POST` (2025: "or else return HTTP 405"; "MAY respond … with HTTP 405" to DELETE; 2026: "respond with 405 Method Not Allowed") |
//! | `Origin` present and not allowed | 403, JSON-RPC error without `id` (2025-11-25, 2026-07-28 Security) |
//! | 2025 era, `MCP-Protocol-Version` unsupported | 400 ("MUST respond with 400 Bad Request"), -32022 with `data.supported`/`requested` |
//! | 2025 era, errors of a dispatched request | 200 with the JSON-RPC error, as 2025 SDK servers do |
//! | 2026, `_meta` lacks `protocolVersion` or `clientCapabilities` | 400, -32602 ("MUST reject it with … -32602 … status MUST be 400") |
//! | 2026, header missing or ≠ body (`MCP-Protocol-Version` vs `_meta`, `Mcp-Method` vs `method`, `Mcp-Name` vs `params.name`/`uri`, base64 sentinel decoded; a routing header sent twice) | 400, -32020 HeaderMismatch |
//! | 2026, version not supported | 400, -32022 with `data: {supported, requested}` |
//! | 2026, unknown method | 404, -32601 ("MUST respond with 404 Not Found and … -32601") |
//! | 2026, other errors | -32602 and -32600: 400; -32603: 500 |
//! | unknown method (2025) | 200, -32601 |
//! | unknown tool or prompt | -32602 ("Unknown tool: x") |
//! | malformed `tools/call` (`name` not a string, `arguments` not an object) | -32602 |
//! | tool arguments that fail validation ([`CallError::InvalidArguments`]) | 2025-03-26, 2025-06-18: -32602 ("Invalid arguments" is a protocol error); 2025-11-25, 2026: `isError: true` result ("Input validation errors" are tool execution errors) |
//! | a tool that ran and failed | `isError: true` result, never a JSON-RPC error |
//! | resource not found | 2025: -32002; 2026: -32602 (changelog: "Change resource not found error code from -32002 to -32602") |
//! | a cursor (we never paginate, so never issued one) | -32602 ("Invalid or expired cursor") |
//! | backend fault ([`CallError::Internal`], a failed resource listing) | -32603 |
//!
//! Era routing: `initialize` is always 2025-era; otherwise a `MCP-Protocol-Version: 2026-07-28`
//! header, or a request whose `_meta` carries `io.modelcontextprotocol/protocolVersion`, is
//! judged by the 2026 rules (so a header-less modern request gets -32020, and a header that
//! contradicts `_meta` gets -32020 before any version verdict); a 2025 header selects that
//! revision; no header selects 2025-03-26. Fields a revision does not define are left out
//! (`title`, `outputSchema`, `structuredContent` for 2025-03-26; 2026 result fields for 2025).
//!
//! # The official Python client
//!
//! Checked against PyPI `mcp` 2.3.0 (with `mcp-types` 2.3.0; Python ≥ 3.10, `httpx2`,
//! `pydantic` ≥ 2.12), `mcp/client/streamable_http.py` and `mcp/client/session.py`:
//! - every POST sends `Accept: application/json, text/event-stream` and
//!   `Content-Type: application/json`;
//! - `Client(mode="auto")`, the default, first POSTs `server/discover` with
//!   `MCP-Protocol-Version: 2026-07-28`, `Mcp-Method: server/discover` and `_meta`
//!   (`protocolVersion`, `clientInfo`, `clientCapabilities`); it adopts 2026-07-28 when
//!   `supportedVersions` lists it, and then stamps `_meta`, `MCP-Protocol-Version`, `Mcp-Method`
//!   and `Mcp-Name` (base64 sentinel when needed) on every request. Any error other than -32022
//!   makes it fall back to `initialize`;
//! - the fallback (and `mode="legacy"`) sends `initialize` with `protocolVersion: "2025-11-25"`
//!   and no version header, accepts any of 2024-11-05..2025-11-25 in the answer, POSTs
//!   `notifications/initialized`, then sends `MCP-Protocol-Version: <negotiated>` on each request;
//! - a missing `Mcp-Session-Id` is fine: it then opens no GET stream and sends no DELETE;
//! - a `202` is expected for notifications (a `202` to a request is an error); a request's answer
//!   may be `application/json` (one JSON-RPC message; a JSON array would not parse) or SSE; on a
//!   4xx/5xx with an `application/json` JSON-RPC error body it surfaces that error (its `id`
//!   replaced by the request's), so error bodies here are always JSON-RPC errors;
//! - it validates 2026-07-28 results strictly: `resultType`, and `ttlMs`/`cacheScope` on lists.
//!
//! Checked by hand as well (a throwaway axum server around [`handle_post`], outside this repo):
//! `mcp` 2.3.0's `Client` in `mode="auto"` (lands on 2026-07-28), `mode="legacy"` (2025-11-25)
//! and `mode="2026-07-28"`, and `mcp` 1.30.0's `streamablehttp_client` + `ClientSession`
//! (2025-11-25, `session id None`), each listing and calling tools (structured, `isError`,
//! invalid arguments, unknown tool), getting a prompt and reading a resource; neither version sent
//! a GET or a DELETE.

mod backend;
pub mod jsonrpc;
mod methods;
mod transport;
mod version;

pub use backend::{
    CallError, McpBackend, PromptArgument, PromptDescriptor, PromptMessage, PromptMessages,
    ResourceContents, ResourceDescriptor, Role, ToolAnnotations, ToolDescriptor, ToolResult,
};
pub use methods::{
    CLIENT_CAPABILITIES_META_KEY, PROTOCOL_VERSION_META_KEY, SERVER_INFO_META_KEY, ServerInfo,
};
pub use transport::{
    ForbiddenOrigin, HttpReply, MAX_BATCH_MESSAGES, MCP_METHOD_HEADER, MCP_NAME_HEADER,
    MCP_PROTOCOL_VERSION_HEADER, check_origin, decode_header_value, handle_delete, handle_get,
    handle_post, method_not_allowed, origin_header,
};
pub use version::{
    DEFAULT_HEADERLESS_VERSION, LATEST_INITIALIZE_VERSION, ProtocolVersion, SUPPORTED_VERSIONS,
    supported_version_strings,
};
