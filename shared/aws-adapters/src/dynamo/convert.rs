//! JSON values <-> DynamoDB attribute values.
//!
//! Items are JSON objects at the port; DynamoDB stores typed attributes. The mapping is the
//! obvious one (string S, number N, bool BOOL, null NULL, array L, object M) so that an item
//! written by this adapter reads back exactly as it went in. Numbers keep their integer-ness:
//! DynamoDB sends numbers as decimal text, and integral text parses back to an integer.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ports::table_store::Item;
use serde_json::{Map, Number, Value};

/// A DynamoDB item (or key) as the SDK carries it.
pub type Attributes = HashMap<String, AttributeValue>;

pub fn to_attribute(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(number_text(n)),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(values) => AttributeValue::L(values.iter().map(to_attribute).collect()),
        Value::Object(map) => AttributeValue::M(
            map.iter()
                .map(|(k, v)| (k.clone(), to_attribute(v)))
                .collect(),
        ),
    }
}

/// DynamoDB's smallest non-zero magnitude: it refuses a number closer to zero with a
/// validation error, where JSON (and SQLite) take any double, down to 5e-324.
const SMALLEST_MAGNITUDE: f64 = 1e-130;

/// A number as DynamoDB takes it. A double closer to zero than DynamoDB can hold is written as
/// 0, the nearest number it can: a request that sent 5e-324 (a valid JSON number) must not fail
/// in the store with a 500 after the API accepted it.
fn number_text(n: &Number) -> String {
    match n.as_f64() {
        Some(x) if !n.is_i64() && !n.is_u64() && x != 0.0 && x.abs() < SMALLEST_MAGNITUDE => {
            "0".to_string()
        }
        _ => n.to_string(),
    }
}

pub fn to_attributes(item: &Item) -> Attributes {
    item.iter()
        .map(|(k, v)| (k.clone(), to_attribute(v)))
        .collect()
}

/// Converts back. Types this adapter never writes (binary, sets) still read sensibly: binary as
/// base64 text, sets as arrays, so an item written by other tools does not make reads fail.
pub fn from_attribute(value: &AttributeValue) -> Result<Value, String> {
    Ok(match value {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::N(text) => parse_number(text)?,
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::L(values) => Value::Array(
            values
                .iter()
                .map(from_attribute)
                .collect::<Result<_, _>>()?,
        ),
        AttributeValue::M(map) => Value::Object(from_map(map)?),
        AttributeValue::B(blob) => Value::String(STANDARD.encode(blob.as_ref())),
        AttributeValue::Ss(values) => {
            Value::Array(values.iter().cloned().map(Value::String).collect())
        }
        AttributeValue::Ns(values) => Value::Array(
            values
                .iter()
                .map(|n| parse_number(n))
                .collect::<Result<_, _>>()?,
        ),
        AttributeValue::Bs(values) => Value::Array(
            values
                .iter()
                .map(|b| Value::String(STANDARD.encode(b.as_ref())))
                .collect(),
        ),
        other => return Err(format!("unsupported attribute type {other:?}")),
    })
}

fn from_map(map: &Attributes) -> Result<Map<String, Value>, String> {
    map.iter()
        .map(|(k, v)| Ok((k.clone(), from_attribute(v)?)))
        .collect()
}

pub fn from_attributes(attributes: &Attributes) -> Result<Item, String> {
    from_map(attributes)
}

/// DynamoDB numbers are decimal text; integral text becomes an integer (i64, or u64 beyond it),
/// anything else a float.
fn parse_number(text: &str) -> Result<Value, String> {
    if let Ok(i) = text.parse::<i64>() {
        return Ok(Value::from(i));
    }
    if let Ok(u) = text.parse::<u64>() {
        return Ok(Value::from(u));
    }
    text.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| format!("number {text:?} is not representable in JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_every_json_type() {
        let value = json!({
            "s": "text", "i": -42, "big": u64::MAX, "f": 0.5, "t": true, "n": null,
            "l": [1, "x", [false]], "m": {"k": {"deep": 1.25}}
        });
        let back = from_attribute(&to_attribute(&value)).expect("converts back");
        assert_eq!(back, value);
    }

    #[test]
    fn doubles_closer_to_zero_than_dynamodb_holds_are_written_as_zero() {
        for tiny in [5e-324, -1e-200, 9.9e-131] {
            let written = to_attribute(&serde_json::json!(tiny));
            assert_eq!(written, AttributeValue::N("0".into()), "{tiny}");
        }
        for kept in [1e-130, 0.8, -2.5, 0.0] {
            let written = to_attribute(&serde_json::json!(kept));
            assert_eq!(
                written,
                AttributeValue::N(Number::from_f64(kept).expect("finite").to_string())
            );
        }
        assert_eq!(
            to_attribute(&serde_json::json!(7)),
            AttributeValue::N("7".into())
        );
    }

    #[test]
    fn integral_text_reads_as_integer() {
        assert_eq!(parse_number("7"), Ok(json!(7)));
        assert_eq!(parse_number("7.5"), Ok(json!(7.5)));
        assert!(parse_number("not a number").is_err());
    }
}
