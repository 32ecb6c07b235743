//! Schemas of bodies whose Rust types live in other crates (the domain crates stay free of
//! documentation concerns), and of the answers handlers build as JSON. Each mirrors its type
//! field for field; the contract fuzzer (schemathesis, in `./scripts/test`) checks real answers
//! against them. Never constructed: they exist for their `ToSchema` impls.
#![allow(dead_code)]

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

// ------------------------------------------------------------------------------- errors

/// Our error shape, on every `/v1` route: `{"error":{"type","message"}}`. Each response says
/// which `type` values it can carry.
#[derive(Serialize, ToSchema)]
pub struct Error {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable, e.g. `INSUFFICIENT_SCOPE`; see each response for the values.
    #[serde(rename = "type")]
    pub kind: String,
    /// For people; never contains a secret.
    pub message: String,
    /// An invalid document's problems, each with the JSON path of its field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<Vec<Problem>>,
}

/// One problem of an invalid document.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// The JSON path of the offending field, e.g. `/steps/2/fields/Stage`.
    pub path: String,
    pub message: String,
}

/// Airtable's error shapes, on `/v0`: Airtable's own refusals pass through as Airtable sent
/// them (`{"error":{"type","message"}}` or `{"error":"NOT_FOUND"}`), and the gateway's own use
/// the first shape with Airtable-style types.
#[derive(Serialize, ToSchema)]
pub struct AirtableError {
    pub error: AirtableErrorDetail,
}

#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum AirtableErrorDetail {
    Typed {
        #[serde(rename = "type")]
        kind: String,
        message: Option<String>,
    },
    Bare(String),
}

/// A JSON-RPC 2.0 error response, as `/mcp` answers protocol errors.
#[derive(Serialize, ToSchema)]
pub struct JsonRpcError {
    #[schema(pattern = "^2\\.0$")]
    pub jsonrpc: String,
    /// The request's id, or null when it could not be read.
    pub id: Option<JsonRpcId>,
    pub error: JsonRpcErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct JsonRpcErrorDetail {
    /// -32700 parse error, -32600 invalid request, -32601 method not found, -32602 invalid
    /// params, -32603 internal error, -32002 resource not found.
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

/// A request id. JSON-RPC 2.0 allows any number (MCP asks clients for integers); the server
/// takes any number or string and answers with the id exactly as it came.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum JsonRpcId {
    Number(f64),
    Text(String),
}

// ------------------------------------------------------------------------------- /mcp

/// A request (with an `id`) or a notification (without), as a client sends them.
#[derive(Serialize, ToSchema)]
pub struct JsonRpcRequest {
    #[schema(pattern = "^2\\.0$")]
    pub jsonrpc: String,
    /// Absent for a notification; MCP forbids a null id.
    #[schema(nullable = false)]
    pub id: Option<JsonRpcId>,
    /// e.g. `initialize`, `tools/list`, `tools/call`, `resources/read`, `prompts/get`.
    pub method: String,
    #[schema(nullable = false)]
    pub params: Option<std::collections::BTreeMap<String, Value>>,
}

/// A JSON-RPC 2.0 response: a `result` or an `error`, for the request with this `id` (null when
/// the request's id could not be read).
#[derive(Serialize, ToSchema)]
pub struct JsonRpcResponse {
    #[schema(pattern = "^2\\.0$")]
    pub jsonrpc: String,
    pub id: Option<JsonRpcId>,
    pub result: Option<Value>,
    pub error: Option<JsonRpcErrorDetail>,
}

/// Builds an `anyOf` schema (utoipa's derive writes `oneOf` for untagged enums, which refuses a
/// value that fits two alternatives).
fn any_of(
    alternatives: impl IntoIterator<Item = utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>,
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    alternatives
        .into_iter()
        .fold(
            utoipa::openapi::schema::AnyOfBuilder::new(),
            |builder, alternative| builder.item(alternative),
        )
        .description(Some(description))
        .into()
}

fn reference(name: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::Ref::from_schema_name(name).into()
}

/// A client's answer to a server request (2025 protocol revisions): an `id` and a `result` or
/// an `error`.
fn client_response() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let any_value =
        || ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::AnyValue);
    let base = |required: &str| {
        ObjectBuilder::new()
            .property(
                "jsonrpc",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^2\\.0$")),
            )
            .required("jsonrpc")
            .property("id", reference("JsonRpcId"))
            .required("id")
            .property("result", any_value())
            .property("error", any_value())
            .required(required)
            .into()
    };
    any_of(
        [base("result"), base("error")],
        "A client's response to a server request",
    )
}

