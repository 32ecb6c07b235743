//! OpenAPI links: which answer supplies the identifiers another operation takes. A client
//! generator or a stateful fuzzer follows them (create a key, then revoke it; create a record,
//! then read, change and delete it), which is how those operations get exercised on things that
//! exist rather than on made-up ids that can only ever answer 404.

use serde_json::Value;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::{OpenApi, RefOr};

/// One link: from `operation`'s `status` answer to the operation `target` (by its id), with
/// each named parameter taken from a runtime expression.
struct Follows {
    path: &'static str,
    method: &'static str,
    status: &'static str,
    name: &'static str,
    target: &'static str,
    parameters: &'static [(&'static str, &'static str)],
}

const RECORD_FROM_CREATE: &[(&str, &str)] = &[
    ("base_id", "$request.path.base_id"),
    ("table", "$request.path.table"),
    ("record_id", "$response.body#/records/0/id"),
];

const LINKS: &[Follows] = &[
    Follows {
        path: "/v1/sagas",
        method: "post",
        status: "202",
        name: "ShowTheSaga",
        target: "show_saga",
        parameters: &[("saga_id", "$response.body#/id")],
    },
    Follows {
        path: "/v1/sagas",
        method: "post",
        status: "202",
        name: "CancelTheSaga",
        target: "cancel_saga",
        parameters: &[("saga_id", "$response.body#/id")],
    },
    Follows {
        path: "/v1/api-keys",
        method: "post",
        status: "201",
        name: "RevokeTheKey",
        target: "revoke_key",
        parameters: &[("key_id", "$response.body#/id")],
    },
    Follows {
        path: "/v1/chat",
        method: "post",
        status: "200",
        name: "ShowTheSession",
        target: "show_session",
        parameters: &[("session_id", "$response.body#/session_id")],
    },
    Follows {
        path: "/v1/chat",
        method: "post",
        status: "200",
        name: "DeleteTheSession",
        target: "delete_session",
        parameters: &[("session_id", "$response.body#/session_id")],
    },
    Follows {
        path: "/v0/{base_id}/{table}",
        method: "post",
        status: "200",
        name: "GetTheRecord",
        target: "get_record",
        parameters: RECORD_FROM_CREATE,
    },
    Follows {
        path: "/v0/{base_id}/{table}",
        method: "post",
        status: "200",
        name: "UpdateTheRecord",
        target: "update_record",
        parameters: RECORD_FROM_CREATE,
    },
    Follows {
        path: "/v0/{base_id}/{table}",
        method: "post",
        status: "200",
        name: "ReplaceTheRecord",
        target: "replace_record",
        parameters: RECORD_FROM_CREATE,
    },
    Follows {
        path: "/v0/{base_id}/{table}",
        method: "post",
        status: "200",
        name: "DeleteTheRecord",
        target: "delete_record",
        parameters: RECORD_FROM_CREATE,
    },
    Follows {
        path: "/v0/meta/bases/{base_id}/tables",
        method: "post",
        status: "200",
        name: "UpdateTheTable",
        target: "update_table",
        parameters: &[
            ("base_id", "$request.path.base_id"),
            ("table", "$response.body#/id"),
        ],
    },
    Follows {
        path: "/v0/meta/bases/{base_id}/tables",
        method: "post",
        status: "200",
        name: "AddAFieldToTheTable",
        target: "create_field",
        parameters: &[
            ("base_id", "$request.path.base_id"),
            ("table", "$response.body#/id"),
        ],
    },
    Follows {
        path: "/v0/meta/bases/{base_id}/tables/{table}/fields",
        method: "post",
        status: "200",
        name: "UpdateTheField",
        target: "update_field",
        parameters: &[
            ("base_id", "$request.path.base_id"),
            ("table", "$request.path.table"),
            ("field_id", "$response.body#/id"),
        ],
    },
];

/// Adds every link whose source operation and answer exist in `document`. A link whose source
/// is missing is a bug the tests catch ([`missing`]), not something to fail a request over.
pub(crate) fn add(document: &mut OpenApi) {
    for follows in LINKS {
        let Some(response) = source_response(document, follows) else {
            continue;
        };
        let mut link = LinkBuilder::new().operation_id(follows.target);
        for (name, expression) in follows.parameters {
            link = link.parameter(*name, Value::from(*expression));
        }
        response
            .links
            .insert(follows.name.to_string(), RefOr::T(link.build()));
    }
}

fn source_response<'a>(
    document: &'a mut OpenApi,
    follows: &Follows,
) -> Option<&'a mut utoipa::openapi::Response> {
    let item = document.paths.paths.get_mut(follows.path)?;
    let operation = match follows.method {
        "post" => item.post.as_mut(),
        "put" => item.put.as_mut(),
        "patch" => item.patch.as_mut(),
        "get" => item.get.as_mut(),
        "delete" => item.delete.as_mut(),
        _ => None,
    }?;
    match operation.responses.responses.get_mut(follows.status)? {
        RefOr::T(response) => Some(response),
        RefOr::Ref(_) => None,
    }
}

/// utoipa 5.5 serializes a Link's fields in snake case (`operation_id`, `operation_ref`,
/// `request_body`), which OpenAPI readers do not know, so a link would name no operation; this
/// renames them in the rendered document (every `links` map of every response).
pub(crate) fn spell_keys_as_openapi(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let links = paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| operation.get_mut("responses"))
        .filter_map(Value::as_object_mut)
        .flat_map(|responses| responses.values_mut())
        .filter_map(|response| response.get_mut("links"))
        .filter_map(Value::as_object_mut)
        .flat_map(|links| links.values_mut())
        .filter_map(Value::as_object_mut);
    for link in links {
        for (snake, camel) in [
            ("operation_id", "operationId"),
            ("operation_ref", "operationRef"),
            ("request_body", "requestBody"),
        ] {
            if let Some(value) = link.remove(snake) {
                link.insert(camel.to_string(), value);
            }
        }
    }
}

/// The links that could not be placed or that point at no operation, as readable lines
/// (empty when every link holds).
#[cfg(test)]
pub(crate) fn missing(document: &Value) -> Vec<String> {
    let operation_ids: Vec<&str> = document["paths"]
        .as_object()
        .into_iter()
        .flat_map(|paths| paths.values())
        .filter_map(Value::as_object)
        .flat_map(|item| item.values())
        .filter_map(|operation| operation["operationId"].as_str())
        .collect();
    let mut problems = Vec::new();
    for follows in LINKS {
        let placed = &document["paths"][follows.path][follows.method]["responses"][follows.status]
            ["links"][follows.name];
        if !placed.is_null() && placed["operationId"] != follows.target {
            problems.push(format!(
                "{} does not name {} as its operationId: {placed}",
                follows.name, follows.target
            ));
        }
        if placed.is_null() {
            problems.push(format!(
                "{} {} {} has no link {}",
                follows.method, follows.path, follows.status, follows.name
            ));
        }
        if !operation_ids.contains(&follows.target) {
            problems.push(format!(
                "no operation {} for {}",
                follows.target, follows.name
            ));
        }
        if placed["parameters"]
            != serde_json::json!(
                follows
                    .parameters
                    .iter()
                    .map(|(name, expression)| (name.to_string(), Value::from(*expression)))
                    .collect::<serde_json::Map<_, _>>()
            )
            && !placed.is_null()
        {
            problems.push(format!("{} has other parameters: {placed}", follows.name));
        }
    }
    problems
}
