//! Sagas: multi-step Airtable changes that undo themselves. Airtable has no transactions: a
//! change across several tables, or of more than ten records, can fail half-way. A saga runs
//! as a state machine (`statemachines/<type>.asl.json`, deployed to Step Functions as it is and
//! run by the local runner as it is) whose every Task is one action of the saga-step function;
//! on a failure or a cancel, the machine's compensation path undoes, last first, every chunk
//! that was applied, from before-images captured just before it.
//!
//! - [`service::Sagas`]: the facade the HTTP layer calls (start, list, get, cancel, types) and
//!   the saga-step [`triggers::TaskHandler`] ([`Sagas::step_handler`]);
//! - [`model`]: the API's shapes and the stored record; [`error`]: [`SagaError`];
//! - [`schema`] and [`validate`]: each type's input schema and the checks at start;
//! - [`plan`]: the operations grouped into chunks of one Airtable write each;
//! - [`store`]: where sagas, plans, before-images and step records live (the runs table);
//! - [`steps`]: the actions, one module per saga type; [`access`]: their Airtable calls;
//! - [`machines`]: the definitions, compiled in.
//!
//! Machine input carries keys only (`{"tenant", "saga"}`): operations and before-images can be
//! far larger than a state's 256 KB.

pub mod access;
pub mod connected_bases;
pub mod error;
pub mod machines;
pub mod model;
pub mod plan;
pub mod schema;
pub mod service;
pub mod steps;
pub mod store;
pub mod validate;

pub use error::{MAX_OPERATIONS, Problem, SagaError};
pub use model::{
    ErrorInfo, SagaDetail, SagaFilter, SagaPage, SagaStatus, SagaSummary, SagaType, SagaTypeInfo,
    StartSaga, Started, StepEntry, StepKind, StepStatus,
};
pub use service::{SagaDeps, Sagas};
