//! The machines a [`LocalStateMachines`](super::LocalStateMachines) runs: ASL text with
//! `${Name}` placeholders, substituted the way CloudFormation's `DefinitionSubstitutions` do,
//! then parsed once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use asl::StateMachine;
use ports::MachineName;
use ports::state_machines::substitute_definition;

/// Substitutes and parses every machine; an error names the machine.
pub(crate) fn parse_all(
    machines: impl IntoIterator<Item = (MachineName, String)>,
    substitutions: &BTreeMap<String, String>,
) -> Result<HashMap<String, Arc<StateMachine>>, String> {
    let mut parsed = HashMap::new();
    for (name, text) in machines {
        let machine = substitute_definition(&text, substitutions)
            .and_then(|text| StateMachine::from_json(&text).map_err(|e| e.to_string()))
            .map_err(|e| format!("state machine {name}: {e}"))?;
        parsed.insert(name.0, Arc::new(machine));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_definition_names_the_machine() {
        let err = parse_all(
            [(
                MachineName::new("broken"),
                r#"{"StartAt": "X", "States": {}}"#.to_string(),
            )],
            &BTreeMap::new(),
        )
        .expect_err("refused");
        assert!(err.contains("broken"), "{err}");
    }

    #[test]
    fn a_missing_substitution_names_the_machine() {
        let err = parse_all(
            [(
                MachineName::new("needs-arn"),
                r#"{"StartAt": "X", "States": {"X": {"Type": "Task", "Resource": "${Fn}", "End": true}}}"#.to_string(),
            )],
            &BTreeMap::new(),
        )
        .expect_err("refused");
        assert!(err.contains("needs-arn") && err.contains("${Fn}"), "{err}");
    }
}
