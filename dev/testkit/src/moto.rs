//! Finding moto for the runs on the AWS adapters, and names no other run uses.

use std::sync::atomic::{AtomicU32, Ordering};

/// Where `./scripts/test` runs moto (`MOTO_ENDPOINT`), for the runs on the AWS adapters; `None`
/// (the caller skips, saying `what` it skips) when it is not set, and a failure instead when
/// `REQUIRE_MOTO=1`, so CI can never skip them silently.
///
/// The platform runs in this process, so the AWS SDK reads its credentials and region from
/// this process's environment: `./scripts/test` exports test ones; a run by hand must too.
pub fn moto_endpoint(what: &str) -> Option<String> {
    match std::env::var("MOTO_ENDPOINT") {
        Ok(url) if !url.trim().is_empty() => {
            for variable in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"] {
                assert!(
                    std::env::var_os(variable).is_some(),
                    "MOTO_ENDPOINT is set but {variable} is not: export \
                     AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 \
                     (as ./scripts/test does)"
                );
            }
            Some(url.trim().to_string())
        }
        _ => {
            assert!(
                std::env::var("REQUIRE_MOTO").as_deref() != Ok("1"),
                "REQUIRE_MOTO=1 but MOTO_ENDPOINT is not set"
            );
            eprintln!("MOTO_ENDPOINT is not set: skipping {what}");
            None
        }
    }
}

/// `<label>-<pid><ms>-<n>`: one moto serves every test binary of a run (and may outlive it),
/// so names differ between processes, and between the apps of one process.
pub(crate) fn unique_label(label: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() % 1_000_000);
    format!("{label}-{}{millis}-{n}", std::process::id())
}
