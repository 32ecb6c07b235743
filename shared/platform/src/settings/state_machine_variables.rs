//! `STATE_MACHINE_ARNS`: where each saga state machine is deployed.

use std::collections::BTreeMap;

use basics::{ConfigError, Env};

/// The variable: a JSON object from logical machine name (`transaction`) to its ARN, as the
/// template writes it. Unset is empty (the embedded backend, or machines provisioned on an
/// emulator).
pub const STATE_MACHINE_ARNS: &str = "STATE_MACHINE_ARNS";

/// Reads [`STATE_MACHINE_ARNS`]; anything but an object of non-empty strings is an error.
pub fn state_machine_arns(env: &Env) -> Result<BTreeMap<String, String>, ConfigError> {
    let Some(text) = env.raw(STATE_MACHINE_ARNS) else {
        return Ok(BTreeMap::new());
    };
    let problem = |problem: String| ConfigError {
        var: STATE_MACHINE_ARNS.into(),
        problem,
    };
    let arns: BTreeMap<String, String> = serde_json::from_str(&text).map_err(|e| {
        problem(format!(
            "expected a JSON object of machine name to ARN, like {{\"transaction\": \"arn:aws:states:...\"}}: {e}"
        ))
    })?;
    if let Some((name, _)) = arns
        .iter()
        .find(|(name, arn)| name.is_empty() || !arn.starts_with("arn:"))
    {
        return Err(problem(format!(
            "the machine {name:?} needs a non-empty name and an ARN (arn:...)"
        )));
    }
    Ok(arns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_is_empty() {
        assert!(
            state_machine_arns(&Env::from_pairs([]))
                .expect("unset")
                .is_empty()
        );
    }

    #[test]
    fn an_object_maps_names_to_arns() {
        let env = Env::from_pairs([(
            STATE_MACHINE_ARNS,
            r#"{"transaction": "arn:aws:states:eu-west-1:1:stateMachine:tx"}"#,
        )]);
        let arns = state_machine_arns(&env).expect("valid");
        assert_eq!(
            arns.get("transaction").map(String::as_str),
            Some("arn:aws:states:eu-west-1:1:stateMachine:tx")
        );
    }

    #[test]
    fn anything_else_is_an_error_naming_the_variable() {
        for bad in [
            "not json",
            r#"["arn:aws:states:x"]"#,
            r#"{"transaction": 7}"#,
            r#"{"transaction": "tx"}"#,
        ] {
            let env = Env::from_pairs([(STATE_MACHINE_ARNS, bad)]);
            let err = state_machine_arns(&env).expect_err(bad);
            assert_eq!(err.var, STATE_MACHINE_ARNS, "{bad}");
        }
    }
}
