//! `api-records`: the Airtable-compatible `/v0` gateway. Each route parses its path into a
//! [`gateway::Operation`], checks the caller's scope, and hands the request to
//! [`gateway::Gateway`]; the answer goes back with Airtable's status and body as they came.
//!
//! Clients authenticate with one of our access tokens or API keys in place of an Airtable
//! token; the gateway calls Airtable with the tenant's connected token.

use crate::{ApiError, ErrorKind};
use accounts::Scope;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gateway::{BaseId, FieldId, IdempotencyKey, Operation, RecordId, Request, TableRef};
use metering::UsageTally;
use serde_json::Value;
use utoipa::IntoParams;
use utoipa_axum::routes;

use crate::openapi::schemas;
use crate::{AppState, Caller, FunctionRoutes, Needs};

pub const FUNCTION: &str = "api-records";

/// The request header naming an idempotent write.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The response header saying whether the cache answered.
pub const X_CACHE: &str = "x-cache";
/// The response header marking a replayed idempotent answer.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

const TABLES: &str = "/v0/meta/bases/{base_id}/tables";
const TABLE: &str = "/v0/meta/bases/{base_id}/tables/{table}";
const FIELDS: &str = "/v0/meta/bases/{base_id}/tables/{table}/fields";
const FIELD: &str = "/v0/meta/bases/{base_id}/tables/{table}/fields/{field_id}";
const RECORDS: &str = "/v0/{base_id}/{table}";
const LIST_RECORDS: &str = "/v0/{base_id}/{table}/listRecords";
const RECORD: &str = "/v0/{base_id}/{table}/{record_id}";

pub fn routes() -> FunctionRoutes {
    let identity = Needs::any_of([Scope::RecordsRead, Scope::SchemaRead]);
    FunctionRoutes::new(FUNCTION)
        .route(identity, routes!(whoami))
        .route(Scope::SchemaRead, routes!(list_bases))
        .route(Scope::SchemaRead, routes!(base_schema))
        .route(Scope::SchemaWrite, routes!(create_table))
        .route(Scope::SchemaWrite, routes!(update_table))
        .route(Scope::SchemaWrite, routes!(create_field))
        .route(Scope::SchemaWrite, routes!(update_field))
        .route(Scope::RecordsRead, routes!(list_records))
        .route(Scope::RecordsWrite, routes!(create_records))
        .route(Scope::RecordsWrite, routes!(update_records))
        .route(Scope::RecordsWrite, routes!(replace_records))
        .route(Scope::RecordsWrite, routes!(delete_records))
        .route(Scope::RecordsRead, routes!(list_records_post))
        .route(Scope::RecordsRead, routes!(get_record))
        .route(Scope::RecordsWrite, routes!(update_record))
        .route(Scope::RecordsWrite, routes!(replace_record))
        .route(Scope::RecordsWrite, routes!(delete_record))
}

// The documented parameters, with the patterns the parsers accept (`BaseId`, `RecordId`,
// `FieldId`: the prefix then 1 to 61 letters and digits; `TableRef`: an id or a name of 1 to 255
// bytes, not blank, without control characters). These types exist for their `IntoParams`
// impls; handlers read the path as strings and parse it themselves, so a malformed id is
// Airtable's 404, not a 400.

#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
struct BasePath {
    /// The base id, `app…`.
    #[param(pattern = "^app[A-Za-z0-9]{1,61}$")]
    base_id: String,
}

#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
struct TablePath {
    /// The base id, `app…`.
    #[param(pattern = "^app[A-Za-z0-9]{1,61}$")]
    base_id: String,
    /// The table's id (`tbl…`) or name.
    #[param(
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f/]*[^\\s/][^\\x00-\\x1f\\x7f-\\x9f/]*$",
        min_length = 1,
        max_length = 255
    )]
    table: String,
}

#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
struct RecordPath {
    /// The base id, `app…`.
    #[param(pattern = "^app[A-Za-z0-9]{1,61}$")]
    base_id: String,
    /// The table's id (`tbl…`) or name.
    #[param(
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f/]*[^\\s/][^\\x00-\\x1f\\x7f-\\x9f/]*$",
        min_length = 1,
        max_length = 255
    )]
    table: String,
    /// The record id, `rec…`.
    #[param(pattern = "^rec[A-Za-z0-9]{1,61}$")]
    record_id: String,
}

#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
struct FieldPath {
    /// The base id, `app…`.
    #[param(pattern = "^app[A-Za-z0-9]{1,61}$")]
    base_id: String,
    /// The table's id (`tbl…`) or name.
    #[param(
        pattern = "^[^\\x00-\\x1f\\x7f-\\x9f/]*[^\\s/][^\\x00-\\x1f\\x7f-\\x9f/]*$",
        min_length = 1,
        max_length = 255
    )]
    table: String,
    /// The field id, `fld…`.
    #[param(pattern = "^fld[A-Za-z0-9]{1,61}$")]
    field_id: String,
}

#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
struct IdempotencyHeader {
    /// Makes a write safe to retry: a repeat with the same key and request answers the first
    /// result (with `Idempotent-Replayed: true`). Visible ASCII, 1 to 255 characters.
    #[param(rename = "Idempotency-Key", pattern = "^[!-~]{1,255}$")]
    idempotency_key: Option<String>,
}

/// Airtable's list parameters (forwarded as given; Airtable has the final word on each).
#[allow(dead_code, non_snake_case)]
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Records per page, 1 to 100.
    #[param(minimum = 1, maximum = 100)]
    pageSize: Option<u64>,
    /// The `offset` of the previous page.
    offset: Option<String>,
    /// At most this many records in all.
    #[param(schema_with = at_least_one)]
    maxRecords: Option<u64>,
    /// A view's name or id.
    view: Option<String>,
    /// An Airtable formula; only records for which it is true.
    filterByFormula: Option<String>,
    /// `json` (default) or `string`.
    #[param(pattern = "^(json|string)$")]
    cellFormat: Option<String>,
    timeZone: Option<String>,
    userLocale: Option<String>,
    returnFieldsByFieldId: Option<bool>,
}

/// A whole number from 1 up, with no upper bound: Airtable documents none for `maxRecords`
/// (utoipa would add `format: int64`, whose implied maximum neither Airtable nor the gateway
/// checks).
fn at_least_one() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Integer)
        .minimum(Some(1))
        .build()
}

#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
struct DeleteQuery {
    /// Up to 10 record ids.
    #[param(rename = "records[]", max_items = 10)]
    records: Vec<String>,
}

#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
struct ListBasesQuery {
    /// The `offset` of the previous page.
    offset: Option<String>,
}

#[allow(dead_code)]
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
struct SchemaQuery {
    /// `visibleFieldIds`: include each view's visible fields.
    #[param(rename = "include[]")]
    include: Option<Vec<String>>,
}

/// Everything of a request a handler forwards besides its path: the raw query string, the
/// headers, the body, and the usage tally the authentication middleware records at the end.
struct Inbound {
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
    usage: UsageTally,
}

