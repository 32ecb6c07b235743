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
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(values) => AttributeValue::L(values.iter().map(to_attribute).collect()),
        Value::Object(map) => AttributeValue::M(
            map.iter()
                .map(|(k, v)| (k.clone(), to_attribute(v)))
                .collect(),
        ),
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
    fn integral_text_reads_as_integer() {
        assert_eq!(parse_number("7"), Ok(json!(7)));
        assert_eq!(parse_number("7.5"), Ok(json!(7.5)));
        assert!(parse_number("not a number").is_err());
    }
}
