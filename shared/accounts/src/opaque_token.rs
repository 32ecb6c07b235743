//! Opaque bearer secrets (API keys and refresh tokens) that carry the ids needed to find their
//! stored hash in one read, inside the right tenant's partition:
//!
//! `<kind>_<id>_<tenant>_<secret>`, e.g. `pak_7Hq…_x9Z…_Qm3…` where `id` and `tenant` are the
//! random parts of `key_…`/`rtk_…` and `ten_…` ids, and `secret` is 32 random alphanumerics
//! (190 bits). Only SHA-256 of the whole string is stored: the secret has enough entropy that a
//! slow hash adds nothing, and lookup stays one GetItem.

use basics::IdGenerator;
use secrecy::{ExposeSecret, SecretString};

/// Characters of randomness in the secret part.
pub const SECRET_CHARS: usize = 32;

/// The kinds of opaque token, each with its recognisable prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// An API key: `pak_…` (platform API key).
    ApiKey,
    /// A refresh token: `prt_…`.
    Refresh,
}

impl TokenKind {
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::ApiKey => "pak",
            TokenKind::Refresh => "prt",
        }
    }

    /// The prefix of the ids this kind of token names (`key_…`, `rtk_…`).
    pub fn id_prefix(self) -> &'static str {
        match self {
            TokenKind::ApiKey => "key",
            TokenKind::Refresh => "rtk",
        }
    }
}

/// A parsed opaque token: which item it names, and the whole token's hash to compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpaqueToken {
    pub kind: TokenKind,
    /// The full id, e.g. `key_7Hq…`.
    pub id: String,
    /// The full tenant id, e.g. `ten_x9Z…`.
    pub tenant_id: String,
    /// SHA-256 hex of the whole presented token.
    pub hash: String,
}

impl OpaqueToken {
    /// Makes a new token for `tenant_id`; returns the token (to show once) and its parsed form.
    pub fn issue(
        kind: TokenKind,
        tenant_id: &str,
        ids: &dyn IdGenerator,
    ) -> (SecretString, OpaqueToken) {
        let id = ids.new_id(kind.id_prefix());
        let token = format!(
            "{}_{}_{}_{}",
            kind.prefix(),
            random_part(&id),
            random_part(tenant_id),
            ids.random_token(SECRET_CHARS)
        );
        let hash = basics::digest::sha256_hex(&token);
        let parsed = OpaqueToken {
            kind,
            id,
            tenant_id: tenant_id.to_string(),
            hash,
        };
        (SecretString::from(token), parsed)
    }

    /// Parses a presented token of the given kind; `None` when it cannot be one.
    pub fn parse(kind: TokenKind, presented: &SecretString) -> Option<OpaqueToken> {
        let raw = presented.expose_secret();
        let mut parts = raw.split('_');
        let (Some(prefix), Some(id), Some(tenant), Some(secret), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let alnum = |s: &str| {
            !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric())
        };
        if prefix != kind.prefix()
            || !alnum(id)
            || !alnum(tenant)
            || secret.len() != SECRET_CHARS
            || !alnum(secret)
        {
            return None;
        }
        Some(OpaqueToken {
            kind,
            id: format!("{}_{id}", kind.id_prefix()),
            tenant_id: format!("ten_{tenant}"),
            hash: basics::digest::sha256_hex(raw),
        })
    }
}

/// The part of an id after its `prefix_`.
fn random_part(id: &str) -> &str {
    id.split_once('_').map_or(id, |(_, rest)| rest)
}

/// What a listing shows of an API key: its kind prefix and the first characters of its id.
pub fn display_prefix(kind: TokenKind, id: &str) -> String {
    let random = random_part(id);
    let shown: String = random.chars().take(8).collect();
    format!("{}_{shown}", kind.prefix())
}

#[cfg(test)]
mod tests {
    use basics::RandomIds;

    use super::*;

    #[test]
    fn issued_tokens_parse_back_to_their_ids() {
        let (token, issued) = OpaqueToken::issue(TokenKind::ApiKey, "ten_abcDEF123", &RandomIds);
        assert!(token.expose_secret().starts_with("pak_"));
        let parsed = OpaqueToken::parse(TokenKind::ApiKey, &token).expect("parses");
        assert_eq!(parsed, issued);
        assert_eq!(parsed.tenant_id, "ten_abcDEF123");
        assert!(parsed.id.starts_with("key_"));
        assert_eq!(display_prefix(TokenKind::ApiKey, &parsed.id).len(), 12);
    }

    #[test]
    fn the_wrong_kind_or_shape_does_not_parse() {
        let (token, _) = OpaqueToken::issue(TokenKind::Refresh, "ten_abc", &RandomIds);
        assert!(OpaqueToken::parse(TokenKind::ApiKey, &token).is_none());
        for bad in [
            "",
            "pak",
            "pak_a_b",
            "pak_a_b_short",
            "pak_a_b_cccccccccccccccccccccccccccccccc_extra",
            "pak_a-b_c_cccccccccccccccccccccccccccccccc",
            "eyJhbGciOiJIUzI1NiJ9.e30.x",
        ] {
            let presented = SecretString::from(bad.to_string());
            assert!(
                OpaqueToken::parse(TokenKind::ApiKey, &presented).is_none(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_changed_tenant_changes_the_hash() {
        let (token, issued) = OpaqueToken::issue(TokenKind::ApiKey, "ten_aaaa", &RandomIds);
        let forged = token.expose_secret().replace("_aaaa_", "_bbbb_");
        let parsed = OpaqueToken::parse(TokenKind::ApiKey, &SecretString::from(forged))
            .expect("still well-formed");
        assert_eq!(parsed.tenant_id, "ten_bbbb");
        assert_ne!(parsed.hash, issued.hash);
    }
}
