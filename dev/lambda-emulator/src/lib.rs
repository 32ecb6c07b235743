//! A local Lambda Runtime API and the cold-start benchmark built on it.
//!
//! Lambda runs a function binary by starting it with `AWS_LAMBDA_RUNTIME_API` pointing at an
//! HTTP endpoint it long-polls for events. [`RuntimeApi`] is that endpoint on loopback, so a
//! release binary can be started, timed and measured exactly as Lambda would start it, with no
//! AWS account and no Docker. `coldstart-bench` (see `scripts/coldstart-bench`) drives every
//! function that way against moto, with [`CountingProxy`] in between to count store round
//! trips.

pub mod cold_start;
pub mod counting_proxy;
pub mod report;
pub mod runtime_api;
pub mod stats;

pub use cold_start::{ColdStart, FunctionUnderTest, cold_start};
pub use counting_proxy::CountingProxy;
pub use runtime_api::{EmulatorError, Invocation, Outcome, RuntimeApi};
