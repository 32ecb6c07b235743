//! `condition` steps: comparisons of rendered values combined with `all`/`any`/`not`. Numbers
//! compare as numbers (also when one side is a numeric string, as Airtable cells often are),
//! other values as strings; `contains` looks into strings and arrays.

use std::cmp::Ordering;

use serde_json::Value;

use crate::model::{Comparison, Condition, ConditionOp};

/// Whether a rendered condition holds.
pub fn holds(condition: &Condition) -> bool {
    match condition {
        Condition::All { all } => all.iter().all(holds),
        Condition::Any { any } => any.iter().any(holds),
        Condition::Not { not } => !holds(not),
        Condition::Compare(comparison) => compare(comparison),
    }
}

fn compare(Comparison { left, op, right }: &Comparison) -> bool {
    match op {
        ConditionOp::Equals => order(left, right) == Some(Ordering::Equal),
        ConditionOp::NotEquals => order(left, right) != Some(Ordering::Equal),
        ConditionOp::GreaterThan => order(left, right) == Some(Ordering::Greater),
        ConditionOp::GreaterThanOrEqual => {
            matches!(
                order(left, right),
                Some(Ordering::Greater | Ordering::Equal)
            )
        }
        ConditionOp::LessThan => order(left, right) == Some(Ordering::Less),
        ConditionOp::LessThanOrEqual => {
            matches!(order(left, right), Some(Ordering::Less | Ordering::Equal))
        }
        ConditionOp::Contains => contains(left, right),
        ConditionOp::NotContains => !contains(left, right),
        ConditionOp::IsEmpty => is_empty(left),
        ConditionOp::IsNotEmpty => !is_empty(left),
    }
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Numbers when both sides are numeric (and at least one is a JSON number), else booleans and
/// strings as they are, else arrays and objects by equality only.
fn order(left: &Value, right: &Value) -> Option<Ordering> {
    let numeric = left.is_number() || right.is_number();
    if numeric && let (Some(a), Some(b)) = (number(left), number(right)) {
        return a.partial_cmp(&b);
    }
    match (left, right) {
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => {
            (left == right).then_some(Ordering::Equal)
        }
        _ => Some(text(left).cmp(&text(right))),
    }
}

fn contains(haystack: &Value, needle: &Value) -> bool {
    match haystack {
        Value::Array(items) => items
            .iter()
            .any(|item| order(item, needle) == Some(Ordering::Equal)),
        Value::String(s) => s.contains(text(needle).as_str()),
        _ => false,
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cond(value: Value) -> Condition {
        serde_json::from_value(value).expect("condition")
    }

    #[test]
    fn numbers_compare_numerically_and_strings_as_strings() {
        assert!(holds(&cond(
            json!({"left": 10, "op": "greater_than", "right": 9})
        )));
        assert!(holds(&cond(
            json!({"left": "10", "op": "greater_than", "right": 9})
        )));
        assert!(!holds(&cond(
            json!({"left": "10", "op": "greater_than", "right": "9"})
        )));
        assert!(holds(&cond(
            json!({"left": 1.0, "op": "equals", "right": 1})
        )));
        assert!(holds(&cond(
            json!({"left": "Won", "op": "equals", "right": "Won"})
        )));
        assert!(holds(&cond(
            json!({"left": "Won", "op": "not_equals", "right": "Lost"})
        )));
    }

    #[test]
    fn contains_looks_into_strings_and_arrays() {
        assert!(holds(&cond(
            json!({"left": "hello world", "op": "contains", "right": "world"})
        )));
        assert!(holds(&cond(
            json!({"left": ["a", "b"], "op": "contains", "right": "b"})
        )));
        assert!(holds(&cond(
            json!({"left": [1, 2], "op": "not_contains", "right": 3})
        )));
        assert!(!holds(&cond(
            json!({"left": 5, "op": "contains", "right": 5})
        )));
    }

    #[test]
    fn all_any_not_and_emptiness_combine() {
        let c = cond(json!({"all": [
            {"left": "", "op": "is_empty"},
            {"any": [{"left": 1, "op": "equals", "right": 2}, {"left": [0], "op": "is_not_empty"}]},
            {"not": {"left": null, "op": "is_not_empty"}}
        ]}));
        assert!(holds(&c));
        let c = cond(json!({"not": {"all": [{"left": 1, "op": "less_than", "right": 2}]}}));
        assert!(!holds(&c));
    }
}
