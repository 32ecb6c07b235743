//! A request's usage, gathered while it is served and written once at its end.
//!
//! Each usage write is two atomic updates (the day and the month item). A gateway request used
//! to pay for two such writes (the request, then what it did: an Airtable call, a cache hit);
//! gathering the second into the first halves the metering cost of every request, which is most
//! of a cache hit's cost.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Counters added by a handler, shared with the middleware that records them. Cheap to clone
/// (clones share the counts).
#[derive(Debug, Clone, Default)]
pub struct UsageTally {
    counts: Arc<Mutex<BTreeMap<String, i64>>>,
}

impl UsageTally {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `by` to the counter `name`.
    pub fn add(&self, name: &str, by: i64) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        *counts.entry(name.to_string()).or_insert(0) += by;
    }

    /// The counts so far, leaving the tally empty.
    pub fn take(&self) -> Vec<(String, i64)> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *counts).into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_counts_and_take_empties() {
        let tally = UsageTally::new();
        let handler_side = tally.clone();
        handler_side.add("airtable.calls", 1);
        handler_side.add("airtable.calls", 2);
        handler_side.add("records.cache_hits", 1);
        assert_eq!(
            tally.take(),
            vec![
                ("airtable.calls".to_string(), 3),
                ("records.cache_hits".to_string(), 1)
            ]
        );
        assert!(tally.take().is_empty());
    }
}
