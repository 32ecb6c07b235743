//! The OpenAPI 3.1 document of the whole platform, generated from the code: each handler's
//! `#[utoipa::path]` annotation gives its operation (parameters, body, responses), and the
//! route declarations ([`crate::FunctionRoutes`]) add who may call it and the refusals of the
//! layers in front of it. Served by `api-health` at `GET /v1/openapi.json`.

mod links;
pub mod responses;
pub mod schemas;

use serde_json::json;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApiBuilder, RefOr, Schema};

use crate::routes::Access;
use crate::scope_check::Needs;

/// The security scheme of our access tokens (JWTs from login), sent as `Authorization: Bearer`.
pub const ACCESS_TOKEN_SCHEME: &str = "access_token";
/// The security scheme of our API keys (`pak_…`), also sent as `Authorization: Bearer`.
pub const API_KEY_SCHEME: &str = "api_key";
/// The operation extension listing the scopes a route accepts (any one of them will do).
pub const REQUIRED_SCOPES_EXTENSION: &str = "x-required-scopes";

/// Fills in what the route declaration knows about an operation: who may call it (nothing for
/// public routes; for authenticated ones, one security requirement per credential kind and
/// accepted scope, since requirements are alternatives in OpenAPI, and the
/// `x-required-scopes` extension), and the refusals its layers can answer with (authentication,
/// scope, limits, bodies), in the error shape of its path family.
pub(crate) fn complete(path: &str, operation: &mut Operation, access: Access, needs: &Needs) {
    let scopes: Vec<&str> = needs.scopes().iter().map(|scope| scope.as_str()).collect();
    if access == Access::Authenticated {
        let mut requirements = Vec::new();
        for scheme in [ACCESS_TOKEN_SCHEME, API_KEY_SCHEME] {
            if scopes.is_empty() {
                requirements.push(SecurityRequirement::new(scheme, Vec::<String>::new()));
            }
            for scope in &scopes {
                requirements.push(SecurityRequirement::new(scheme, [*scope]));
            }
        }
        operation.security = Some(requirements);
        operation
            .extensions
            .get_or_insert_with(Extensions::default)
            .merge(Extensions::from_iter([(
                REQUIRED_SCOPES_EXTENSION,
                json!(scopes),
            )]));
    } else {
        operation.security = None;
    }
    responses::add_layer_refusals(operation, Family::of(path), access, !scopes.is_empty());
    responses::tag_error_types(operation);
}

/// Which error shape a path answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// `/v1`: `{"error":{"type","message"}}`.
    Platform,
    /// `/v0`: Airtable's shapes.
    Airtable,
    /// `/mcp`: JSON-RPC errors, whoever refuses (the HTTP layer translates the others').
    Mcp,
}

impl Family {
    fn of(path: &str) -> Self {
        if path.starts_with("/v0/") {
            Family::Airtable
        } else if path == "/mcp" {
            Family::Mcp
        } else {
            Family::Platform
        }
    }
}

const DESCRIPTION: &str = "The platform's HTTP API: accounts and API keys, the Airtable \
connection, chat, usage and budgets under `/v1`; the Airtable-compatible gateway under `/v0` \
(Airtable's paths, bodies and error shapes); the MCP server at `/mcp` (JSON-RPC). Every \
authenticated operation lists the scopes it accepts in its security requirements and in \
`x-required-scopes` (any one of them will do; an empty list means any authenticated caller); \
a credential without one gets 403 `INSUFFICIENT_SCOPE` before its request is looked at. Each \
error response lists the error `type` values it can carry in `x-error-types`.";

fn bearer(format: &str, description: &str) -> SecurityScheme {
    SecurityScheme::Http(
        HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format(format)
            .description(Some(description))
            .build(),
    )
}

