//! `api-sagas`: sagas (`/v1/sagas*`), multi-step Airtable changes that undo themselves when a
//! step fails. The logic lives in the `sagas` crate (which starts a state machine per saga and
//! answers from its records); this module parses paths, queries and bodies, and serves the
//! crate's views as they are.
//!
//! A start answers 202 as soon as the saga is recorded and its execution started: the work
//! happens in the state machine's steps, which `GET /v1/sagas/{id}` follows.

use accounts::Scope;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa_axum::routes;

use crate::json::ApiJson;
use crate::openapi::schemas;
use crate::{ApiError, AppState, Caller, FunctionRoutes};

pub const FUNCTION: &str = "api-sagas";

pub fn routes() -> FunctionRoutes {
    FunctionRoutes::new(FUNCTION)
        .route(Scope::Sagas, routes!(start_saga))
        .route(Scope::Sagas, routes!(list_sagas))
        .route(Scope::Sagas, routes!(saga_types))
        .route(Scope::Sagas, routes!(show_saga))
        .route(Scope::Sagas, routes!(cancel_saga))
}

/// The longest saga id a path may carry: a Step Functions execution name (the saga id is the
/// execution's name) has at most 80 characters.
const MAX_SAGA_ID_LEN: usize = 80;

/// A path's saga id. One that cannot be a saga id (`sag_` and letters, digits, `-` or `_`)
/// names no saga: 404 without a store read.
fn saga_id(raw: &str) -> Result<&str, ApiError> {
    let well_formed = raw.len() <= MAX_SAGA_ID_LEN
        && raw.strip_prefix("sag_").is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
    if well_formed {
        Ok(raw)
    } else {
        Err(ApiError::not_found("No such saga"))
    }
}

/// A view as JSON; the sagas crate's views always serialize.
fn to_json(view: &impl serde::Serialize) -> Value {
    serde_json::to_value(view).unwrap_or_else(|_| json!({}))
}

/// The body of `POST /v1/sagas`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct StartSagaBody {
    /// `transaction`, `table-sync` or `connect-base` (`GET /v1/sagas/types`).
    #[serde(rename = "type")]
    #[schema(value_type = schemas::SagaType)]
    saga_type: String,
    /// The type's input, as its `input_schema` describes it.
    #[schema(value_type = Object)]
    input: Value,
    /// Makes a retried start safe: the same key with the same type and input answers with the
    /// first saga; with another input it is refused (409).
    #[serde(default)]
    #[schema(min_length = 1, max_length = 255)]
    idempotency_key: Option<String>,
}

