//! Choice rules: the comparison operators (each with its `...Path` variant), the type tests
//! (IsNull, IsPresent, IsNumeric, IsString, IsBoolean, IsTimestamp), StringMatches, and
//! And/Or/Not. A comparison against a value of another type is false, as on AWS; a Variable
//! that names nothing is `States.Runtime`, except for IsPresent, whose whole job is to ask.

use chrono::{DateTime, Utc};
use serde_json::Value;
use std::cmp::Ordering;

use crate::error::StatesError;
use crate::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Compare {
        variable: Path,
        op: Operator,
        operand: Operand,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Literal(Value),
    Path(Path),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Compare(Kind, Ordering, bool),
    StringMatches,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

fn operator(name: &str) -> Option<Operator> {
    use Ordering::*;
    let (kind, rest) = [
        ("String", Kind::String),
        ("Numeric", Kind::Numeric),
        ("Boolean", Kind::Boolean),
        ("Timestamp", Kind::Timestamp),
    ]
    .iter()
    .find_map(|(prefix, kind)| name.strip_prefix(prefix).map(|rest| (*kind, rest)))
    .unwrap_or((Kind::String, ""));
    let compare = |ordering, or_equal| Some(Operator::Compare(kind, ordering, or_equal));
    match (kind, rest) {
        (_, "Equals") => compare(Equal, true),
        (Kind::Boolean, _) => None,
        (_, "LessThan") => compare(Less, false),
        (_, "GreaterThan") => compare(Greater, false),
        (_, "LessThanEquals") => compare(Less, true),
        (_, "GreaterThanEquals") => compare(Greater, true),
        _ => match name {
            "StringMatches" => Some(Operator::StringMatches),
            "IsNull" => Some(Operator::IsNull),
            "IsPresent" => Some(Operator::IsPresent),
            "IsNumeric" => Some(Operator::IsNumeric),
            "IsString" => Some(Operator::IsString),
            "IsBoolean" => Some(Operator::IsBoolean),
            "IsTimestamp" => Some(Operator::IsTimestamp),
            _ => None,
        },
    }
}

impl Rule {
    /// Parses one rule; `top_level` rules carry `Next` (checked by the caller), nested ones must not.
    pub fn parse(value: &Value, top_level: bool) -> Result<Rule, String> {
        let Value::Object(map) = value else {
            return Err("a choice rule must be an object".into());
        };
        let mut op_keys: Vec<&String> = map
            .keys()
            .filter(|key| !matches!(key.as_str(), "Variable" | "Next" | "Comment"))
            .collect();
        if !top_level && map.contains_key("Next") {
            return Err("a nested choice rule may not have Next".into());
        }
        if op_keys.len() != 1 {
            return Err(format!(
                "a choice rule needs exactly one operator, found {}",
                if op_keys.is_empty() {
                    "none".to_string()
                } else {
                    format!("{op_keys:?}")
                }
            ));
        }
        let key = op_keys.remove(0);
        let operand = &map[key];
        match key.as_str() {
            "And" | "Or" => {
                let Value::Array(items) = operand else {
                    return Err(format!("{key} must be an array of rules"));
                };
                if items.is_empty() {
                    return Err(format!("{key} must not be empty"));
                }
                let rules = items
                    .iter()
                    .map(|item| Rule::parse(item, false))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(if key == "And" {
                    Rule::And(rules)
                } else {
                    Rule::Or(rules)
                })
            }
            "Not" => Ok(Rule::Not(Box::new(Rule::parse(operand, false)?))),
            name => {
                let variable = match map.get("Variable") {
                    Some(Value::String(text)) => {
                        Path::parse(text).map_err(|e| format!("Variable: {e}"))?
                    }
                    _ => return Err(format!("{name} needs a Variable (a path string)")),
                };
                let (op_name, is_path) = match name.strip_suffix("Path") {
                    Some(base) if operator(base).is_some() => (base, true),
                    _ => (name, false),
                };
                let op = operator(op_name)
                    .ok_or_else(|| format!("unknown comparison operator '{name}'"))?;
                let operand = if is_path {
                    let Value::String(text) = operand else {
                        return Err(format!("{name} must be a path string"));
                    };
                    Operand::Path(Path::parse(text).map_err(|e| format!("{name}: {e}"))?)
                } else {
                    check_literal(op, name, operand)?;
                    Operand::Literal(operand.clone())
                };
                Ok(Rule::Compare {
                    variable,
                    op,
                    operand,
                })
            }
        }
    }

    pub fn evaluate(&self, data: &Value, context: &Value) -> Result<bool, StatesError> {
        match self {
            Rule::And(rules) => {
                for rule in rules {
                    if !rule.evaluate(data, context)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for rule in rules {
                    if rule.evaluate(data, context)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(rule) => Ok(!rule.evaluate(data, context)?),
            Rule::Compare {
                variable,
                op,
                operand,
            } => {
                let value = variable.resolve(data, context);
                if *op == Operator::IsPresent {
                    return Ok(value.is_some() == (operand == &Operand::Literal(Value::Bool(true))));
                }
                let value = value.ok_or_else(|| {
                    StatesError::runtime(format!(
                        "Invalid path '{variable}': The choice state's condition path references an invalid value."
                    ))
                })?;
                let operand = match operand {
                    Operand::Literal(literal) => literal.clone(),
                    Operand::Path(path) => path.resolve(data, context).cloned().ok_or_else(|| {
                        StatesError::runtime(format!(
                            "Invalid path '{path}': The choice state's condition path references an invalid value."
                        ))
                    })?,
                };
                Ok(compare(*op, value, &operand))
            }
        }
    }
}

fn check_literal(op: Operator, name: &str, operand: &Value) -> Result<(), String> {
    let ok = match op {
        Operator::Compare(Kind::String, ..) | Operator::StringMatches => operand.is_string(),
        Operator::Compare(Kind::Numeric, ..) => operand.is_number(),
        Operator::Compare(Kind::Boolean, ..) => operand.is_boolean(),
        Operator::Compare(Kind::Timestamp, ..) => operand.as_str().and_then(timestamp).is_some(),
        _ => operand.is_boolean(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name} has an operand of the wrong type: {operand}"
        ))
    }
}

/// An RFC 3339 timestamp, as ASL's Timestamp operators and IsTimestamp read them.
pub fn timestamp(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn compare(op: Operator, value: &Value, operand: &Value) -> bool {
    let flag = || operand.as_bool().unwrap_or(false);
    match op {
        Operator::IsNull => value.is_null() == flag(),
        Operator::IsNumeric => value.is_number() == flag(),
        Operator::IsString => value.is_string() == flag(),
        Operator::IsBoolean => value.is_boolean() == flag(),
        Operator::IsTimestamp => value.as_str().and_then(timestamp).is_some() == flag(),
        Operator::IsPresent => true,
        Operator::StringMatches => match (value.as_str(), operand.as_str()) {
            (Some(text), Some(pattern)) => string_matches(text, pattern),
            _ => false,
        },
        Operator::Compare(kind, wanted, or_equal) => {
            let ordering = match kind {
                Kind::String => match (value.as_str(), operand.as_str()) {
                    (Some(a), Some(b)) => Some(a.cmp(b)),
                    _ => None,
                },
                Kind::Numeric => match (value.as_f64(), operand.as_f64()) {
                    (Some(a), Some(b)) => a.partial_cmp(&b),
                    _ => None,
                },
                Kind::Boolean => match (value.as_bool(), operand.as_bool()) {
                    (Some(a), Some(b)) => Some(a.cmp(&b)),
                    _ => None,
                },
                Kind::Timestamp => match (
                    value.as_str().and_then(timestamp),
                    operand.as_str().and_then(timestamp),
                ) {
                    (Some(a), Some(b)) => Some(a.cmp(&b)),
                    _ => None,
                },
            };
            match ordering {
                None => false,
                Some(Ordering::Equal) => or_equal,
                Some(ordering) => ordering == wanted,
            }
        }
    }
}

/// StringMatches: `*` matches any run of characters; `\*` and `\\` are a literal star and
/// backslash.
fn string_matches(text: &str, pattern: &str) -> bool {
    enum Token {
        Char(char),
        Star,
    }
    let mut tokens = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => tokens.push(Token::Char(chars.next().unwrap_or('\\'))),
            '*' => tokens.push(Token::Star),
            c => tokens.push(Token::Char(c)),
        }
    }
    let text: Vec<char> = text.chars().collect();
    // Classic wildcard matching with backtracking to the last star.
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match tokens.get(p) {
            Some(Token::Char(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            Some(Token::Star) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    while matches!(tokens.get(p), Some(Token::Star)) {
        p += 1;
    }
    p == tokens.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(value: Value) -> Rule {
        Rule::parse(&value, false).unwrap()
    }

    fn check(value: Value, data: Value) -> bool {
        rule(value).evaluate(&data, &json!({})).unwrap()
    }

    #[test]
    fn comparison_operators() {
        let data =
            json!({"s": "b", "n": 5, "b": true, "t": "2001-01-01T12:00:00Z", "n2": 5.0, "s2": "b"});
        assert!(check(
            json!({"Variable": "$.s", "StringEquals": "b"}),
            data.clone()
        ));
        assert!(check(
            json!({"Variable": "$.s", "StringLessThan": "c"}),
            data.clone()
        ));
        assert!(!check(
            json!({"Variable": "$.s", "StringGreaterThan": "c"}),
            data.clone()
        ));
        assert!(check(
            json!({"Variable": "$.s", "StringGreaterThanEquals": "b"}),
            data.clone()
        ));
        assert!(check(
            json!({"Variable": "$.s", "StringEqualsPath": "$.s2"}),
            data.clone()
        ));
        assert!(check(
            json!({"Variable": "$.n", "NumericEquals": 5}),
            data.clone()
        ));
        assert!(check(
            json!({"Variable": "$.n", "NumericEqualsPath": "$.n2"}),
            data.clone()
        ));
        assert!(check(
            json!({"Variable": "$.n", "NumericLessThanEquals": 5}),
            data.clone()
        ));
        assert!(!check(
            json!({"Variable": "$.n", "NumericLessThan": 5}),
            data.clone()
        ));
        assert!(check(
            json!({"Variable": "$.n", "NumericGreaterThan": 4.5}),
            data.clone()
        ));
        assert!(check(
            json!({"Variable": "$.b", "BooleanEquals": true}),
            data.clone()
        ));
        assert!(check(
            json!({"Variable": "$.t", "TimestampLessThan": "2001-01-01T12:00:01Z"}),
            data.clone()
        ));
        assert!(check(
            json!({"Variable": "$.t", "TimestampEquals": "2001-01-01T13:00:00+01:00"}),
            data.clone()
        ));
        // Another type compares false rather than failing.
        assert!(!check(
            json!({"Variable": "$.n", "StringEquals": "5"}),
            data.clone()
        ));
    }

    #[test]
    fn type_tests_and_presence() {
        let data = json!({"x": null, "n": 1, "s": "s", "t": "2016-03-14T01:59:00Z"});
        assert!(check(
            json!({"Variable": "$.x", "IsNull": true}),
            data.clone()
        ));
        assert!(check(
            json!({"Variable": "$.n", "IsNumeric": true}),
            data.clone()
        ));
        assert!(check(
            json!({"Variable": "$.s", "IsString": true}),
            data.clone()
        ));
        assert!(check(
            json!({"Variable": "$.s", "IsBoolean": false}),
            data.clone()
        ));
        assert!(check(
            json!({"Variable": "$.t", "IsTimestamp": true}),
            data.clone()
        ));
        assert!(check(
            json!({"Variable": "$.nope", "IsPresent": false}),
            data.clone()
        ));
        assert!(check(
            json!({"Variable": "$.x", "IsPresent": true}),
            data.clone()
        ));
        let missing = rule(json!({"Variable": "$.nope", "StringEquals": "a"}));
        assert_eq!(
            missing.evaluate(&data, &json!({})).unwrap_err().error,
            "States.Runtime"
        );
    }

    #[test]
    fn boolean_combinations_from_the_aws_example() {
        // "value is numeric and between 20 and 30" from the Choice state docs.
        let between = json!({"And": [
            {"Variable": "$.value", "IsNumeric": true},
            {"Variable": "$.value", "NumericGreaterThanEquals": 20},
            {"Variable": "$.value", "NumericLessThan": 30}
        ]});
        assert!(check(between.clone(), json!({"value": 25})));
        assert!(!check(between.clone(), json!({"value": 30})));
        assert!(!check(between, json!({"value": "25"})));
        assert!(check(
            json!({"Not": {"Variable": "$.type", "StringEquals": "Private"}}),
            json!({"type": "Public"})
        ));
        assert!(check(
            json!({"Or": [{"Variable": "$.a", "BooleanEquals": true}, {"Variable": "$.b", "BooleanEquals": true}]}),
            json!({"a": false, "b": true})
        ));
    }

    #[test]
    fn string_matches_wildcards_and_escapes() {
        assert!(string_matches("log-2024.log", "log-*.log"));
        assert!(string_matches("anything", "*"));
        assert!(!string_matches("log-2024.txt", "log-*.log"));
        assert!(string_matches("a*b", "a\\*b"));
        assert!(!string_matches("axb", "a\\*b"));
        assert!(string_matches("abcbc", "*bc"));
    }

    #[test]
    fn parse_errors() {
        assert!(Rule::parse(&json!({"Variable": "$.a"}), false).is_err());
        assert!(Rule::parse(&json!({"Variable": "$.a", "StringEquals": 1}), false).is_err());
        assert!(Rule::parse(&json!({"Variable": "$.a", "Nope": 1}), false).is_err());
        assert!(
            Rule::parse(
                &json!({"Variable": "$.a", "StringEquals": "x", "Next": "N"}),
                false
            )
            .is_err()
        );
        assert!(Rule::parse(&json!({"Variable": "$.a", "BooleanLessThan": true}), false).is_err());
    }
}
