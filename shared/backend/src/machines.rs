//! The saga state machines a platform runs, as code ships them (not settings): each machine's
//! ASL text, and which task function each `${...}` placeholder of those texts names.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use async_trait::async_trait;
use platform::Platform;
use ports::state_machines::substitute_definition;
use serde_json::Value;
use triggers::{TaskError, TaskHandler};

/// The machines and their task-function placeholders. The dev server passes the `sagas`
/// crate's machines; a Lambda function passes none (on AWS the template deploys them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineDefinitions {
    /// (logical name, ASL text with `${...}` placeholders), e.g. `("transaction", "{...}")`.
    pub machines: Vec<(String, String)>,
    /// (placeholder, task function name): `("SagaStepFunctionArn", "saga-step")`.
    pub task_functions: Vec<(String, String)>,
}

impl MachineDefinitions {
    /// No machines.
    pub fn none() -> Self {
        Self::default()
    }

    /// The machines of a `&[(name, text)]` table such as `sagas::machines::MACHINES`.
    pub fn new(machines: &[(&str, &str)]) -> Self {
        Self {
            machines: machines
                .iter()
                .map(|(name, text)| (name.to_string(), text.to_string()))
                .collect(),
            task_functions: Vec::new(),
        }
    }

    /// Says that `${placeholder}` is the ARN of the task function `function`.
    pub fn with_task_function(mut self, placeholder: &str, function: &str) -> Self {
        self.task_functions
            .push((placeholder.to_string(), function.to_string()));
        self
    }

    /// Each placeholder's value, given how a function's ARN is written where they run.
    pub fn substitutions(&self, function_arn: impl Fn(&str) -> String) -> BTreeMap<String, String> {
        self.task_functions
            .iter()
            .map(|(placeholder, function)| (placeholder.clone(), function_arn(function)))
            .collect()
    }

    /// The definitions with every placeholder replaced, for deploying them (to an emulator).
    pub fn substituted(
        &self,
        function_arn: impl Fn(&str) -> String,
    ) -> Result<Vec<(String, String)>, String> {
        let substitutions = self.substitutions(function_arn);
        self.machines
            .iter()
            .map(|(name, text)| {
                substitute_definition(text, &substitutions)
                    .map(|text| (name.clone(), text))
                    .map_err(|e| format!("state machine {name}: {e}"))
            })
            .collect()
    }
}

/// A task function of the platform (`saga-step`), found on the platform at each call.
///
/// It holds the platform weakly: the platform holds the local state-machine runner, which
/// holds its task functions, so a strong reference here would keep all three alive forever.
pub struct PlatformTask {
    platform: Weak<Platform>,
    handler: fn(&Platform) -> Arc<dyn TaskHandler>,
}

/// `handler` picks the task function on the platform, e.g. `|p| p.sagas().step_handler()`.
pub fn platform_task(
    platform: &Arc<Platform>,
    handler: fn(&Platform) -> Arc<dyn TaskHandler>,
) -> Arc<dyn TaskHandler> {
    Arc::new(PlatformTask {
        platform: Arc::downgrade(platform),
        handler,
    })
}

#[async_trait]
impl TaskHandler for PlatformTask {
    async fn run(&self, input: Value) -> Result<Value, TaskError> {
        let platform = self
            .platform
            .upgrade()
            .ok_or_else(|| TaskError::unavailable("the platform is shutting down"))?;
        let handler = (self.handler)(&platform);
        handler.run(input).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_function_arns() {
        let machines = MachineDefinitions::new(&[("m", r#"{"F": "${StepArn}"}"#)])
            .with_task_function("StepArn", "saga-step");
        let done = machines
            .substituted(|name| format!("arn:aws:lambda:us-east-1:1:function:{name}"))
            .expect("substituted");
        assert_eq!(
            done,
            vec![(
                "m".to_string(),
                r#"{"F": "arn:aws:lambda:us-east-1:1:function:saga-step"}"#.to_string()
            )]
        );
    }

    #[test]
    fn a_placeholder_without_a_function_is_an_error_naming_the_machine() {
        let err = MachineDefinitions::new(&[("m", r#"{"F": "${Other}"}"#)])
            .substituted(|name| name.to_string())
            .expect_err("unknown placeholder");
        assert!(err.contains("state machine m"), "{err}");
    }
}
