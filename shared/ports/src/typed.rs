//! Typed items: domain structs in and out of the table store through serde, so domain code
//! never builds attribute maps by hand.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::table_store::{Item, Key, Query, StoreError, Table, TableStore};

/// Serialises `value` (a struct) and adds the key attributes, giving an item ready to put.
pub fn to_item<T: Serialize>(key: &Key, value: &T) -> Result<Item, StoreError> {
    let Value::Object(mut item) = serde_json::to_value(value)
        .map_err(|err| StoreError::InvalidItem(format!("cannot serialise item: {err}")))?
    else {
        return Err(StoreError::InvalidItem(
            "an item must serialise to a JSON object".to_string(),
        ));
    };
    item.insert("pk".to_string(), Value::String(key.pk.clone()));
    item.insert("sk".to_string(), Value::String(key.sk.clone()));
    Ok(item)
}

/// Reads a stored item back into its struct. Extra attributes (keys, TTL, version) are
/// ignored unless the struct names them.
pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_json::from_value(Value::Object(item))
        .map_err(|err| StoreError::InvalidItem(format!("a stored item does not parse: {err}")))
}

/// Every item `query` matches, page after page, each read into its struct: for partitions that
/// stay small (a tenant's workflows, a run's steps). A paged API reads one page with
/// [`TableStore::query`] instead.
pub async fn query_all<T: DeserializeOwned>(
    store: &dyn TableStore,
    table: Table,
    query: Query,
) -> Result<Vec<T>, StoreError> {
    let mut found = Vec::new();
    let mut query = query;
    loop {
        let page = store.query(table, query.clone()).await?;
        for item in page.items {
            found.push(from_item(item)?);
        }
        match page.next {
            Some(next) => query = query.after(Some(next)),
            None => return Ok(found),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Profile {
        name: String,
        seats: u32,
    }

    #[test]
    fn round_trips_with_the_key_added() {
        let key = Key::new("TENANT#t", "PROFILE");
        let profile = Profile {
            name: "Acme".into(),
            seats: 3,
        };
        let item = to_item(&key, &profile).expect("item");
        assert_eq!(item["pk"], "TENANT#t");
        assert_eq!(item["sk"], "PROFILE");
        assert_eq!(from_item::<Profile>(item).expect("back"), profile);
    }

    #[test]
    fn non_objects_and_mismatches_are_errors() {
        let key = Key::new("a", "b");
        assert!(to_item(&key, &5).is_err());
        let item = to_item(&key, &serde_json::json!({"name": 1})).expect("item");
        assert!(from_item::<Profile>(item).is_err());
    }
}
