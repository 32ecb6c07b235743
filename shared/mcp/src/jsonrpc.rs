//! JSON-RPC 2.0 message shapes and the error codes MCP uses.

use serde_json::{Map, Value, json};

/// Invalid JSON (JSON-RPC 2.0).
pub const PARSE_ERROR: i64 = -32700;
/// Not a valid JSON-RPC request object (JSON-RPC 2.0).
pub const INVALID_REQUEST: i64 = -32600;
/// Unknown or unsupported method (JSON-RPC 2.0).
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Bad parameters: unknown tool or prompt, malformed arguments, missing `_meta` (JSON-RPC 2.0).
pub const INVALID_PARAMS: i64 = -32602;
/// A server fault (JSON-RPC 2.0).
pub const INTERNAL_ERROR: i64 = -32603;
/// Resource not found, 2025-11-25 and earlier (2026-07-28 uses -32602 instead).
pub const RESOURCE_NOT_FOUND: i64 = -32002;
/// 2026-07-28: HTTP headers missing, malformed or disagreeing with the body.
pub const HEADER_MISMATCH: i64 = -32020;
/// 2026-07-28: the requested protocol version is not supported (`data.supported`, `data.requested`).
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;

/// A JSON-RPC error object (`error` member of an error response).
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub fn with_data(mut self, data: Value) -> RpcError {
        self.data = Some(data);
        self
    }

    pub fn parse_error(detail: impl std::fmt::Display) -> RpcError {
        RpcError::new(PARSE_ERROR, format!("Parse error: {detail}"))
    }

    pub fn invalid_request(message: impl Into<String>) -> RpcError {
        RpcError::new(INVALID_REQUEST, message)
    }

    pub fn method_not_found(method: &str) -> RpcError {
        RpcError::new(METHOD_NOT_FOUND, format!("Method not found: {method}"))
    }

    pub fn invalid_params(message: impl Into<String>) -> RpcError {
        RpcError::new(INVALID_PARAMS, message)
    }

    pub fn internal(message: impl Into<String>) -> RpcError {
        RpcError::new(INTERNAL_ERROR, message)
    }

    pub fn header_mismatch(message: impl Into<String>) -> RpcError {
        RpcError::new(HEADER_MISMATCH, message)
    }

    /// `UnsupportedProtocolVersionError`, naming every version this server supports.
    pub fn unsupported_protocol_version(requested: &str) -> RpcError {
        RpcError::new(UNSUPPORTED_PROTOCOL_VERSION, "Unsupported protocol version").with_data(
            json!({
                "supported": crate::version::supported_version_strings(),
                "requested": requested,
            }),
        )
    }

    fn to_value(&self) -> Value {
        let mut error = Map::new();
        error.insert("code".into(), Value::from(self.code));
        error.insert("message".into(), Value::from(self.message.clone()));
        if let Some(data) = &self.data {
            error.insert("data".into(), data.clone());
        }
        Value::Object(error)
    }
}

/// Whose request an error answers.
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorId {
    /// The request's own id.
    Id(Value),
    /// `"id": null`: the id could not be read (parse error, invalid request; JSON-RPC 2.0 §5).
    Null,
    /// No `id` member: a transport-level rejection that answers no particular request, as the
    /// Streamable HTTP transport allows ("a JSON-RPC error response that has no id").
    Absent,
}

