//! The Task resources the local runner understands: `arn:aws:states:::lambda:invoke` (and a
//! bare Lambda ARN), routed to in-process [`TaskHandler`]s registered by function name, with
//! results and failures shaped exactly as Step Functions gives them, so the same Retry, Catch
//! and ResultSelector work locally and on AWS.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use asl::{TaskFailure, TaskInvoker};
use async_trait::async_trait;
use serde_json::{Value, json};
use triggers::TaskHandler;

/// The optimised Lambda integration.
pub const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";

/// The Error Step Functions raises for a function that does not exist.
pub const FUNCTION_NOT_FOUND: &str = "Lambda.ResourceNotFoundException";

/// The task functions by name (`saga-step`), shared with the adapter that registers them.
#[derive(Default)]
pub(crate) struct TaskFunctions {
    handlers: RwLock<HashMap<String, Arc<dyn TaskHandler>>>,
}

impl TaskFunctions {
    pub(crate) fn register(&self, name: &str, handler: Arc<dyn TaskHandler>) {
        self.handlers
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_string(), handler);
    }

    fn get(&self, name: &str) -> Option<Arc<dyn TaskHandler>> {
        self.handlers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// Runs the function `function` (an ARN or a bare name) on `payload`: its output, or the
    /// failure as Step Functions names it.
    async fn call(&self, function: &str, payload: Value) -> Result<Value, TaskFailure> {
        let name = function_name(function);
        let handler = self.get(name).ok_or_else(|| TaskFailure {
            error: FUNCTION_NOT_FOUND.to_string(),
            cause: format!(
                "Function not found: {function} (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException)"
            ),
        })?;
        // On its own task so that a panicking handler fails the state (as a crashed function
        // does on AWS) instead of killing the execution's task, which would leave it Running.
        // So a stopped execution does not stop a call in flight either, as on AWS.
        let run =
            tokio::spawn(async move { triggers::task::run_task(handler.as_ref(), payload).await });
        match run.await {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(err)) => Err(TaskFailure {
                error: err.name.as_str().to_string(),
                cause: json!({"errorMessage": err.message, "errorType": err.name.as_str()})
                    .to_string(),
            }),
            Err(join) => Err(TaskFailure {
                error: "Lambda.Unknown".to_string(),
                cause: format!("the function {name} did not finish: {join}"),
            }),
        }
    }
}

/// `arn:aws:lambda:region:account:function:saga-step[:qualifier]` → `saga-step`; a bare name
/// is itself.
pub(crate) fn function_name(function: &str) -> &str {
    match function.split_once(":function:") {
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => function,
    }
}

/// The [`TaskInvoker`] of the local runner.
pub(crate) struct LocalInvoker {
    pub(crate) functions: Arc<TaskFunctions>,
}

#[async_trait]
impl TaskInvoker for LocalInvoker {
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure> {
        if resource == LAMBDA_INVOKE {
            let Some(function) = input.get("FunctionName").and_then(Value::as_str) else {
                return Err(TaskFailure {
                    error: "States.Runtime".to_string(),
                    cause: format!(
                        "{LAMBDA_INVOKE} needs Parameters.FunctionName (a string); the effective input was {input}"
                    ),
                });
            };
            let payload = input.get("Payload").cloned().unwrap_or_else(|| json!({}));
            let output = self.functions.call(function, payload).await?;
            return Ok(json!({
                "ExecutedVersion": "$LATEST",
                "Payload": output,
                "StatusCode": 200,
            }));
        }
        if resource.starts_with("arn:aws:lambda:") {
            // The legacy integration: the function's output is the result itself.
            return self.functions.call(resource, input).await;
        }
        Err(TaskFailure {
            error: "States.Runtime".to_string(),
            cause: format!("the local runner cannot run the resource {resource}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_come_from_arns_or_are_bare() {
        assert_eq!(
            function_name("arn:aws:lambda:local:000000000000:function:saga-step"),
            "saga-step"
        );
        assert_eq!(
            function_name("arn:aws:lambda:eu-west-1:1:function:saga-step:live"),
            "saga-step"
        );
        assert_eq!(function_name("saga-step"), "saga-step");
    }
}