impl<S: Send + Sync> FromRequest<S> for Inbound {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let query = request.uri().query().map(str::to_string);
        let headers = request.headers().clone();
        // Outside the middleware (unit tests) nobody records the tally; a fresh one is dropped.
        let usage = request
            .extensions()
            .get::<UsageTally>()
            .cloned()
            .unwrap_or_default();
        let body = Bytes::from_request(request, state).await.map_err(|_| {
            ApiError::new(
                ErrorKind::PayloadTooLarge,
                "The body is too large or could not be read",
            )
            .with_type("REQUEST_TOO_LARGE")
        })?;
        Ok(Self {
            query,
            headers,
            body,
            usage,
        })
    }
}

#[utoipa::path(
    get,
    path = "/v0/meta/whoami",
    tag = "gateway: meta",
    description = "The connected Airtable account.",
    responses(
        (status = 200, description = "The connected Airtable account", body = schemas::Whoami),
        (status = 403, description = "Airtable refused the connected token this model (`INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND`, `INVALID_PERMISSIONS`).", body = schemas::AirtableError),
        (status = 404, description = "A malformed id in the path (`NOT_FOUND`), or Airtable has no such base, table or record (`NOT_FOUND`, `MODEL_ID_NOT_FOUND`, `TABLE_NOT_FOUND`).", body = schemas::AirtableError),
        (status = 409, description = "No Airtable connection (`AIRTABLE_NOT_CONNECTED`), or Airtable refused the connected token (`AIRTABLE_TOKEN_REJECTED`).", body = schemas::AirtableError),
        (status = 422, description = "Airtable refused the request (e.g. `INVALID_REQUEST_UNKNOWN`, `INVALID_FILTER_BY_FORMULA`, `UNKNOWN_FIELD_NAME`, `INVALID_VALUE_FOR_COLUMN`, `INVALID_RECORDS`).", body = schemas::AirtableError),
        (status = 429, description = "Airtable's limit cannot serve the request within the gateway's latency budget (`RATE_LIMIT_REACHED`); `Retry-After` says when to retry.", body = schemas::AirtableError),
        (status = 502, description = "Airtable failed or could not be reached (`UPSTREAM_ERROR`).", body = schemas::AirtableError),
        (status = 503, description = "Airtable or a dependency is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::AirtableError),
        (status = 504, description = "Airtable did not answer in time (`UPSTREAM_TIMEOUT`).", body = schemas::AirtableError),
    )
)]
async fn whoami(
    State(state): State<AppState>,
    caller: Caller,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    serve(&state, &caller, Operation::whoami(), inbound).await
}

#[utoipa::path(
    get,
    path = "/v0/meta/bases",
    tag = "gateway: meta",
    description = "The bases the connected token reaches.",
    params(ListBasesQuery),
    responses(
        (status = 200, description = "The bases", body = schemas::BaseList),
        (status = 403, description = "Airtable refused the connected token this model (`INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND`, `INVALID_PERMISSIONS`).", body = schemas::AirtableError),
        (status = 404, description = "A malformed id in the path (`NOT_FOUND`), or Airtable has no such base, table or record (`NOT_FOUND`, `MODEL_ID_NOT_FOUND`, `TABLE_NOT_FOUND`).", body = schemas::AirtableError),
        (status = 409, description = "No Airtable connection (`AIRTABLE_NOT_CONNECTED`), or Airtable refused the connected token (`AIRTABLE_TOKEN_REJECTED`).", body = schemas::AirtableError),
        (status = 422, description = "Airtable refused the request (e.g. `INVALID_REQUEST_UNKNOWN`, `INVALID_FILTER_BY_FORMULA`, `UNKNOWN_FIELD_NAME`, `INVALID_VALUE_FOR_COLUMN`, `INVALID_RECORDS`).", body = schemas::AirtableError),
        (status = 429, description = "Airtable's limit cannot serve the request within the gateway's latency budget (`RATE_LIMIT_REACHED`); `Retry-After` says when to retry.", body = schemas::AirtableError),
        (status = 502, description = "Airtable failed or could not be reached (`UPSTREAM_ERROR`).", body = schemas::AirtableError),
        (status = 503, description = "Airtable or a dependency is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::AirtableError),
        (status = 504, description = "Airtable did not answer in time (`UPSTREAM_TIMEOUT`).", body = schemas::AirtableError),
    )
)]
async fn list_bases(
    State(state): State<AppState>,
    caller: Caller,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    serve(&state, &caller, Operation::list_bases(), inbound).await
}

