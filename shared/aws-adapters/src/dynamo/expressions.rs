//! Compiles the port's conditions, updates and key conditions to DynamoDB expressions.
//!
//! Every attribute name goes through an `ExpressionAttributeNames` placeholder (`#n0`, ...), so
//! reserved words such as `name` or `status` are never a problem, and every value through an
//! `ExpressionAttributeValues` placeholder (`:v0`, ...).
//!
//! TTL: DynamoDB deletes expired items lazily (moto never does), so an item whose numeric
//! `expires_at` is at or before `now` must count as absent. Every condition therefore carries
//! the liveness test explicitly, with `now` taken from the store's clock.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use ports::table_store::{EXPIRES_AT, PK, VERSION};
use ports::{Condition, SortKeyCondition, Update};

use super::convert::to_attribute;

/// Placeholders collected while compiling one request's expressions.
#[derive(Debug, Default)]
pub struct Expressions {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expressions {
    pub fn new() -> Self {
        Self::default()
    }

    /// The placeholder for an attribute name (one per distinct name).
    pub fn name(&mut self, attribute: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, a)| a.as_str() == attribute) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names
            .insert(placeholder.clone(), attribute.to_string());
        placeholder
    }

    /// The placeholder for a value (one per use).
    pub fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn now(&mut self, now: i64) -> String {
        self.value(AttributeValue::N(now.to_string()))
    }

    /// `None` when no placeholder was used (DynamoDB rejects empty maps).
    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    pub fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    /// True while the item is not expired (or has no TTL), evaluated against `now`.
    fn live(&mut self, now: i64) -> String {
        let expires = self.name(EXPIRES_AT);
        let now = self.now(now);
        format!("(attribute_not_exists({expires}) OR {expires} > {now})")
    }

    /// A live item has this key.
    fn exists(&mut self, now: i64) -> String {
        let pk = self.name(PK);
        let live = self.live(now);
        format!("(attribute_exists({pk}) AND {live})")
    }

    /// No item, or only an expired one, has this key: the guard that lets an update on an
    /// expired item be retried after the dead item is removed (see `store.rs`).
    pub fn absent_or_live(&mut self, now: i64) -> String {
        let pk = self.name(PK);
        let live = self.live(now);
        format!("(attribute_not_exists({pk}) OR {live})")
    }

    /// An item exists but has expired.
    pub fn expired(&mut self, now: i64) -> String {
        let pk = self.name(PK);
        let expires = self.name(EXPIRES_AT);
        let now = self.now(now);
        format!("(attribute_exists({pk}) AND {expires} <= {now})")
    }

    /// The condition as an expression; `None` when it always holds (an empty `All`).
    pub fn condition(&mut self, condition: &Condition, now: i64) -> Option<String> {
        match condition {
            Condition::NotExists => {
                let pk = self.name(PK);
                let expires = self.name(EXPIRES_AT);
                let now = self.now(now);
                Some(format!(
                    "(attribute_not_exists({pk}) OR {expires} <= {now})"
                ))
            }
            Condition::Exists => Some(self.exists(now)),
            Condition::AttributeEquals { name, value } => {
                let exists = self.exists(now);
                let n = self.name(name);
                let v = self.value(to_attribute(value));
                Some(format!("({exists} AND {n} = {v})"))
            }
            Condition::VersionEquals(version) => {
                let exists = self.exists(now);
                let n = self.name(VERSION);
                let v = self.value(AttributeValue::N(version.to_string()));
                Some(format!("({exists} AND {n} = {v})"))
            }
            Condition::NumberBelow { name, limit } => {
                // DynamoDB compares a missing attribute or one of another type as false; the
                // explicit type test says so for emulators too (moto fails on string < number).
                let exists = self.exists(now);
                let n = self.name(name);
                let number = self.value(AttributeValue::S("N".to_string()));
                let v = self.value(AttributeValue::N(limit.to_string()));
                Some(format!(
                    "({exists} AND attribute_type({n}, {number}) AND {n} < {v})"
                ))
            }
            Condition::All(conditions) => {
                let parts: Vec<String> = conditions
                    .iter()
                    .filter_map(|c| self.condition(c, now))
                    .collect();
                (!parts.is_empty()).then(|| format!("({})", parts.join(" AND ")))
            }
        }
    }

    /// An optional condition joined with an extra clause.
    pub fn and(left: Option<String>, right: Option<String>) -> Option<String> {
        match (left, right) {
            (Some(l), Some(r)) => Some(format!("{l} AND {r}")),
            (l, r) => l.or(r),
        }
    }

    /// `SET ... ADD ... REMOVE ...`; `None` for an empty update.
    pub fn update(&mut self, update: &Update) -> Option<String> {
        let mut set = Vec::new();
        for (name, value) in &update.set {
            let n = self.name(name);
            let v = self.value(to_attribute(value));
            set.push(format!("{n} = {v}"));
        }
        for (name, value) in &update.set_if_absent {
            let n = self.name(name);
            let v = self.value(to_attribute(value));
            set.push(format!("{n} = if_not_exists({n}, {v})"));
        }
        let add: Vec<String> = update
            .add
            .iter()
            .map(|(name, by)| {
                let n = self.name(name);
                let v = self.value(AttributeValue::N(by.to_string()));
                format!("{n} {v}")
            })
            .collect();
        let remove: Vec<String> = update.remove.iter().map(|name| self.name(name)).collect();
        let mut clauses = Vec::new();
        if !set.is_empty() {
            clauses.push(format!("SET {}", set.join(", ")));
        }
        if !add.is_empty() {
            clauses.push(format!("ADD {}", add.join(", ")));
        }
        if !remove.is_empty() {
            clauses.push(format!("REMOVE {}", remove.join(", ")));
        }
        (!clauses.is_empty()).then(|| clauses.join(" "))
    }

    /// The key condition of a query on `partition_attr`/`sort_attr`.
    pub fn key_condition(
        &mut self,
        partition_attr: &str,
        partition: &str,
        sort_attr: &str,
        sort: Option<&SortKeyCondition>,
    ) -> String {
        let p = self.name(partition_attr);
        let pv = self.value(AttributeValue::S(partition.to_string()));
        let mut expression = format!("{p} = {pv}");
        if let Some(sort) = sort {
            let s = self.name(sort_attr);
            let mut text = |v: &String| self.value(AttributeValue::S(v.clone()));
            let clause = match sort {
                SortKeyCondition::Equals(v) => format!("{s} = {}", text(v)),
                SortKeyCondition::BeginsWith(v) => format!("begins_with({s}, {})", text(v)),
                SortKeyCondition::Between(low, high) => {
                    let l = text(low);
                    let h = text(high);
                    format!("{s} BETWEEN {l} AND {h}")
                }
                SortKeyCondition::GreaterThan(v) => format!("{s} > {}", text(v)),
                SortKeyCondition::LessThan(v) => format!("{s} < {}", text(v)),
            };
            expression = format!("{expression} AND {clause}");
        }
        expression
    }

    /// The filter that hides expired items from a query.
    pub fn live_filter(&mut self, now: i64) -> String {
        self.live(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reserved_words_only_appear_as_placeholders() {
        let mut e = Expressions::new();
        let condition = e
            .condition(&Condition::equals("status", "open"), 100)
            .expect("an expression");
        let update = e
            .update(
                &Update::new()
                    .set("name", "x")
                    .add("version", 1)
                    .remove("status"),
            )
            .expect("an expression");
        assert!(!condition.contains("status") && !update.contains("name"));
        let names = e.names().unwrap_or_default();
        assert!(names.values().any(|n| n == "status"));
        // One placeholder per distinct name.
        assert_eq!(names.values().filter(|n| *n == "status").count(), 1);
    }

    #[test]
    fn empty_all_and_empty_update_compile_to_nothing() {
        let mut e = Expressions::new();
        assert_eq!(e.condition(&Condition::All(vec![]), 0), None);
        assert_eq!(e.update(&Update::new()), None);
        assert_eq!(e.names(), None);
        assert_eq!(e.values(), None);
    }

    #[test]
    fn update_uses_set_if_not_exists_add_and_remove() {
        let mut e = Expressions::new();
        let text = e
            .update(
                &Update::new()
                    .set("a", json!(1))
                    .set_if_absent("b", "x")
                    .add("c", 2)
                    .remove("d"),
            )
            .unwrap_or_default();
        assert_eq!(
            text,
            "SET #n0 = :v0, #n1 = if_not_exists(#n1, :v1) ADD #n2 :v2 REMOVE #n3"
        );
    }
}
