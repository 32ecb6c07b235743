//! The platform's logs, captured in memory at debug level, so a test can show that no secret
//! ever reaches a log line. The platform runs in the test's process, where a tracing subscriber
//! is global: so there is one capture per test binary, and an app reads what was logged since
//! it started (which may include lines of apps running beside it; for "never logged" checks
//! that only makes them stricter).

use std::io::Write;
use std::sync::{Mutex, OnceLock};

static CAPTURED: Mutex<String> = Mutex::new(String::new());
static INSTALLED: OnceLock<bool> = OnceLock::new();

/// Installs the capturing subscriber once per process; false when another subscriber was set
/// first (then nothing is captured, and [`since`] says so by returning nothing).
pub(crate) fn install() -> bool {
    *INSTALLED.get_or_init(|| {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_ansi(false)
            .with_writer(|| Capture)
            .try_init()
            .is_ok()
    })
}

/// Where captured text begins for an app started now.
pub(crate) fn mark() -> usize {
    lock().len()
}

/// Everything captured from `mark` on.
pub(crate) fn since(mark: usize) -> String {
    lock().get(mark..).unwrap_or_default().to_string()
}

fn lock() -> std::sync::MutexGuard<'static, String> {
    CAPTURED.lock().unwrap_or_else(|p| p.into_inner())
}

/// Appends each formatted event to [`CAPTURED`].
struct Capture;

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        lock().push_str(&String::from_utf8_lossy(bytes));
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