/// Every schema `McpRequest` and `McpResponse` refer to, for `ToSchema::schemas`.
fn mcp_schemas(
    schemas: &mut Vec<(
        String,
        utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
    )>,
) {
    for (name, schema) in [
        (
            JsonRpcRequest::name(),
            <JsonRpcRequest as utoipa::PartialSchema>::schema(),
        ),
        (
            JsonRpcResponse::name(),
            <JsonRpcResponse as utoipa::PartialSchema>::schema(),
        ),
        (
            JsonRpcId::name(),
            <JsonRpcId as utoipa::PartialSchema>::schema(),
        ),
        (
            JsonRpcErrorDetail::name(),
            <JsonRpcErrorDetail as utoipa::PartialSchema>::schema(),
        ),
    ] {
        schemas.push((name.to_string(), schema));
    }
}

/// What a client posts: a JSON-RPC message, or (protocol revisions up to 2025-03-26) a batch of
/// one or more (JSON-RPC 2.0 calls an empty array an invalid request).
pub struct McpRequest;

impl utoipa::PartialSchema for McpRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let message = || {
            any_of(
                [reference("JsonRpcRequest"), client_response()],
                "One message",
            )
        };
        let batch = utoipa::openapi::schema::ArrayBuilder::new()
            .items(message())
            .min_items(Some(1))
            .description(Some("A batch (protocol revisions up to 2025-03-26)"));
        any_of(
            [reference("JsonRpcRequest"), client_response(), batch.into()],
            "A JSON-RPC request, notification or response, or a batch of them",
        )
    }
}

impl ToSchema for McpRequest {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        mcp_schemas(schemas);
    }
}

/// What the server answers with 200: a response, or a batch of them.
pub struct McpResponse;

impl utoipa::PartialSchema for McpResponse {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let batch = utoipa::openapi::schema::ArrayBuilder::new()
            .items(reference("JsonRpcResponse"))
            .min_items(Some(1));
        any_of(
            [reference("JsonRpcResponse"), batch.into()],
            "The answer to a request: a JSON-RPC response, or a batch of them",
        )
    }
}

impl ToSchema for McpResponse {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        mcp_schemas(schemas);
    }
}

// ------------------------------------------------------------------------------- accounts

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

/// A scope. Its values come from the platform's own list (`accounts::Scope::ALL`), so the
/// document cannot offer a scope the platform does not know, or miss one it does.
#[derive(Serialize)]
pub struct Scope(pub &'static str);

impl utoipa::PartialSchema for Scope {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(
                accounts::Scope::ALL.iter().map(|scope| scope.as_str()),
            ))
            .into()
    }
}

impl ToSchema for Scope {}

#[derive(Serialize, ToSchema)]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub tenant_id: String,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

/// A fresh access token (15 minutes) and the single-use refresh token that renews it.
#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    #[schema(pattern = "^Bearer$")]
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    #[schema(pattern = "^prt_")]
    pub refresh_token: String,
    pub refresh_expires_in: i64,
}

/// The answer to register and login: the user, the tenant and a token pair.
#[derive(Serialize, ToSchema)]
pub struct SignedIn {
    pub user: User,
    pub tenant: Tenant,
    pub access_token: String,
    #[schema(pattern = "^Bearer$")]
    pub token_type: String,
    pub expires_in: i64,
    #[schema(pattern = "^prt_")]
    pub refresh_token: String,
    pub refresh_expires_in: i64,
}

/// Who is calling: a signed-in user (`credential: session`) or an API key (`api_key`).
#[derive(Serialize, ToSchema)]
pub struct Me {
    /// Absent for an API key.
    pub user: Option<User>,
    pub tenant: Tenant,
    /// Present for an API key.
    pub api_key: Option<MeApiKey>,
    pub scopes: Vec<Scope>,
    #[schema(pattern = "^(session|api_key)$")]
    pub credential: String,
}

#[derive(Serialize, ToSchema)]
pub struct MeApiKey {
    pub id: String,
}

#[derive(Serialize, ToSchema)]
pub struct UserOnly {
    pub user: User,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// The key's first characters, to recognise it by.
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
}

