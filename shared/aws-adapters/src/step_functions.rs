//! [`StepFunctions`]: the state-machine port on Step Functions.
//!
//! Starting is idempotent by execution name, the way the port promises: a retried request (same
//! name, same input) gets the existing execution back with `already_existed`, another input is
//! `AlreadyExists`. Step Functions itself only dedupes a *running* standard execution with the
//! same input and then does not say it did, so the adapter first describes the execution the
//! name would have (its ARN is derived from the machine's ARN) and compares inputs as JSON.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_sfn::Client;
use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::primitives::DateTime as SdkDateTime;
use aws_sdk_sfn::types::ExecutionStatus as SdkStatus;
use chrono::{DateTime, Utc};
use ports::state_machines::validate_execution_name;
use ports::{
    Execution, ExecutionStatus, MachineName, StartedExecution, StateMachineError, StateMachines,
};
use serde_json::Value;

/// Error codes that mean "no such execution".
const NOT_FOUND: [&str; 2] = ["ExecutionDoesNotExist", "InvalidArn"];
const ALREADY_EXISTS: &str = "ExecutionAlreadyExists";

#[derive(Debug, Clone)]
pub struct StepFunctions {
    client: Client,
    machine_arns: BTreeMap<String, String>,
}

fn unavailable<E, R>(operation: &str, err: SdkError<E, R>) -> StateMachineError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    StateMachineError::Unavailable(format!(
        "Step Functions {operation}: {}",
        DisplayErrorContext(err)
    ))
}

fn to_chrono(time: &SdkDateTime) -> Result<DateTime<Utc>, StateMachineError> {
    DateTime::from_timestamp(time.secs(), time.subsec_nanos())
        .ok_or_else(|| StateMachineError::Unavailable(format!("timestamp {time} is out of range")))
}

fn parse_json(what: &str, text: &str) -> Result<Value, StateMachineError> {
    serde_json::from_str(text).map_err(|e| {
        StateMachineError::Unavailable(format!("the execution's {what} is not JSON: {e}"))
    })
}

fn to_status(status: &SdkStatus) -> Result<ExecutionStatus, StateMachineError> {
    Ok(match status {
        SdkStatus::Running => ExecutionStatus::Running,
        // A redrive was requested and will resume the execution.
        SdkStatus::PendingRedrive => ExecutionStatus::Running,
        SdkStatus::Succeeded => ExecutionStatus::Succeeded,
        SdkStatus::Failed => ExecutionStatus::Failed,
        SdkStatus::TimedOut => ExecutionStatus::TimedOut,
        SdkStatus::Aborted => ExecutionStatus::Aborted,
        other => {
            return Err(StateMachineError::Unavailable(format!(
                "unknown execution status {other:?}"
            )));
        }
    })
}

fn to_execution(out: &DescribeExecutionOutput) -> Result<Execution, StateMachineError> {
    Ok(Execution {
        execution_id: out.execution_arn().to_string(),
        name: out.name().unwrap_or_default().to_string(),
        status: to_status(out.status())?,
        input: out
            .input()
            .map(|text| parse_json("input", text))
            .transpose()?
            .unwrap_or(Value::Null),
        output: out
            .output()
            .map(|text| parse_json("output", text))
            .transpose()?,
        error: out.error().map(str::to_string),
        cause: out.cause().map(str::to_string),
        started_at: to_chrono(out.start_date())?,
        stopped_at: out.stop_date().map(to_chrono).transpose()?,
    })
}

/// The ARN an execution named `name` of the machine `machine_arn` has (or would have).
fn execution_arn(machine_arn: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}

impl StepFunctions {
    /// `machine_arns` maps each logical machine name (e.g. `transaction`) to its ARN.
    pub fn new(client: Client, machine_arns: BTreeMap<String, String>) -> Self {
        Self {
            client,
            machine_arns,
        }
    }

    /// The execution at `arn`, or `None` when there is none.
    async fn find(&self, arn: &str) -> Result<Option<Execution>, StateMachineError> {
        let result = self
            .client
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await;
        match result {
            Ok(out) => to_execution(&out).map(Some),
            Err(err) if err.code().is_some_and(|c| NOT_FOUND.contains(&c)) => Ok(None),
            Err(err) => Err(unavailable("DescribeExecution", err)),
        }
    }

    /// An existing execution is a retry when its input is the same JSON, else a clash.
    fn existing(
        name: &str,
        input: &Value,
        existing: Execution,
    ) -> Result<StartedExecution, StateMachineError> {
        if existing.input != *input {
            return Err(StateMachineError::AlreadyExists(name.to_string()));
        }
        Ok(StartedExecution {
            execution_id: existing.execution_id,
            started_at: existing.started_at,
            already_existed: true,
        })
    }
}

