//! A faithful Airtable Web API on localhost, for tests and the dev server: records with paging,
//! filters, typecast and upsert; the meta API; webhooks with signed pings; Airtable's error
//! shapes, tokens and rate limits; fault injection and counters for testing retrying clients.
//!
//! ```no_run
//! # async fn demo() -> Result<(), airtable_sandbox::SandboxError> {
//! let sandbox = airtable_sandbox::Sandbox::builder().start("127.0.0.1:0".parse().unwrap()).await?;
//! println!("{} {}", sandbox.url(), sandbox.demo_token());
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

pub mod api;
pub mod auth;
pub mod errors;
pub mod faults;
pub mod formula;
pub mod ids;
pub mod meta;
pub mod model;
pub mod rate_limit;
pub mod records;
pub mod seed;
pub mod server;
pub mod state;
pub mod webhooks;

pub use faults::{CounterSnapshot, Fault, FaultPlan, RouteCounters};
pub use model::{Snapshot, Token};
pub use rate_limit::RateLimits;
pub use server::{Sandbox, SandboxBuilder, SandboxControl, SandboxError, SandboxHandle};

/// The demo base's id (fixed in `seed/demo-crm.json`).
pub const DEMO_BASE_ID: &str = "appSandboxDemoCRM";
/// The demo token: every scope, every base.
pub const DEMO_TOKEN: &str = "patSandboxDemo001.demo-token-for-local-development-only";
/// A demo token with read scopes on the demo base only.
pub const DEMO_READ_ONLY_TOKEN: &str = "patSandboxRead001.read-only-demo-token";
/// A demo token that reaches no base.
pub const DEMO_NO_ACCESS_TOKEN: &str = "patSandboxNone001.token-without-base-access";
