//! One contract suite per port. Each adapter crate runs the same cases against its adapter with
//! the `*_contract_tests!` macros, so the embedded and AWS adapters cannot drift apart.
//!
//! Cases isolate themselves with a unique key prefix, so they can share one backend.

pub mod queue;
pub mod secrets;
pub mod state_machines;
pub mod table_store;

/// A prefix unique to one test case, for keys and names.
pub fn unique_prefix(case: &str) -> String {
    use basics::IdGenerator;
    format!("{case}-{}", basics::RandomIds.random_token(10))
}
