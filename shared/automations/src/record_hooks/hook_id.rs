//! Our id of a webhook registration: the `{hook}` of the notification URL
//! `<public_url>/v1/hooks/airtable/{hook}`.
//!
//! It reads `<tenant>.<base>.<table>.<token>`: everything the ping handler needs to build the
//! registration's key (`TENANT#<tenant>`, `RECORDHOOK#<base>#<table>`) without a cross-tenant
//! index or a pointer item, plus a random token so a URL that once served a deleted webhook does
//! not reach a later registration of the same table. The id is no credential: pings are trusted
//! only once their MAC verifies with the registration's secret. It arrives from the Internet, so
//! it is parsed strictly: each part from a small alphabet, with bounded lengths.

use std::fmt;

use airtable::{BaseId, TableId};

/// The random part's length (alphanumerics: about 95 bits).
pub const TOKEN_LEN: usize = 16;
/// The longest tenant id accepted.
const MAX_TENANT_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HookId {
    tenant_id: String,
    base_id: String,
    table_id: String,
    token: String,
}

impl HookId {
    /// A new id for a registration of (tenant, base, table); `token` comes from the platform's
    /// id generator.
    pub fn new(
        tenant_id: &str,
        base_id: &str,
        table_id: &str,
        token: &str,
    ) -> Result<Self, String> {
        Self::parse(&format!("{tenant_id}.{base_id}.{table_id}.{token}"))
    }

    /// Parses an id from a URL path segment.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let invalid = || format!("{raw:?} is not a webhook id");
        let mut parts = raw.split('.');
        let (Some(tenant), Some(base), Some(table), Some(token), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(invalid());
        };
        let tenant_ok = !tenant.is_empty()
            && tenant.len() <= MAX_TENANT_LEN
            && tenant
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let token_ok = token.len() == TOKEN_LEN && token.bytes().all(|b| b.is_ascii_alphanumeric());
        if !tenant_ok || !token_ok || BaseId::parse(base).is_err() || TableId::parse(table).is_err()
        {
            return Err(invalid());
        }
        Ok(Self {
            tenant_id: tenant.to_string(),
            base_id: base.to_string(),
            table_id: table.to_string(),
            token: token.to_string(),
        })
    }

    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    pub fn base_id(&self) -> &str {
        &self.base_id
    }

    pub fn table_id(&self) -> &str {
        &self.table_id
    }
}

impl fmt::Display for HookId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}.{}",
            self.tenant_id, self.base_id, self.table_id, self.token
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "ten_abc123.appSandboxDemoCRM.tblContacts000000.AbCdEf0123456789";

    #[test]
    fn a_well_formed_id_round_trips() {
        let id = HookId::parse(GOOD).expect("parses");
        assert_eq!(id.tenant_id(), "ten_abc123");
        assert_eq!(id.base_id(), "appSandboxDemoCRM");
        assert_eq!(id.table_id(), "tblContacts000000");
        assert_eq!(id.to_string(), GOOD);
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "ten_abc123.appSandboxDemoCRM.tblContacts000000",
            &format!("{GOOD}.extra"),
            "ten/abc.appSandboxDemoCRM.tblContacts000000.AbCdEf0123456789",
            "ten_abc123.notabase.tblContacts000000.AbCdEf0123456789",
            "ten_abc123.appSandboxDemoCRM.Contacts.AbCdEf0123456789",
            "ten_abc123.appSandboxDemoCRM.tblContacts000000.short",
            "ten_abc123.appSandboxDemoCRM.tblContacts000000.AbCdEf012345678!",
            ".appSandboxDemoCRM.tblContacts000000.AbCdEf0123456789",
        ] {
            assert!(HookId::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let long_tenant = format!(
            "{}.appSandboxDemoCRM.tblContacts000000.AbCdEf0123456789",
            "t".repeat(65)
        );
        assert!(HookId::parse(&long_tenant).is_err());
    }
}
