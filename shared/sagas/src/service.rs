//! The sagas as one service, built once per process from the platform's ports and services:
//! what the HTTP handlers call (start, list, get, cancel, types) and the saga-step task handler
//! the state machines invoke. Building it does no I/O.

use std::sync::Arc;

use automations::service::Automations;
use basics::digest::sha256_hex;
use basics::{Clock, IdGenerator};
use gateway::Gateway;
use metering::UsageCounters;
use ports::{Condition, Cursor, ExecutionStatus, StateMachines, Update};
use serde_json::{Value, json};

use crate::access::AirtableAccess;
use crate::error::SagaError;
use crate::machines;
use crate::model::{
    DEFAULT_PAGE_SIZE, ErrorInfo, MAX_PAGE_SIZE, SagaDetail, SagaFilter, SagaPage, SagaRecord,
    SagaStatus, SagaType, SagaTypeInfo, StartSaga, Started,
};
use crate::plan::chunk_operations;
use crate::schema;
use crate::steps::StepHandler;
use crate::store::{Plan, SagaStore, set_status_with_error};
use crate::validate::{CheckedInput, check_existence, check_shape};

/// The error a saga records when its execution could not be started.
pub const START_FAILED: &str = "Saga.StartFailed";
/// The error a saga records when its execution ended before the saga did.
pub const EXECUTION_STOPPED: &str = "Saga.ExecutionStopped";

/// What the sagas are built from: the platform's ports and services.
#[derive(Debug, Clone)]
pub struct SagaDeps {
    pub store: Arc<dyn ports::TableStore>,
    pub machines: Arc<dyn StateMachines>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    pub gateway: Gateway,
    pub usage: UsageCounters,
    /// Record-change webhooks, for connect-base.
    pub automations: Arc<Automations>,
}

/// Start, list, show and cancel sagas; the saga-step handler.
#[derive(Debug)]
pub struct Sagas {
    store: SagaStore,
    machines: Arc<dyn StateMachines>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    access: AirtableAccess,
    step: Arc<StepHandler>,
}

/// The saga id an idempotency key stands for: the same tenant and key give the same id, so a
/// retried POST finds the saga its first attempt made.
fn id_for_key(tenant_id: &str, key: &str) -> String {
    let digest = sha256_hex(format!("{tenant_id}\n{key}"));
    format!("sag_{}", &digest[..32])
}

/// What a repeated idempotency key is compared by: the type and the input, canonically.
fn fingerprint(saga_type: SagaType, input: &Value) -> String {
    sha256_hex(format!("{}\n{}", saga_type.as_str(), canonical(input)))
}

