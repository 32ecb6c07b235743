//! Which models a deployment offers, what they cost, and how to reach them.
//!
//! Configuration uses the conventional names: `CHAT_MODEL` (the default model), `GEMINI_BASE_URL`
//! and `OPENAI_BASE_URL` (any OpenAI-compatible server: OpenAI, Ollama, vLLM), and the keys
//! `GEMINI_API_KEY` / `OPENAI_API_KEY`, which are read through the secrets port under
//! [`GEMINI_KEY_SECRET`] and [`OPENAI_KEY_SECRET`] (the embedded adapter also takes them from
//! those two variables). A model is a Gemini model when its name starts with `gemini`, and an
//! OpenAI-compatible one otherwise. Only models with a price are offered: cost control needs one
//! (a free local model is priced at 0).

use std::sync::Arc;

use llm::gemini::Gemini;
use llm::openai::OpenAi;
use llm::{ChatModel, ModelPrice, PriceTable};
use ports::Secrets;
use serde::Serialize;

/// The secret holding the Gemini API key.
pub const GEMINI_KEY_SECRET: &str = "llm/gemini-api-key";
/// The secret holding the OpenAI-compatible endpoint's key (optional for local servers).
pub const OPENAI_KEY_SECRET: &str = "llm/openai-api-key";

/// The default model when `CHAT_MODEL` is unset.
pub const DEFAULT_MODEL: &str = "gemini-2.5-flash";

/// Published list prices (USD per million tokens) at the time of writing, as defaults;
/// `CHAT_MODEL_PRICES` replaces them.
pub const DEFAULT_PRICES: &str = r#"{
  "gemini-2.5-flash": {"input_per_million": 0.30, "output_per_million": 2.50},
  "gemini-2.5-flash-lite": {"input_per_million": 0.10, "output_per_million": 0.40},
  "gemini-2.5-pro": {"input_per_million": 1.25, "output_per_million": 10.00},
  "gpt-4.1": {"input_per_million": 2.00, "output_per_million": 8.00},
  "gpt-4.1-mini": {"input_per_million": 0.40, "output_per_million": 1.60},
  "gpt-4o-mini": {"input_per_million": 0.15, "output_per_million": 0.60}
}"#;

#[derive(Debug, Clone, PartialEq)]
pub struct CatalogSettings {
    pub default_model: String,
    pub gemini_base_url: String,
    pub openai_base_url: String,
    pub prices: PriceTable,
}

impl Default for CatalogSettings {
    fn default() -> Self {
        Self {
            default_model: DEFAULT_MODEL.to_string(),
            gemini_base_url: llm::gemini::DEFAULT_BASE_URL.to_string(),
            openai_base_url: llm::openai::DEFAULT_BASE_URL.to_string(),
            prices: PriceTable::parse(DEFAULT_PRICES).unwrap_or_default(),
        }
    }
}

/// The provider a model name belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    Gemini,
    OpenaiCompatible,
}

pub fn provider_of(model: &str) -> ProviderKind {
    if model.starts_with("gemini") {
        ProviderKind::Gemini
    } else {
        ProviderKind::OpenaiCompatible
    }
}

/// A model as `GET /v1/models` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelView {
    pub id: String,
    pub provider: ProviderKind,
    pub input_per_million_usd: f64,
    pub output_per_million_usd: f64,
    pub default: bool,
    /// Whether its provider is set up here (Gemini needs its key; an OpenAI-compatible server
    /// may need none).
    pub available: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("Unknown model {0:?}; GET /v1/models lists the models this deployment offers")]
    UnknownModel(String),
    #[error("No API key is configured for {0:?} (set {1})")]
    NoKey(String, &'static str),
    #[error("{0}")]
    Unavailable(String),
}

#[derive(Debug, Clone)]
pub struct ModelCatalog {
    settings: CatalogSettings,
    secrets: Arc<dyn Secrets>,
}

impl ModelCatalog {
    pub fn new(settings: CatalogSettings, secrets: Arc<dyn Secrets>) -> Self {
        Self { settings, secrets }
    }

    pub async fn list(&self) -> Vec<ModelView> {
        let gemini_ready = matches!(self.secrets.get(GEMINI_KEY_SECRET).await, Ok(Some(_)));
        // OpenAI itself needs a key; a local server (another base URL) may not.
        let openai_ready = matches!(self.secrets.get(OPENAI_KEY_SECRET).await, Ok(Some(_)))
            || self.settings.openai_base_url != llm::openai::DEFAULT_BASE_URL;
        self.settings
            .prices
            .0
            .iter()
            .map(|(id, price)| {
                let provider = provider_of(id);
                ModelView {
                    id: id.clone(),
                    provider,
                    input_per_million_usd: price.input_per_million,
                    output_per_million_usd: price.output_per_million,
                    default: *id == self.settings.default_model,
                    available: match provider {
                        ProviderKind::Gemini => gemini_ready,
                        ProviderKind::OpenaiCompatible => openai_ready,
                    },
                }
            })
            .collect()
    }

    /// The model to use (`requested`, or the default) and its price.
    pub async fn resolve(
        &self,
        requested: Option<&str>,
    ) -> Result<(Arc<dyn ChatModel>, ModelPrice), CatalogError> {
        let name = requested.unwrap_or(&self.settings.default_model);
        let price = self
            .settings
            .prices
            .price(name)
            .ok_or_else(|| CatalogError::UnknownModel(name.chars().take(80).collect()))?;
        let key = |secret: &'static str| async move {
            self.secrets
                .get(secret)
                .await
                .map_err(|e| CatalogError::Unavailable(e.to_string()))
        };
        let model: Arc<dyn ChatModel> = match provider_of(name) {
            ProviderKind::Gemini => {
                let api_key = key(GEMINI_KEY_SECRET)
                    .await?
                    .ok_or_else(|| CatalogError::NoKey(name.to_string(), "GEMINI_API_KEY"))?;
                Arc::new(
                    Gemini::new(&self.settings.gemini_base_url, api_key, name)
                        .map_err(|e| CatalogError::Unavailable(e.to_string()))?,
                )
            }
            ProviderKind::OpenaiCompatible => {
                let api_key = key(OPENAI_KEY_SECRET).await?;
                Arc::new(
                    OpenAi::new(&self.settings.openai_base_url, api_key, name)
                        .map_err(|e| CatalogError::Unavailable(e.to_string()))?,
                )
            }
        };
        Ok((model, price))
    }
}
