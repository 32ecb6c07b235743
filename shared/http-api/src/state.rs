//! The state every handler shares: the trigger-agnostic [`Platform`] (ports, services,
//! settings), built once per process at Lambda init or dev-server start. HTTP adds nothing to it
//! but the type the routers are generic over; handlers reach the platform's ports and services
//! through `Deref` (`state.accounts()`, `state.store`).

use std::ops::Deref;
use std::sync::Arc;

use platform::Platform;

#[derive(Clone, Debug)]
pub struct AppState {
    platform: Arc<Platform>,
}

impl AppState {
    pub fn new(platform: Arc<Platform>) -> Self {
        Self { platform }
    }

    /// The platform, to hand to something that outlives a request.
    pub fn platform(&self) -> &Arc<Platform> {
        &self.platform
    }
}

impl Deref for AppState {
    type Target = Platform;

    fn deref(&self) -> &Platform {
        &self.platform
    }
}
