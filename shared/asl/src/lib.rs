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
//! # What it runs
//!
//! - States: Pass (Result, Parameters, ResultPath), Task (Resource through [`TaskInvoker`],
//!   Parameters, ResultSelector, ResultPath, TimeoutSeconds/TimeoutSecondsPath), Choice (every
//!   comparison operator and its `...Path` variant, And/Or/Not, IsPresent/IsNull/IsNumeric/
//!   IsString/IsBoolean/IsTimestamp, StringMatches, Default), Wait (Seconds, SecondsPath,
//!   Timestamp, TimestampPath), Succeed, Fail (Error/Cause, ErrorPath/CausePath), Parallel
//!   (Branches, all at once), Map (ItemsPath, ItemSelector or the legacy Parameters,
//!   ItemProcessor in INLINE mode or the legacy Iterator, MaxConcurrency honoured: at most that
//!   many iterations run at once, 0 meaning all).
//! - Data flow as AWS documents it: InputPath → Parameters → work → ResultSelector → ResultPath
//!   → OutputPath; `null` InputPath/OutputPath give `{}`, `null` ResultPath keeps the input,
//!   a nested ResultPath creates the objects on its way; a caught error's output is the raw
//!   input with `{"Error","Cause"}` at the catcher's ResultPath, then OutputPath.
//! - Paths: reference paths (`$`, `.field`, `['field']`, `[n]`), on the data (`$`) or the
//!   context object (`$$`: Execution.Id/Name/StartTime/Input, StateMachine.Id/Name,
//!   State.Name/EnteredTime/RetryCount, Map.Item.Index/Value in an ItemSelector,
//!   Task.Token for a callback Task); InputPath, OutputPath, ItemsPath and payload templates
//!   also take paths selecting several nodes (`[*]`, `.*`, `..`, slices, simple filters), whose
//!   value is the array of matches ([`path`]).
//! - Retry (ErrorEquals with States.ALL, States.TaskFailed (everything but States.Timeout),
//!   IntervalSeconds, MaxAttempts, BackoffRate, MaxDelaySeconds, JitterStrategy FULL/NONE) and
//!   Catch (ErrorEquals, Next, ResultPath). States.Runtime (a path that names nothing, a bad
//!   ResultPath, ...) ends the execution whatever Retry and Catch say, as on AWS.
//! - The 18 intrinsic functions of [`intrinsics::FUNCTIONS`] (Format, StringToJson,
//!   JsonToString, Array, ArrayPartition, ArrayContains, ArrayRange, ArrayGetItem, ArrayLength,
//!   ArrayUnique, Base64Encode/Decode, Hash (MD5, SHA-1, SHA-256, SHA-384, SHA-512), JsonMerge
//!   (shallow, as on AWS), MathRandom, MathAdd, StringSplit, UUID), nested; a wrong argument is
//!   `States.IntrinsicFailure`.
//! - Machine-level TimeoutSeconds, checked between top-level states (`States.Timeout`).
//! - The 256 KiB payload quota on every state's output and on a Task/Parallel/Map input after
//!   Parameters (`States.DataLimitExceeded`, uncatchable); the execution input's size is the
//!   caller's to check at start.
//!
//! # What it refuses at load (naming the state and field)
//!
//! JSONata (`QueryLanguage`, `Arguments`, `Output`), variables (`Assign`), distributed Map and
//! its fields (ItemReader, ItemBatcher, ResultWriter, ToleratedFailure*, Label), the callback
//! pattern (`.waitForTaskToken`; [`ParseOptions::allow_callback_tasks`] lets a test through,
//! with `$$.Task.Token` set and the invoker's answer as the task's outcome), HeartbeatSeconds,
//! Credentials, paths selecting several nodes where one is needed (ResultPath, Choice
//! variables, `...Path` fields, intrinsic arguments), filter expressions beyond
//! `@.field op literal`, unknown intrinsic functions, and any field not listed above.
//!
//! # Public API
//!
//! [`StateMachine::from_json`] parses a definition; [`Execution::start`] makes an execution
//! from an [`ExecutionInfo`]; [`Execution::step`] runs one top-level state (see [`runner`] for
//! the granularity), [`Execution::run`] runs to the end, [`Execution::abort`] stops it;
//! [`Execution::snapshot`] is the serialisable [`Snapshot`] (position, data, status, output or
//! error, history) that [`Execution::resume`] carries on from. The history is a list of
//! [`HistoryEvent`]s whose [`Event::aws_type`] is AWS's event type name.

pub mod choice;
pub mod definition;
pub mod error;
pub mod history;
pub mod intrinsics;
pub mod path;
pub mod runner;
pub mod template;
pub mod timer;

pub use definition::{ParseOptions, StateMachine};
pub use error::{DefinitionError, StatesError};
pub use history::{Event, HistoryEvent};
pub use runner::{
    Execution, ExecutionInfo, Interpreter, Snapshot, Status, TaskFailure, TaskInvoker,
};
pub use timer::{ManualTimer, Timer, TokioTimer};
