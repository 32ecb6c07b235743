//! Our webhook signature, for inbound workflow hooks and outbound `http` steps alike:
//! `X-PyAirtable-Timestamp: <unix seconds>` and
//! `X-PyAirtable-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
//!
//! Signing the timestamp with the body and refusing timestamps more than [`MAX_SKEW_SECONDS`]
//! away from now stops a captured request from being replayed later (Stripe's and Slack's
//! scheme).

use crate::digest::{constant_time_eq, hmac_sha256_hex};

pub const SIGNATURE_HEADER: &str = "X-PyAirtable-Signature";
pub const TIMESTAMP_HEADER: &str = "X-PyAirtable-Timestamp";
/// How far a signed timestamp may be from now, either way.
pub const MAX_SKEW_SECONDS: i64 = 5 * 60;

/// The `X-PyAirtable-Signature` value for a body sent at `timestamp` (unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut message = format!("{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    format!("sha256={}", hmac_sha256_hex(secret.as_bytes(), &message))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-PyAirtable-Signature or X-PyAirtable-Timestamp header is missing")]
    Missing,
    #[error("X-PyAirtable-Timestamp is not a unix time in seconds")]
    BadTimestamp,
    #[error("X-PyAirtable-Timestamp is more than 5 minutes from now")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
}

/// Checks a request's signature headers against the secret, at `now` (unix seconds).
pub fn verify(
    secret: &str,
    signature: Option<&str>,
    timestamp: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let (Some(signature), Some(timestamp)) = (signature, timestamp) else {
        return Err(SignatureError::Missing);
    };
    let timestamp: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    // `abs_diff`: a timestamp of i64::MIN must not overflow a subtraction.
    if now.abs_diff(timestamp) > MAX_SKEW_SECONDS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    if constant_time_eq(signature.trim(), &sign(secret, timestamp, body)) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_780_000_000;

    #[test]
    fn a_signed_body_verifies_and_any_change_does_not() {
        let sig = sign("s3cret", NOW, b"{\"a\":1}");
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        let ts = NOW.to_string();
        assert_eq!(
            verify("s3cret", Some(&sig), Some(&ts), b"{\"a\":1}", NOW),
            Ok(())
        );
        assert_eq!(
            verify("s3cret", Some(&sig), Some(&ts), b"{\"a\":2}", NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("other", Some(&sig), Some(&ts), b"{\"a\":1}", NOW),
            Err(SignatureError::Mismatch)
        );
        let later = (NOW + 1).to_string();
        assert_eq!(
            verify("s3cret", Some(&sig), Some(&later), b"{\"a\":1}", NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn timestamps_outside_five_minutes_and_missing_headers_are_refused() {
        let old = NOW - MAX_SKEW_SECONDS - 1;
        let sig = sign("k", old, b"x");
        assert_eq!(
            verify("k", Some(&sig), Some(&old.to_string()), b"x", NOW),
            Err(SignatureError::Stale)
        );
        let edge = NOW - MAX_SKEW_SECONDS;
        let sig = sign("k", edge, b"x");
        assert_eq!(
            verify("k", Some(&sig), Some(&edge.to_string()), b"x", NOW),
            Ok(())
        );
        assert_eq!(
            verify("k", None, Some("1"), b"x", NOW),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify("k", Some(&sig), Some("soon"), b"x", NOW),
            Err(SignatureError::BadTimestamp)
        );
    }
}
