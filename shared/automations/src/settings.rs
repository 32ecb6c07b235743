//! The automations' settings (read from the environment by `platform::settings`).

use std::time::Duration;

/// How long a run may take from creation to its last step, unless configured.
pub const DEFAULT_RUN_DEADLINE: Duration = Duration::from_secs(60 * 60);
/// The longest deadline accepted (a day: delays longer than that belong in a schedule).
pub const MAX_RUN_DEADLINE: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutomationSettings {
    /// `PUBLIC_URL`: the platform's public origin (`https://<api>.execute-api...`), where
    /// Airtable sends webhook pings (`<PUBLIC_URL>/v1/hooks/airtable/{hook}`). Record triggers
    /// cannot be enabled without it; the dev server sets its own address.
    pub public_url: Option<String>,
    /// `RUN_DEADLINE_SECONDS`: a run not finished this long after it was created fails.
    pub run_deadline: Duration,
}

impl Default for AutomationSettings {
    fn default() -> Self {
        Self {
            public_url: None,
            run_deadline: DEFAULT_RUN_DEADLINE,
        }
    }
}
