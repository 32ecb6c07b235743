//! [`ApiPath`]: a path under `/v0/` made only of fixed words and parsed ids.
//!
//! The constructors are the Airtable endpoints the platform calls; there is no way to build a
//! path from raw text, so the typed client and the gateway's forwarding alike can only reach
//! the endpoint their caller's ids name.

use std::borrow::Cow;
use std::fmt;

use reqwest::Method;
use serde::{Serialize, Serializer};

use crate::ids::{BaseId, FieldId, RecordId, TableRef, WebhookId};

/// The path after `/v0/`, one element per segment, not yet percent-encoded, and what kind of
/// resource it names (known from the constructor, so it never has to be guessed from text).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiPath {
    segments: Vec<Cow<'static, str>>,
    resource: Resource,
}

/// The kind of resource a path names, with the ids that matter to whoever caches its reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Resource {
    /// Token-wide: who the token is, its bases.
    Token,
    /// A table's records, or one of them.
    Records { base: BaseId, table: TableRef },
    /// `listRecords`: a POST that only reads.
    RecordsQuery,
    /// A base's schema: its tables, or a table's fields.
    Schema { base: BaseId },
    /// A base's webhooks (not cached anywhere; changing them changes no data).
    Webhooks,
}

/// What a call may have changed at Airtable, in the terms of the reads it makes stale.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Change {
    /// Records of one table, as the caller named it (id or name).
    Records { base: BaseId, table: TableRef },
    /// A base's schema (a table or a field created or changed), and so every record's shape.
    Schema { base: BaseId },
}

impl Change {
    /// The base the change happened in.
    pub fn base(&self) -> &BaseId {
        match self {
            Change::Records { base, .. } | Change::Schema { base } => base,
        }
    }
}

impl ApiPath {
    fn of(segments: Vec<Cow<'static, str>>, resource: Resource) -> Self {
        Self { segments, resource }
    }

    fn then(mut self, segment: impl Into<Cow<'static, str>>) -> Self {
        self.segments.push(segment.into());
        self
    }

    fn naming(mut self, resource: Resource) -> Self {
        self.resource = resource;
        self
    }

    /// `meta/whoami`.
    pub fn whoami() -> Self {
        Self::of(vec!["meta".into(), "whoami".into()], Resource::Token)
    }

    /// `meta/bases`.
    pub fn bases() -> Self {
        Self::of(vec!["meta".into(), "bases".into()], Resource::Token)
    }

    /// `meta/bases/{baseId}/tables`.
    pub fn base_tables(base: &BaseId) -> Self {
        Self::bases()
            .then(base.as_str().to_string())
            .then("tables")
            .naming(Resource::Schema { base: base.clone() })
    }

    /// `meta/bases/{baseId}/tables/{tableIdOrName}`.
    pub fn table_schema(base: &BaseId, table: &TableRef) -> Self {
        Self::base_tables(base).then(table.as_str().to_string())
    }

    /// `meta/bases/{baseId}/tables/{table}/fields`.
    pub fn fields(base: &BaseId, table: &TableRef) -> Self {
        Self::table_schema(base, table).then("fields")
    }

    /// `meta/bases/{baseId}/tables/{table}/fields/{fieldId}`.
    pub fn field(base: &BaseId, table: &TableRef, field: &FieldId) -> Self {
        Self::fields(base, table).then(field.as_str().to_string())
    }

    /// `{baseId}/{table}`: list (GET), create (POST), update many (PATCH/PUT), delete many.
    pub fn records(base: &BaseId, table: &TableRef) -> Self {
        Self::of(
            vec![
                base.as_str().to_string().into(),
                table.as_str().to_string().into(),
            ],
            Resource::Records {
                base: base.clone(),
                table: table.clone(),
            },
        )
    }

    /// `{baseId}/{table}/listRecords`.
    pub fn list_records(base: &BaseId, table: &TableRef) -> Self {
        Self::records(base, table)
            .then("listRecords")
            .naming(Resource::RecordsQuery)
    }

    /// `{baseId}/{table}/{recordId}`.
    pub fn record(base: &BaseId, table: &TableRef, record: &RecordId) -> Self {
        Self::records(base, table).then(record.as_str().to_string())
    }

    /// `bases/{baseId}/webhooks`.
    pub fn webhooks(base: &BaseId) -> Self {
        Self::of(
            vec![
                "bases".into(),
                base.as_str().to_string().into(),
                "webhooks".into(),
            ],
            Resource::Webhooks,
        )
    }

