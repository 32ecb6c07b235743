//! Which sample event each function is measured with, and how it is authenticated. The events
//! are the ones in `events/` that `cargo lambda invoke --data-file` uses; the placeholder in
//! their `authorization` header is replaced by a real credential at run time.

use std::path::Path;

use axum::body::Bytes;
use serde_json::Value;

/// The reference binary: the smallest `lambda_runtime` function.
pub const REFERENCE: &str = "hello-lambda";

/// A function and the request its figures are measured with.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub function: &'static str,
    /// A file under `events/`.
    pub event: &'static str,
}

/// Every function, with a request that exercises its usual path: reads where the function
/// mostly reads (records, MCP, usage), its one write where it exists for writing (connections,
/// the budget), and login for auth (the password check is what it is there for).
pub const SAMPLES: [Sample; 7] = [
    Sample {
        function: "api-health",
        event: "api-health.json",
    },
    Sample {
        function: "api-auth",
        event: "api-auth-login.json",
    },
    Sample {
        function: "api-connections",
        event: "api-connections-put.json",
    },
    Sample {
        function: "api-records",
        event: "api-records-list.json",
    },
    Sample {
        function: "api-chat",
        event: "api-chat-budget-put.json",
    },
    Sample {
        function: "api-mcp",
        event: "api-mcp-tools-list.json",
    },
    Sample {
        function: "api-usage",
        event: "api-usage-summary.json",
    },
];

/// The reference answers any event; it gets the health check's.
pub const REFERENCE_EVENT: &str = "api-health.json";

/// Reads `events/<file>` and, when it carries an `authorization` header, puts `bearer` in it.
pub fn load_event(events: &Path, file: &str, bearer: &str) -> Result<Bytes, String> {
    let path = events.join(file);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut event: Value =
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
    if let Some(header) = event
        .get_mut("headers")
        .and_then(|headers| headers.get_mut("authorization"))
    {
        *header = Value::String(format!("Bearer {bearer}"));
    }
    serde_json::to_vec(&event)
        .map(Bytes::from)
        .map_err(|e| format!("cannot encode {}: {e}", path.display()))
}
