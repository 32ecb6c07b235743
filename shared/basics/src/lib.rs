//! The basics every other crate stands on: typed configuration, telemetry, the one API error
//! type, and the clock and id generator that tests can control.

pub mod clock;
pub mod config;
pub mod digest;
pub mod error;
pub mod ids;
pub mod telemetry;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{ConfigError, Env};
pub use error::{ApiError, ErrorKind};
pub use ids::{IdGenerator, RandomIds, SequentialIds};