/// A key just created: shown once, stored only as a hash.
#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub scopes: Vec<Scope>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
    #[schema(pattern = "^pak_")]
    pub key: String,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyList {
    pub api_keys: Vec<ApiKey>,
}

#[derive(Serialize, ToSchema)]
pub struct Deleted {
    pub id: String,
    pub deleted: bool,
}

// ------------------------------------------------------------------------------- connections

/// The Airtable connection, with the token masked (`pat…f3c9`).
#[derive(Serialize, ToSchema)]
pub struct Connection {
    #[schema(pattern = "^airtable$")]
    pub provider: String,
    pub airtable_user_id: String,
    pub airtable_email: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub token: String,
    pub connected_at: String,
}

// ------------------------------------------------------------------------------- chat

/// A chat turn.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    /// 1 to 8000 characters (after trimming).
    #[schema(min_length = 1, max_length = 8000, pattern = "\\S")]
    pub message: String,
    /// Continues this session; a new one is started when absent.
    pub session_id: Option<String>,
    /// The base the question is about, when there is one.
    pub base_id: Option<String>,
    /// A model from `GET /v1/models`; the default when absent.
    pub model: Option<String>,
    /// Lets the model change records (needs `records:write` too).
    #[serde(default)]
    pub allow_writes: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ToolCallReport {
    pub name: String,
    pub arguments: Value,
    pub ok: bool,
    pub summary: String,
}

#[derive(Serialize, ToSchema)]
pub struct TurnUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
}

#[derive(Serialize, ToSchema)]
pub struct ChatReply {
    pub session_id: String,
    pub reply: String,
    pub tool_calls: Vec<ToolCallReport>,
    pub usage: TurnUsage,
    pub model: String,
    #[schema(pattern = "^(complete|incomplete)$")]
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionSummary {
    pub id: String,
    pub title: String,
    pub model: String,
    pub created_at: String,
    pub updated_at: String,
    pub message_count: u64,
}

#[derive(Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionSummary>,
}

/// A session with its (bounded) history: user, assistant and tool messages.
#[derive(Serialize, ToSchema)]
pub struct ChatSession {
    pub id: String,
    pub title: String,
    pub model: String,
    pub created_at: String,
    pub updated_at: String,
    pub messages: Vec<ChatMessage>,
}

/// One message: `role` is `user`, `assistant` or `tool`.
#[derive(Serialize, ToSchema)]
pub struct ChatMessage {
    #[schema(pattern = "^(user|assistant|tool)$")]
    pub role: String,
    pub text: Option<String>,
    pub tool_calls: Option<Vec<Value>>,
    pub call_id: Option<String>,
    pub name: Option<String>,
    pub content: Option<Value>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Gemini,
    OpenaiCompatible,
}

