//! The workflows service: what `/v1/workflows*` does, over [`WorkflowStore`].
//!
//! Every save runs in the same order, so nothing is ever half-saved:
//!
//! 1. **validate** the whole spec ([`crate::validation`]); any problem refuses the save;
//! 2. **attach** the record trigger (an Airtable webhook on the trigger's table) when the saved
//!    workflow listens to record changes: attaching also lets go of the table it listened to
//!    before, if the trigger moved. Or, when it no longer listens (disabled, deleted, another
//!    kind of trigger), **detach** it. If that fails nothing was saved (a failed attach puts
//!    the old trigger back);
//! 3. **store** the workflow in one transaction with its secret, pointer and schedule index
//!    entry; if that fails, step 2 is undone (the old trigger attached again, or the new one
//!    detached).
//!
//! The order puts the external call first because it is the one most likely to fail (Airtable,
//! the tenant's token), and the store write last because it is the commit point.

use std::sync::Arc;

use async_trait::async_trait;
use basics::{Clock, IdGenerator};
use chrono::{DateTime, FixedOffset, Utc};
use ports::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::cron::CronSchedule;
use crate::error::{AutomationError, Problem};
use crate::model::{Trigger, Workflow, WorkflowId, WorkflowSpec};
use crate::parse;
use crate::seams::{RecordTriggerHooks, SchemaLookup, WorkflowSecrets};
use crate::validation;
use crate::workflows::store::{StoredWorkflow, WorkflowStore};

/// How many fire times `validate` shows.
pub const NEXT_FIRE_TIMES: usize = 5;

/// A new workflow and its signing secret, shown this once.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreatedWorkflow {
    #[serde(flatten)]
    pub workflow: Workflow,
    pub signing_secret: String,
}

/// `POST /v1/workflows/validate`: a whole workflow, or just a schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum ValidateRequest {
    Workflow(Box<WorkflowSpec>),
    /// `{"cron": "...", "timezone": "Europe/Paris"}` (`timezone` defaults to UTC).
    Schedule {
        cron: String,
        timezone: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleOnly {
    cron: String,
    #[serde(default = "utc")]
    timezone: String,
}

fn utc() -> String {
    "UTC".to_string()
}

impl ValidateRequest {
    /// Reads a request body: an object with `cron` and without `steps` is a schedule alone,
    /// anything else must be a workflow.
    pub fn from_json(value: Value) -> Result<Self, AutomationError> {
        let schedule_only = value
            .as_object()
            .is_some_and(|body| body.contains_key("cron") && !body.contains_key("steps"));
        if schedule_only {
            let ScheduleOnly { cron, timezone } = parse::parse(value)?;
            return Ok(Self::Schedule { cron, timezone });
        }
        parse::workflow_spec(value).map(|spec| Self::Workflow(Box::new(spec)))
    }
}

impl<'de> Deserialize<'de> for ValidateRequest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Self::from_json(value).map_err(serde::de::Error::custom)
    }
}

/// What `validate` answers: the problems, and for a schedule its next fire times in its zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationReport {
    pub valid: bool,
    pub problems: Vec<Problem>,
    /// RFC 3339 with the zone's offset at each instant (`2026-03-29T03:00:00+02:00`).
    pub next_fire_times: Vec<DateTime<FixedOffset>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// Workflows: CRUD, validation and secrets.
#[derive(Debug, Clone)]
pub struct Workflows {
    store: WorkflowStore,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    hooks: Arc<dyn RecordTriggerHooks>,
    schema: Arc<dyn SchemaLookup>,
}

impl Workflows {
    pub fn new(
        store: Arc<dyn ports::TableStore>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        hooks: Arc<dyn RecordTriggerHooks>,
        schema: Arc<dyn SchemaLookup>,
    ) -> Self {
        Self {
            store: WorkflowStore::new(store),
            clock,
            ids,
            hooks,
            schema,
        }
    }

