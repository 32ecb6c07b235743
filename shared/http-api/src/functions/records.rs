//! `api-records`: the Airtable-compatible `/v0` gateway. Each route parses its path into a
//! [`gateway::Operation`], checks the caller's scope, and hands the request to
//! [`gateway::Gateway`]; the answer goes back with Airtable's status and body as they came.
//!
//! Clients authenticate with one of our access tokens or API keys in place of an Airtable
//! token; the gateway calls Airtable with the tenant's connected token.

use accounts::Scope;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use basics::{ApiError, ErrorKind};
use gateway::{BaseId, FieldId, IdempotencyKey, Operation, RecordId, Request, TableRef};
use metering::UsageTally;
use serde_json::Value;
use utoipa_axum::routes;

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

#[utoipa::path(get, path = "/v0/meta/whoami")]
async fn whoami(
    State(state): State<AppState>,
    caller: Caller,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    serve(&state, &caller, Operation::whoami(), inbound).await
}

#[utoipa::path(get, path = "/v0/meta/bases")]
async fn list_bases(
    State(state): State<AppState>,
    caller: Caller,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    serve(&state, &caller, Operation::list_bases(), inbound).await
}

#[utoipa::path(get, path = TABLES)]
async fn base_schema(
    State(state): State<AppState>,
    caller: Caller,
    Path(base_id): Path<String>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation = Operation::base_schema(base(&base_id)?);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(post, path = TABLES)]
async fn create_table(
    State(state): State<AppState>,
    caller: Caller,
    Path(base_id): Path<String>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation = Operation::create_table(base(&base_id)?);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(patch, path = TABLE)]
async fn update_table(
    State(state): State<AppState>,
    caller: Caller,
    Path((base_id, table_ref)): Path<(String, String)>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation = Operation::update_table(base(&base_id)?, table(&table_ref)?);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(post, path = FIELDS)]
async fn create_field(
    State(state): State<AppState>,
    caller: Caller,
    Path((base_id, table_ref)): Path<(String, String)>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation = Operation::create_field(base(&base_id)?, table(&table_ref)?);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(patch, path = FIELD)]
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

#[utoipa::path(get, path = RECORDS)]
async fn list_records(
    State(state): State<AppState>,
    caller: Caller,
    Path((base_id, table_ref)): Path<(String, String)>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation = Operation::list_records(base(&base_id)?, table(&table_ref)?);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(post, path = LIST_RECORDS)]
async fn list_records_post(
    State(state): State<AppState>,
    caller: Caller,
    Path((base_id, table_ref)): Path<(String, String)>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation = Operation::list_records_post(base(&base_id)?, table(&table_ref)?);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(post, path = RECORDS)]
async fn create_records(
    State(state): State<AppState>,
    caller: Caller,
    Path((base_id, table_ref)): Path<(String, String)>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation = Operation::create_records(base(&base_id)?, table(&table_ref)?);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(patch, path = RECORDS)]
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
#[utoipa::path(put, path = RECORDS)]
async fn replace_records(
    State(state): State<AppState>,
    caller: Caller,
    Path((base_id, table_ref)): Path<(String, String)>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation = Operation::update_records(Method::PUT, base(&base_id)?, table(&table_ref)?);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(delete, path = RECORDS)]
async fn delete_records(
    State(state): State<AppState>,
    caller: Caller,
    Path((base_id, table_ref)): Path<(String, String)>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation = Operation::delete_records(base(&base_id)?, table(&table_ref)?);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(get, path = RECORD)]
async fn get_record(
    State(state): State<AppState>,
    caller: Caller,
    Path((base_id, table_ref, record_id)): Path<(String, String, String)>,
    inbound: Inbound,
) -> Result<Response, ApiError> {
    let operation = Operation::get_record(base(&base_id)?, table(&table_ref)?, record(&record_id)?);
    serve(&state, &caller, operation, inbound).await
}

#[utoipa::path(patch, path = RECORD)]
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
#[utoipa::path(put, path = RECORD)]
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

#[utoipa::path(delete, path = RECORD)]
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
    let request = Request {
        query: inbound.query.filter(|q| !q.is_empty()),
        body: json_body(&inbound.body)?,
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

/// The request body as JSON: absent when empty; otherwise it must be a JSON object, as every
/// Airtable body is. Refused in Airtable's shape (422 `INVALID_REQUEST_UNKNOWN`).
fn json_body(bytes: &Bytes) -> Result<Option<Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let invalid = |detail: String| {
        ApiError::unprocessable(format!("Invalid request: {detail}"))
            .with_type("INVALID_REQUEST_UNKNOWN")
    };
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value @ Value::Object(_)) => Ok(Some(value)),
        Ok(_) => Err(invalid("the body must be a JSON object".to_string())),
        Err(err) => Err(invalid(format!("the body is not valid JSON ({err})"))),
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