#[utoipa::path(
    get,
    path = TABLES,
    tag = "gateway: meta",
    description = "A base's tables, fields and views.",
    params(BasePath, SchemaQuery),
    responses(
        (status = 200, description = "The base schema", body = schemas::BaseSchema),
        (status = 403, description = "Airtable refused the connected token this model (`INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND`, `INVALID_PERMISSIONS`).", body = schemas::AirtableError),
        (status = 404, description = "A malformed id in the path (`NOT_FOUND`), or Airtable has no such base, table or record (`NOT_FOUND`, `MODEL_ID_NOT_FOUND`, `TABLE_NOT_FOUND`).", body = schemas::AirtableError),
        (status = 409, description = "No Airtable connection (`AIRTABLE_NOT_CONNECTED`), or Airtable refused the connected token (`AIRTABLE_TOKEN_REJECTED`).", body = schemas::AirtableError),
        (status = 422, description = "Airtable refused the request (e.g. `INVALID_REQUEST_UNKNOWN`, `INVALID_FILTER_BY_FORMULA`, `UNKNOWN_FIELD_NAME`, `INVALID_VALUE_FOR_COLUMN`, `INVALID_RECORDS`).", body = schemas::AirtableError),
        (status = 429, description = "Airtable's limit cannot serve the request within the gateway's latency budget (`RATE_LIMIT_REACHED`); `Retry-After` says when to retry.", body = schemas::AirtableError),
        (status = 502, description = "Airtable failed or could not be reached (`UPSTREAM_ERROR`).", body = schemas::AirtableError),
        (status = 503, description = "Airtable or a dependency is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::AirtableError),
        (status = 504, description = "Airtable did not answer in time (`UPSTREAM_TIMEOUT`).", body = schemas::AirtableError),
    )
)]
async fn base_schema(
    State(state): State<AppState>,
    caller: Caller,
    Path(base_id): Path<String>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation = Operation::base_schema(base(&base_id)?);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(
    post,
    path = TABLES,
    tag = "gateway: meta",
    description = "Creates a table.",
    params(BasePath),
    request_body(content = schemas::NewTable, content_type = "application/json", description = "The new table and its fields (the first is the primary field)"),
    responses(
        (status = 200, description = "The new table", body = schemas::TableSchema),
        (status = 403, description = "Airtable refused the connected token this model (`INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND`, `INVALID_PERMISSIONS`).", body = schemas::AirtableError),
        (status = 404, description = "A malformed id in the path (`NOT_FOUND`), or Airtable has no such base, table or record (`NOT_FOUND`, `MODEL_ID_NOT_FOUND`, `TABLE_NOT_FOUND`).", body = schemas::AirtableError),
        (status = 409, description = "No Airtable connection (`AIRTABLE_NOT_CONNECTED`), or Airtable refused the connected token (`AIRTABLE_TOKEN_REJECTED`), or the `Idempotency-Key` is in use (`IDEMPOTENCY_KEY_IN_USE`) or its first answer was not kept (`IDEMPOTENCY_ANSWER_NOT_KEPT`).", body = schemas::AirtableError),
        (status = 422, description = "Airtable refused the request (e.g. `INVALID_REQUEST_UNKNOWN`, `INVALID_FILTER_BY_FORMULA`, `UNKNOWN_FIELD_NAME`, `INVALID_VALUE_FOR_COLUMN`, `INVALID_RECORDS`), or the `Idempotency-Key` was used with another request (`IDEMPOTENCY_KEY_REUSED`).", body = schemas::AirtableError),
        (status = 429, description = "Airtable's limit cannot serve the request within the gateway's latency budget (`RATE_LIMIT_REACHED`); `Retry-After` says when to retry.", body = schemas::AirtableError),
        (status = 502, description = "Airtable failed or could not be reached (`UPSTREAM_ERROR`).", body = schemas::AirtableError),
        (status = 503, description = "Airtable or a dependency is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::AirtableError),
        (status = 504, description = "Airtable did not answer in time (`UPSTREAM_TIMEOUT`).", body = schemas::AirtableError),
        (status = 400, description = "A malformed `Idempotency-Key` header (`INVALID_IDEMPOTENCY_KEY`).", body = schemas::AirtableError),
    )
)]
async fn create_table(
    State(state): State<AppState>,
    caller: Caller,
    Path(base_id): Path<String>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation = Operation::create_table(base(&base_id)?);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(
    patch,
    path = TABLE,
    tag = "gateway: meta",
    description = "Renames a table or changes its description.",
    params(TablePath),
    request_body(content = schemas::NameOrDescription, content_type = "application/json", description = "A new name, a new description, or both"),
    responses(
        (status = 200, description = "The table", body = schemas::TableSchema),
        (status = 403, description = "Airtable refused the connected token this model (`INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND`, `INVALID_PERMISSIONS`).", body = schemas::AirtableError),
        (status = 404, description = "A malformed id in the path (`NOT_FOUND`), or Airtable has no such base, table or record (`NOT_FOUND`, `MODEL_ID_NOT_FOUND`, `TABLE_NOT_FOUND`).", body = schemas::AirtableError),
        (status = 409, description = "No Airtable connection (`AIRTABLE_NOT_CONNECTED`), or Airtable refused the connected token (`AIRTABLE_TOKEN_REJECTED`), or the `Idempotency-Key` is in use (`IDEMPOTENCY_KEY_IN_USE`) or its first answer was not kept (`IDEMPOTENCY_ANSWER_NOT_KEPT`).", body = schemas::AirtableError),
        (status = 422, description = "Airtable refused the request (e.g. `INVALID_REQUEST_UNKNOWN`, `INVALID_FILTER_BY_FORMULA`, `UNKNOWN_FIELD_NAME`, `INVALID_VALUE_FOR_COLUMN`, `INVALID_RECORDS`), or the `Idempotency-Key` was used with another request (`IDEMPOTENCY_KEY_REUSED`).", body = schemas::AirtableError),
        (status = 429, description = "Airtable's limit cannot serve the request within the gateway's latency budget (`RATE_LIMIT_REACHED`); `Retry-After` says when to retry.", body = schemas::AirtableError),
        (status = 502, description = "Airtable failed or could not be reached (`UPSTREAM_ERROR`).", body = schemas::AirtableError),
        (status = 503, description = "Airtable or a dependency is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::AirtableError),
        (status = 504, description = "Airtable did not answer in time (`UPSTREAM_TIMEOUT`).", body = schemas::AirtableError),
        (status = 400, description = "A malformed `Idempotency-Key` header (`INVALID_IDEMPOTENCY_KEY`).", body = schemas::AirtableError),
    )
)]
async fn update_table(
    State(state): State<AppState>,
    caller: Caller,
    Path((base_id, table_ref)): Path<(String, String)>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation = Operation::update_table(base(&base_id)?, table(&table_ref)?);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(
    post,
    path = FIELDS,
    tag = "gateway: meta",
    description = "Creates a field.",
    params(TablePath),
    request_body(content = schemas::NewField, content_type = "application/json", description = "The new field"),
    responses(
        (status = 200, description = "The new field", body = schemas::FieldSchema),
        (status = 403, description = "Airtable refused the connected token this model (`INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND`, `INVALID_PERMISSIONS`).", body = schemas::AirtableError),
        (status = 404, description = "A malformed id in the path (`NOT_FOUND`), or Airtable has no such base, table or record (`NOT_FOUND`, `MODEL_ID_NOT_FOUND`, `TABLE_NOT_FOUND`).", body = schemas::AirtableError),
        (status = 409, description = "No Airtable connection (`AIRTABLE_NOT_CONNECTED`), or Airtable refused the connected token (`AIRTABLE_TOKEN_REJECTED`), or the `Idempotency-Key` is in use (`IDEMPOTENCY_KEY_IN_USE`) or its first answer was not kept (`IDEMPOTENCY_ANSWER_NOT_KEPT`).", body = schemas::AirtableError),
        (status = 422, description = "Airtable refused the request (e.g. `INVALID_REQUEST_UNKNOWN`, `INVALID_FILTER_BY_FORMULA`, `UNKNOWN_FIELD_NAME`, `INVALID_VALUE_FOR_COLUMN`, `INVALID_RECORDS`), or the `Idempotency-Key` was used with another request (`IDEMPOTENCY_KEY_REUSED`).", body = schemas::AirtableError),
        (status = 429, description = "Airtable's limit cannot serve the request within the gateway's latency budget (`RATE_LIMIT_REACHED`); `Retry-After` says when to retry.", body = schemas::AirtableError),
        (status = 502, description = "Airtable failed or could not be reached (`UPSTREAM_ERROR`).", body = schemas::AirtableError),
        (status = 503, description = "Airtable or a dependency is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::AirtableError),
        (status = 504, description = "Airtable did not answer in time (`UPSTREAM_TIMEOUT`).", body = schemas::AirtableError),
        (status = 400, description = "A malformed `Idempotency-Key` header (`INVALID_IDEMPOTENCY_KEY`).", body = schemas::AirtableError),
    )
)]
async fn create_field(
    State(state): State<AppState>,
    caller: Caller,
    Path((base_id, table_ref)): Path<(String, String)>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation = Operation::create_field(base(&base_id)?, table(&table_ref)?);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(
    patch,
    path = FIELD,
    tag = "gateway: meta",
    description = "Renames a field or changes its description.",
    params(FieldPath),
    request_body(content = schemas::NameOrDescription, content_type = "application/json", description = "A new name, a new description, or both"),
    responses(
        (status = 200, description = "The field", body = schemas::FieldSchema),
        (status = 403, description = "Airtable refused the connected token this model (`INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND`, `INVALID_PERMISSIONS`).", body = schemas::AirtableError),
        (status = 404, description = "A malformed id in the path (`NOT_FOUND`), or Airtable has no such base, table or record (`NOT_FOUND`, `MODEL_ID_NOT_FOUND`, `TABLE_NOT_FOUND`).", body = schemas::AirtableError),
        (status = 409, description = "No Airtable connection (`AIRTABLE_NOT_CONNECTED`), or Airtable refused the connected token (`AIRTABLE_TOKEN_REJECTED`), or the `Idempotency-Key` is in use (`IDEMPOTENCY_KEY_IN_USE`) or its first answer was not kept (`IDEMPOTENCY_ANSWER_NOT_KEPT`).", body = schemas::AirtableError),
        (status = 422, description = "Airtable refused the request (e.g. `INVALID_REQUEST_UNKNOWN`, `INVALID_FILTER_BY_FORMULA`, `UNKNOWN_FIELD_NAME`, `INVALID_VALUE_FOR_COLUMN`, `INVALID_RECORDS`), or the `Idempotency-Key` was used with another request (`IDEMPOTENCY_KEY_REUSED`).", body = schemas::AirtableError),
        (status = 429, description = "Airtable's limit cannot serve the request within the gateway's latency budget (`RATE_LIMIT_REACHED`); `Retry-After` says when to retry.", body = schemas::AirtableError),
        (status = 502, description = "Airtable failed or could not be reached (`UPSTREAM_ERROR`).", body = schemas::AirtableError),
        (status = 503, description = "Airtable or a dependency is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::AirtableError),
        (status = 504, description = "Airtable did not answer in time (`UPSTREAM_TIMEOUT`).", body = schemas::AirtableError),
        (status = 400, description = "A malformed `Idempotency-Key` header (`INVALID_IDEMPOTENCY_KEY`).", body = schemas::AirtableError),
    )
)]
async fn update_field(
    State(state): State<AppState>,
    caller: Caller,
    Path((base_id, table_ref, field_id)): Path<(String, String, String)>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let field = FieldId::parse(&field_id).map_err(not_found)?;
    let operation = Operation::update_field(base(&base_id)?, table(&table_ref)?, field);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(
    get,
    path = RECORDS,
    tag = "gateway: records",
    description = "Lists records, a page at a time (cached briefly; `X-Cache` says whether the cache answered; `Cache-Control: no-cache` asks for a fresh read).",
    params(TablePath, ListQuery),
    responses(
        (status = 200, description = "A page of records", body = schemas::RecordPage, headers(("X-Cache" = String, description = "HIT or MISS"))),
        (status = 403, description = "Airtable refused the connected token this model (`INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND`, `INVALID_PERMISSIONS`).", body = schemas::AirtableError),
        (status = 404, description = "A malformed id in the path (`NOT_FOUND`), or Airtable has no such base, table or record (`NOT_FOUND`, `MODEL_ID_NOT_FOUND`, `TABLE_NOT_FOUND`).", body = schemas::AirtableError),
        (status = 409, description = "No Airtable connection (`AIRTABLE_NOT_CONNECTED`), or Airtable refused the connected token (`AIRTABLE_TOKEN_REJECTED`).", body = schemas::AirtableError),
        (status = 422, description = "Airtable refused the request (e.g. `INVALID_REQUEST_UNKNOWN`, `INVALID_FILTER_BY_FORMULA`, `UNKNOWN_FIELD_NAME`, `INVALID_VALUE_FOR_COLUMN`, `INVALID_RECORDS`).", body = schemas::AirtableError),
        (status = 429, description = "Airtable's limit cannot serve the request within the gateway's latency budget (`RATE_LIMIT_REACHED`); `Retry-After` says when to retry.", body = schemas::AirtableError),
        (status = 502, description = "Airtable failed or could not be reached (`UPSTREAM_ERROR`).", body = schemas::AirtableError),
        (status = 503, description = "Airtable or a dependency is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::AirtableError),
        (status = 504, description = "Airtable did not answer in time (`UPSTREAM_TIMEOUT`).", body = schemas::AirtableError),
    )
)]
async fn list_records(
    State(state): State<AppState>,
    caller: Caller,
    Path((base_id, table_ref)): Path<(String, String)>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation = Operation::list_records(base(&base_id)?, table(&table_ref)?);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(
    post,
    path = LIST_RECORDS,
    tag = "gateway: records",
    description = "Lists records with the parameters in the body (for long formulas).",
    params(TablePath),
    request_body(content = Option<schemas::ListRecordsBody>, content_type = "application/json", description = "The list parameters as JSON; none lists everything, a page at a time"),
    responses(
        (status = 200, description = "A page of records", body = schemas::RecordPage, headers(("X-Cache" = String, description = "HIT or MISS"))),
        (status = 403, description = "Airtable refused the connected token this model (`INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND`, `INVALID_PERMISSIONS`).", body = schemas::AirtableError),
        (status = 404, description = "A malformed id in the path (`NOT_FOUND`), or Airtable has no such base, table or record (`NOT_FOUND`, `MODEL_ID_NOT_FOUND`, `TABLE_NOT_FOUND`).", body = schemas::AirtableError),
        (status = 409, description = "No Airtable connection (`AIRTABLE_NOT_CONNECTED`), or Airtable refused the connected token (`AIRTABLE_TOKEN_REJECTED`).", body = schemas::AirtableError),
        (status = 422, description = "Airtable refused the request (e.g. `INVALID_REQUEST_UNKNOWN`, `INVALID_FILTER_BY_FORMULA`, `UNKNOWN_FIELD_NAME`, `INVALID_VALUE_FOR_COLUMN`, `INVALID_RECORDS`).", body = schemas::AirtableError),
        (status = 429, description = "Airtable's limit cannot serve the request within the gateway's latency budget (`RATE_LIMIT_REACHED`); `Retry-After` says when to retry.", body = schemas::AirtableError),
        (status = 502, description = "Airtable failed or could not be reached (`UPSTREAM_ERROR`).", body = schemas::AirtableError),
        (status = 503, description = "Airtable or a dependency is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::AirtableError),
        (status = 504, description = "Airtable did not answer in time (`UPSTREAM_TIMEOUT`).", body = schemas::AirtableError),
    )
)]
async fn list_records_post(
    State(state): State<AppState>,
    caller: Caller,
    Path((base_id, table_ref)): Path<(String, String)>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation = Operation::list_records_post(base(&base_id)?, table(&table_ref)?);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(
    post,
    path = RECORDS,
    tag = "gateway: records",
    description = "Creates 1 to 10 records; an `Idempotency-Key` header makes a retry answer the first result.",
    params(TablePath, IdempotencyHeader),
    request_body(content = schemas::CreateRecordsBody, content_type = "application/json", description = "Up to 10 records, or one record's fields"),
    responses(
        (status = 200, description = "The records created", body = schemas::CreatedRecords),
        (status = 403, description = "Airtable refused the connected token this model (`INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND`, `INVALID_PERMISSIONS`).", body = schemas::AirtableError),
        (status = 404, description = "A malformed id in the path (`NOT_FOUND`), or Airtable has no such base, table or record (`NOT_FOUND`, `MODEL_ID_NOT_FOUND`, `TABLE_NOT_FOUND`).", body = schemas::AirtableError),
        (status = 409, description = "No Airtable connection (`AIRTABLE_NOT_CONNECTED`), or Airtable refused the connected token (`AIRTABLE_TOKEN_REJECTED`), or the `Idempotency-Key` is in use (`IDEMPOTENCY_KEY_IN_USE`) or its first answer was not kept (`IDEMPOTENCY_ANSWER_NOT_KEPT`).", body = schemas::AirtableError),
        (status = 422, description = "Airtable refused the request (e.g. `INVALID_REQUEST_UNKNOWN`, `INVALID_FILTER_BY_FORMULA`, `UNKNOWN_FIELD_NAME`, `INVALID_VALUE_FOR_COLUMN`, `INVALID_RECORDS`), or the `Idempotency-Key` was used with another request (`IDEMPOTENCY_KEY_REUSED`).", body = schemas::AirtableError),
        (status = 429, description = "Airtable's limit cannot serve the request within the gateway's latency budget (`RATE_LIMIT_REACHED`); `Retry-After` says when to retry.", body = schemas::AirtableError),
        (status = 502, description = "Airtable failed or could not be reached (`UPSTREAM_ERROR`).", body = schemas::AirtableError),
        (status = 503, description = "Airtable or a dependency is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::AirtableError),
        (status = 504, description = "Airtable did not answer in time (`UPSTREAM_TIMEOUT`).", body = schemas::AirtableError),
        (status = 400, description = "A malformed `Idempotency-Key` header (`INVALID_IDEMPOTENCY_KEY`).", body = schemas::AirtableError),
    )
)]
async fn create_records(
    State(state): State<AppState>,
    caller: Caller,
    Path((base_id, table_ref)): Path<(String, String)>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation = Operation::create_records(base(&base_id)?, table(&table_ref)?);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(
    patch,
    path = RECORDS,
    tag = "gateway: records",
    description = "Updates 1 to 10 records, or upserts with `performUpsert`.",
    params(TablePath, IdempotencyHeader),
    request_body(content = schemas::UpdateRecordsBody, content_type = "application/json", description = "Up to 10 records by id, or with `performUpsert` by merge fields"),
    responses(
        (status = 200, description = "The records written", body = schemas::RecordsWritten),
        (status = 403, description = "Airtable refused the connected token this model (`INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND`, `INVALID_PERMISSIONS`).", body = schemas::AirtableError),
        (status = 404, description = "A malformed id in the path (`NOT_FOUND`), or Airtable has no such base, table or record (`NOT_FOUND`, `MODEL_ID_NOT_FOUND`, `TABLE_NOT_FOUND`).", body = schemas::AirtableError),
        (status = 409, description = "No Airtable connection (`AIRTABLE_NOT_CONNECTED`), or Airtable refused the connected token (`AIRTABLE_TOKEN_REJECTED`), or the `Idempotency-Key` is in use (`IDEMPOTENCY_KEY_IN_USE`) or its first answer was not kept (`IDEMPOTENCY_ANSWER_NOT_KEPT`).", body = schemas::AirtableError),
        (status = 422, description = "Airtable refused the request (e.g. `INVALID_REQUEST_UNKNOWN`, `INVALID_FILTER_BY_FORMULA`, `UNKNOWN_FIELD_NAME`, `INVALID_VALUE_FOR_COLUMN`, `INVALID_RECORDS`), or the `Idempotency-Key` was used with another request (`IDEMPOTENCY_KEY_REUSED`).", body = schemas::AirtableError),
        (status = 429, description = "Airtable's limit cannot serve the request within the gateway's latency budget (`RATE_LIMIT_REACHED`); `Retry-After` says when to retry.", body = schemas::AirtableError),
        (status = 502, description = "Airtable failed or could not be reached (`UPSTREAM_ERROR`).", body = schemas::AirtableError),
        (status = 503, description = "Airtable or a dependency is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::AirtableError),
        (status = 504, description = "Airtable did not answer in time (`UPSTREAM_TIMEOUT`).", body = schemas::AirtableError),
        (status = 400, description = "A malformed `Idempotency-Key` header (`INVALID_IDEMPOTENCY_KEY`).", body = schemas::AirtableError),
    )
)]
async fn update_records(
    State(state): State<AppState>,
    caller: Caller,
    Path((base_id, table_ref)): Path<(String, String)>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation = Operation::update_records(Method::PATCH, base(&base_id)?, table(&table_ref)?);
    serve(&state, &caller, operation, inbound).await
}

/// `PUT`: like `PATCH`, but fields left out are cleared.
#[utoipa::path(
    put,
    path = RECORDS,
    tag = "gateway: records",
    description = "Like PATCH, but fields left out are cleared.",
    params(TablePath, IdempotencyHeader),
    request_body(content = schemas::UpdateRecordsBody, content_type = "application/json", description = "Up to 10 records by id, or with `performUpsert` by merge fields"),
    responses(
        (status = 200, description = "The records written", body = schemas::RecordsWritten),
        (status = 403, description = "Airtable refused the connected token this model (`INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND`, `INVALID_PERMISSIONS`).", body = schemas::AirtableError),
        (status = 404, description = "A malformed id in the path (`NOT_FOUND`), or Airtable has no such base, table or record (`NOT_FOUND`, `MODEL_ID_NOT_FOUND`, `TABLE_NOT_FOUND`).", body = schemas::AirtableError),
        (status = 409, description = "No Airtable connection (`AIRTABLE_NOT_CONNECTED`), or Airtable refused the connected token (`AIRTABLE_TOKEN_REJECTED`), or the `Idempotency-Key` is in use (`IDEMPOTENCY_KEY_IN_USE`) or its first answer was not kept (`IDEMPOTENCY_ANSWER_NOT_KEPT`).", body = schemas::AirtableError),
        (status = 422, description = "Airtable refused the request (e.g. `INVALID_REQUEST_UNKNOWN`, `INVALID_FILTER_BY_FORMULA`, `UNKNOWN_FIELD_NAME`, `INVALID_VALUE_FOR_COLUMN`, `INVALID_RECORDS`), or the `Idempotency-Key` was used with another request (`IDEMPOTENCY_KEY_REUSED`).", body = schemas::AirtableError),
        (status = 429, description = "Airtable's limit cannot serve the request within the gateway's latency budget (`RATE_LIMIT_REACHED`); `Retry-After` says when to retry.", body = schemas::AirtableError),
        (status = 502, description = "Airtable failed or could not be reached (`UPSTREAM_ERROR`).", body = schemas::AirtableError),
        (status = 503, description = "Airtable or a dependency is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::AirtableError),
        (status = 504, description = "Airtable did not answer in time (`UPSTREAM_TIMEOUT`).", body = schemas::AirtableError),
        (status = 400, description = "A malformed `Idempotency-Key` header (`INVALID_IDEMPOTENCY_KEY`).", body = schemas::AirtableError),
    )
)]
async fn replace_records(
    State(state): State<AppState>,
    caller: Caller,
    Path((base_id, table_ref)): Path<(String, String)>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation = Operation::update_records(Method::PUT, base(&base_id)?, table(&table_ref)?);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(
    delete,
    path = RECORDS,
    tag = "gateway: records",
    description = "Deletes up to 10 records named by `records[]`.",
    params(TablePath, DeleteQuery, IdempotencyHeader),
    responses(
        (status = 200, description = "The records deleted", body = schemas::DeletedRecords),
        (status = 403, description = "Airtable refused the connected token this model (`INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND`, `INVALID_PERMISSIONS`).", body = schemas::AirtableError),
        (status = 404, description = "A malformed id in the path (`NOT_FOUND`), or Airtable has no such base, table or record (`NOT_FOUND`, `MODEL_ID_NOT_FOUND`, `TABLE_NOT_FOUND`).", body = schemas::AirtableError),
        (status = 409, description = "No Airtable connection (`AIRTABLE_NOT_CONNECTED`), or Airtable refused the connected token (`AIRTABLE_TOKEN_REJECTED`), or the `Idempotency-Key` is in use (`IDEMPOTENCY_KEY_IN_USE`) or its first answer was not kept (`IDEMPOTENCY_ANSWER_NOT_KEPT`).", body = schemas::AirtableError),
        (status = 422, description = "Airtable refused the request (e.g. `INVALID_REQUEST_UNKNOWN`, `INVALID_FILTER_BY_FORMULA`, `UNKNOWN_FIELD_NAME`, `INVALID_VALUE_FOR_COLUMN`, `INVALID_RECORDS`), or the `Idempotency-Key` was used with another request (`IDEMPOTENCY_KEY_REUSED`).", body = schemas::AirtableError),
        (status = 429, description = "Airtable's limit cannot serve the request within the gateway's latency budget (`RATE_LIMIT_REACHED`); `Retry-After` says when to retry.", body = schemas::AirtableError),
        (status = 502, description = "Airtable failed or could not be reached (`UPSTREAM_ERROR`).", body = schemas::AirtableError),
        (status = 503, description = "Airtable or a dependency is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::AirtableError),
        (status = 504, description = "Airtable did not answer in time (`UPSTREAM_TIMEOUT`).", body = schemas::AirtableError),
        (status = 400, description = "A malformed `Idempotency-Key` header (`INVALID_IDEMPOTENCY_KEY`).", body = schemas::AirtableError),
    )
)]
async fn delete_records(
    State(state): State<AppState>,
    caller: Caller,
    Path((base_id, table_ref)): Path<(String, String)>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation = Operation::delete_records(base(&base_id)?, table(&table_ref)?);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(
    get,
    path = RECORD,
    tag = "gateway: records",
    description = "One record.",
    params(RecordPath),
    responses(
        (status = 200, description = "The record", body = schemas::Record, headers(("X-Cache" = String, description = "HIT or MISS"))),
        (status = 403, description = "Airtable refused the connected token this model (`INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND`, `INVALID_PERMISSIONS`).", body = schemas::AirtableError),
        (status = 404, description = "A malformed id in the path (`NOT_FOUND`), or Airtable has no such base, table or record (`NOT_FOUND`, `MODEL_ID_NOT_FOUND`, `TABLE_NOT_FOUND`).", body = schemas::AirtableError),
        (status = 409, description = "No Airtable connection (`AIRTABLE_NOT_CONNECTED`), or Airtable refused the connected token (`AIRTABLE_TOKEN_REJECTED`).", body = schemas::AirtableError),
        (status = 422, description = "Airtable refused the request (e.g. `INVALID_REQUEST_UNKNOWN`, `INVALID_FILTER_BY_FORMULA`, `UNKNOWN_FIELD_NAME`, `INVALID_VALUE_FOR_COLUMN`, `INVALID_RECORDS`).", body = schemas::AirtableError),
        (status = 429, description = "Airtable's limit cannot serve the request within the gateway's latency budget (`RATE_LIMIT_REACHED`); `Retry-After` says when to retry.", body = schemas::AirtableError),
        (status = 502, description = "Airtable failed or could not be reached (`UPSTREAM_ERROR`).", body = schemas::AirtableError),
        (status = 503, description = "Airtable or a dependency is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::AirtableError),
        (status = 504, description = "Airtable did not answer in time (`UPSTREAM_TIMEOUT`).", body = schemas::AirtableError),
    )
)]
async fn get_record(
    State(state): State<AppState>,
    caller: Caller,
    Path((base_id, table_ref, record_id)): Path<(String, String, String)>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation = Operation::get_record(base(&base_id)?, table(&table_ref)?, record(&record_id)?);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(
    patch,
    path = RECORD,
    tag = "gateway: records",
    description = "Updates one record.",
    params(RecordPath, IdempotencyHeader),
    request_body(content = schemas::WriteOneRecord, content_type = "application/json", description = "The record's new cells"),
    responses(
        (status = 200, description = "The record", body = schemas::Record),
        (status = 403, description = "Airtable refused the connected token this model (`INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND`, `INVALID_PERMISSIONS`).", body = schemas::AirtableError),
        (status = 404, description = "A malformed id in the path (`NOT_FOUND`), or Airtable has no such base, table or record (`NOT_FOUND`, `MODEL_ID_NOT_FOUND`, `TABLE_NOT_FOUND`).", body = schemas::AirtableError),
        (status = 409, description = "No Airtable connection (`AIRTABLE_NOT_CONNECTED`), or Airtable refused the connected token (`AIRTABLE_TOKEN_REJECTED`), or the `Idempotency-Key` is in use (`IDEMPOTENCY_KEY_IN_USE`) or its first answer was not kept (`IDEMPOTENCY_ANSWER_NOT_KEPT`).", body = schemas::AirtableError),
        (status = 422, description = "Airtable refused the request (e.g. `INVALID_REQUEST_UNKNOWN`, `INVALID_FILTER_BY_FORMULA`, `UNKNOWN_FIELD_NAME`, `INVALID_VALUE_FOR_COLUMN`, `INVALID_RECORDS`), or the `Idempotency-Key` was used with another request (`IDEMPOTENCY_KEY_REUSED`).", body = schemas::AirtableError),
        (status = 429, description = "Airtable's limit cannot serve the request within the gateway's latency budget (`RATE_LIMIT_REACHED`); `Retry-After` says when to retry.", body = schemas::AirtableError),
        (status = 502, description = "Airtable failed or could not be reached (`UPSTREAM_ERROR`).", body = schemas::AirtableError),
        (status = 503, description = "Airtable or a dependency is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::AirtableError),
        (status = 504, description = "Airtable did not answer in time (`UPSTREAM_TIMEOUT`).", body = schemas::AirtableError),
        (status = 400, description = "A malformed `Idempotency-Key` header (`INVALID_IDEMPOTENCY_KEY`).", body = schemas::AirtableError),
    )
)]
async fn update_record(
    State(state): State<AppState>,
    caller: Caller,
    Path((base_id, table_ref, record_id)): Path<(String, String, String)>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let (base, table, record) = (base(&base_id)?, table(&table_ref)?, record(&record_id)?);
    let operation = Operation::update_record(Method::PATCH, base, table, record);
    serve(&state, &caller, operation, inbound).await
}

/// `PUT`: like `PATCH`, but fields left out are cleared.
#[utoipa::path(
    put,
    path = RECORD,
    tag = "gateway: records",
    description = "Like PATCH, but fields left out are cleared.",
    params(RecordPath, IdempotencyHeader),
    request_body(content = schemas::WriteOneRecord, content_type = "application/json", description = "The record's new cells"),
    responses(
        (status = 200, description = "The record", body = schemas::Record),
        (status = 403, description = "Airtable refused the connected token this model (`INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND`, `INVALID_PERMISSIONS`).", body = schemas::AirtableError),
        (status = 404, description = "A malformed id in the path (`NOT_FOUND`), or Airtable has no such base, table or record (`NOT_FOUND`, `MODEL_ID_NOT_FOUND`, `TABLE_NOT_FOUND`).", body = schemas::AirtableError),
        (status = 409, description = "No Airtable connection (`AIRTABLE_NOT_CONNECTED`), or Airtable refused the connected token (`AIRTABLE_TOKEN_REJECTED`), or the `Idempotency-Key` is in use (`IDEMPOTENCY_KEY_IN_USE`) or its first answer was not kept (`IDEMPOTENCY_ANSWER_NOT_KEPT`).", body = schemas::AirtableError),
        (status = 422, description = "Airtable refused the request (e.g. `INVALID_REQUEST_UNKNOWN`, `INVALID_FILTER_BY_FORMULA`, `UNKNOWN_FIELD_NAME`, `INVALID_VALUE_FOR_COLUMN`, `INVALID_RECORDS`), or the `Idempotency-Key` was used with another request (`IDEMPOTENCY_KEY_REUSED`).", body = schemas::AirtableError),
        (status = 429, description = "Airtable's limit cannot serve the request within the gateway's latency budget (`RATE_LIMIT_REACHED`); `Retry-After` says when to retry.", body = schemas::AirtableError),
        (status = 502, description = "Airtable failed or could not be reached (`UPSTREAM_ERROR`).", body = schemas::AirtableError),
        (status = 503, description = "Airtable or a dependency is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::AirtableError),
        (status = 504, description = "Airtable did not answer in time (`UPSTREAM_TIMEOUT`).", body = schemas::AirtableError),
        (status = 400, description = "A malformed `Idempotency-Key` header (`INVALID_IDEMPOTENCY_KEY`).", body = schemas::AirtableError),
    )
)]
async fn replace_record(
    State(state): State<AppState>,
    caller: Caller,
    Path((base_id, table_ref, record_id)): Path<(String, String, String)>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let (base, table, record) = (base(&base_id)?, table(&table_ref)?, record(&record_id)?);
    let operation = Operation::update_record(Method::PUT, base, table, record);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(
    delete,
    path = RECORD,
    tag = "gateway: records",
    description = "Deletes one record.",
    params(RecordPath, IdempotencyHeader),
    responses(
        (status = 200, description = "The record deleted", body = schemas::DeletedRecord),
        (status = 403, description = "Airtable refused the connected token this model (`INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND`, `INVALID_PERMISSIONS`).", body = schemas::AirtableError),
        (status = 404, description = "A malformed id in the path (`NOT_FOUND`), or Airtable has no such base, table or record (`NOT_FOUND`, `MODEL_ID_NOT_FOUND`, `TABLE_NOT_FOUND`).", body = schemas::AirtableError),
        (status = 409, description = "No Airtable connection (`AIRTABLE_NOT_CONNECTED`), or Airtable refused the connected token (`AIRTABLE_TOKEN_REJECTED`), or the `Idempotency-Key` is in use (`IDEMPOTENCY_KEY_IN_USE`) or its first answer was not kept (`IDEMPOTENCY_ANSWER_NOT_KEPT`).", body = schemas::AirtableError),
        (status = 422, description = "Airtable refused the request (e.g. `INVALID_REQUEST_UNKNOWN`, `INVALID_FILTER_BY_FORMULA`, `UNKNOWN_FIELD_NAME`, `INVALID_VALUE_FOR_COLUMN`, `INVALID_RECORDS`), or the `Idempotency-Key` was used with another request (`IDEMPOTENCY_KEY_REUSED`).", body = schemas::AirtableError),
        (status = 429, description = "Airtable's limit cannot serve the request within the gateway's latency budget (`RATE_LIMIT_REACHED`); `Retry-After` says when to retry.", body = schemas::AirtableError),
        (status = 502, description = "Airtable failed or could not be reached (`UPSTREAM_ERROR`).", body = schemas::AirtableError),
        (status = 503, description = "Airtable or a dependency is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::AirtableError),
        (status = 504, description = "Airtable did not answer in time (`UPSTREAM_TIMEOUT`).", body = schemas::AirtableError),
        (status = 400, description = "A malformed `Idempotency-Key` header (`INVALID_IDEMPOTENCY_KEY`).", body = schemas::AirtableError),
    )
)]
async fn delete_record(
    State(state): State<AppState>,
    caller: Caller,
    Path((base_id, table_ref, record_id)): Path<(String, String, String)>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation =
        Operation::delete_record(base(&base_id)?, table(&table_ref)?, record(&record_id)?);
    serve(&state, &caller, operation, inbound).await
}

fn not_found(err: gateway::operation::InvalidPath) -> ApiError {
    ApiError::not_found(err.0).with_type("NOT_FOUND")
}

fn base(raw: &str) -> Result<BaseId, ApiError> {
    BaseId::parse(raw).map_err(not_found)
}

fn table(raw: &str) -> Result<TableRef, ApiError> {
    TableRef::parse(raw).map_err(not_found)
}

fn record(raw: &str) -> Result<RecordId, ApiError> {
    RecordId::parse(raw).map_err(not_found)
}

/// Parses the body and headers, and serves the operation. The route layer has already checked
/// the caller's scope (see `routes`; a test holds it to each operation's permission).
async fn serve(
    state: &AppState,
    caller: &Caller,
    operation: Operation,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let idempotency_key = if operation.is_write() {
        idempotency_key(&inbound.headers)?
    } else {
        None
    };
    let body = json_body(&inbound.body)?;
    if body.is_none() && takes_body(&operation) {
        return Err(invalid_body("this operation takes a JSON object body"));
    }
    let request = Request {
        query: inbound.query.filter(|q| !q.is_empty()),
        body,
        idempotency_key,
        bypass_cache: asks_for_fresh(&inbound.headers),
        operation,
    };
    let answer = state
        .gateway()
        .handle(&caller.tenant_id, request, &inbound.usage)
        .await?;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    if let Some(cache) = answer.cache {
        headers.insert(X_CACHE, HeaderValue::from_static(cache.as_str()));
    }
    if answer.replayed {
        headers.insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response.into_response())
}

/// The `Idempotency-Key` header, if sent; a malformed one is refused.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| {
        ApiError::bad_request("Idempotency-Key must be visible ASCII characters")
            .with_type("INVALID_IDEMPOTENCY_KEY")
    })?;
    IdempotencyKey::parse(text)
        .map(Some)
        .map_err(|message| ApiError::bad_request(message).with_type("INVALID_IDEMPOTENCY_KEY"))
}

/// `Cache-Control: no-cache` (or `no-store`, or `max-age=0`) asks for a fresh read.
fn asks_for_fresh(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|directive| directive.trim().to_ascii_lowercase())
        .any(|d| d == "no-cache" || d == "no-store" || d == "max-age=0")
}

/// Whether Airtable needs a body for this call: every write but a delete. Refusing an empty one
/// here saves the caller an Airtable call (and a rate-limit slot) that could only answer 422.
fn takes_body(operation: &Operation) -> bool {
    operation.is_write() && operation.method != Method::DELETE
}

/// A bad body, refused in Airtable's shape (422 `INVALID_REQUEST_UNKNOWN`).
fn invalid_body(detail: &str) -> ApiError {
    ApiError::unprocessable(format!("Invalid request: {detail}"))
        .with_type("INVALID_REQUEST_UNKNOWN")
}

/// The request body as JSON: absent when empty; otherwise it must be a JSON object, as every
/// Airtable body is.
fn json_body(bytes: &Bytes) -> Result<Option<Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value @ Value::Object(_)) => Ok(Some(value)),
        Ok(_) => Err(invalid_body("the body must be a JSON object")),
        Err(err) => Err(invalid_body(&format!("the body is not valid JSON ({err})"))),
    }
}

#[cfg(test)]
mod tests {
    use gateway::Permission;

    use super::*;

    /// The scopes the gateway's permission model asks for.
    fn needs_of(permission: Permission) -> Needs {
        match permission {
            Permission::Identity => Needs::any_of([Scope::RecordsRead, Scope::SchemaRead]),
            Permission::RecordsRead => Scope::RecordsRead.into(),
            Permission::RecordsWrite => Scope::RecordsWrite.into(),
            Permission::SchemaRead => Scope::SchemaRead.into(),
            Permission::SchemaWrite => Scope::SchemaWrite.into(),
        }
    }

    /// The handlers no longer check scopes (the route layer does, before the body is read), so
    /// each route must declare exactly the permission of the operation it builds.
    #[test]
    fn each_route_needs_its_operations_permission() {
        let base = || BaseId::parse("appAAAAAAAAAAAAAA").expect("base");
        let table = || TableRef::parse("Contacts").expect("table");
        let record = || RecordId::parse("recAAAAAAAAAAAAAA").expect("record");
        let field = || FieldId::parse("fldAAAAAAAAAAAAAA").expect("field");
        let cases = [
            ("GET", "/v0/meta/whoami", Operation::whoami()),
            ("GET", "/v0/meta/bases", Operation::list_bases()),
            ("GET", TABLES, Operation::base_schema(base())),
            ("POST", TABLES, Operation::create_table(base())),
            ("PATCH", TABLE, Operation::update_table(base(), table())),
            ("POST", FIELDS, Operation::create_field(base(), table())),
            (
                "PATCH",
                FIELD,
                Operation::update_field(base(), table(), field()),
            ),
            ("GET", RECORDS, Operation::list_records(base(), table())),
            ("POST", RECORDS, Operation::create_records(base(), table())),
            (
                "PATCH",
                RECORDS,
                Operation::update_records(Method::PATCH, base(), table()),
            ),
            (
                "PUT",
                RECORDS,
                Operation::update_records(Method::PUT, base(), table()),
            ),
            (
                "DELETE",
                RECORDS,
                Operation::delete_records(base(), table()),
            ),
            (
                "POST",
                LIST_RECORDS,
                Operation::list_records_post(base(), table()),
            ),
            (
                "GET",
                RECORD,
                Operation::get_record(base(), table(), record()),
            ),
            (
                "PATCH",
                RECORD,
                Operation::update_record(Method::PATCH, base(), table(), record()),
            ),
            (
                "PUT",
                RECORD,
                Operation::update_record(Method::PUT, base(), table(), record()),
            ),
            (
                "DELETE",
                RECORD,
                Operation::delete_record(base(), table(), record()),
            ),
        ];
        let routes = routes();
        assert_eq!(
            routes.specs().len(),
            cases.len(),
            "a route has no case here"
        );
        for (method, path, operation) in cases {
            let spec = routes
                .specs()
                .iter()
                .find(|spec| spec.method == method && spec.path == path)
                .unwrap_or_else(|| panic!("no route {method} {path}"));
            assert_eq!(
                spec.needs,
                needs_of(operation.permission),
                "{method} {path}"
            );
        }
    }

    #[test]
    fn fresh_reads_are_asked_for_with_cache_control() {
        let mut headers = HeaderMap::new();
        assert!(!asks_for_fresh(&headers));
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=60, No-Cache"),
        );
        assert!(asks_for_fresh(&headers));
    }

    #[test]
    fn bodies_must_be_json_objects() {
        assert_eq!(json_body(&Bytes::from_static(b"  ")).ok(), Some(None));
        assert!(json_body(&Bytes::from_static(b"{\"records\":[]}")).is_ok_and(|b| b.is_some()));
        for bad in [&b"[1]"[..], b"{", b"\"x\""] {
            let err = json_body(&Bytes::copy_from_slice(bad)).err();
            assert_eq!(
                err.map(|e| e.error_type),
                Some("INVALID_REQUEST_UNKNOWN".to_string())
            );
        }
    }

    #[test]
    fn idempotency_keys_are_checked() {
        let mut headers = HeaderMap::new();
        assert!(matches!(idempotency_key(&headers), Ok(None)));
        headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("abc-1"));
        assert!(matches!(idempotency_key(&headers), Ok(Some(_))));
        headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("has space"));
        assert!(idempotency_key(&headers).is_err());
    }
}
