//! Chat with your data: a user's message, the tool registry and a chat model, in a loop until
//! the model answers in words.
//!
//! The loop ([`ChatService::turn`]) has the limits a demanding deployment needs:
//! * at most [`ChatLimits::max_rounds`] model calls per turn, and a time budget under API
//!   Gateway's 30 s, after which it returns what it has with `status: "incomplete"`;
//! * tool outputs bounded in bytes (the registry cuts them and says so);
//! * independent tool calls of one model turn run concurrently, and a failing tool's error goes
//!   back to the model as its result rather than failing the turn;
//! * write tools are offered only when the request allows writes and the caller holds
//!   `records:write`; otherwise they do not exist for the model;
//! * every model call's tokens and cost are counted in the tenant's usage, and each call first
//!   reserves its estimated cost against the tenant's monthly budget ([`admission`]), so a turn
//!   that would pass it is refused with 402 before any provider call, however many run at once.

pub mod admission;
pub mod budget;
pub mod catalog;
pub mod sessions;

use std::sync::Arc;
use std::time::{Duration, Instant};

use accounts::{Principal, Scope};
use basics::{Clock, IdGenerator};
use llm::{ChatModel, FunctionDeclaration, LlmError, Message, ModelPrice, Usage};
use metering::UsageTally;
use ports::{StoreError, TableStore};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tools::{Offer, Registry, ToolContext, ToolError};

pub use admission::{Admission, Hold, LedgerTotals, Refused};
pub use budget::{BudgetAlert, BudgetSettings, BudgetView, Budgets};
pub use catalog::{CatalogError, CatalogSettings, ModelCatalog, ModelView};
pub use sessions::{ChatSession, SessionSummary, Sessions};

/// The limits of one turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatLimits {
    /// Model calls per turn (each may ask for several tools).
    pub max_rounds: u32,
    /// Bytes of one tool result handed to the model.
    pub max_tool_output_bytes: usize,
    /// Wall time for the whole turn: API Gateway answers 504 at 30 s.
    pub turn_budget: Duration,
    /// Characters of the user's message.
    pub max_message_chars: usize,
}

impl Default for ChatLimits {
    fn default() -> Self {
        Self {
            max_rounds: 6,
            max_tool_output_bytes: 16 * 1024,
            turn_budget: Duration::from_secs(24),
            max_message_chars: 8_000,
        }
    }
}

/// A chat request, as `POST /v1/chat` takes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatRequest {
    pub message: String,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub base_id: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub allow_writes: bool,
}

/// One tool call as the reply reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCallReport {
    pub name: String,
    pub arguments: Value,
    pub ok: bool,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TurnUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
}

/// The answer to `POST /v1/chat`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatReply {
    pub session_id: String,
    pub reply: String,
    pub tool_calls: Vec<ToolCallReport>,
    pub usage: TurnUsage,
    pub model: String,
    /// `complete`, or `incomplete` when a limit (rounds, time) stopped the loop.
    pub status: &'static str,
}

/// The answer of [`ChatService::complete_prompt`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptReply {
    pub text: String,
    pub model: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error("{0}")]
    Invalid(String),
    #[error("no chat session {0:?}")]
    UnknownSession(String),
    #[error(
        "This month's model spend (${}) plus this request would pass the budget of ${}; raise it with PUT /v1/budget or wait for next month",
        dollars(*spent),
        dollars(*monthly)
    )]
    BudgetExceeded { spent: f64, monthly: f64 },
    #[error(transparent)]
    Model(#[from] LlmError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Dollars with as many decimals as they need (up to six), so a tiny budget does not read $0.00.
fn dollars(amount: f64) -> String {
    let text = format!("{amount:.6}");
    let text = text.trim_end_matches('0');
    let text = text
        .strip_suffix('.')
        .map_or(text.to_string(), |t| format!("{t}.00"));
    if text.split('.').nth(1).is_some_and(|d| d.len() == 1) {
        format!("{text}0")
    } else {
        text
    }
}

/// Usage counter names.
pub mod counters {
    pub const CALLS: &str = "llm.calls";
    pub const INPUT_TOKENS: &str = "llm.input_tokens";
    pub const OUTPUT_TOKENS: &str = "llm.output_tokens";
    pub use crate::budget::COST_COUNTER as COST_MICRO_USD;
}

/// What a turn runs with besides the request.
pub struct TurnContext<'a> {
    pub principal: &'a Principal,
    pub model: Arc<dyn ChatModel>,
    pub price: ModelPrice,
    pub tools: ToolContext,
    pub usage: &'a UsageTally,
}