/// The whole document: every function's operations, the schemas they use, the error schemas,
/// and the two bearer schemes.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut components = ComponentsBuilder::new()
        .security_scheme(
            ACCESS_TOKEN_SCHEME,
            bearer(
                "JWT",
                "An access token from POST /v1/auth/login, /register or /refresh (an EdDSA JWT \
                 valid 15 minutes), as `Authorization: Bearer <token>`. Its scopes are its \
                 user's role's.",
            ),
        )
        .security_scheme(
            API_KEY_SCHEME,
            bearer(
                "pak_…",
                "An API key from POST /v1/api-keys, sent the same way: `Authorization: Bearer \
                 pak_…`. Its scopes are the ones it was created with.",
            ),
        )
        .build();
    let mut schemas = Vec::new();
    register::<schemas::Error>(&mut schemas);
    register::<schemas::AirtableError>(&mut schemas);
    register::<schemas::JsonRpcError>(&mut schemas);
    let mut paths = utoipa::openapi::path::Paths::new();
    for function in crate::all_functions() {
        let (function_paths, function_schemas) = function.documentation();
        for (path, item) in &function_paths.paths {
            match paths.paths.get_mut(path) {
                Some(existing) => existing.merge_operations(item.clone()),
                None => {
                    paths.paths.insert(path.clone(), item.clone());
                }
            }
        }
        schemas.extend(function_schemas.iter().cloned());
    }
    components.schemas.extend(schemas);
    let mut document = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("PyAirtable on Lambda")
                .version(platform::VERSION)
                .description(Some(DESCRIPTION))
                .build(),
        )
        .paths(paths)
        .components(Some(components))
        .build();
    links::add(&mut document);
    document
}

/// Adds `T`'s schema and those it refers to.
fn register<T: utoipa::ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    schemas.push((T::name().to_string(), T::schema()));
    T::schemas(schemas);
}

/// The document as served: `shared/http-api/openapi.json`, generated from the code by
/// [`render`] and committed, so that api-health serves it without linking every function's
/// handlers (which generating it needs). A test holds the file to the code; after changing a
/// route, regenerate it with `UPDATE_OPENAPI=1 cargo test -p http-api openapi`.
pub const DOCUMENT_JSON: &str = include_str!("../../openapi.json");