#[derive(Serialize, ToSchema)]
pub struct Model {
    pub id: String,
    pub provider: ProviderKind,
    pub input_per_million_usd: f64,
    pub output_per_million_usd: f64,
    pub default: bool,
    /// Whether its provider is set up here.
    pub available: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ModelList {
    pub models: Vec<Model>,
}

/// The budget to set. Unknown fields are ignored.
#[derive(Serialize, ToSchema)]
pub struct BudgetSettings {
    /// US dollars per calendar month (UTC), 0 to 1e9.
    #[schema(minimum = 0.0, maximum = 1_000_000_000.0)]
    pub monthly_usd: f64,
    /// The share of the budget (0 < t ≤ 1) at which an alert is recorded.
    #[schema(exclusive_minimum = 0.0, maximum = 1.0)]
    pub alert_threshold: f64,
}

#[derive(Serialize, ToSchema)]
pub struct BudgetAlert {
    pub month: String,
    /// `threshold` or `exhausted`.
    pub kind: String,
    pub at: String,
    pub spent_usd: f64,
    pub monthly_usd: f64,
}

/// The budget (null until set), this month's spend and alerts.
#[derive(Serialize, ToSchema)]
pub struct Budget {
    pub monthly_usd: Option<f64>,
    pub alert_threshold: Option<f64>,
    pub month: String,
    pub spent_usd: f64,
    pub alerts: Vec<BudgetAlert>,
}

#[derive(Serialize, ToSchema)]
pub struct BudgetSet {
    pub monthly_usd: f64,
    pub alert_threshold: f64,
}

// ------------------------------------------------------------------------------- usage

#[derive(Serialize, ToSchema)]
pub struct RequestCounts {
    pub total: i64,
    /// Per route group (`auth`, `records`, `chat`, …, and `throttled`).
    pub by_group: std::collections::BTreeMap<String, i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AirtableCounts {
    pub calls: i64,
    pub calls_by_base: std::collections::BTreeMap<String, i64>,
    pub cache_hits: i64,
}

#[derive(Serialize, ToSchema)]
pub struct LlmCounts {
    pub calls: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
}

#[derive(Serialize, ToSchema)]
pub struct UsageDay {
    pub date: String,
    pub requests: RequestCounts,
    pub airtable: AirtableCounts,
    pub llm: LlmCounts,
}

#[derive(Serialize, ToSchema)]
pub struct UsageLimits {
    pub requests_per_minute: i64,
}

/// Month-to-date usage.
#[derive(Serialize, ToSchema)]
pub struct UsageSummary {
    pub tenant_id: String,
    pub month: String,
    pub requests: RequestCounts,
    pub airtable: AirtableCounts,
    pub llm: LlmCounts,
    pub budget: Budget,
    pub days: Vec<UsageDay>,
    /// Every raw counter of the month.
    pub counters: std::collections::BTreeMap<String, i64>,
    pub limits: UsageLimits,
}

// ------------------------------------------------------------------------------- health

/// `ok` (200) or `unavailable` (503, with `errors` naming the failed checks).
#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(pattern = "^(ok|unavailable)$")]
    pub status: String,
    pub version: String,
    /// `ok` or `error` per check (`store`, `queue`).
    pub checks: std::collections::BTreeMap<String, String>,
    pub latency_ms: std::collections::BTreeMap<String, f64>,
    pub errors: Option<std::collections::BTreeMap<String, String>>,
}

// ------------------------------------------------------------------------------- /v0 (Airtable's)
// Airtable's answers pass through the gateway as Airtable sent them; these say what clients
// can rely on and leave room for what Airtable adds.

#[derive(Serialize, ToSchema)]
pub struct Record {
    pub id: String,
    #[serde(rename = "createdTime")]
    pub created_time: String,
    /// Cell values by field name (or id, with `returnFieldsByFieldId`); empty cells are absent.
    pub fields: std::collections::BTreeMap<String, Value>,
    #[serde(rename = "commentCount")]
    pub comment_count: Option<i64>,
}

/// A page of records; `offset` asks for the next one.
#[derive(Serialize, ToSchema)]
pub struct RecordPage {
    pub records: Vec<Record>,
    pub offset: Option<String>,
}

/// Records written; an upsert (`performUpsert`) also says which were created and updated.
#[derive(Serialize, ToSchema)]
pub struct RecordsWritten {
    pub records: Vec<Record>,
    #[serde(rename = "createdRecords")]
    pub created_records: Option<Vec<String>>,
    #[serde(rename = "updatedRecords")]
    pub updated_records: Option<Vec<String>>,
}

/// A create answers with the records for `{"records":[…]}`, or the one record for
/// `{"fields":{…}}`.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum CreatedRecords {
    Many(RecordsWritten),
    One(Record),
}

#[derive(Serialize, ToSchema)]
pub struct DeletedRecord {
    pub id: String,
    pub deleted: bool,
}

#[derive(Serialize, ToSchema)]
pub struct DeletedRecords {
    pub records: Vec<DeletedRecord>,
}