#[derive(Debug, Clone)]
pub struct ChatService {
    registry: Arc<Registry>,
    sessions: Sessions,
    budgets: Budgets,
    admission: Admission,
    ids: Arc<dyn IdGenerator>,
    limits: ChatLimits,
}

fn system_prompt(base_id: Option<&str>, writes: bool) -> String {
    let mut prompt = String::from(
        "You answer questions about the user's Airtable data and work on it with the tools you have. \
         Use the tools to look things up; never invent records, ids or numbers. Find table and field names \
         with list_tables or describe_table before reading records. Prefer analyze_table for counts, totals \
         and distributions, and keep reads small (fields, filters, max_records). Answer briefly and cite the \
         records you used.",
    );
    match base_id {
        Some(base) => prompt.push_str(&format!(
            " Work in base {base} unless the user names another."
        )),
        None => prompt.push_str(" If the user names no base, find it with list_bases."),
    }
    if writes {
        prompt.push_str(" You may change data when the user asks; say exactly what you changed.");
    } else {
        prompt.push_str(
            " You cannot change data in this conversation; if asked to, say that writes are off.",
        );
    }
    prompt
}

/// A rough token count (four characters a token) for the budget's look-ahead.
fn estimate_tokens(text_len: usize) -> u64 {
    (text_len / 4 + 1) as u64
}

impl ChatService {
    pub fn new(
        store: Arc<dyn TableStore>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        registry: Arc<Registry>,
        limits: ChatLimits,
    ) -> Self {
        Self {
            registry,
            sessions: Sessions::new(Arc::clone(&store), Arc::clone(&clock)),
            budgets: Budgets::new(Arc::clone(&store), Arc::clone(&clock)),
            admission: Admission::new(store, clock, Arc::clone(&ids)),
            ids,
            limits,
        }
    }

    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    pub fn budgets(&self) -> &Budgets {
        &self.budgets
    }

    /// The spend ledgers that admit model calls against the budget.
    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// Reserves the next model call's estimated input cost against the tenant's budget (read
    /// once per turn), or refuses the call, recording the alerts the month's spend has earned.
    async fn reserve(
        &self,
        tenant_id: &str,
        budget: Option<&BudgetSettings>,
        next_input_chars: usize,
        price: &ModelPrice,
    ) -> Result<Hold, ChatError> {
        let estimate = budget::micro_usd(price.cost(estimate_tokens(next_input_chars), 0));
        let limit = budget.map(|b| budget::budget_micro_usd(b.monthly_usd));
        match self.admission.reserve(tenant_id, estimate, limit).await? {
            Ok(hold) => Ok(hold),
            Err(refused) => {
                let spent = refused.settled as f64 / 1_000_000.0;
                let monthly = budget.map_or(0.0, |b| b.monthly_usd);
                if let Some(budget) = budget {
                    self.budgets.record_alerts(tenant_id, budget, spent).await?;
                }
                Err(ChatError::BudgetExceeded { spent, monthly })
            }
        }
    }

    /// Gives back a call's reservation after a failure; a store error here only delays that
    /// until the reservation's lease ends, so it is logged rather than hiding the failure.
    async fn release(&self, hold: Hold) {
        if let Err(err) = self.admission.release(hold).await {
            tracing::warn!(error = %err, "could not release a model call's reservation");
        }
    }

    /// Refuses a request that cannot be served, before anything is looked up for it.
    pub fn validate(&self, request: &ChatRequest) -> Result<(), ChatError> {
        let length = request.message.trim().chars().count();
        if length == 0 || length > self.limits.max_message_chars {
            return Err(ChatError::Invalid(format!(
                "message must be 1 to {} characters",
                self.limits.max_message_chars
            )));
        }
        Ok(())
    }

