//! The state every handler shares: the ports, the clock and the id generator, built once per
//! process (at Lambda init, or at dev-server start).

use std::sync::Arc;

use basics::{Clock, IdGenerator};
use ports::{Queue, Secrets, TableStore};

#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Arc<dyn TableStore>,
    pub queue: Arc<dyn Queue>,
    pub secrets: Arc<dyn Secrets>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
    /// The platform version reported by health.
    pub version: &'static str,
    /// Airtable's API origin: `https://api.airtable.com`, or the local sandbox.
    pub airtable_api_url: String,
}

/// This build's version, from Cargo.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
