//! Parsed Airtable ids and table references: the only things the client accepts as a path
//! segment.
//!
//! A URL path built from raw text can be steered: `url` drops a segment that is exactly `..`
//! or `.` (so `record_id: ".."` turned `/v0/meta/whoami/..` into `/v0/meta/whoami`), and strips
//! tabs and newlines (so `".\t."` became `..`). Every public method of the client therefore
//! takes these types, and each one's parser refuses whatever could not be sent as exactly one
//! segment. The gateway parses its route parameters and the tools their arguments with the same
//! types, so both refuse the same input.

use std::fmt;

/// Why an id or table reference was refused. The message names the rule, never more than the
/// first 40 characters of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidPath(pub String);

/// The longest id we accept: a three-letter prefix and up to 61 letters and digits. Airtable's
/// own are 17 characters; the slack lets odd but valid ids reach Airtable, which has the final
/// word.
pub const MAX_ID_LEN: usize = 64;

/// The longest table name we accept, in characters. Airtable's own names are far shorter; the
/// bound keeps cache keys and log lines small.
pub const MAX_TABLE_LEN: usize = 255;

/// Parses an Airtable id: its three-letter prefix, then 1 to 61 ASCII letters and digits.
fn parse_id(kind: &str, prefix: &str, raw: &str) -> Result<String, InvalidPath> {
    let valid = raw.len() > prefix.len()
        && raw.len() <= MAX_ID_LEN
        && raw.starts_with(prefix)
        && raw.bytes().all(|b| b.is_ascii_alphanumeric());
    if valid {
        Ok(raw.to_string())
    } else {
        Err(InvalidPath(format!(
            "{:?} is not a valid {kind} id (expected {prefix} followed by 1 to {} letters and digits)",
            shown(raw),
            MAX_ID_LEN - prefix.len()
        )))
    }
}

/// The start of a refused input, for messages.
fn shown(raw: &str) -> String {
    raw.chars().take(40).collect()
}

