//! Id generation behind a trait: random in production, predictable in tests.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Makes identifiers such as `ten_…`, `key_…`, `run_…`.
pub trait IdGenerator: Send + Sync + std::fmt::Debug {
    /// A new unique id: `prefix` followed by an underscore and 20 random alphanumerics (119 bits).
    fn new_id(&self, prefix: &str) -> String;

    /// `n` bytes of randomness encoded as alphanumerics, for secrets such as API keys.
    fn random_token(&self, len: usize) -> String;
}

/// Cryptographically random ids (the thread-local RNG is a CSPRNG).
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn new_id(&self, prefix: &str) -> String {
        format!("{prefix}_{}", self.random_token(20))
    }

    fn random_token(&self, len: usize) -> String {
        let mut rng = rand::rng();
        (0..len)
            .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
            .collect()
    }
}

/// `prefix_000001`, `prefix_000002`, …: for tests that assert on ids.
#[derive(Debug, Default)]
pub struct SequentialIds {
    next: AtomicU64,
}

impl IdGenerator for SequentialIds {
    fn new_id(&self, prefix: &str) -> String {
        let n = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        format!("{prefix}_{n:06}")
    }

    fn random_token(&self, len: usize) -> String {
        let n = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        format!("{n:0>len$}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_have_prefix_and_do_not_repeat() {
        let ids = RandomIds;
        let a = ids.new_id("ten");
        let b = ids.new_id("ten");
        assert!(a.starts_with("ten_") && a.len() == 24, "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn sequential_ids_count_up() {
        let ids = SequentialIds::default();
        assert_eq!(ids.new_id("run"), "run_000001");
        assert_eq!(ids.new_id("run"), "run_000002");
    }
}
