//! Compiles the contract suites against moto only when `MOTO_ENDPOINT` is set.
//!
//! The suites come from `ports`' `*_contract_tests!` macros, which generate one `#[tokio::test]`
//! per case; a case cannot skip itself at run time. So the cases exist when there is a moto to
//! run them against (`cfg(moto)`), and otherwise one test says so, and fails when
//! `REQUIRE_MOTO=1` (see `src/moto.rs`).

fn main() {
    println!("cargo::rustc-check-cfg=cfg(moto)");
    println!("cargo::rerun-if-env-changed=MOTO_ENDPOINT");
    println!("cargo::rerun-if-changed=build.rs");
    if std::env::var("MOTO_ENDPOINT").is_ok_and(|v| !v.trim().is_empty()) {
        println!("cargo::rustc-cfg=moto");
    }
}