/// A result response.
pub fn result_response(id: &Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

/// An error response.
pub fn error_response(id: &ErrorId, error: &RpcError) -> Value {
    let mut response = Map::new();
    response.insert("jsonrpc".into(), Value::from("2.0"));
    match id {
        ErrorId::Id(id) => {
            response.insert("id".into(), id.clone());
        }
        ErrorId::Null => {
            response.insert("id".into(), Value::Null);
        }
        ErrorId::Absent => {}
    }
    response.insert("error".into(), error.to_value());
    Value::Object(response)
}

/// What one posted JSON value is, by JSON-RPC 2.0's rules.
#[derive(Debug, Clone, PartialEq)]
pub enum Message<'a> {
    /// Has `method` and `id`.
    Request {
        id: &'a Value,
        method: &'a str,
        params: Option<&'a Map<String, Value>>,
    },
    /// Has `method` and no `id`.
    Notification { method: &'a str },
    /// Has `result` or `error` and an `id`, no `method` (a client answering a server request).
    Response,
    /// None of the above: answer with this error, for this id.
    Invalid { id: ErrorId, error: RpcError },
}

/// A request id: a string or a number (MCP forbids `null`).
pub fn is_valid_id(id: &Value) -> bool {
    matches!(id, Value::String(_) | Value::Number(_))
}

/// Classifies one posted JSON value and checks its envelope.
pub fn classify(value: &Value) -> Message<'_> {
    let Some(object) = value.as_object() else {
        return Message::Invalid {
            id: ErrorId::Null,
            error: RpcError::invalid_request(
                "Invalid Request: a JSON-RPC message must be an object",
            ),
        };
    };
    let id = object.get("id");
    let error_id = match id {
        Some(id) if is_valid_id(id) => ErrorId::Id(id.clone()),
        _ => ErrorId::Null,
    };
    if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Message::Invalid {
            id: error_id,
            error: RpcError::invalid_request("Invalid Request: \"jsonrpc\" must be \"2.0\""),
        };
    }
    let Some(method) = object.get("method") else {
        if id.is_some_and(is_valid_id)
            && (object.contains_key("result") || object.contains_key("error"))
        {
            return Message::Response;
        }
        return Message::Invalid {
            id: error_id,
            error: RpcError::invalid_request("Invalid Request: \"method\" is missing"),
        };
    };
    let Some(method) = method.as_str() else {
        return Message::Invalid {
            id: error_id,
            error: RpcError::invalid_request("Invalid Request: \"method\" must be a string"),
        };
    };
    // Checked for notifications too: JSON-RPC 2.0 makes `params` a structured value whatever
    // the message, and MCP's are always objects.
    let params = match object.get("params") {
        None => None,
        Some(Value::Object(params)) => Some(params),
        Some(_) => {
            return Message::Invalid {
                id: error_id,
                error: RpcError::invalid_params("Invalid params: \"params\" must be an object"),
            };
        }
    };
    let Some(id) = id else {
        return Message::Notification { method };
    };
    if !is_valid_id(id) {
        let kind = match id {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Array(_) => "an array",
            _ => "an object",
        };
        return Message::Invalid {
            id: ErrorId::Null,
            error: RpcError::invalid_request(format!(
                "Invalid Request: \"id\" must be a string or a number, not {kind}"
            )),
        };
    }
    Message::Request { id, method, params }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_that_is_not_a_string_or_number_is_named_for_what_it_is() {
        for (id, kind) in [
            (json!(null), "null"),
            (json!({"a": 1}), "an object"),
            (json!([1]), "an array"),
            (json!(true), "a boolean"),
        ] {
            let request = json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"});
            match classify(&request) {
                Message::Invalid { error, .. } => {
                    assert!(error.message.ends_with(kind), "{}", error.message)
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_notification_with_params_that_are_not_an_object_is_invalid() {
        let notification =
            json!({"jsonrpc": "2.0", "method": "notifications/initialized", "params": 5});
        assert!(matches!(
            classify(&notification),
            Message::Invalid { id: ErrorId::Null, error } if error.code == INVALID_PARAMS
        ));
    }

    #[test]
    fn classifies_requests_notifications_and_responses() {
        let request = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list"});
        assert!(matches!(
            classify(&request),
            Message::Request {
                method: "tools/list",
                params: None,
                ..
            }
        ));
        let notification = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        assert_eq!(
            classify(&notification),
            Message::Notification {
                method: "notifications/initialized"
            }
        );
        let response = json!({"jsonrpc": "2.0", "id": "s1", "result": {}});
        assert_eq!(classify(&response), Message::Response);
    }

    #[test]
    fn rejects_bad_envelopes_with_the_readable_id() {
        let wrong_version = json!({"jsonrpc": "1.0", "id": 3, "method": "ping"});
        assert_eq!(
            classify(&wrong_version),
            Message::Invalid {
                id: ErrorId::Id(json!(3)),
                error: RpcError::invalid_request("Invalid Request: \"jsonrpc\" must be \"2.0\""),
            }
        );
        let null_id = json!({"jsonrpc": "2.0", "id": null, "method": "ping"});
        assert!(matches!(
            classify(&null_id),
            Message::Invalid {
                id: ErrorId::Null,
                ..
            }
        ));
        let array_params = json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": [1]});
        assert!(matches!(
            classify(&array_params),
            Message::Invalid {
                id: ErrorId::Id(_),
                error: RpcError {
                    code: INVALID_PARAMS,
                    ..
                }
            }
        ));
        assert!(matches!(
            classify(&json!(42)),
            Message::Invalid {
                id: ErrorId::Null,
                ..
            }
        ));
        let no_method = json!({"jsonrpc": "2.0", "id": 1});
        assert!(matches!(
            classify(&no_method),
            Message::Invalid {
                id: ErrorId::Id(_),
                ..
            }
        ));
    }

    #[test]
    fn error_ids_render_as_the_spec_asks() {
        let error = RpcError::parse_error("eof");
        assert_eq!(error_response(&ErrorId::Null, &error)["id"], Value::Null);
        assert!(error_response(&ErrorId::Absent, &error).get("id").is_none());
        assert_eq!(
            error_response(&ErrorId::Id(json!("a")), &error)["id"],
            json!("a")
        );
        let unsupported = RpcError::unsupported_protocol_version("1900-01-01");
        assert_eq!(
            unsupported.data.as_ref().map(|data| &data["requested"]),
            Some(&json!("1900-01-01"))
        );
    }
}
