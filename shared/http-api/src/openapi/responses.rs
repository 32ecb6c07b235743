//! Error responses: the refusals every route gets from the layers in front of its handler, and
//! the `x-error-types` list each error response carries.
//!
//! Handler annotations describe their own error responses and name each error `type` in
//! backticks (``409: the email is taken (`EMAIL_TAKEN`)``); [`tag_error_types`] turns those
//! names into the machine-readable list, so the prose and the list cannot disagree.

use serde_json::json;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Type};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder, Schema};

use super::Family;
use crate::routes::Access;

/// The response extension listing the error `type` values a response can carry.
pub const ERROR_TYPES_EXTENSION: &str = "x-error-types";

/// The schema name of each family's error shape.
fn error_schema(family: Family) -> &'static str {
    match family {
        Family::Airtable => "AirtableError",
        Family::Platform => "Error",
        // Every error on /mcp leaves as JSON-RPC, the layers' too (middleware::error_shape).
        Family::Mcp => "JsonRpcError",
    }
}

/// Adds the refusals of the layers in front of the handler: authentication, the scope check,
/// the tenant or per-client limit, internal failures, and the body extractors.
pub(crate) fn add_layer_refusals(
    operation: &mut Operation,
    family: Family,
    access: Access,
    scoped: bool,
) {
    let shape = error_schema(family);
    match access {
        Access::Authenticated => {
            add(
                operation,
                "401",
                shape,
                "No credentials, or an invalid, expired or revoked access token or API key \
                 (`AUTHENTICATION_REQUIRED`); with `WWW-Authenticate: Bearer`.",
            );
            if scoped {
                add(
                    operation,
                    "403",
                    shape,
                    "The credential lacks every scope this route accepts (`INSUFFICIENT_SCOPE`).",
                );
            }
            add(
                operation,
                "429",
                shape,
                "The tenant is over its requests per minute (`TENANT_RATE_LIMITED`); \
                 `Retry-After` says when to retry.",
            );
        }
        Access::PublicPerClientLimit => add(
            operation,
            "429",
            shape,
            "Too many sign-in requests from this address (`CLIENT_RATE_LIMITED`); \
             `Retry-After` says when to retry.",
        ),
        Access::Public => {}
    }
    if access != Access::Public {
        add(
            operation,
            "500",
            shape,
            "Something failed on our side; it is logged (`INTERNAL_ERROR`).",
        );
    }
    if operation.request_body.is_some() {
        match family {
            Family::Platform => {
                add(
                    operation,
                    "400",
                    shape,
                    "The body is not JSON, not a JSON object, or has a missing, malformed or \
                     unknown field (`INVALID_REQUEST`).",
                );
                add(
                    operation,
                    "413",
                    shape,
                    "The body is larger than 6 MB (`PAYLOAD_TOO_LARGE`).",
                );
            }
            Family::Airtable => {
                add(
                    operation,
                    "422",
                    shape,
                    "The body is not a JSON object (`INVALID_REQUEST_UNKNOWN`).",
                );
                add(
                    operation,
                    "413",
                    shape,
                    "The body is larger than 6 MB (`REQUEST_TOO_LARGE`).",
                );
            }
            Family::Mcp => {}
        }
    }
}

/// Adds an error response, or merges it into the one the annotation already has for the
/// status: the descriptions are joined, and two different body shapes become `anyOf`.
fn add(operation: &mut Operation, status: &str, schema: &str, description: &str) {
    let body: RefOr<Schema> = Ref::from_schema_name(schema).into();
    let responses = &mut operation.responses.responses;
    let Some(RefOr::T(existing)) = responses.get_mut(status) else {
        let mut response = ResponseBuilder::new().description(description).content(
            "application/json",
            ContentBuilder::new().schema(Some(body)).build(),
        );
        if status == "429" {
            response = response.header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(1)),
                    )
                    .description(Some("Seconds to wait before retrying"))
                    .build(),
            );
        }
        responses.insert(status.to_string(), RefOr::T(response.build()));
        return;
    };
    existing.description = format!("{} {description}", existing.description);
    match existing.content.get_mut("application/json") {
        Some(content) => {
            let same = matches!(&content.schema, Some(RefOr::Ref(r)) if r.ref_location == format!("#/components/schemas/{schema}"));
            if !same {
                let mut any = AnyOfBuilder::new().item(body);
                if let Some(current) = content.schema.take() {
                    any = any.item(current);
                }
                content.schema = Some(RefOr::T(Schema::AnyOf(any.build())));
            }
        }
        None => {
            existing.content.insert(
                "application/json".to_string(),
                ContentBuilder::new().schema(Some(body)).build(),
            );
        }
    }
}

/// The error types named in backticks in a description: `UPPER_CASE` words.
pub fn error_types_in(description: &str) -> Vec<String> {
    let mut types: Vec<String> = description
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|word| {
            word.len() >= 3
                && word
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        })
        .map(str::to_string)
        .collect();
    types.sort();
    types.dedup();
    types
}

/// Sets `x-error-types` on every 4xx/5xx response from the types its description names.
pub(crate) fn tag_error_types(operation: &mut Operation) {
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if !(status.starts_with('4') || status.starts_with('5')) {
            continue;
        }
        let types = error_types_in(&response.description);
        if types.is_empty() {
            continue;
        }
        response
            .extensions
            .get_or_insert_with(Extensions::default)
            .insert(ERROR_TYPES_EXTENSION.to_string(), json!(types));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_are_the_backticked_upper_case_words() {
        assert_eq!(
            error_types_in("Taken (`EMAIL_TAKEN`); see `Retry-After` or `X` and `NOT_FOUND`."),
            vec!["EMAIL_TAKEN".to_string(), "NOT_FOUND".to_string()]
        );
    }
}