/// JSON text with object keys sorted (serde_json's maps are sorted unless `preserve_order`).
fn canonical(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

impl Sagas {
    pub fn new(deps: SagaDeps) -> Self {
        let store = SagaStore::new(Arc::clone(&deps.store));
        let access = AirtableAccess::new(deps.gateway.clone(), deps.usage.clone());
        let step = Arc::new(StepHandler::new(
            store.clone(),
            access.clone(),
            Arc::clone(&deps.clock),
            Arc::clone(&deps.automations),
        ));
        Self {
            store,
            machines: deps.machines,
            clock: deps.clock,
            ids: deps.ids,
            access,
            step,
        }
    }

    /// Every saga type this build can run, with its input schema (`GET /v1/sagas/types`).
    pub fn types() -> Vec<SagaTypeInfo> {
        SagaType::ALL
            .into_iter()
            .filter(|saga_type| machines::has_machine(*saga_type))
            .map(|saga_type| SagaTypeInfo {
                saga_type,
                description: schema::description(saga_type).to_string(),
                input_schema: schema::input_schema(saga_type),
            })
            .collect()
    }

    /// The saga-step task handler (the `saga-step` function, and the local runner's task).
    pub fn step_handler(&self) -> Arc<dyn triggers::TaskHandler> {
        self.step.clone()
    }

    /// Checks the input, writes the saga and its plan, and starts its execution (named by the
    /// saga id, so a repeated start cannot run it twice).
    pub async fn start(&self, tenant_id: &str, request: StartSaga) -> Result<Started, SagaError> {
        let saga_type = SagaType::parse(&request.saga_type)
            .filter(|t| machines::has_machine(*t))
            .ok_or_else(|| SagaError::UnknownType(request.saga_type.clone()))?;
        let checked = check_shape(saga_type, &request.input)?;
        let id = match request.idempotency_key.as_deref() {
            Some(key) if key.is_empty() || key.len() > 255 => {
                return Err(SagaError::invalid(
                    "/idempotency_key",
                    "must be 1 to 255 characters",
                ));
            }
            Some(key) => id_for_key(tenant_id, key),
            None => self.ids.new_id("sag"),
        };
        ports::state_machines::validate_execution_name(&id)
            .map_err(|e| SagaError::Unavailable(e.to_string()))?;
        let fingerprint = fingerprint(saga_type, &request.input);
        if let Some(existing) = self.store.get(tenant_id, &id).await? {
            return self.repeated(existing, &fingerprint, &checked).await;
        }
        check_existence(&self.access, tenant_id, &checked).await?;
        let now = self.clock.now();
        let record = SagaRecord {
            tenant_id: tenant_id.to_string(),
            id: id.clone(),
            saga_type,
            status: SagaStatus::Running,
            input: request.input,
            output: None,
            error: None,
            cancel_requested: false,
            execution_id: None,
            fingerprint: fingerprint.clone(),
            operations: checked.operations(),
            chunks: None,
            created_at: now,
            updated_at: now,
        };
        if !self.store.create(&record).await? {
            // A concurrent request with the same key got there first.
            let existing = self
                .store
                .get(tenant_id, &id)
                .await?
                .ok_or_else(|| SagaError::Unavailable("the saga vanished".into()))?;
            return self.repeated(existing, &fingerprint, &checked).await;
        }
        self.launch(record, &checked).await
    }

    /// A start whose idempotency key already made a saga: the same saga when the request is the
    /// same (started now if its first start never got that far), a conflict otherwise.
    async fn repeated(
        &self,
        existing: SagaRecord,
        fingerprint: &str,
        checked: &CheckedInput,
    ) -> Result<Started, SagaError> {
        if existing.fingerprint != fingerprint {
            return Err(SagaError::IdempotencyConflict(existing.id));
        }
        if existing.execution_id.is_none() && existing.status == SagaStatus::Running {
            return self.launch(existing, checked).await;
        }
        Ok(existing.started())
    }

    /// Writes the plan, then starts the execution; a start that fails marks the saga failed,
    /// so nothing is left that looks alive.
    async fn launch(
        &self,
        record: SagaRecord,
        checked: &CheckedInput,
    ) -> Result<Started, SagaError> {
        let tenant_id = record.tenant_id.as_str();
        if let CheckedInput::Transaction(input) = checked {
            let chunks = chunk_operations(&input.base, &input.operations, input.typecast);
            for chunk in &chunks {
                self.store.put_chunk(tenant_id, &record.id, chunk).await?;
            }
            let plan = Plan {
                chunks: u32::try_from(chunks.len()).unwrap_or(u32::MAX),
                operations: input.operations.len(),
                ..Plan::default()
            };
            self.store.put_plan(tenant_id, &record.id, &plan).await?;
            self.store
                .change(
                    tenant_id,
                    &record.id,
                    Update::new().set("chunks", plan.chunks),
                    None,
                    self.clock.now(),
                )
                .await?;
        }
        let input = json!({"tenant": tenant_id, "saga": record.id});
        let started = self
            .machines
            .start(&record.saga_type.machine(), &record.id, input)
            .await;
        match started {
            Ok(execution) => {
                self.store
                    .change(
                        tenant_id,
                        &record.id,
                        Update::new().set("execution_id", execution.execution_id),
                        None,
                        self.clock.now(),
                    )
                    .await?;
                Ok(record.started())
            }
            Err(err) => {
                tracing::error!(saga = %record.id, error = %err, "could not start a saga's execution");
                let error = ErrorInfo::new(START_FAILED, err.to_string());
                self.store
                    .change(
                        tenant_id,
                        &record.id,
                        set_status_with_error(SagaStatus::Failed, &error),
                        None,
                        self.clock.now(),
                    )
                    .await?;
                Err(SagaError::Unavailable(format!(
                    "the saga could not be started: {err}"
                )))
            }
        }
    }

    /// One page of the tenant's sagas, newest first.
    pub async fn list(&self, tenant_id: &str, filter: SagaFilter) -> Result<SagaPage, SagaError> {
        let saga_type = match filter.saga_type.as_deref() {
            None | Some("") => None,
            Some(name) => Some(
                SagaType::parse(name).ok_or_else(|| SagaError::UnknownType(name.to_string()))?,
            ),
        };
        let status = match filter.status.as_deref() {
            None | Some("") => None,
            Some(name) => Some(SagaStatus::parse(name).ok_or_else(|| {
                SagaError::invalid(
                    "/status",
                    "not one of running, succeeded, compensating, compensated, cancelled, failed",
                )
            })?),
        };
        let page_size = filter.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
            return Err(SagaError::invalid(
                "/page_size",
                format!("must be 1 to {MAX_PAGE_SIZE}"),
            ));
        }
        let cursor = filter.offset.filter(|o| !o.is_empty()).map(Cursor);
        let (records, next) = self
            .store
            .list(tenant_id, page_size, cursor, |record| {
                saga_type.is_none_or(|t| record.saga_type == t)
                    && status.is_none_or(|s| record.status == s)
            })
            .await
            .map_err(|err| match err {
                ports::StoreError::InvalidItem(_) => {
                    SagaError::invalid("/offset", "not an offset this API gave")
                }
                other => other.into(),
            })?;
        Ok(SagaPage {
            sagas: records.iter().map(SagaRecord::summary).collect(),
            offset: next.map(|c| c.0),
        })
    }

    /// A saga with its step history.
    pub async fn get(&self, tenant_id: &str, id: &str) -> Result<SagaDetail, SagaError> {
        let record = self.record(tenant_id, id).await?;
        let record = self.reconcile(record).await?;
        let steps = self.store.steps(tenant_id, id).await?;
        Ok(record.detail(steps))
    }

    /// A saga whose execution ended without the saga's own last step (stopped, timed out, a
    /// `States.Runtime` error) will never move again: it is failed, and needs a person. The
    /// machines always finish the saga record before their last state, so a live saga with an
    /// ended execution can only mean that.
    async fn reconcile(&self, record: SagaRecord) -> Result<SagaRecord, SagaError> {
        let Some(execution_id) = record.execution_id.as_deref() else {
            return Ok(record);
        };
        if record.status.is_finished() {
            return Ok(record);
        }
        let execution = match self.machines.describe(execution_id).await {
            Ok(execution) => execution,
            Err(err) => {
                tracing::debug!(saga = %record.id, error = %err, "could not describe a saga's execution");
                return Ok(record);
            }
        };
        let error = match execution.status {
            ExecutionStatus::Running => return Ok(record),
            ExecutionStatus::Aborted => {
                ErrorInfo::new(EXECUTION_STOPPED, "the execution was stopped")
            }
            ExecutionStatus::TimedOut => ErrorInfo::new(
                "States.Timeout",
                execution
                    .cause
                    .unwrap_or_else(|| "the execution timed out".into()),
            ),
            ExecutionStatus::Failed | ExecutionStatus::Succeeded => ErrorInfo::new(
                execution.error.unwrap_or_else(|| EXECUTION_STOPPED.into()),
                execution.cause.unwrap_or_default(),
            ),
        };
        let changed = self
            .store
            .change(
                &record.tenant_id,
                &record.id,
                set_status_with_error(SagaStatus::Failed, &error),
                Some(Condition::equals("status", record.status.as_str())),
                self.clock.now(),
            )
            .await?;
        match changed {
            Some(failed) => Ok(failed),
            // Its last step got there first.
            None => self.record(&record.tenant_id, &record.id).await,
        }
    }

    async fn record(&self, tenant_id: &str, id: &str) -> Result<SagaRecord, SagaError> {
        if !id.starts_with("sag_") {
            return Err(SagaError::NotFound(id.to_string()));
        }
        self.store
            .get(tenant_id, id)
            .await?
            .ok_or_else(|| SagaError::NotFound(id.to_string()))
    }

    /// Sets the cancel flag: the next forward step fails `Platform.Cancelled` and the machine
    /// compensates. A saga that has finished cannot be cancelled (409).
    pub async fn cancel(&self, tenant_id: &str, id: &str) -> Result<SagaDetail, SagaError> {
        for _ in 0..3 {
            let record = self.record(tenant_id, id).await?;
            if record.status.is_finished() {
                return Err(SagaError::Finished {
                    id: id.to_string(),
                    status: record.status.to_string(),
                });
            }
            let changed = self
                .store
                .change(
                    tenant_id,
                    id,
                    Update::new().set("cancel_requested", true),
                    Some(Condition::equals("status", record.status.as_str())),
                    self.clock.now(),
                )
                .await?;
            if changed.is_some() {
                return self.get(tenant_id, id).await;
            }
        }
        Err(SagaError::Unavailable(
            "the saga kept changing; try the cancel again".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_make_valid_stable_execution_names() {
        let a = id_for_key("ten_1", "import-42");
        assert_eq!(a, id_for_key("ten_1", "import-42"));
        assert_ne!(a, id_for_key("ten_2", "import-42"));
        assert!(
            ports::state_machines::validate_execution_name(&a).is_ok(),
            "{a}"
        );
        assert_eq!(
            fingerprint(SagaType::Transaction, &json!({"b": 1, "a": 2})),
            fingerprint(SagaType::Transaction, &json!({"a": 2, "b": 1}))
        );
    }
}