#[async_trait]
impl StateMachines for StepFunctions {
    async fn start(
        &self,
        machine: &MachineName,
        execution_name: &str,
        input: Value,
    ) -> Result<StartedExecution, StateMachineError> {
        validate_execution_name(execution_name)?;
        let machine_arn = self
            .machine_arns
            .get(&machine.0)
            .ok_or_else(|| StateMachineError::UnknownMachine(machine.0.clone()))?;
        let arn = execution_arn(machine_arn, execution_name);
        if let Some(existing) = self.find(&arn).await? {
            return Self::existing(execution_name, &input, existing);
        }
        let result = self
            .client
            .start_execution()
            .state_machine_arn(machine_arn)
            .name(execution_name)
            .input(input.to_string())
            .send()
            .await;
        match result {
            Ok(out) => Ok(StartedExecution {
                execution_id: out.execution_arn().to_string(),
                started_at: to_chrono(out.start_date())?,
                already_existed: false,
            }),
            // Another caller started it between our describe and start.
            Err(err) if err.code() == Some(ALREADY_EXISTS) => match self.find(&arn).await? {
                Some(existing) => Self::existing(execution_name, &input, existing),
                None => Err(StateMachineError::AlreadyExists(execution_name.to_string())),
            },
            Err(err) if err.code() == Some("StateMachineDoesNotExist") => {
                Err(StateMachineError::UnknownMachine(machine.0.clone()))
            }
            Err(err) => Err(unavailable("StartExecution", err)),
        }
    }

    async fn describe(&self, execution_id: &str) -> Result<Execution, StateMachineError> {
        self.find(execution_id)
            .await?
            .ok_or_else(|| StateMachineError::ExecutionNotFound(execution_id.to_string()))
    }

    async fn stop(
        &self,
        execution_id: &str,
        error: Option<&str>,
        cause: Option<&str>,
    ) -> Result<(), StateMachineError> {
        // Stopping a finished execution must succeed and change nothing: look first rather than
        // depend on how a backend answers a stop of a closed execution. A race with the
        // execution finishing meanwhile is harmless.
        if self.describe(execution_id).await?.status.is_terminal() {
            return Ok(());
        }
        let result = self
            .client
            .stop_execution()
            .execution_arn(execution_id)
            .set_error(error.map(str::to_string))
            .set_cause(cause.map(str::to_string))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if err.code().is_some_and(|c| NOT_FOUND.contains(&c)) => Err(
                StateMachineError::ExecutionNotFound(execution_id.to_string()),
            ),
            Err(err) => Err(unavailable("StopExecution", err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_arn_is_derived_from_the_machine_arn() {
        assert_eq!(
            execution_arn(
                "arn:aws:states:us-east-1:123456789012:stateMachine:saga",
                "run-1"
            ),
            "arn:aws:states:us-east-1:123456789012:execution:saga:run-1"
        );
    }
}

#[cfg(test)]
mod contract {
    use std::sync::Arc;

    use ports::contract::state_machines::{Fixture, GREETER_ASL, WAITER_ASL};

    use super::*;
    use crate::moto;
    use crate::provision::ensure_state_machine;

    #[cfg_attr(not(moto), allow(dead_code))]
    async fn fixture(case: &str) -> Fixture {
        // Machines must be created after execution is switched on: moto keeps executing
        // machines in a separate backend.
        moto::enable_step_functions_execution();
        let config = moto::sdk_config().await;
        let client = Client::new(&config);
        let mut arns = BTreeMap::new();
        for (name, definition) in [("greeter", GREETER_ASL), ("waiter", WAITER_ASL)] {
            let arn = ensure_state_machine(&client, &format!("contract-{name}"), definition)
                .await
                .expect("create the contract state machines on moto");
            arns.insert(name.to_string(), arn);
        }
        Fixture {
            machines: Arc::new(StepFunctions::new(client, arns)),
            greeter: MachineName::new("greeter"),
            waiter: MachineName::new("waiter"),
            prefix: ports::contract::unique_prefix(case),
        }
    }

    #[cfg(moto)]
    ports::state_machines_contract_tests!(fixture);

    /// Beyond the shared suite: Step Functions (and moto) answer a repeated start of a *running*
    /// execution with the same input by returning it as if new; the port must still say
    /// `already_existed`, or a retried request would believe it started a second saga.
    #[cfg(moto)]
    #[tokio::test]
    async fn retrying_a_running_start_reports_the_existing_execution() {
        let f = fixture("retrying_a_running_start").await;
        let name = format!("{}-running", f.prefix);
        let first = f
            .machines
            .start(&f.waiter, &name, serde_json::json!({"n": 1}))
            .await
            .expect("start");
        let second = f
            .machines
            .start(&f.waiter, &name, serde_json::json!({"n": 1}))
            .await
            .expect("start again");
        assert_eq!(second.execution_id, first.execution_id);
        assert!(second.already_existed);
        f.machines
            .stop(&first.execution_id, None, None)
            .await
            .expect("stop");
    }
}
