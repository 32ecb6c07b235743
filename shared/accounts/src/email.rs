//! `Email`: an address parsed once at the edge, so everything after compares normalised forms.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// The longest address SMTP can carry (RFC 5321: 254 octets in a path).
const MAX_LEN: usize = 254;
/// The most raw input looked at: room for surrounding spaces and composed characters.
const MAX_RAW_LEN: usize = 4 * MAX_LEN;
/// The longest local part RFC 5321 allows.
const MAX_LOCAL_LEN: usize = 64;

/// A normalised email address: trimmed, NFKC-normalised and lowercased. Lowercasing the local
/// part is stricter than RFC 5321 allows in theory, but every mail provider users meet treats
/// it case-insensitively, and two accounts differing only in case would be a support trap.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidEmail(pub String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        // Before normalising: NFKC can expand a character eighteenfold, so an unchecked
        // megabyte of input would cost a great deal of CPU and memory for nothing.
        if raw.len() > MAX_RAW_LEN {
            return Err(InvalidEmail(format!(
                "email is longer than {MAX_LEN} characters"
            )));
        }
        let normalised: String = raw.trim().nfkc().collect::<String>().to_lowercase();
        if normalised.is_empty() {
            return Err(InvalidEmail("email is required".into()));
        }
        if normalised.len() > MAX_LEN {
            return Err(InvalidEmail(format!(
                "email is longer than {MAX_LEN} characters"
            )));
        }
        if normalised
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
        {
            return Err(InvalidEmail(
                "email contains spaces or characters an address cannot hold".into(),
            ));
        }
        let Some((local, domain)) = normalised.rsplit_once('@') else {
            return Err(InvalidEmail("email needs an @".into()));
        };
        let domain_ok = !domain.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || local.len() > MAX_LOCAL_LEN || local.contains('@') || !domain_ok {
            return Err(InvalidEmail(format!(
                "{normalised:?} is not an email address"
            )));
        }
        Ok(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_space_and_compatibility_forms() {
        let email = Email::parse("  Ada.Lovelace@Example.COM ").expect("valid");
        assert_eq!(email.as_str(), "ada.lovelace@example.com");
        // Fullwidth letters fold to ASCII under NFKC, so they cannot shadow an account.
        let fullwidth = Email::parse("ａｄａ@example.com").expect("valid");
        assert_eq!(fullwidth.as_str(), "ada@example.com");
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in [
            "",
            "   ",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@.example.com",
            "ada@example..com",
            "a da@example.com",
            "ada@@example.com",
            "<ada@example.com>",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} must be refused");
        }
        let long = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&long).is_err());
        // Refused before normalisation would expand it (U+FDFA becomes 18 characters).
        let expanding = format!("{}@example.com", "\u{FDFA}".repeat(100_000));
        assert!(Email::parse(&expanding).is_err());
    }
}
