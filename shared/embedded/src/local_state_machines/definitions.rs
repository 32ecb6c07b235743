//! The machines a [`LocalStateMachines`](super::LocalStateMachines) runs: ASL text with
//! `${Name}` placeholders, substituted the way CloudFormation's `DefinitionSubstitutions` do,
//! then parsed once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use asl::StateMachine;
use ports::MachineName;

/// Replaces every `${Name}` in `text` by `substitutions[Name]`, as CloudFormation does with a
/// state machine's `DefinitionSubstitutions`. A placeholder with no value is an error: the
/// machine would otherwise run with a literal `${...}` where an ARN belongs.
pub(crate) fn substitute(
    text: &str,
    substitutions: &BTreeMap<String, String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err("an unterminated ${ placeholder".to_string());
        };
        let name = &after[..end];
        let value = substitutions
            .get(name)
            .ok_or_else(|| format!("no substitution for ${{{name}}}"))?;
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Substitutes and parses every machine; an error names the machine.
pub(crate) fn parse_all(
    machines: impl IntoIterator<Item = (MachineName, String)>,
    substitutions: &BTreeMap<String, String>,
) -> Result<HashMap<String, Arc<StateMachine>>, String> {
    let mut parsed = HashMap::new();
    for (name, text) in machines {
        let machine = substitute(&text, substitutions)
            .and_then(|text| StateMachine::from_json(&text).map_err(|e| e.to_string()))
            .map_err(|e| format!("state machine {name}: {e}"))?;
        parsed.insert(name.0, Arc::new(machine));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn placeholders_are_replaced_and_the_rest_kept() {
        let text = r#"{"a": "${Fn}", "b": "x${Fn}y", "c": "{}"}"#;
        assert_eq!(
            substitute(text, &subs(&[("Fn", "arn:1")])).expect("substituted"),
            r#"{"a": "arn:1", "b": "xarn:1y", "c": "{}"}"#
        );
    }

    #[test]
    fn a_placeholder_without_a_value_is_an_error_naming_it() {
        let err = substitute(r#"{"a": "${Missing}"}"#, &subs(&[])).expect_err("missing");
        assert!(err.contains("${Missing}"), "{err}");
        assert!(substitute(r#"{"a": "${open"}"#, &subs(&[])).is_err());
    }

    #[test]
    fn a_bad_definition_names_the_machine() {
        let err = parse_all(
            [(MachineName::new("broken"), r#"{"StartAt": "X", "States": {}}"#.to_string())],
            &subs(&[]),
        )
        .expect_err("refused");
        assert!(err.contains("broken"), "{err}");
    }
}
