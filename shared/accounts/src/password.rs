//! Passwords: the policy (`NewPassword`) and hashing with argon2id.
//!
//! Parameters: argon2id, m = 19 MiB, t = 2, p = 1, the first of OWASP's recommended
//! configurations. One verification takes 13.5 ms (p50) on the 2-core development machine
//! (`cargo bench -p accounts --bench auth_latency`); a 1,024 MB Lambda gets about 0.6 of a vCPU,
//! so expect roughly twice that there: well inside API Gateway's timeout, while an offline
//! attacker pays 19 MiB and two passes per guess.
//! Stored hashes are PHC strings that carry their own parameters, so raising them later only
//! needs new hashes, and `needs_rehash` says when a stored one is weaker than today's.

use std::sync::OnceLock;

use tokio::sync::Semaphore;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Memory cost in KiB (19 MiB).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Passes over memory.
pub const ITERATIONS: u32 = 2;
/// Lanes.
pub const PARALLELISM: u32 = 1;

/// A password that meets the policy: 8 to 256 characters of any Unicode, counted as characters
/// (not bytes) so that non-Latin passwords get the same room. It is NFKC-normalised before
/// hashing, so the same password typed on two keyboards (composed or decomposed accents) matches.
#[derive(Debug, Clone)]
pub struct NewPassword(SecretString);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidPassword(pub String);

/// The most raw input looked at (bytes), before normalising can expand it.
const MAX_RAW_BYTES: usize = 4 * 4 * MAX_PASSWORD_CHARS;

impl NewPassword {
    /// Checks the policy on the normalised form, so a password typed composed (NFC) or
    /// decomposed (NFD, as macOS produces) passes or fails the same way.
    pub fn parse(raw: &str) -> Result<Self, InvalidPassword> {
        let too_long = || {
            InvalidPassword(format!(
                "password must be at most {MAX_PASSWORD_CHARS} characters"
            ))
        };
        if raw.len() > MAX_RAW_BYTES {
            return Err(too_long());
        }
        let chars = raw.nfkc().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(InvalidPassword(format!(
                "password must be at least {MIN_PASSWORD_CHARS} characters"
            )));
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(too_long());
        }
        if raw.trim().is_empty() {
            return Err(InvalidPassword(
                "password cannot be only whitespace".to_string(),
            ));
        }
        Ok(Self(SecretString::from(raw.to_string())))
    }

    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}

/// The form that is hashed: NFKC of what was typed. Login applies it too, so a password over
/// the limits simply never matches instead of costing a hash of megabytes.
fn normalised(password: &SecretString) -> Option<SecretString> {
    let raw = password.expose_secret();
    if raw.len() > MAX_RAW_BYTES {
        return None;
    }
    let normal: String = raw.nfkc().collect();
    if normal.chars().count() > MAX_PASSWORD_CHARS {
        return None;
    }
    Some(SecretString::from(normal))
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .unwrap_or_else(|_| Params::default());
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// At most this many hashes run at once in a process. Each takes 19 MiB, so a flood of logins
/// against a long-running server (the dev server) queues instead of exhausting memory; a Lambda
/// instance serves one request at a time and never waits here.
fn hashing_permits() -> &'static Semaphore {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Semaphore::new((cores * 2).clamp(2, 16))
    })
}

/// Runs one hash computation on a blocking thread, within the process-wide permit count.
async fn run_hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, HashError> {
    let _permit = hashing_permits()
        .acquire()
        .await
        .map_err(|err| HashError(err.to_string()))?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| HashError(err.to_string()))
}

/// Hashes a password that met the policy; runs on a blocking thread because it takes tens of
/// milliseconds of CPU.
pub async fn hash_password(password: &NewPassword) -> Result<String, HashError> {
    let Some(normalised) = normalised(password.secret()) else {
        return Err(HashError("password too long".into()));
    };
    run_hashing(move || {
        argon2()
            .hash_password(normalised.expose_secret().as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|err| HashError(err.to_string()))
    })
    .await?
}

/// Checks a password against a stored PHC hash. With no stored hash (unknown email) it checks
/// against a fixed dummy hash, so that an unknown email costs the same time as a wrong password.
pub async fn verify_password(password: &SecretString, stored_hash: Option<&str>) -> bool {
    let stored = match stored_hash {
        Some(hash) => hash.to_string(),
        None => dummy_hash().to_string(),
    };
    let known_account = stored_hash.is_some();
    let candidate = normalised(password);
    run_hashing(move || {
        let Ok(parsed) = PasswordHash::new(&stored) else {
            tracing::error!("a stored password hash does not parse");
            return false;
        };
        // An over-long password still pays for one verification, against the dummy.
        let bytes = candidate
            .as_ref()
            .map(|c| c.expose_secret().as_bytes().to_vec())
            .unwrap_or_default();
        let matched = argon2().verify_password(&bytes, &parsed).is_ok();
        matched && known_account && candidate.is_some()
    })
    .await
    .unwrap_or(false)
}

/// True when a stored hash was made with weaker parameters than today's.
pub fn needs_rehash(stored_hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored_hash) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm.as_str() != "argon2id"
        || params.m_cost() < MEMORY_KIB
        || params.t_cost() < ITERATIONS
}

/// A hash of a random password with today's parameters, made once per process.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        argon2()
            .hash_password(b"not a password anyone has: timing equaliser")
            .map(|hash| hash.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_counts_characters_not_bytes() {
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse("        ").is_err());
        assert!(NewPassword::parse("correct horse").is_ok());
        // Eight characters, 24 bytes.
        assert!(NewPassword::parse("密码密码密码密码").is_ok());
        assert!(NewPassword::parse(&"x".repeat(256)).is_ok());
        assert!(NewPassword::parse(&"x".repeat(257)).is_err());
        assert!(NewPassword::parse(&"é".repeat(256)).is_ok());
    }

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let password = NewPassword::parse("correct horse battery").expect("valid");
        let hash = hash_password(&password).await.expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(!needs_rehash(&hash));
        assert!(verify_password(password.secret(), Some(&hash)).await);
        let wrong = SecretString::from("correct horse battery!".to_string());
        assert!(!verify_password(&wrong, Some(&hash)).await);
        // No stored hash never verifies, not even the dummy's own password.
        let dummy = SecretString::from("not a password anyone has: timing equaliser".to_string());
        assert!(!verify_password(&dummy, None).await);
    }

    #[tokio::test]
    async fn long_passwords_match_in_either_normal_form() {
        // 256 characters composed; 512 code points decomposed.
        let composed = NewPassword::parse(&"é".repeat(256)).expect("valid");
        let decomposed = "e\u{301}".repeat(256);
        assert!(NewPassword::parse(&decomposed).is_ok());
        let hash = hash_password(&composed).await.expect("hash");
        assert!(verify_password(&SecretString::from(decomposed), Some(&hash)).await);
        // 15 characters that NFKC expands to 270: over the limit either way.
        assert!(NewPassword::parse(&"\u{FDFA}".repeat(15)).is_err());
    }

    #[tokio::test]
    async fn composed_and_decomposed_accents_match() {
        let composed = NewPassword::parse("café au lait").expect("valid");
        let hash = hash_password(&composed).await.expect("hash");
        let decomposed = SecretString::from("cafe\u{301} au lait".to_string());
        assert!(verify_password(&decomposed, Some(&hash)).await);
    }

    #[test]
    fn weaker_hashes_need_rehash() {
        assert!(needs_rehash(
            "$argon2id$v=19$m=4096,t=1,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"
        ));
        assert!(needs_rehash("garbage"));
    }
}
