//! Prices per model, configurable, for turning token counts into cost.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelPrice {
    pub input_per_million: f64,
    pub output_per_million: f64,
}

impl ModelPrice {
    /// The cost of a call in US dollars.
    pub fn cost(&self, input_tokens: u64, output_tokens: u64) -> f64 {
        (input_tokens as f64 * self.input_per_million
            + output_tokens as f64 * self.output_per_million)
            / 1_000_000.0
    }
}

/// Prices by model name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PriceTable(pub BTreeMap<String, ModelPrice>);

impl PriceTable {
    /// Parses `{"model": {"input_per_million": 0.3, "output_per_million": 2.5}, …}`; prices must
    /// be finite and not negative.
    pub fn parse(json: &str) -> Result<Self, String> {
        let table: Self =
            serde_json::from_str(json).map_err(|e| format!("not a price table: {e}"))?;
        for (model, price) in &table.0 {
            for value in [price.input_per_million, price.output_per_million] {
                if !value.is_finite() || value < 0.0 {
                    return Err(format!("{model}: prices must be finite and not negative"));
                }
            }
        }
        Ok(table)
    }

    pub fn price(&self, model: &str) -> Option<ModelPrice> {
        self.0.get(model).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_are_per_million_tokens() {
        let price = ModelPrice {
            input_per_million: 0.30,
            output_per_million: 2.50,
        };
        let cost = price.cost(10_000, 2_000);
        assert!((cost - 0.008).abs() < 1e-12, "{cost}");
    }

    #[test]
    fn tables_parse_and_refuse_bad_prices() {
        let table = PriceTable::parse(
            r#"{"gemini-2.5-flash": {"input_per_million": 0.3, "output_per_million": 2.5}}"#,
        );
        assert!(table.is_ok_and(|t| t.price("gemini-2.5-flash").is_some()));
        assert!(
            PriceTable::parse(r#"{"m": {"input_per_million": -1, "output_per_million": 1}}"#)
                .is_err()
        );
        assert!(PriceTable::parse("[]").is_err());
    }
}
