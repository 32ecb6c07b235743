//! Logging with `tracing`: JSON lines inside Lambda (CloudWatch parses them), readable lines
//! locally. The HTTP layer opens a `request` span carrying the request id, and both formats print
//! the current span's fields, so every line written while serving a request names it.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

impl LogFormat {
    /// JSON when running inside Lambda (`AWS_LAMBDA_FUNCTION_NAME` is set), or when
    /// `LOG_FORMAT=json`; readable otherwise.
    pub fn detect() -> Self {
        let forced = std::env::var("LOG_FORMAT").unwrap_or_default();
        if forced.eq_ignore_ascii_case("json") {
            return LogFormat::Json;
        }
        if forced.eq_ignore_ascii_case("pretty") {
            return LogFormat::Pretty;
        }
        if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() {
            LogFormat::Json
        } else {
            LogFormat::Pretty
        }
    }
}

/// Installs the global subscriber once; later calls are ignored (tests may call it many times).
/// The level comes from `RUST_LOG` (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let result = match LogFormat::detect() {
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .without_time()
            .with_target(false)
            .try_init(),
        // Locally, logs go to stderr so that stdout carries only what a program prints for its
        // user (the dev server's banner).
        LogFormat::Pretty => tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(filter)
            .with_span_events(FmtSpan::NONE)
            .with_target(false)
            .compact()
            .try_init(),
    };
    // An already-installed subscriber is fine: the first one wins.
    drop(result);
}
