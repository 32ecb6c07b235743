//! The models' variables: which models are offered, at what price, and where they are served.

use basics::{ConfigError, Env};
use chat::CatalogSettings;
use llm::PriceTable;

/// Reads `CHAT_MODEL`, `GEMINI_BASE_URL`, `OPENAI_BASE_URL` and `CHAT_MODEL_PRICES` (a JSON
/// object of model → `{input_per_million, output_per_million}`, replacing the defaults).
pub fn model_settings(env: &Env) -> Result<CatalogSettings, ConfigError> {
    let defaults = CatalogSettings::default();
    let prices = match env.raw("CHAT_MODEL_PRICES") {
        Some(json) => PriceTable::parse(&json).map_err(|problem| ConfigError {
            var: "CHAT_MODEL_PRICES".into(),
            problem,
        })?,
        None => defaults.prices,
    };
    let default_model = env.or("CHAT_MODEL", defaults.default_model)?;
    if prices.price(&default_model).is_none() {
        return Err(ConfigError {
            var: "CHAT_MODEL".into(),
            problem: format!("{default_model:?} has no price; add it to CHAT_MODEL_PRICES"),
        });
    }
    let url = |name: &str, default: String| -> Result<String, ConfigError> {
        Ok(env.or(name, default)?.trim_end_matches('/').to_string())
    };
    Ok(CatalogSettings {
        default_model,
        gemini_base_url: url("GEMINI_BASE_URL", defaults.gemini_base_url)?,
        openai_base_url: url("OPENAI_BASE_URL", defaults.openai_base_url)?,
        prices,
    })
}
