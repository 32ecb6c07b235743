//! Workflows: their storage ([`store`]: items, secret, tenant pointer, schedule index) and the
//! service behind `/v1/workflows*` ([`service`]: validate, attach record triggers, save).

pub mod service;
pub mod store;

pub use service::{CreatedWorkflow, ValidateRequest, ValidationReport, Workflows};
pub use store::{ScheduleEntry, StoredWorkflow, WorkflowStore};
