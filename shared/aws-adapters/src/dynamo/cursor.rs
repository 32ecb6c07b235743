//! The port's opaque cursor is DynamoDB's `LastEvaluatedKey` (all string key attributes) as
//! base64url JSON. Decoding checks the shape, so a forged or foreign cursor is the caller's
//! error (`InvalidItem`) rather than a DynamoDB `ValidationException` deep in a request.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ports::table_store::{GSI1_PK, GSI1_SK, PK, SK};
use ports::{Cursor, Index, StoreError};

use super::convert::Attributes;

/// Encodes a `LastEvaluatedKey`; `None` when it holds anything but strings (never for our
/// tables, whose keys are all strings).
pub fn encode(key: &Attributes) -> Option<Cursor> {
    let mut plain = BTreeMap::new();
    for (name, value) in key {
        plain.insert(name.as_str(), value.as_s().ok()?.as_str());
    }
    let json = serde_json::to_vec(&plain).ok()?;
    Some(Cursor(URL_SAFE_NO_PAD.encode(json)))
}

/// Decodes a cursor for a query on `index` over `partition`.
pub fn decode(cursor: &Cursor, index: Index, partition: &str) -> Result<Attributes, StoreError> {
    let bad = || StoreError::InvalidItem("the cursor is not one this store issued".to_string());
    let bytes = URL_SAFE_NO_PAD.decode(&cursor.0).map_err(|_| bad())?;
    let plain: BTreeMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let (expected, partition_attr): (&[&str], &str) = match index {
        Index::Primary => (&[PK, SK], PK),
        Index::Gsi1 => (&[PK, SK, GSI1_PK, GSI1_SK], GSI1_PK),
    };
    let names: BTreeSet<&str> = plain.keys().map(String::as_str).collect();
    if names != expected.iter().copied().collect() {
        return Err(bad());
    }
    if plain.get(partition_attr).map(String::as_str) != Some(partition) {
        return Err(StoreError::InvalidItem(
            "the cursor belongs to another query".to_string(),
        ));
    }
    Ok(plain
        .into_iter()
        .map(|(k, v)| (k, AttributeValue::S(v)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(pairs: &[(&str, &str)]) -> Attributes {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), AttributeValue::S(v.to_string())))
            .collect()
    }

    #[test]
    fn round_trips_and_checks_shape_and_partition() {
        let lek = key(&[("pk", "P"), ("sk", "S")]);
        let cursor = encode(&lek).expect("string keys encode");
        assert_eq!(decode(&cursor, Index::Primary, "P"), Ok(lek));
        assert!(decode(&cursor, Index::Primary, "OTHER").is_err());
        assert!(decode(&cursor, Index::Gsi1, "P").is_err());
        assert!(decode(&Cursor("not a cursor".into()), Index::Primary, "P").is_err());
    }
}