/// The connected Airtable account.
#[derive(Serialize, ToSchema)]
pub struct Whoami {
    pub id: String,
    pub email: Option<String>,
    pub scopes: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct BaseSummary {
    pub id: String,
    pub name: String,
    #[serde(rename = "permissionLevel")]
    pub permission_level: String,
}

#[derive(Serialize, ToSchema)]
pub struct BaseList {
    pub bases: Vec<BaseSummary>,
    pub offset: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FieldSchema {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: Option<String>,
    pub options: Option<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct ViewSchema {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Serialize, ToSchema)]
pub struct TableSchema {
    pub id: String,
    pub name: String,
    #[serde(rename = "primaryFieldId")]
    pub primary_field_id: String,
    pub description: Option<String>,
    pub fields: Vec<FieldSchema>,
    pub views: Option<Vec<ViewSchema>>,
}

#[derive(Serialize, ToSchema)]
pub struct BaseSchema {
    pub tables: Vec<TableSchema>,
}

// The `/v0` request bodies, as Airtable documents them. The gateway forwards each body as it
// came; Airtable (or the sandbox) checks what no schema can, such as whether a field name exists
// in the table or a cell value fits its field's type, and answers 422 in its own shape.

/// `POST /v0/{base_id}/{table}`: up to 10 records, or one record's fields.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum CreateRecordsBody {
    Many(CreateRecordsMany),
    One(WriteOneRecord),
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRecordsMany {
    #[schema(min_items = 1, max_items = 10)]
    pub records: Vec<NewRecord>,
    /// Convert strings to the fields' types (e.g. a select option that does not exist yet).
    pub typecast: Option<bool>,
    #[serde(rename = "returnFieldsByFieldId")]
    pub return_fields_by_field_id: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct NewRecord {
    /// Cell values by field name (or id), as Airtable's field types take them.
    pub fields: std::collections::BTreeMap<String, Value>,
}

/// One record's new cells (`POST` of one record, `PATCH`/`PUT` of `…/{record_id}`).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteOneRecord {
    /// Cell values by field name (or id), as Airtable's field types take them.
    pub fields: std::collections::BTreeMap<String, Value>,
    pub typecast: Option<bool>,
    #[serde(rename = "returnFieldsByFieldId")]
    pub return_fields_by_field_id: Option<bool>,
}

/// `PATCH`/`PUT /v0/{base_id}/{table}`: up to 10 records by id, or, with `performUpsert`, by
/// the values of up to 3 merge fields (records without an id are matched or created).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRecordsBody {
    #[schema(min_items = 1, max_items = 10)]
    pub records: Vec<RecordChange>,
    pub typecast: Option<bool>,
    #[serde(rename = "returnFieldsByFieldId")]
    pub return_fields_by_field_id: Option<bool>,
    #[serde(rename = "performUpsert")]
    pub perform_upsert: Option<PerformUpsert>,
}

#[derive(Serialize, ToSchema)]
pub struct RecordChange {
    #[schema(pattern = "^rec[A-Za-z0-9]{1,61}$")]
    pub id: Option<String>,
    /// Cell values by field name (or id), as Airtable's field types take them.
    pub fields: std::collections::BTreeMap<String, Value>,
}

#[derive(Serialize, ToSchema)]
pub struct PerformUpsert {
    #[serde(rename = "fieldsToMergeOn")]
    #[schema(min_items = 1, max_items = 3)]
    pub fields_to_merge_on: Vec<String>,
}

/// `POST /v0/{base_id}/{table}/listRecords`: the list parameters as JSON (for lists whose
/// query string would be too long, such as a large `filterByFormula`).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListRecordsBody {
    /// Records per page, 1 to 100.
    #[serde(rename = "pageSize")]
    #[schema(minimum = 1, maximum = 100)]
    pub page_size: Option<u64>,
    /// At most this many records in all.
    #[serde(rename = "maxRecords")]
    #[schema(minimum = 1)]
    pub max_records: Option<u64>,
    /// From the previous page.
    pub offset: Option<String>,
    pub view: Option<String>,
    #[serde(rename = "filterByFormula")]
    pub filter_by_formula: Option<String>,
    pub sort: Option<Vec<SortBy>>,
    pub fields: Option<Vec<String>>,
    #[serde(rename = "cellFormat")]
    pub cell_format: Option<String>,
    #[serde(rename = "timeZone")]
    pub time_zone: Option<String>,
    #[serde(rename = "userLocale")]
    pub user_locale: Option<String>,
    #[serde(rename = "returnFieldsByFieldId")]
    pub return_fields_by_field_id: Option<bool>,
    #[serde(rename = "recordMetadata")]
    pub record_metadata: Option<Vec<String>>,
    /// airtable.js sends its whole option object, `method` included; Airtable ignores it.
    pub method: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SortBy {
    pub field: String,
    /// `asc` (the default) or `desc`.
    pub direction: Option<String>,
}

/// `POST /v0/meta/bases/{base_id}/tables`.
#[derive(Serialize, ToSchema)]
pub struct NewTable {
    #[schema(min_length = 1)]
    pub name: String,
    pub description: Option<String>,
    /// The first field is the primary field.
    #[schema(min_items = 1)]
    pub fields: Vec<NewField>,
}

/// `POST /v0/meta/bases/{base_id}/tables/{table}/fields`, and each field of a new table.
#[derive(Serialize, ToSchema)]
pub struct NewField {
    #[schema(min_length = 1)]
    pub name: String,
    /// An Airtable field type, e.g. `singleLineText`, `number`, `singleSelect`.
    #[serde(rename = "type")]
    pub field_type: String,
    pub description: Option<String>,
    /// The type's options, e.g. `{"precision": 0}` for a number.
    pub options: Option<std::collections::BTreeMap<String, Value>>,
}

/// `PATCH` of a table or a field: a new name, a new description, or both.
#[derive(Serialize, ToSchema)]
#[schema(min_properties = 1)]
pub struct NameOrDescription {
    #[schema(min_length = 1)]
    pub name: Option<String>,
    pub description: Option<String>,
}

// ---------------------------------------------------------------- workflows and runs

/// A workflow as sent: a name, a trigger and ordered steps. The trigger and step shapes are in
/// the README ("Automations"); each `type` takes its own fields, and values are templates.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSpec {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// Whether its trigger fires (default true). Manual runs work either way.
    pub enabled: Option<bool>,
    /// `{"type": "manual" | "schedule" | "record_created" | "record_updated" |
    /// "record_deleted" | "webhook", ...}`.
    #[schema(value_type = Object)]
    pub trigger: Value,
    /// 1 to 50 steps, each `{"id", "type": "airtable.list" | "airtable.get" |
    /// "airtable.create" | "airtable.update" | "airtable.upsert" | "airtable.delete" | "llm" |
    /// "http" | "condition" | "delay" | "set", ...}`.
    #[schema(value_type = Vec<Object>, min_items = 1, max_items = 50)]
    pub steps: Vec<Value>,
}

