//! The automations' variables: the public URL Airtable's pings come back to, and the runs'
//! deadline.

use std::time::Duration;

use automations::AutomationSettings;
use automations::settings::MAX_RUN_DEADLINE;
use basics::{ConfigError, Env};

/// Reads `PUBLIC_URL` (an absolute http(s) origin, trailing slash dropped) and
/// `RUN_DEADLINE_SECONDS` (1 to 86400).
pub fn automation_settings(env: &Env) -> Result<AutomationSettings, ConfigError> {
    let defaults = AutomationSettings::default();
    // Empty is unset: the template passes its `PublicUrl` parameter, empty until the operator
    // knows the API's URL.
    let public_url = match env
        .optional::<String>("PUBLIC_URL")?
        .filter(|url| !url.trim().is_empty())
    {
        None => None,
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
            Some(url.trim_end_matches('/').to_string())
        }
        Some(_) => {
            return Err(ConfigError {
                var: "PUBLIC_URL".into(),
                problem: "an absolute http(s) URL, e.g. https://api.example.com".into(),
            });
        }
    };
    let deadline = env.or("RUN_DEADLINE_SECONDS", defaults.run_deadline.as_secs())?;
    if deadline == 0 || deadline > MAX_RUN_DEADLINE.as_secs() {
        return Err(ConfigError {
            var: "RUN_DEADLINE_SECONDS".into(),
            problem: format!("between 1 and {} seconds", MAX_RUN_DEADLINE.as_secs()),
        });
    }
    Ok(AutomationSettings {
        public_url,
        run_deadline: Duration::from_secs(deadline),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bad_values() {
        let defaults = automation_settings(&Env::from_pairs([])).expect("defaults");
        assert_eq!(defaults, AutomationSettings::default());
        let set = automation_settings(&Env::from_pairs([
            ("PUBLIC_URL", "https://api.example.com/"),
            ("RUN_DEADLINE_SECONDS", "120"),
        ]))
        .expect("set");
        assert_eq!(set.public_url.as_deref(), Some("https://api.example.com"));
        assert_eq!(set.run_deadline, Duration::from_secs(120));
        let empty = automation_settings(&Env::from_pairs([("PUBLIC_URL", "")])).expect("empty");
        assert_eq!(
            empty.public_url, None,
            "the template's empty default is unset"
        );
        for (var, value) in [
            ("PUBLIC_URL", "api.example.com"),
            ("RUN_DEADLINE_SECONDS", "0"),
            ("RUN_DEADLINE_SECONDS", "999999"),
        ] {
            let err = automation_settings(&Env::from_pairs([(var, value)])).expect_err(value);
            assert_eq!(err.var, var);
        }
    }
}