/// Defines an id type with its prefix, and the JSON Schema pattern that states the same rule.
macro_rules! airtable_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The prefix every such id starts with.
            pub const PREFIX: &'static str = $prefix;
            /// A JSON Schema `pattern` accepting exactly what [`Self::parse`] accepts.
            pub const PATTERN: &'static str = concat!("^", $prefix, "[A-Za-z0-9]{1,61}$");

            pub fn parse(raw: &str) -> Result<Self, InvalidPath> {
                parse_id($kind, $prefix, raw).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

airtable_id!(
    /// A base id, `app…`.
    BaseId, "base", "app"
);
airtable_id!(
    /// A table id, `tbl…` (the field endpoints of the meta API take only ids).
    TableId, "table", "tbl"
);
airtable_id!(
    /// A record id, `rec…`.
    RecordId, "record", "rec"
);
airtable_id!(
    /// A field id, `fld…`.
    FieldId, "field", "fld"
);
airtable_id!(
    /// A webhook id, `ach…`.
    WebhookId, "webhook", "ach"
);

/// A table as the caller named it: its id (`tbl…`) or its name, exactly as given.
///
/// Any name is sent as one percent-encoded segment, so `/`, `?`, `#`, `%` and spaces are fine.
/// Refused: a blank name, one longer than [`MAX_TABLE_LEN`] characters, control characters
/// (`url` silently drops tabs and newlines), and names that are exactly `.` or `..` (`url`
/// drops such a segment, so they cannot be addressed by path, on Airtable either).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableRef(String);

impl TableRef {
    /// A JSON Schema `pattern` for table references: no control characters and at least one
    /// character that is not whitespace (`.` and `..` are refused by [`Self::parse`] alone:
    /// the schema dialects models accept have no lookahead or `not`).
    pub const PATTERN: &'static str =
        "^[^\\x00-\\x1F\\x7F-\\x9F]*[^\\s\\x00-\\x1F\\x7F-\\x9F][^\\x00-\\x1F\\x7F-\\x9F]*$";

    pub fn parse(raw: &str) -> Result<Self, InvalidPath> {
        let length = raw.chars().count();
        if raw.trim().is_empty() || length > MAX_TABLE_LEN || raw.chars().any(char::is_control) {
            return Err(InvalidPath(format!(
                "a table must be named by its id or a name of 1 to {MAX_TABLE_LEN} characters without control characters"
            )));
        }
        if raw == "." || raw == ".." {
            return Err(InvalidPath(format!(
                "{raw:?} cannot name a table: it is not a path segment"
            )));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The table's id, when the caller named it by id.
    pub fn id(&self) -> Option<TableId> {
        TableId::parse(&self.0).ok()
    }
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for TableRef {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<TableId> for TableRef {
    fn from(id: TableId) -> Self {
        Self(id.0)
    }
}

impl From<TableRef> for String {
    fn from(table: TableRef) -> Self {
        table.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What every path-segment type must refuse: dot segments, separators, encoded separators
    /// (a `%` would reach Airtable as `%25`, but an id has no business holding one), the empty
    /// string, overlong input and control characters.
    const HOSTILE: [&str; 9] = [
        ".", "..", "/", "%2F", "", "a\tb", "a\nb", "a\u{0}b", "a\u{7f}b",
    ];

    fn refuses_hostile_ids<T: std::fmt::Debug>(
        prefix: &str,
        parse: fn(&str) -> Result<T, InvalidPath>,
    ) {
        for raw in HOSTILE {
            assert!(parse(raw).is_err(), "{raw:?}");
            let prefixed = format!("{prefix}{raw}");
            assert!(parse(&prefixed).is_err(), "{prefixed:?}");
        }
        for raw in ["..", "/x", "%2F", "%2e%2e", "\t", "\u{85}", " "] {
            let inside = format!("{prefix}A0{raw}");
            assert!(parse(&inside).is_err(), "{inside:?}");
        }
        let longest = format!("{prefix}{}", "A".repeat(MAX_ID_LEN - prefix.len()));
        assert!(parse(&longest).is_ok());
        let too_long = format!("{prefix}{}", "A".repeat(MAX_ID_LEN - prefix.len() + 1));
        let err = parse(&too_long).expect_err("too long");
        assert!(err.0.len() < 200, "messages stay short: {err}");
        assert!(parse(prefix).is_err(), "the prefix alone");
        assert!(
            parse(&format!("{prefix}0")).is_ok(),
            "one character after the prefix"
        );
        assert!(parse(&format!("{prefix}Sandbox0123456")).is_ok());
    }

    #[test]
    fn base_ids() {
        refuses_hostile_ids("app", BaseId::parse);
        assert!(BaseId::parse("tblSandboxDemoCRM").is_err());
        assert!(BaseId::parse("meta").is_err());
        assert!(BaseId::parse("app../../x").is_err());
    }

    #[test]
    fn table_ids() {
        refuses_hostile_ids("tbl", TableId::parse);
        assert!(TableId::parse("appSandboxDemoCRM").is_err());
    }

    #[test]
    fn record_ids() {
        refuses_hostile_ids("rec", RecordId::parse);
        assert!(RecordId::parse("rec 1").is_err());
    }

    #[test]
    fn field_ids() {
        refuses_hostile_ids("fld", FieldId::parse);
        assert!(FieldId::parse("fldAbc").is_ok());
    }

    #[test]
    fn webhook_ids() {
        refuses_hostile_ids("ach", WebhookId::parse);
        assert!(WebhookId::parse("achW0000000000001").is_ok());
    }

    #[test]
    fn table_refs() {
        for raw in [
            ".", "..", "", "  ", "a\tb", "a\nb", "a\rb", "\u{0}", "a\u{7f}", "\u{85}x",
        ] {
            assert!(TableRef::parse(raw).is_err(), "{raw:?}");
        }
        assert!(TableRef::parse(&"x".repeat(MAX_TABLE_LEN + 1)).is_err());
        assert!(
            TableRef::parse(&"é".repeat(MAX_TABLE_LEN)).is_ok(),
            "characters, not bytes"
        );
        // Anything else is one segment once encoded, so it is a name like any other.
        for raw in [
            "Deals & Leads / 2026",
            "/",
            "%2F",
            "%2e%2e",
            "...",
            " .. ",
            "a?b#c",
            "tblSandboxDemoCRM",
        ] {
            assert_eq!(
                TableRef::parse(raw).map(|t| t.to_string()),
                Ok(raw.to_string())
            );
        }
        assert_eq!(
            TableRef::parse("tblContacts000000")
                .ok()
                .and_then(|t| t.id()),
            TableId::parse("tblContacts000000").ok()
        );
        assert_eq!(TableRef::parse("Contacts").ok().and_then(|t| t.id()), None);
    }
}