    /// One completion of `prompt` with no tools and no session (workflow `llm` steps): the call
    /// is admitted against the tenant's budget like a chat round (refused with
    /// [`ChatError::BudgetExceeded`] before any provider call), and its tokens and cost are
    /// counted into `usage` and settled in the ledger the same way.
    pub async fn complete_prompt(
        &self,
        tenant_id: &str,
        model: &dyn ChatModel,
        price: ModelPrice,
        system: &str,
        prompt: &str,
        usage: &UsageTally,
    ) -> Result<PromptReply, ChatError> {
        let budget = self.budgets.get(tenant_id).await?;
        let hold = self
            .reserve(
                tenant_id,
                budget.as_ref(),
                system.len() + prompt.len(),
                &price,
            )
            .await?;
        let conversation = [Message::User {
            text: prompt.to_string(),
        }];
        let completion = match model.complete(system, &conversation, &[]).await {
            Ok(completion) => completion,
            Err(err) => {
                self.release(hold).await;
                return Err(err.into());
            }
        };
        let (input_tokens, output_tokens) = (
            completion.usage.input_tokens,
            completion.usage.output_tokens,
        );
        let cost_usd = price.cost(input_tokens, output_tokens);
        self.admission
            .settle(hold, budget::micro_usd(cost_usd))
            .await?;
        usage.add(counters::CALLS, 1);
        usage.add(counters::INPUT_TOKENS, input_tokens as i64);
        usage.add(counters::OUTPUT_TOKENS, output_tokens as i64);
        usage.add(counters::COST_MICRO_USD, budget::micro_usd(cost_usd));
        if let Some(settings) = &budget {
            let spent = self.admission.settled_this_month(tenant_id).await? as f64 / 1_000_000.0;
            self.budgets
                .record_alerts(tenant_id, settings, spent)
                .await?;
        }
        Ok(PromptReply {
            text: completion.text.unwrap_or_default(),
            model: model.model().to_string(),
            input_tokens,
            output_tokens,
            cost_usd,
        })
    }