/// A JSON merge patch of a workflow's fields.
#[derive(Serialize, ToSchema)]
pub struct WorkflowPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    #[schema(value_type = Option<Object>)]
    pub trigger: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub steps: Option<Vec<Value>>,
}

#[derive(Serialize, ToSchema)]
pub struct Workflow {
    /// `wfl_…`
    pub id: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    #[schema(value_type = Object)]
    pub trigger: Value,
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<Value>,
    /// Bumped by every change.
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
    /// Webhook triggers: where to POST signed requests.
    pub hook_url: Option<String>,
    /// In the answer to the creation only: the secret that signs inbound hooks and `http`
    /// steps' requests.
    pub signing_secret: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct WorkflowList {
    pub workflows: Vec<Workflow>,
}

/// A whole workflow, or `{"cron", "timezone"}` alone.
#[derive(Serialize, ToSchema)]
pub struct ValidateWorkflow {
    pub name: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub trigger: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub steps: Option<Vec<Value>>,
    /// A 5-field cron expression, e.g. `0 9 * * MON-FRI`.
    pub cron: Option<String>,
    /// An IANA time zone, e.g. `Europe/Paris` (UTC when absent).
    pub timezone: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ValidationReport {
    pub valid: bool,
    pub problems: Vec<Problem>,
    /// A schedule's next five fire times, RFC 3339 with the zone's offset at each instant.
    pub next_fire_times: Vec<String>,
    /// The schedule's time zone.
    pub timezone: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RunStarted {
    /// `run_…`
    pub id: String,
    pub status: String,
    pub workflow_id: String,
}

/// A run: `queued`, `running`, `waiting` (in a delay), `succeeded`, `failed`, `cancelled` or
/// `dead_letter`; its trigger and input; with `steps` when shown alone.
#[derive(Serialize, ToSchema)]
pub struct Run {
    pub id: String,
    pub workflow_id: String,
    pub workflow_version: u64,
    pub status: String,
    #[schema(value_type = Object)]
    pub trigger: Value,
    #[schema(value_type = Object)]
    pub input: Value,
    pub next_step: u64,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub deadline: String,
    pub wake_at: Option<String>,
    pub error: Option<String>,
    pub cancel_requested: bool,
    /// Each executed step: `index`, `step_id`, `type`, `status`, `input`, `output`, `error`,
    /// `attempts`, `started_at`, `finished_at`, `duration_ms`.
    #[schema(value_type = Option<Vec<Object>>)]
    pub steps: Option<Vec<Value>>,
}

#[derive(Serialize, ToSchema)]
pub struct RunList {
    pub runs: Vec<Run>,
    /// Pass as `offset` for the next page.
    pub offset: Option<String>,
}

/// Runs by status per day.
#[derive(Serialize, ToSchema)]
pub struct WorkflowStats {
    /// `[{"date": "2026-12-02", "counts": {"created": 4, "succeeded": 3, "failed": 1,
    /// "cancelled": 0, "dead_letter": 0}}]`, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub days: Vec<Value>,
}

/// A run the runs queue gave up on.
#[derive(Serialize, ToSchema)]
pub struct DeadLetter {
    pub run_id: String,
    pub workflow_id: String,
    /// The last failure.
    pub error: String,
    pub dead_lettered_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct DeadLetterList {
    pub dead_letters: Vec<DeadLetter>,
}

/// Airtable's webhook notification.
#[derive(Serialize, ToSchema)]
pub struct AirtablePing {
    #[schema(value_type = Object)]
    pub base: Value,
    #[schema(value_type = Object)]
    pub webhook: Value,
    pub timestamp: String,
}

// ---------------------------------------------------------------- sagas

/// A kind of saga, run by the state machine of the same name.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SagaType {
    Transaction,
    TableSync,
    ConnectBase,
}

/// Where a saga is: `running`; `succeeded`; `compensating` (a step failed or a cancel came, and
/// the done steps are being undone); `compensated` or `cancelled` (undone: the base is as it was
/// before); `failed` (the compensation itself failed, or the execution died: the base may hold
/// part of the saga's changes and needs a person).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SagaStatus {
    Running,
    Succeeded,
    Compensating,
    Compensated,
    Cancelled,
    Failed,
}

#[derive(Serialize, ToSchema)]
pub struct SagaStarted {
    /// `sag_…`
    pub id: String,
    #[serde(rename = "type")]
    pub saga_type: SagaType,
    pub status: SagaStatus,
    pub created_at: String,
}

/// A saga in a list.
#[derive(Serialize, ToSchema)]
pub struct SagaSummary {
    pub id: String,
    #[serde(rename = "type")]
    pub saga_type: SagaType,
    pub status: SagaStatus,
    pub created_at: String,
    pub updated_at: String,
    /// The record operations it plans (a transaction's, or a table-sync's once compared).
    pub operations: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct SagaPage {
    pub sagas: Vec<SagaSummary>,
    /// Pass as `offset` for the next page.
    pub offset: Option<String>,
}

/// A failure as the state machine names it: `error` is `Platform.Failed`,
/// `Saga.Compensated`, `Saga.Cancelled`, …; `cause` says what happened.
#[derive(Serialize, ToSchema)]
pub struct SagaErrorInfo {
    pub error: String,
    pub cause: String,
}

/// One action of the saga: a forward `step` or a `compensation`.
#[derive(Serialize, ToSchema)]
pub struct SagaStep {
    /// The action: `begin`, `capture`, `apply`, `plan_undo`, `undo`, `commit`, `diff`, ….
    pub name: String,
    /// The chunk of operations it worked on, for the actions that work on one.
    pub index: Option<u64>,
    /// `step` or `compensation`.
    pub kind: String,
    /// `running`, `succeeded` or `failed`.
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// How many times it ran (retries included).
    pub attempts: u64,
    /// A small summary of what it did (counts and record ids, never record data).
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    pub error: Option<SagaErrorInfo>,
}

/// A saga with its input, its outcome and its step history.
#[derive(Serialize, ToSchema)]
pub struct SagaDetail {
    pub id: String,
    #[serde(rename = "type")]
    pub saga_type: SagaType,
    pub status: SagaStatus,
    pub created_at: String,
    pub updated_at: String,
    pub operations: Option<u64>,
    /// The input as it was given.
    #[schema(value_type = Object)]
    pub input: Value,
    /// What a succeeded saga produced (a table-sync dry run's report, a transaction's created
    /// record ids, …).
    #[schema(value_type = Option<Object>)]
    pub output: Option<Value>,
    pub error: Option<SagaErrorInfo>,
    /// Whether a cancel was asked for.
    pub cancel_requested: bool,
    /// Each step and compensation, in the order they ran.
    pub steps: Vec<SagaStep>,
}

/// A saga type: what it does and its input's JSON Schema.
#[derive(Serialize, ToSchema)]
pub struct SagaTypeInfo {
    #[serde(rename = "type")]
    pub saga_type: SagaType,
    pub description: String,
    /// A JSON Schema (draft 2020-12) of the type's `input`.
    #[schema(value_type = Object)]
    pub input_schema: Value,
}

#[derive(Serialize, ToSchema)]
pub struct SagaTypeList {
    pub types: Vec<SagaTypeInfo>,
}