/// Generates the document as JSON (pretty, so that a route change reads as a small diff).
pub fn render() -> Result<String, serde_json::Error> {
    let mut value = serde_json::to_value(document())?;
    links::spell_keys_as_openapi(&mut value);
    let mut text = serde_json::to_string_pretty(&value)?;
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use http_body_util::BodyExt;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::routes::route_table;

    fn document_value() -> Value {
        serde_json::from_str(DOCUMENT_JSON).expect("the document is JSON")
    }

    /// The committed document is the one the code generates (rewritten with UPDATE_OPENAPI=1).
    #[test]
    fn the_served_document_is_generated_from_the_code() {
        let generated = render().expect("the document renders");
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
            std::fs::write(&path, &generated).expect("write openapi.json");
            return;
        }
        let committed: Value = serde_json::from_str(DOCUMENT_JSON).expect("committed JSON");
        let current: Value = serde_json::from_str(&generated).expect("generated JSON");
        assert!(
            committed == current,
            "shared/http-api/openapi.json is out of date with the routes: regenerate it with \
             `UPDATE_OPENAPI=1 cargo test -p http-api openapi` and commit it"
        );
    }

    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    /// (METHOD, path) -> the operation, for every operation in the document.
    fn operations(doc: &Value) -> BTreeMap<(String, String), Value> {
        let mut found = BTreeMap::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in METHODS {
                if let Some(operation) = item.get(method) {
                    found.insert((method.to_uppercase(), path.clone()), operation.clone());
                }
            }
        }
        found
    }

    /// Every route in the route table is in the document with the scopes it is declared with,
    /// and the document has nothing else.
    #[test]
    fn the_document_has_exactly_the_route_table() {
        let doc = document_value();
        let mut documented = operations(&doc);
        for spec in route_table() {
            let key = (spec.method.clone(), spec.path.clone());
            let operation = documented
                .remove(&key)
                .unwrap_or_else(|| panic!("{} {} is not in the document", key.0, key.1));
            let declared: Vec<&str> = spec.needs.scopes().iter().map(|s| s.as_str()).collect();
            if spec.access == Access::Authenticated {
                assert_eq!(
                    operation[REQUIRED_SCOPES_EXTENSION],
                    json!(declared),
                    "{} {}",
                    key.0,
                    key.1
                );
                let mut in_security = BTreeSet::new();
                let requirements = operation["security"].as_array().expect("security");
                for requirement in requirements {
                    for (scheme, scopes) in requirement.as_object().expect("requirement") {
                        assert!([ACCESS_TOKEN_SCHEME, API_KEY_SCHEME].contains(&scheme.as_str()));
                        for scope in scopes.as_array().expect("scopes") {
                            in_security.insert(scope.as_str().unwrap_or_default().to_string());
                        }
                    }
                }
                let declared: BTreeSet<String> = declared.iter().map(|s| s.to_string()).collect();
                assert_eq!(in_security, declared, "{} {}", key.0, key.1);
                assert!(
                    operation["responses"]["401"].is_object(),
                    "{} {}",
                    key.0,
                    key.1
                );
            } else {
                assert!(operation.get("security").is_none(), "{} {}", key.0, key.1);
                assert!(operation.get(REQUIRED_SCOPES_EXTENSION).is_none());
            }
        }
        assert!(
            documented.is_empty(),
            "documented but not routed: {:?}",
            documented.keys().collect::<Vec<_>>()
        );
    }

    fn collect_refs(value: &Value, refs: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(target)) = map.get("$ref") {
                    refs.insert(target.clone());
                }
                map.values().for_each(|v| collect_refs(v, refs));
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
            _ => {}
        }
    }

    /// The id patterns the document states are the ones the parsers accept: each path
    /// parameter named for an id carries its type's pattern.
    #[test]
    fn id_parameters_state_the_parsers_patterns() {
        use gateway::operation::{BaseId, FieldId, RecordId};
        let doc = document_value();
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for operation in item.as_object().expect("item").values() {
                for parameter in operation["parameters"].as_array().into_iter().flatten() {
                    let expected = match parameter["name"].as_str() {
                        Some("base_id") => BaseId::PATTERN,
                        Some("record_id") => RecordId::PATTERN,
                        Some("field_id") => FieldId::PATTERN,
                        _ => continue,
                    };
                    assert_eq!(
                        parameter["schema"]["pattern"], expected,
                        "{path} {}",
                        parameter["name"]
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked >= 20, "only {checked} id parameters");
    }

    /// Every link is placed on the answer it comes from and names an operation that exists.
    #[test]
    fn every_link_holds() {
        assert_eq!(
            super::links::missing(&document_value()),
            Vec::<String>::new()
        );
    }

    /// The document is OpenAPI 3.1, every `$ref` resolves, operation ids are unique, and every
    /// response says what it is; every error response has a body schema and its error types.
    #[test]
    fn the_document_is_well_formed() {
        let doc = document_value();
        assert!(
            doc["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1.")),
            "{}",
            doc["openapi"]
        );
        assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
        let mut refs = BTreeSet::new();
        collect_refs(&doc, &mut refs);
        assert!(!refs.is_empty());
        for target in refs {
            let pointer = target
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{target} is not a local reference"));
            assert!(doc.pointer(pointer).is_some(), "{target} does not resolve");
        }
        let schemes = &doc["components"]["securitySchemes"];
        for scheme in [ACCESS_TOKEN_SCHEME, API_KEY_SCHEME] {
            assert_eq!(schemes[scheme]["type"], "http", "{scheme}");
            assert_eq!(schemes[scheme]["scheme"], "bearer", "{scheme}");
        }
        let mut ids = BTreeSet::new();
        for ((method, path), operation) in operations(&doc) {
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(
                ids.insert(id.to_string()),
                "{method} {path}: operationId {id} twice"
            );
            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|s| s.starts_with('2') || s == "405"),
                "{method} {path} documents no success"
            );
            for (status, response) in responses {
                assert!(
                    response["description"]
                        .as_str()
                        .is_some_and(|d| !d.is_empty()),
                    "{method} {path} {status}"
                );
                let is_error = status.starts_with('4') || status.starts_with('5');
                if is_error && status != "405" {
                    assert!(
                        response["content"]["application/json"]["schema"].is_object(),
                        "{method} {path} {status} has no body schema"
                    );
                    // Our and Airtable's error shapes name their types (JSON-RPC errors
                    // have codes; health's 503 is its report).
                    let schema = response["content"]["application/json"]["schema"].to_string();
                    if schema.contains("/Error\"") || schema.contains("/AirtableError\"") {
                        assert!(
                            response[responses::ERROR_TYPES_EXTENSION].is_array(),
                            "{method} {path} {status} names no error type"
                        );
                    }
                }
            }
        }
    }

    /// Bodies documented with `deny_unknown_fields` say so.
    #[test]
    fn strict_bodies_refuse_unknown_properties() {
        let doc = document_value();
        for schema in ["RegisterBody", "LoginBody", "CreateKeyBody", "ChatRequest"] {
            assert_eq!(
                doc["components"]["schemas"][schema]["additionalProperties"],
                json!(false),
                "{schema}"
            );
        }
    }

    #[tokio::test]
    async fn the_document_is_served_publicly_as_json() {
        let router = crate::platform_router(crate::testing::embedded_state());
        let request = Request::builder()
            .uri("/v1/openapi.json")
            .body(Body::empty())
            .expect("request");
        let response = router.oneshot(request).await.expect("response");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let served: Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(served, document_value());
        println!("{} operations in the document", operations(&served).len());
    }
}
