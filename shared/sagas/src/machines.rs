//! The state machines' definitions, compiled in: the same files `infra/template.yaml` deploys
//! to Step Functions and the local runner runs.
//!
//! Every Task invokes `${SagaStepFunctionArn}`, a definition substitution: the template gives
//! the saga-step function's ARN, the local runner its own name for the in-process handler.

use crate::model::SagaType;

/// The definition substitution every Task's `FunctionName` names.
pub const SAGA_STEP_SUBSTITUTION: &str = "SagaStepFunctionArn";

/// `(machine name, definition text)` of every saga machine.
pub const MACHINES: &[(&str, &str)] = &[
    (
        "transaction",
        include_str!("../../../statemachines/transaction.asl.json"),
    ),
    (
        "table-sync",
        include_str!("../../../statemachines/table-sync.asl.json"),
    ),
    (
        "connect-base",
        include_str!("../../../statemachines/connect-base.asl.json"),
    ),
];

/// The definition text of a machine, if it is compiled in.
pub fn definition(name: &str) -> Option<&'static str> {
    MACHINES
        .iter()
        .find(|(machine, _)| *machine == name)
        .map(|(_, text)| *text)
}

/// The definition with `${SagaStepFunctionArn}` replaced, as a deployment would see it.
pub fn substituted(text: &str, saga_step_arn: &str) -> String {
    text.replace(&format!("${{{SAGA_STEP_SUBSTITUTION}}}"), saga_step_arn)
}

/// Whether a saga type has a machine in this build.
pub fn has_machine(saga_type: SagaType) -> bool {
    definition(saga_type.as_str()).is_some()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn every_machine_is_json_naming_saga_step_through_the_substitution() {
        for (name, text) in MACHINES {
            let parsed: Value =
                serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(parsed["States"].is_object(), "{name}");
            assert!(text.contains("${SagaStepFunctionArn}"), "{name}");
            let arn = "arn:aws:lambda:local:000000000000:function:saga-step";
            let deployed = substituted(text, arn);
            assert!(!deployed.contains("${"), "{name}");
            assert!(deployed.contains(arn), "{name}");
        }
        assert!(has_machine(SagaType::Transaction));
        assert!(has_machine(SagaType::TableSync));
        assert!(has_machine(SagaType::ConnectBase));
    }
}
