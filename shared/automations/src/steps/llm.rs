//! `llm` steps: one completion through the chat catalog, admitted against the tenant's model
//! budget and counted in its usage exactly as chat is ([`chat::ChatService::complete_prompt`]).

use chat::{CatalogError, ChatError, ChatService, ModelCatalog};
use llm::LlmError;
use metering::{UsageCounters, UsageTally};
use serde_json::json;

use super::{StepError, StepOutput, StepScope};
use crate::model::StepKind;

/// The system prompt when a step gives none.
const DEFAULT_SYSTEM: &str =
    "You are a step of an automated workflow. Answer with the requested output only.";

#[derive(Debug, Clone)]
pub struct LlmSteps {
    chat: ChatService,
    catalog: ModelCatalog,
    usage: UsageCounters,
}

impl LlmSteps {
    pub fn new(chat: ChatService, catalog: ModelCatalog, usage: UsageCounters) -> Self {
        Self {
            chat,
            catalog,
            usage,
        }
    }

    /// Runs one rendered `llm` step. The providers' interface has no output cap, so the tenant's
    /// budget is the bound on spend (a `max_tokens` field is refused at save time rather than
    /// accepted and ignored).
    pub async fn run(
        &self,
        scope: &StepScope<'_>,
        kind: &StepKind,
    ) -> Result<StepOutput, StepError> {
        let StepKind::Llm {
            model,
            system,
            prompt,
            ..
        } = kind
        else {
            return Err(StepError::Permanent(format!(
                "{} is not an llm step",
                kind.type_name()
            )));
        };
        let (chat_model, price) = self
            .catalog
            .resolve(model.as_deref())
            .await
            .map_err(|err| match err {
                CatalogError::Unavailable(message) => StepError::Transient(message),
                other => StepError::Permanent(other.to_string()),
            })?;
        let tally = UsageTally::new();
        let reply = self
            .chat
            .complete_prompt(
                scope.tenant_id,
                chat_model.as_ref(),
                price,
                system.as_deref().unwrap_or(DEFAULT_SYSTEM),
                prompt,
                &tally,
            )
            .await;
        let used = tally.take();
        if !used.is_empty() {
            let counters: Vec<(&str, i64)> = used.iter().map(|(n, v)| (n.as_str(), *v)).collect();
            if let Err(err) = self.usage.add(scope.tenant_id, &counters).await {
                tracing::warn!(error = %err, "could not count an llm step's usage");
            }
        }
        let reply = reply.map_err(classify)?;
        Ok(json!({
            "text": reply.text,
            "model": reply.model,
            "input_tokens": reply.input_tokens,
            "output_tokens": reply.output_tokens,
            "cost_usd": reply.cost_usd,
        }))
    }
}

fn classify(err: ChatError) -> StepError {
    match err {
        ChatError::BudgetExceeded { .. } => {
            StepError::Permanent(format!("refused by the model budget: {err}"))
        }
        ChatError::Model(LlmError::Refused { status, .. }) if status == 429 || status >= 500 => {
            StepError::Transient(err.to_string())
        }
        ChatError::Model(LlmError::Unavailable { .. }) | ChatError::Store(_) => {
            StepError::Transient(err.to_string())
        }
        other => StepError::Permanent(other.to_string()),
    }
}