    /// One chat turn.
    pub async fn turn(
        &self,
        context: TurnContext<'_>,
        request: ChatRequest,
    ) -> Result<ChatReply, ChatError> {
        let started = Instant::now();
        let principal = context.principal;
        let tenant_id = principal.tenant_id.as_str();
        self.validate(&request)?;
        let message = request.message.trim().to_string();
        let mut session = match &request.session_id {
            Some(id) => self
                .sessions
                .get(tenant_id, id)
                .await?
                .ok_or_else(|| ChatError::UnknownSession(id.chars().take(80).collect()))?,
            None => {
                let now = self.sessions.now();
                ChatSession {
                    id: self.ids.new_id("chat"),
                    title: message.chars().take(80).collect(),
                    model: context.model.model().to_string(),
                    created_at: now.clone(),
                    updated_at: now,
                    messages: Vec::new(),
                }
            }
        };
        let budget = self.budgets.get(tenant_id).await?;
        let writes = request.allow_writes && principal.has(Scope::RecordsWrite);
        let offer = if writes { Offer::All } else { Offer::ReadOnly };
        let declarations: Vec<FunctionDeclaration> = self
            .registry
            .offered(principal, offer)
            .map(|spec| FunctionDeclaration {
                name: spec.name.to_string(),
                description: spec.description.to_string(),
                parameters: spec.input_schema.clone(),
            })
            .collect();
        let system = system_prompt(request.base_id.as_deref(), writes);
        let mut tool_context = context.tools.clone();
        tool_context.max_output_bytes = self.limits.max_tool_output_bytes;

        let mut conversation = session.messages.clone();
        conversation.push(Message::User { text: message });
        let first_new = conversation.len() - 1;
        let mut usage = Usage::default();
        let mut cost = 0.0f64;
        let mut reports = Vec::new();
        let mut reply = None;
        let schema_chars = serde_json::to_string(&declarations).map_or(0, |s| s.len());
        for _round in 0..self.limits.max_rounds {
            if started.elapsed() >= self.limits.turn_budget {
                break;
            }
            let input_chars = serde_json::to_string(&conversation).map_or(0, |s| s.len())
                + system.len()
                + schema_chars;
            let hold = self
                .reserve(tenant_id, budget.as_ref(), input_chars, &context.price)
                .await?;
            // The model call may not outlive the turn's budget: past it, the turn ends with what
            // it has instead of meeting API Gateway's 30 s cut-off.
            let remaining = self.limits.turn_budget.saturating_sub(started.elapsed());
            let completion = match tokio::time::timeout(
                remaining,
                context
                    .model
                    .complete(&system, &conversation, &declarations),
            )
            .await
            {
                Ok(Ok(completion)) => completion,
                Ok(Err(err)) => {
                    self.release(hold).await;
                    return Err(err.into());
                }
                Err(_) => {
                    // No usage came back, so (as before reservations) nothing is counted.
                    tracing::warn!(tenant_id, "a model call ran past the turn's time budget");
                    self.release(hold).await;
                    break;
                }
            };
            let call_cost = context.price.cost(
                completion.usage.input_tokens,
                completion.usage.output_tokens,
            );
            self.admission
                .settle(hold, budget::micro_usd(call_cost))
                .await?;
            usage += completion.usage;
            cost += call_cost;
            context.usage.add(counters::CALLS, 1);
            context
                .usage
                .add(counters::INPUT_TOKENS, completion.usage.input_tokens as i64);
            context.usage.add(
                counters::OUTPUT_TOKENS,
                completion.usage.output_tokens as i64,
            );
            context
                .usage
                .add(counters::COST_MICRO_USD, budget::micro_usd(call_cost));
            conversation.push(Message::Assistant {
                text: completion.text.clone(),
                tool_calls: completion.tool_calls.clone(),
            });
            if completion.tool_calls.is_empty() {
                reply = Some(completion.text.unwrap_or_default());
                break;
            }
            let remaining = self.limits.turn_budget.saturating_sub(started.elapsed());
            let calls = futures::future::join_all(completion.tool_calls.iter().map(|call| {
                self.registry.call(
                    principal,
                    offer,
                    &call.name,
                    call.arguments.clone(),
                    tool_context.clone(),
                )
            }));
            let results = match tokio::time::timeout(remaining, calls).await {
                Ok(results) => results,
                Err(_) => completion
                    .tool_calls
                    .iter()
                    .map(|_| {
                        Err(ToolError::Failed(
                            "The tool did not finish within this turn's time budget".into(),
                        ))
                    })
                    .collect(),
            };
            for (call, result) in completion.tool_calls.iter().zip(results) {
                let (content, report) = match result {
                    Ok(output) => (
                        output.structured.clone(),
                        ToolCallReport {
                            name: call.name.clone(),
                            arguments: call.arguments.clone(),
                            ok: true,
                            summary: output.summary,
                        },
                    ),
                    Err(err) => {
                        let message = tool_error_message(&err);
                        (
                            json!({"error": message}),
                            ToolCallReport {
                                name: call.name.clone(),
                                arguments: call.arguments.clone(),
                                ok: false,
                                summary: message,
                            },
                        )
                    }
                };
                reports.push(report);
                conversation.push(Message::Tool {
                    call_id: call.id.clone(),
                    name: call.name.clone(),
                    content,
                });
            }
        }
        // Spend crossing the alert threshold is recorded as it happens: the month's settled
        // spend, this turn's and any other's.
        if let Some(settings) = &budget {
            let spent = self.admission.settled_this_month(tenant_id).await? as f64 / 1_000_000.0;
            self.budgets
                .record_alerts(tenant_id, settings, spent)
                .await?;
        }
        let status = if reply.is_some() {
            "complete"
        } else {
            "incomplete"
        };
        let reply = reply.unwrap_or_else(|| {
            "I could not finish within this turn's limits; ask me to continue, or narrow the question."
                .to_string()
        });
        if status == "incomplete" {
            conversation.push(Message::Assistant {
                text: Some(reply.clone()),
                tool_calls: vec![],
            });
        }
        tracing::info!(
            tenant_id,
            rounds = reports.len(),
            status,
            new_messages = conversation.len() - first_new,
            "chat turn"
        );
        session.messages = conversation;
        session.updated_at = self.sessions.now();
        session.bound_history();
        self.sessions.save(tenant_id, &session).await?;
        Ok(ChatReply {
            session_id: session.id,
            reply,
            tool_calls: reports,
            usage: TurnUsage {
                input_tokens: usage.input_tokens,
                output_tokens: usage.output_tokens,
                cost_usd: cost,
            },
            model: context.model.model().to_string(),
            status,
        })
    }
}

/// What the model (and the reply) hear of a tool's failure.
fn tool_error_message(err: &ToolError) -> String {
    match err {
        ToolError::UnknownTool(name) => {
            format!("There is no tool {name:?} available in this conversation")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::dollars;

    #[test]
    fn dollars_show_the_digits_that_matter() {
        assert_eq!(dollars(25.0), "25.00");
        assert_eq!(dollars(0.5), "0.50");
        assert_eq!(dollars(0.000001), "0.000001");
        assert_eq!(dollars(0.0123), "0.0123");
    }
}