#[utoipa::path(
    post,
    path = "/v1/sagas",
    tag = "sagas",
    request_body = StartSagaBody,
    responses(
        (status = 202, description = "Recorded and started; follow it at /v1/sagas/{id}. A repeated `idempotency_key` answers with the first saga", body = schemas::SagaStarted),
        (status = 400, description = "The body is not a JSON object with `type` and `input` (`INVALID_REQUEST`).", body = schemas::Error),
        (status = 409, description = "The `idempotency_key` already started a saga with another type or input (`IDEMPOTENCY_KEY_REUSED`).", body = schemas::Error),
        (status = 422, description = "The input does not fit the type's schema; `error.problems` gives each problem with its JSON pointer into `input` (`INVALID_SAGA_INPUT`); a transaction of more than 1,000 operations (`TOO_MANY_OPERATIONS`); an unknown type (`UNKNOWN_SAGA_TYPE`).", body = schemas::Error),
        (status = 503, description = "The store or the state machines are unavailable; nothing was started (`SERVICE_UNAVAILABLE`).", body = schemas::Error),
    )
)]
async fn start_saga(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<StartSagaBody>,
) -> Result<Response, ApiError> {
    let request = sagas::StartSaga {
        saga_type: body.saga_type,
        input: body.input,
        idempotency_key: body.idempotency_key,
    };
    let started = state.sagas().start(&caller.tenant_id, request).await?;
    Ok((StatusCode::ACCEPTED, Json(to_json(&started))).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListSagasQuery {
    /// Only sagas of this type.
    #[serde(default, rename = "type")]
    #[param(value_type = Option<schemas::SagaType>)]
    saga_type: Option<String>,
    /// Only sagas with this status.
    #[serde(default)]
    #[param(value_type = Option<schemas::SagaStatus>)]
    status: Option<String>,
    /// At most this many sagas (1 to 100; 20 when absent).
    #[serde(default)]
    #[param(minimum = 1, maximum = 100)]
    page_size: Option<u32>,
    /// The `offset` of the previous page.
    #[serde(default)]
    #[param(max_length = 1024)]
    offset: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/sagas",
    tag = "sagas",
    params(ListSagasQuery),
    responses(
        (status = 200, description = "The tenant's sagas, newest first; `offset` when there are more", body = schemas::SagaPage),
        (status = 400, description = "A `page_size` that is not a number (`INVALID_REQUEST`).", body = schemas::Error),
        (status = 422, description = "An unknown `type` (`UNKNOWN_SAGA_TYPE`); an unknown `status`, a `page_size` outside 1 to 100, or an `offset` this API did not give (`INVALID_SAGA_INPUT`, with the parameter as the problem's path, e.g. `/page_size`).", body = schemas::Error),
        (status = 503, description = "The store is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::Error),
    )
)]
async fn list_sagas(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListSagasQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|err| ApiError::bad_request(err.body_text()))?;
    let filter = sagas::SagaFilter {
        saga_type: query.saga_type,
        status: query.status,
        page_size: query.page_size,
        offset: query.offset,
    };
    let page = state.sagas().list(&caller.tenant_id, filter).await?;
    Ok(Json(to_json(&page)).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/sagas/types",
    tag = "sagas",
    responses(
        (status = 200, description = "Each saga type with what it does and its input's JSON Schema", body = schemas::SagaTypeList),
    )
)]
async fn saga_types(_caller: Caller) -> Result<Response, ApiError> {
    Ok(Json(json!({ "types": to_json(&sagas::Sagas::types()) })).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/sagas/{saga_id}",
    tag = "sagas",
    params(("saga_id" = String, Path, description = "`sag_…`")),
    responses(
        (status = 200, description = "The saga: status, input, output or error, and each step and compensation with its times, attempts and result, in the order they ran", body = schemas::SagaDetail),
        (status = 404, description = "No such saga (`NOT_FOUND`).", body = schemas::Error),
        (status = 503, description = "The store is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::Error),
    )
)]
async fn show_saga(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let detail = state.sagas().get(&caller.tenant_id, saga_id(&id)?).await?;
    Ok(Json(to_json(&detail)).into_response())
}

#[utoipa::path(
    post,
    path = "/v1/sagas/{saga_id}/cancel",
    tag = "sagas",
    params(("saga_id" = String, Path, description = "`sag_…`")),
    responses(
        (status = 200, description = "Cancel requested (`cancel_requested: true`): the saga stops before its next step and undoes the steps it has done, ending `cancelled`", body = schemas::SagaDetail),
        (status = 404, description = "No such saga (`NOT_FOUND`).", body = schemas::Error),
        (status = 409, description = "The saga has already finished (`SAGA_FINISHED`).", body = schemas::Error),
        (status = 503, description = "The store is unavailable (`SERVICE_UNAVAILABLE`).", body = schemas::Error),
    )
)]
async fn cancel_saga(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let detail = state
        .sagas()
        .cancel(&caller.tenant_id, saga_id(&id)?)
        .await?;
    Ok(Json(to_json(&detail)).into_response())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use accounts::NewApiKey;
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use secrecy::ExposeSecret;
    use tower::ServiceExt;

    use super::*;
    use crate::testing::embedded_state_with_machines;

    #[test]
    fn only_well_formed_saga_ids_reach_the_store() {
        assert!(saga_id("sag_AbC123_x-y").is_ok());
        let too_long = format!("sag_{}", "a".repeat(77));
        for bad in [
            "",
            "sag_",
            "run_AbC",
            "sag_a/b",
            "sag_a b",
            too_long.as_str(),
        ] {
            let err = saga_id(bad).expect_err(bad);
            assert_eq!(err.status(), StatusCode::NOT_FOUND, "{bad}");
        }
    }

    /// The platform with the saga machines on the local runner and saga-step registered, as the
    /// dev server runs them; Airtable is unreachable and no tenant is connected to it.
    fn sagas_app() -> (AppState, axum::Router) {
        let substitutions = BTreeMap::from([(
            sagas::machines::SAGA_STEP_SUBSTITUTION.to_string(),
            embedded::local_function_arn("saga-step"),
        )]);
        let (state, runner) =
            embedded_state_with_machines(sagas::machines::MACHINES, &substitutions);
        runner.register_task_function("saga-step", state.sagas().step_handler());
        let router = crate::platform_router(state.clone());
        (state, router)
    }

    /// A new tenant's owner: an access token with every scope.
    async fn owner(state: &AppState, email: &str) -> String {
        state
            .accounts()
            .register(email, "correct horse battery", None)
            .await
            .expect("register")
            .tokens
            .access_token
    }

    async fn send(
        router: &axum::Router,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .expect("request");
        let response = router.clone().oneshot(request).await.expect("response");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    fn transaction(key: Option<&str>, name: &str) -> Value {
        let mut body = json!({
            "type": "transaction",
            "input": {"base": "appAAAAAAAAAAAAAA", "operations": [
                {"op": "create", "table": "Contacts", "fields": {"Name": name}},
            ]},
        });
        if let Some(key) = key {
            body["idempotency_key"] = json!(key);
        }
        body
    }

    /// Polls the saga until it has finished (its execution runs on the local runner).
    async fn finished(router: &axum::Router, token: &str, id: &str) -> Value {
        for _ in 0..500 {
            let (status, body) = send(router, "GET", &format!("/v1/sagas/{id}"), token, None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            if !["running", "compensating"].contains(&body["status"].as_str().unwrap_or("")) {
                return body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("saga {id} did not finish");
    }

    #[tokio::test]
    async fn a_started_saga_is_shown_listed_and_a_finished_one_cannot_be_cancelled() {
        let (state, router) = sagas_app();
        let token = owner(&state, "ada@example.com").await;
        let (status, started) = send(
            &router,
            "POST",
            "/v1/sagas",
            &token,
            Some(transaction(None, "Grace")),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{started}");
        let id = started["id"].as_str().expect("an id").to_string();
        assert!(id.starts_with("sag_"), "{id}");
        assert_eq!(started["type"], "transaction");
        assert_eq!(started["status"], "running");

        // No Airtable connection: the first step fails for good, and the saga compensates
        // (nothing was applied, so nothing is undone) and ends.
        let detail = finished(&router, &token, &id).await;
        assert_eq!(detail["status"], "compensated", "{detail}");
        assert_eq!(detail["input"]["operations"][0]["fields"]["Name"], "Grace");
        assert_eq!(detail["cancel_requested"], false);
        assert!(detail["error"]["error"].is_string(), "{detail}");
        let steps = detail["steps"].as_array().expect("steps");
        assert!(
            steps
                .iter()
                .any(|s| s["kind"] == "step" && s["status"] == "failed"),
            "{detail}"
        );

        let (status, page) = send(&router, "GET", "/v1/sagas?type=transaction", &token, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["sagas"][0]["id"], id.as_str(), "{page}");
        let (status, page) = send(&router, "GET", "/v1/sagas?status=running", &token, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["sagas"], json!([]), "{page}");

        let (status, body) = send(
            &router,
            "POST",
            &format!("/v1/sagas/{id}/cancel"),
            &token,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["error"]["type"], "SAGA_FINISHED", "{body}");
        let (_, after) = send(&router, "GET", &format!("/v1/sagas/{id}"), &token, None).await;
        assert_eq!(after["cancel_requested"], false, "{after}");
    }

    #[tokio::test]
    async fn another_tenants_saga_is_not_found() {
        let (state, router) = sagas_app();
        let ada = owner(&state, "ada@example.com").await;
        let bob = owner(&state, "bob@example.com").await;
        let (status, started) = send(
            &router,
            "POST",
            "/v1/sagas",
            &ada,
            Some(transaction(Some("k1"), "A")),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{started}");
        let id = started["id"].as_str().expect("an id");
        for (method, path) in [
            ("GET", format!("/v1/sagas/{id}")),
            ("POST", format!("/v1/sagas/{id}/cancel")),
        ] {
            let (status, body) = send(&router, method, &path, &bob, None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
            assert_eq!(body["error"]["type"], "NOT_FOUND");
        }
        let (_, page) = send(&router, "GET", "/v1/sagas", &bob, None).await;
        assert_eq!(page["sagas"], json!([]), "{page}");
        // The same idempotency key is another saga for another tenant.
        let (status, theirs) = send(
            &router,
            "POST",
            "/v1/sagas",
            &bob,
            Some(transaction(Some("k1"), "A")),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{theirs}");
        assert_ne!(theirs["id"], started["id"]);
        finished(&router, &ada, id).await;
        finished(&router, &bob, theirs["id"].as_str().expect("an id")).await;
    }

    #[tokio::test]
    async fn a_repeated_idempotency_key_is_the_same_saga_and_another_input_a_conflict() {
        let (state, router) = sagas_app();
        let token = owner(&state, "ada@example.com").await;
        let body = transaction(Some("import-42"), "Grace");
        let (_, first) = send(&router, "POST", "/v1/sagas", &token, Some(body.clone())).await;
        let (status, again) = send(&router, "POST", "/v1/sagas", &token, Some(body)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{again}");
        assert_eq!(again["id"], first["id"]);
        let (status, other) = send(
            &router,
            "POST",
            "/v1/sagas",
            &token,
            Some(transaction(Some("import-42"), "Someone else")),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT, "{other}");
        assert_eq!(other["error"]["type"], "IDEMPOTENCY_KEY_REUSED");
        let (_, page) = send(&router, "GET", "/v1/sagas", &token, None).await;
        assert_eq!(page["sagas"].as_array().map(Vec::len), Some(1), "{page}");
        finished(&router, &token, first["id"].as_str().expect("an id")).await;
    }

    #[tokio::test]
    async fn bad_input_is_refused_with_the_path_of_each_problem_and_nothing_starts() {
        let (state, router) = sagas_app();
        let token = owner(&state, "ada@example.com").await;
        let bad_op = json!({"type": "transaction", "input": {"base": "appAAAAAAAAAAAAAA",
        "operations": [
            {"op": "create", "table": "Contacts", "fields": {"Name": "ok"}},
            {"op": "explode", "table": "Contacts"},
        ]}});
        let (status, body) = send(&router, "POST", "/v1/sagas", &token, Some(bad_op)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["type"], "INVALID_SAGA_INPUT");
        let paths: Vec<&str> = body["error"]["problems"]
            .as_array()
            .expect("problems")
            .iter()
            .filter_map(|p| p["path"].as_str())
            .collect();
        assert!(paths.contains(&"/operations/1/op"), "{body}");

        let ops: Vec<Value> = (0..1001)
            .map(
                |i| json!({"op": "create", "table": "Contacts", "fields": {"Name": i.to_string()}}),
            )
            .collect();
        let too_many = json!({"type": "transaction", "input": {"base": "appAAAAAAAAAAAAAA", "operations": ops}});
        let (status, body) = send(&router, "POST", "/v1/sagas", &token, Some(too_many)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["type"], "TOO_MANY_OPERATIONS");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("1000"),
            "{body}"
        );

        let unknown = json!({"type": "rollback", "input": {}});
        let (status, body) = send(&router, "POST", "/v1/sagas", &token, Some(unknown)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["type"], "UNKNOWN_SAGA_TYPE");

        let no_input = json!({"type": "transaction"});
        let (status, body) = send(&router, "POST", "/v1/sagas", &token, Some(no_input)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

        let (status, body) = send(&router, "GET", "/v1/sagas?page_size=0", &token, None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["problems"][0]["path"], "/page_size", "{body}");

        let (_, page) = send(&router, "GET", "/v1/sagas", &token, None).await;
        assert_eq!(page["sagas"], json!([]), "nothing was started: {page}");
    }

    #[tokio::test]
    async fn a_key_without_the_sagas_scope_is_refused() {
        let (state, router) = sagas_app();
        let token = owner(&state, "ada@example.com").await;
        let session = state
            .accounts()
            .authenticate(&token)
            .await
            .expect("session");
        let key = state
            .accounts()
            .create_api_key(
                &session,
                NewApiKey {
                    name: "records only".into(),
                    scopes: vec!["records:read".into(), "records:write".into()],
                    expires_at: None,
                },
            )
            .await
            .expect("a key");
        let key = key.key.expose_secret().to_string();
        for (method, path) in [
            ("POST", "/v1/sagas"),
            ("GET", "/v1/sagas"),
            ("GET", "/v1/sagas/types"),
            ("GET", "/v1/sagas/sag_1"),
            ("POST", "/v1/sagas/sag_1/cancel"),
        ] {
            let body = (method == "POST").then(|| transaction(None, "x"));
            let (status, answer) = send(&router, method, path, &key, body).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {answer}");
            assert_eq!(answer["error"]["type"], "INSUFFICIENT_SCOPE");
        }
        let (_, page) = send(&router, "GET", "/v1/sagas", &token, None).await;
        assert_eq!(
            page["sagas"],
            json!([]),
            "the refused start started nothing: {page}"
        );
    }

    #[tokio::test]
    async fn the_types_come_with_their_input_schemas() {
        let (state, router) = sagas_app();
        let token = owner(&state, "ada@example.com").await;
        let (status, body) = send(&router, "GET", "/v1/sagas/types", &token, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let types = body["types"].as_array().expect("types");
        let names: Vec<&str> = types.iter().filter_map(|t| t["type"].as_str()).collect();
        assert!(
            names.contains(&"transaction") && names.contains(&"table-sync"),
            "{body}"
        );
        for t in types {
            assert_eq!(t["input_schema"]["type"], "object", "{t}");
            assert!(
                t["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{t}"
            );
        }
    }
}
