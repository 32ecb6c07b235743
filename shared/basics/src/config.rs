//! Typed configuration from the environment.
//!
//! Every binary parses its variables once at start-up into a typed struct. A bad or missing
//! variable becomes a [`ConfigError`] naming it, which [`exit_on_error`] prints as one line before
//! exiting non-zero: never a panic trace.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

/// A configuration variable that is missing or cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: String,
    pub problem: String,
}

/// Where variables come from: the process environment, or a map in tests.
#[derive(Debug, Clone, Default)]
pub struct Env {
    overrides: Option<HashMap<String, String>>,
}

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Self { overrides: None }
    }

    /// A fixed set of variables (and nothing from the process), for tests.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            overrides: Some(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
        }
    }

    /// The raw value; an empty value counts as unset.
    pub fn raw(&self, name: &str) -> Option<String> {
        let value = match &self.overrides {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        value.filter(|v| !v.trim().is_empty())
    }

    /// A variable that must be present.
    pub fn required<T>(&self, name: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.raw(name) {
            Some(raw) => parse(name, &raw),
            None => Err(ConfigError {
                var: name.to_string(),
                problem: "is required but not set".to_string(),
            }),
        }
    }

    /// A variable with a default when unset.
    pub fn or<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        Ok(self.optional(name)?.unwrap_or(default))
    }

    /// A variable that may be absent.
    pub fn optional<T>(&self, name: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.raw(name).map(|raw| parse(name, &raw)).transpose()
    }
}

fn parse<T>(name: &str, raw: &str) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    raw.trim().parse::<T>().map_err(|err| ConfigError {
        var: name.to_string(),
        problem: format!("invalid value {raw:?} ({err})"),
    })
}

/// Unwraps a configuration result, or prints one line naming the variable and exits with 2.
pub fn exit_on_error<T>(result: Result<T, ConfigError>) -> T {
    match result {
        Ok(value) => value,
        Err(err) => {
            eprintln!("configuration error: {err}");
            std::process::exit(2);
        }
    }
}

/// A TCP port number (1-65535), parsed from text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port(pub u16);

impl FromStr for Port {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<u16>() {
            Ok(0) | Err(_) => Err("expected a port number from 1 to 65535".to_string()),
            Ok(port) => Ok(Port(port)),
        }
    }
}

impl Display for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_value_names_the_variable() {
        let env = Env::from_pairs([("PORT", "abc")]);
        let err = env.or("PORT", Port(8080)).unwrap_err();
        assert_eq!(err.var, "PORT");
        assert!(
            err.to_string().starts_with("PORT: invalid value \"abc\""),
            "{err}"
        );
    }

    #[test]
    fn missing_required_variable_is_named() {
        let env = Env::from_pairs([]);
        let err = env.required::<String>("TABLE_CORE").unwrap_err();
        assert_eq!(err.to_string(), "TABLE_CORE: is required but not set");
    }

    #[test]
    fn defaults_apply_when_unset_or_empty() {
        let env = Env::from_pairs([("PORT", " ")]);
        assert_eq!(env.or("PORT", Port(8080)), Ok(Port(8080)));
        assert_eq!(
            Env::from_pairs([("PORT", "9000")]).or("PORT", Port(1)),
            Ok(Port(9000))
        );
        assert!("0".parse::<Port>().is_err());
    }
}
