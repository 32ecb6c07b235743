//! The layering DESIGN.md promises, checked on the dependency graph cargo resolves:
//! - the ground floor, the ports and the domain crates know nothing of HTTP frameworks or of
//!   Lambda, so a queue consumer or a saga step can use them without dragging axum along;
//! - the domain crates know no AWS SDK (adapters do);
//! - no Lambda function compiles SQLite (the embedded adapters are the dev server's).
//!
//! `cargo tree -p X` resolves features for X alone, as `cargo build -p X` would, which is what a
//! function's own build (`cargo lambda build -p X`) links.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every package `package` depends on through normal (non-dev, non-build) edges, itself included.
fn normal_dependencies(package: &str) -> BTreeSet<String> {
    let output = Command::new(env!("CARGO"))
        .current_dir(workspace_root())
        .args([
            "tree", "--locked", "-e", "normal", "--prefix", "none", "-f", "{p}", "-p",
        ])
        .arg(package)
        .output()
        .expect("run cargo tree");
    assert!(
        output.status.success(),
        "cargo tree -p {package} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// The function crates under `functions/`.
fn functions() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace_root().join("functions"))
        .expect("read functions/")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .map(|entry| entry.file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

const DOMAIN_AND_BELOW: &[&str] = &[
    "basics",
    "ports",
    "platform",
    "accounts",
    "airtable",
    "gateway",
    "connections",
    "metering",
    "tools",
    "llm",
    "chat",
    "mcp",
    "automations",
    "outbound-http",
    "triggers",
    "asl",
    "sagas",
];

fn offenders(package: &str, forbidden: &[&str]) -> Vec<String> {
    normal_dependencies(package)
        .into_iter()
        .filter(|dep| forbidden.contains(&dep.as_str()))
        .collect()
}

#[test]
fn the_domain_knows_no_web_framework_and_no_lambda() {
    for package in DOMAIN_AND_BELOW {
        let found = offenders(
            package,
            &["axum", "axum-core", "lambda_http", "lambda_runtime"],
        );
        assert!(found.is_empty(), "{package} depends on {found:?}");
    }
}

#[test]
fn the_domain_knows_no_aws_sdk() {
    for package in DOMAIN_AND_BELOW {
        let found: Vec<String> = normal_dependencies(package)
            .into_iter()
            .filter(|dep| dep.starts_with("aws-sdk-") || dep == "aws-config")
            .collect();
        assert!(found.is_empty(), "{package} depends on {found:?}");
    }
}

#[test]
fn no_lambda_function_compiles_sqlite() {
    let functions = functions();
    assert!(functions.len() >= 7, "found only {functions:?}");
    for function in functions {
        let found = offenders(&function, &["rusqlite", "libsqlite3-sys", "embedded"]);
        assert!(found.is_empty(), "{function} depends on {found:?}");
    }
}

/// The check itself can fail: the dev server does compile SQLite.
#[test]
fn the_check_sees_sqlite_where_it_is() {
    assert!(normal_dependencies("devserver").contains("rusqlite"));
}
