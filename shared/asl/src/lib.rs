//! An interpreter of classic JSONPath Amazon States Language: the core of the local
//! state-machine runner (the embedded adapter of the state-machine port). It does no I/O of its
//! own: tasks go through [`TaskInvoker`], time through [`Timer`], and an execution's position
//! is a serialisable [`Snapshot`] the caller stores where it likes.
//!
//! Why our own: the saga machines must run locally exactly as Step Functions runs them, with
//! their history persisted in the embedded store and resumed after a restart. No Rust crate
//! interprets ASL; moto's engine (Python) is what we check this one against, not something the
//! dev server can embed.
//!
//! What is supported, and what is refused at load (with the state and field named), is listed
//! in the README of this crate's module docs: see [`definition`] for the fields per state.

pub mod choice;
pub mod definition;
pub mod error;
pub mod history;
pub mod intrinsics;
pub mod path;
pub mod runner;
pub mod template;
pub mod timer;

pub use definition::StateMachine;
pub use error::{DefinitionError, StatesError};
pub use history::{Event, HistoryEvent};
pub use runner::{
    Execution, ExecutionInfo, Interpreter, Snapshot, Status, TaskFailure, TaskInvoker,
};
pub use timer::{ManualTimer, Timer, TokioTimer};
