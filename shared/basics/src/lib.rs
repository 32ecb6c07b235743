//! The basics every other crate stands on: typed configuration, telemetry, and the clock and id
//! generator that tests can control.

pub mod clock;
pub mod config;
pub mod digest;
pub mod ids;
pub mod signature;
pub mod telemetry;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{ConfigError, Env};
pub use ids::{IdGenerator, RandomIds, SequentialIds};