    /// The store underneath, for the scheduler and inbound hooks built on the same items.
    pub fn store(&self) -> &WorkflowStore {
        &self.store
    }

    /// Creates a workflow and its signing secret (returned here only).
    pub async fn create(
        &self,
        tenant_id: &str,
        spec: WorkflowSpec,
    ) -> Result<CreatedWorkflow, AutomationError> {
        self.check(tenant_id, &spec).await?;
        let now = self.clock.now();
        let workflow = Workflow {
            id: WorkflowId::generate(self.ids.as_ref()),
            tenant_id: tenant_id.to_string(),
            spec,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let signing_secret = format!("whsec_{}", self.ids.random_token(40));
        let next_fire = next_fire(&workflow, now);
        let attached = hook_target(&workflow).is_some();
        if attached && let Err(err) = self.hooks.attach(&workflow).await {
            // An attach that failed half-way (a registration written, no webhook) must not
            // keep serving a workflow that was never saved.
            if let Err(undo) = self.hooks.detach(&workflow).await {
                tracing::warn!(error = %undo, "could not undo a failed record-trigger attach");
            }
            return Err(err);
        }
        if let Err(err) = self
            .store
            .insert(&workflow, &signing_secret, next_fire)
            .await
        {
            if attached {
                self.undo("detach", self.hooks.detach(&workflow).await, &workflow);
            }
            return Err(store_error(err));
        }
        Ok(CreatedWorkflow {
            workflow,
            signing_secret,
        })
    }

    pub async fn get(&self, tenant_id: &str, id: &WorkflowId) -> Result<Workflow, AutomationError> {
        Ok(self.load(tenant_id, id).await?.workflow)
    }

    /// The tenant's workflows by name (then creation time).
    pub async fn list(&self, tenant_id: &str) -> Result<Vec<Workflow>, AutomationError> {
        let mut workflows = self.store.list(tenant_id).await?;
        workflows.sort_by(|a, b| {
            a.spec
                .name
                .to_lowercase()
                .cmp(&b.spec.name.to_lowercase())
                .then(a.created_at.cmp(&b.created_at))
                .then(a.id.cmp(&b.id))
        });
        Ok(workflows)
    }

    /// Replaces the workflow's spec (`PUT`).
    pub async fn replace(
        &self,
        tenant_id: &str,
        id: &WorkflowId,
        spec: WorkflowSpec,
    ) -> Result<Workflow, AutomationError> {
        let old = self.load(tenant_id, id).await?;
        self.save_over(old, spec).await
    }

    /// Applies an RFC 7386 JSON merge patch to the spec (`PATCH`), then validates the result
    /// as a whole.
    pub async fn patch(
        &self,
        tenant_id: &str,
        id: &WorkflowId,
        patch: Value,
    ) -> Result<Workflow, AutomationError> {
        if !patch.is_object() {
            return Err(AutomationError::invalid(
                "/",
                "a merge patch is a JSON object",
            ));
        }
        let old = self.load(tenant_id, id).await?;
        let mut document = serde_json::to_value(&old.workflow.spec).map_err(|err| {
            AutomationError::Store(StoreError::InvalidItem(format!(
                "stored workflow unreadable: {err}"
            )))
        })?;
        merge_patch(&mut document, &patch);
        let spec = parse::workflow_spec(document)?;
        self.save_over(old, spec).await
    }

    /// Deletes the workflow, its secret and its schedule, after detaching its record trigger.
    pub async fn delete(&self, tenant_id: &str, id: &WorkflowId) -> Result<(), AutomationError> {
        let old = self.load(tenant_id, id).await?;
        let attached = hook_target(&old.workflow).is_some();
        if attached {
            self.hooks.detach(&old.workflow).await?;
        }
        if let Err(err) = self.store.remove(&old).await {
            if attached {
                self.undo(
                    "re-attach",
                    self.hooks.attach(&old.workflow).await,
                    &old.workflow,
                );
            }
            return Err(store_error(err));
        }
        Ok(())
    }

    /// Checks a workflow, or a schedule alone, without saving anything.
    pub async fn validate(
        &self,
        tenant_id: &str,
        request: ValidateRequest,
    ) -> Result<ValidationReport, AutomationError> {
        let now = self.clock.now();
        let (problems, schedule) = match request {
            ValidateRequest::Workflow(spec) => {
                let problems = validation::validate(&spec, tenant_id, self.schema.as_ref()).await;
                let schedule = match &spec.trigger {
                    Trigger::Schedule { cron, timezone } => {
                        CronSchedule::parse(cron, timezone).ok()
                    }
                    _ => None,
                };
                (problems, schedule)
            }
            ValidateRequest::Schedule { cron, timezone } => {
                match CronSchedule::parse(&cron, &timezone) {
                    Ok(schedule) => (Vec::new(), Some(schedule)),
                    Err(err) => (vec![err.to_problem("")], None),
                }
            }
        };
        let (next_fire_times, timezone) = match schedule {
            Some(schedule) => {
                let tz = schedule.timezone();
                let times = schedule
                    .upcoming(now, NEXT_FIRE_TIMES)
                    .into_iter()
                    .map(|at| at.with_timezone(&tz).fixed_offset())
                    .collect();
                (times, Some(tz.name().to_string()))
            }
            None => (Vec::new(), None),
        };
        Ok(ValidationReport {
            valid: problems.is_empty(),
            problems,
            next_fire_times,
            timezone,
        })
    }

    async fn check(&self, tenant_id: &str, spec: &WorkflowSpec) -> Result<(), AutomationError> {
        let problems = validation::validate(spec, tenant_id, self.schema.as_ref()).await;
        if problems.is_empty() {
            Ok(())
        } else {
            Err(AutomationError::Invalid(problems))
        }
    }

    async fn load(
        &self,
        tenant_id: &str,
        id: &WorkflowId,
    ) -> Result<StoredWorkflow, AutomationError> {
        self.store
            .get(tenant_id, id)
            .await?
            .ok_or_else(|| AutomationError::NotFound(format!("workflow {id}")))
    }

    /// Saves `spec` over `old` in the order the module doc gives.
    async fn save_over(
        &self,
        old: StoredWorkflow,
        spec: WorkflowSpec,
    ) -> Result<Workflow, AutomationError> {
        self.check(&old.workflow.tenant_id, &spec).await?;
        let now = self.clock.now();
        let new = Workflow {
            id: old.workflow.id.clone(),
            tenant_id: old.workflow.tenant_id.clone(),
            spec,
            version: old.workflow.version + 1,
            created_at: old.workflow.created_at,
            updated_at: now,
        };
        // `attach` moves the workflow's registration to the new table (letting the old one go)
        // and `detach` removes the workflow from every registration, so an enabled record
        // trigger is only ever attached, and detached only when it stops listening.
        let old_hooked = hook_target(&old.workflow).is_some();
        let new_hooked = hook_target(&new).is_some();
        if new_hooked {
            if let Err(err) = self.hooks.attach(&new).await {
                if old_hooked {
                    self.undo(
                        "re-attach",
                        self.hooks.attach(&old.workflow).await,
                        &old.workflow,
                    );
                }
                return Err(err);
            }
        } else if old_hooked {
            self.hooks.detach(&old.workflow).await?;
        }
        let next = pending_fire(&old, &new, now).or_else(|| next_fire(&new, now));
        if let Err(err) = self.store.replace(&old, &new, next).await {
            if old_hooked {
                self.undo(
                    "re-attach",
                    self.hooks.attach(&old.workflow).await,
                    &old.workflow,
                );
            } else if new_hooked {
                self.undo("detach", self.hooks.detach(&new).await, &new);
            }
            return Err(store_error(err));
        }
        Ok(new)
    }

    /// Logs a compensation that failed: the save itself has already failed and says so; what
    /// remains is an Airtable webhook that leads to no stored workflow, which the events worker
    /// ignores and the webhook refresh cleans up.
    fn undo(&self, what: &str, result: Result<(), AutomationError>, workflow: &Workflow) {
        if let Err(err) = result {
            tracing::warn!(
                tenant_id = %workflow.tenant_id,
                workflow_id = %workflow.id,
                error = %err,
                "could not {what} a record trigger while undoing a failed save"
            );
        }
    }
}

#[async_trait]
impl WorkflowSecrets for Workflows {
    async fn signing_secret(
        &self,
        tenant_id: &str,
        workflow_id: &WorkflowId,
    ) -> Result<String, AutomationError> {
        WorkflowSecrets::signing_secret(&self.store, tenant_id, workflow_id).await
    }
}

/// The table whose record changes the workflow listens to, when it is enabled.
fn hook_target(workflow: &Workflow) -> Option<(&str, &str)> {
    if !workflow.spec.enabled {
        return None;
    }
    workflow
        .spec
        .trigger
        .record_change()
        .map(|(_, base, table)| (base, table))
}

/// When an enabled schedule workflow fires next (what its index entry is keyed by).
fn next_fire(workflow: &Workflow, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match &workflow.spec.trigger {
        Trigger::Schedule { cron, timezone } if workflow.spec.enabled => {
            CronSchedule::parse(cron, timezone).ok()?.next_after(now)
        }
        _ => None,
    }
}

/// A fire that is due but that the scheduler has not taken yet, kept when an edit leaves the
/// schedule as it was (a rename between 09:00:00 and the 09:01 tick must not lose the 09:00
/// run).
fn pending_fire(old: &StoredWorkflow, new: &Workflow, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let unchanged = new.spec.enabled && new.spec.trigger == old.workflow.spec.trigger;
    let sort_key = old.schedule_entry.as_deref().filter(|_| unchanged)?;
    let at = DateTime::parse_from_rfc3339(sort_key.get(..20)?)
        .ok()?
        .with_timezone(&Utc);
    (at <= now).then_some(at)
}

fn store_error(err: StoreError) -> AutomationError {
    if err.is_condition_failure() {
        AutomationError::Conflict(
            "the workflow was changed by another request; read it again and retry".to_string(),
        )
    } else {
        AutomationError::Store(err)
    }
}

/// RFC 7386: objects merge key by key, `null` removes a key, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(changes) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(map) = target {
        for (key, change) in changes {
            if change.is_null() {
                map.remove(key);
            } else {
                merge_patch(map.entry(key.clone()).or_insert(Value::Null), change);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut doc = json!({"a": "b", "c": {"d": "e", "f": "g"}, "list": [1, 2]});
        merge_patch(
            &mut doc,
            &json!({"a": "z", "c": {"f": null, "h": 1}, "list": [3], "new": {"x": null}}),
        );
        assert_eq!(
            doc,
            json!({"a": "z", "c": {"d": "e", "h": 1}, "list": [3], "new": {}})
        );
    }

    #[test]
    fn a_validate_body_is_a_schedule_or_a_workflow() {
        let schedule = ValidateRequest::from_json(json!({"cron": "0 9 * * *"})).expect("cron");
        assert_eq!(
            schedule,
            ValidateRequest::Schedule {
                cron: "0 9 * * *".into(),
                timezone: "UTC".into()
            }
        );
        assert!(ValidateRequest::from_json(json!({"cron": "x", "extra": 1})).is_err());
        let err = ValidateRequest::from_json(json!({"name": "x", "trigger": {"type": "manual"}, "steps": [{"id": "a", "type": "ftp"}]}))
            .expect_err("unknown step type");
        assert!(matches!(err, AutomationError::Invalid(_)));
    }
}