    /// `bases/{baseId}/webhooks/{webhookId}`, then `action` when given (`refresh`, `payloads`,
    /// `enableNotifications`).
    pub fn webhook(base: &BaseId, webhook: &WebhookId, action: Option<WebhookAction>) -> Self {
        let path = Self::webhooks(base).then(webhook.as_str().to_string());
        match action {
            Some(action) => path.then(action.segment()),
            None => path,
        }
    }

    /// The segments, in order.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().map(|s| s.as_ref())
    }

    /// What a call with `method` on this path may change: `None` for reads (a `GET`, a
    /// `listRecords` POST) and for calls that change no data (webhooks).
    pub fn change(&self, method: &Method) -> Option<Change> {
        if method == Method::GET || method == Method::HEAD {
            return None;
        }
        match &self.resource {
            Resource::Records { base, table } => Some(Change::Records {
                base: base.clone(),
                table: table.clone(),
            }),
            Resource::Schema { base } => Some(Change::Schema { base: base.clone() }),
            Resource::Token | Resource::RecordsQuery | Resource::Webhooks => None,
        }
    }
}

/// What a webhook sub-resource does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookAction {
    Refresh,
    Payloads,
    EnableNotifications,
}

impl WebhookAction {
    fn segment(self) -> &'static str {
        match self {
            WebhookAction::Refresh => "refresh",
            WebhookAction::Payloads => "payloads",
            WebhookAction::EnableNotifications => "enableNotifications",
        }
    }
}

/// `meta/bases/app…/tables`, unencoded, for logs.
impl fmt::Display for ApiPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for segment in &self.segments {
            if !first {
                f.write_str("/")?;
            }
            first = false;
            f.write_str(segment)?;
        }
        Ok(())
    }
}

/// A list of segments: the form the gateway's cache keys and idempotency fingerprints have
/// always used, so they survive this type's introduction.
impl Serialize for ApiPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.segments())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (BaseId, TableRef, RecordId) {
        (
            BaseId::parse("appA0000000000000").expect("base"),
            TableRef::parse("Deals / 2026").expect("table"),
            RecordId::parse("rec00000000000001").expect("record"),
        )
    }

    #[test]
    fn paths_name_their_endpoint_and_serialize_as_segments() {
        let (base, table, record) = ids();
        let path = ApiPath::record(&base, &table, &record);
        assert_eq!(
            path.segments().collect::<Vec<_>>(),
            ["appA0000000000000", "Deals / 2026", "rec00000000000001"]
        );
        assert_eq!(
            serde_json::to_string(&path).expect("json"),
            r#"["appA0000000000000","Deals / 2026","rec00000000000001"]"#
        );
        assert_eq!(
            ApiPath::field(&base, &table, &FieldId::parse("fldX").expect("field")).to_string(),
            "meta/bases/appA0000000000000/tables/Deals / 2026/fields/fldX"
        );
        let hook = WebhookId::parse("achW0000000000001").expect("hook");
        assert_eq!(
            ApiPath::webhook(&base, &hook, Some(WebhookAction::EnableNotifications)).to_string(),
            "bases/appA0000000000000/webhooks/achW0000000000001/enableNotifications"
        );
    }

    #[test]
    fn a_path_knows_what_a_call_to_it_may_change() {
        let (base, table, record) = ids();
        let records = Change::Records {
            base: base.clone(),
            table: table.clone(),
        };
        let schema = Change::Schema { base: base.clone() };
        for method in [Method::POST, Method::PATCH, Method::PUT, Method::DELETE] {
            assert_eq!(
                ApiPath::records(&base, &table).change(&method).as_ref(),
                Some(&records)
            );
            assert_eq!(
                ApiPath::record(&base, &table, &record)
                    .change(&method)
                    .as_ref(),
                Some(&records)
            );
        }
        assert_eq!(ApiPath::records(&base, &table).change(&Method::GET), None);
        assert_eq!(
            ApiPath::list_records(&base, &table).change(&Method::POST),
            None,
            "listRecords only reads"
        );
        let field = FieldId::parse("fldX").expect("field");
        assert_eq!(
            ApiPath::base_tables(&base).change(&Method::POST),
            Some(schema.clone())
        );
        assert_eq!(ApiPath::base_tables(&base).change(&Method::GET), None);
        assert_eq!(
            ApiPath::table_schema(&base, &table).change(&Method::PATCH),
            Some(schema.clone())
        );
        assert_eq!(
            ApiPath::fields(&base, &table).change(&Method::POST),
            Some(schema.clone())
        );
        assert_eq!(
            ApiPath::field(&base, &table, &field).change(&Method::PATCH),
            Some(schema)
        );
        assert_eq!(ApiPath::webhooks(&base).change(&Method::POST), None);
        assert_eq!(ApiPath::bases().change(&Method::POST), None);
    }
}
