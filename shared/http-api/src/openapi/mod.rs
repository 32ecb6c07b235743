//! The OpenAPI 3.1 document of the whole platform, generated from the code: each handler's
//! `#[utoipa::path]` annotation gives its operation (parameters, body, responses), and the
//! route declarations ([`crate::FunctionRoutes`]) add who may call it and the refusals of the
//! layers in front of it. Served by `api-health` at `GET /v1/openapi.json`.

pub mod responses;
pub mod schemas;

use std::sync::OnceLock;

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
    /// `/mcp`: JSON-RPC for protocol errors; the authentication layer's in the platform shape.
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
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("PyAirtable on Lambda")
                .version(crate::state::VERSION)
                .description(Some(DESCRIPTION))
                .build(),
        )
        .paths(paths)
        .components(Some(components))
        .build()
}

/// Adds `T`'s schema and those it refers to.
fn register<T: utoipa::ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    schemas.push((T::name().to_string(), T::schema()));
    T::schemas(schemas);
}

/// The document as JSON, rendered once per process: it only changes with the code.
pub fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        serde_json::to_string(&document()).unwrap_or_else(|err| {
            tracing::error!(error = %err, "the OpenAPI document does not serialize");
            String::from("{}")
        })
    })
}
