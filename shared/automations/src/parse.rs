//! Reading a workflow document from JSON with the path of the first thing that does not fit
//! (`/steps/2: unknown step type "ftp"`), so that an unknown step type or a misspelt field is
//! refused like any other problem: with where it is.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{AutomationError, Problem};
use crate::model::WorkflowSpec;

/// Parses a whole workflow (`POST`/`PUT /v1/workflows`, a patched document).
pub fn workflow_spec(document: Value) -> Result<WorkflowSpec, AutomationError> {
    parse(document)
}

/// Parses any part of the model, with a path-bearing problem when it does not fit.
pub fn parse<T: DeserializeOwned>(document: Value) -> Result<T, AutomationError> {
    serde_path_to_error::deserialize(document).map_err(|err| {
        let path = pointer(err.path());
        let message = clarify(&err.inner().to_string());
        AutomationError::Invalid(vec![Problem::new(path, message)])
    })
}

/// `steps[2].fields` as the JSON pointer `/steps/2/fields`.
fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
            Segment::Map { key } => {
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    if pointer.is_empty() {
        "/".to_string()
    } else {
        pointer
    }
}

/// serde's messages name Rust's words ("variant", "tag"); say what they mean here.
fn clarify(message: &str) -> String {
    message.replace("unknown variant", "unknown type").replace(
        "missing field `type`",
        "missing field `type` (the step's or trigger's kind)",
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problem(document: Value) -> Problem {
        match workflow_spec(document) {
            Err(AutomationError::Invalid(mut problems)) => problems.remove(0),
            other => panic!("expected a problem, got {other:?}"),
        }
    }

    #[test]
    fn problems_carry_the_path_of_the_offending_field() {
        let base = || {
            json!({
                "name": "x",
                "trigger": {"type": "manual"},
                "steps": [{"id": "a", "type": "set", "values": {}}, {"id": "b", "type": "set", "values": {}}]
            })
        };
        let mut unknown = base();
        unknown["steps"][1] = json!({"id": "b", "type": "ftp", "url": "x"});
        let found = problem(unknown);
        assert_eq!(found.path, "/steps/1");
        assert!(
            found.message.contains("unknown type `ftp`"),
            "{}",
            found.message
        );

        let mut wrong = base();
        wrong["steps"][0] = json!({"id": "a", "type": "delay", "seconds": "soon"});
        // A tagged step is read whole, so the path stops at the step; the message names the
        // value that does not fit.
        let found = problem(wrong);
        assert_eq!(found.path, "/steps/0");
        assert!(found.message.contains("\"soon\""), "{}", found.message);

        let mut trigger = base();
        trigger["trigger"] = json!({"type": "schedule", "cron": 5});
        assert!(problem(trigger).path.starts_with("/trigger"));

        let mut extra = base();
        extra["colour"] = json!("red");
        assert!(problem(extra).message.contains("colour"));

        assert!(workflow_spec(base()).is_ok());
    }
}
