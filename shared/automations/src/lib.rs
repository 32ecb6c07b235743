//! Automations: a workflow is a trigger and an ordered list of templated steps; a run executes
//! them one at a time from the runs queue, checkpointing each step's result, so a redelivered
//! message resumes after the last completed step and no side effect happens twice.
//!
//! - [`model`]: workflows, triggers, steps, runs and queue messages, as stored and as sent.

pub mod cron;
pub mod error;
pub mod executor;
pub mod inbound;
pub mod model;
pub mod parse;
pub mod record_hooks;
pub mod runs;
pub mod schedules;
pub mod seams;
pub mod settings;
pub mod steps;
pub mod template;
pub mod validation;
pub mod worker;
pub mod workflows;

pub use cron::CronSchedule;
pub use error::{AutomationError, Problem};
pub use inbound::InboundHooks;
pub use record_hooks::{EventsWorker, RecordHooks, TenantAirtable};
pub use schedules::{FireReport, Schedules};
pub use seams::{RecordTriggerHooks, RunStarter, SchemaLookup, WorkflowSecrets};
pub use settings::AutomationSettings;
pub use workflows::{CreatedWorkflow, ValidateRequest, ValidationReport, Workflows};

pub use model::{
    Comparison, Condition, ConditionOp, EventMessage, RecordChange, RecordEvent, Run, RunId,
    RunMessage, RunStatus, RunTrigger, Step, StepKind, StepRecord, StepStatus, Trigger, Workflow,
    WorkflowId, WorkflowSpec,
};
