//! What a `/v0` request asks for: which Airtable call it is, the scope it needs, and how it
//! touches the cache. The HTTP layer builds one [`Operation`] per route from parsed path
//! parameters, so everything after this point works on ids that are known to be well formed.

use std::fmt;

use airtable::Idempotency;
use http::Method;

/// Why an id in the path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidPath(pub String);

/// The longest table name or id we forward. Airtable's own names are far shorter; the bound keeps
/// cache keys and log lines small.
const MAX_TABLE_LEN: usize = 255;

/// Parses an Airtable id: its three-letter prefix then letters and digits (Airtable's are 17
/// characters; anything from 4 to 64 is let through, so that odd but valid ids still reach
/// Airtable, which has the final word).
fn parse_id(kind: &str, prefix: &str, raw: &str) -> Result<String, InvalidPath> {
    let valid = raw.len() > prefix.len()
        && raw.len() <= 64
        && raw.starts_with(prefix)
        && raw.bytes().all(|b| b.is_ascii_alphanumeric());
    if valid {
        Ok(raw.to_string())
    } else {
        let shown: String = raw.chars().take(40).collect();
        Err(InvalidPath(format!(
            "{shown:?} is not a valid {kind} id (expected {prefix}… followed by letters and digits)"
        )))
    }
}

/// A base id, `app…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BaseId(String);

impl BaseId {
    pub fn parse(raw: &str) -> Result<Self, InvalidPath> {
        parse_id("base", "app", raw).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A record id, `rec…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordId(String);

impl RecordId {
    pub fn parse(raw: &str) -> Result<Self, InvalidPath> {
        parse_id("record", "rec", raw).map(Self)
    }
}

/// A field id, `fld…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldId(String);

impl FieldId {
    pub fn parse(raw: &str) -> Result<Self, InvalidPath> {
        parse_id("field", "fld", raw).map(Self)
    }
}

/// A table as the caller named it: its id (`tbl…`) or its name, exactly as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableRef(String);

impl TableRef {
    pub fn parse(raw: &str) -> Result<Self, InvalidPath> {
        if raw.trim().is_empty() || raw.len() > MAX_TABLE_LEN || raw.chars().any(char::is_control) {
            return Err(InvalidPath(format!(
                "a table must be named by its id or a name of 1 to {MAX_TABLE_LEN} bytes without control characters"
            )));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a caller must be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Who the connected Airtable account is: any records or schema scope will do.
    Identity,
    RecordsRead,
    RecordsWrite,
    SchemaRead,
    SchemaWrite,
}

/// How an operation meets the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Forwarded every time (identity).
    Uncached,
    /// A read of one table's records, cached under that table's generation.
    RecordsRead { base: BaseId, table: TableRef },
    /// A read of a base's schema, cached under the base's schema generation.
    SchemaRead { base: BaseId },
    /// The list of bases, cached for the TTL (no gateway call can change it).
    BasesRead,
    /// A write to one table's records: invalidates that table's cached reads.
    RecordsWrite { base: BaseId, table: TableRef },
    /// A change to a base's schema: invalidates its schema and all its record reads (a renamed
    /// field changes every record's shape).
    SchemaWrite { base: BaseId },
}

/// One `/v0` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// A short name for logs and metrics, e.g. `records.list`.
    pub name: &'static str,
    pub method: Method,
    /// The path after `/v0/`, one element per segment.
    pub segments: Vec<String>,
    pub permission: Permission,
    pub effect: Effect,
    pub idempotency: Idempotency,
}

impl Operation {
    fn new(
        name: &'static str,
        method: Method,
        segments: Vec<String>,
        permission: Permission,
        effect: Effect,
    ) -> Self {
        Self {
            name,
            method,
            segments,
            permission,
            effect,
            idempotency: Idempotency::Idempotent,
        }
    }

    /// Marks a create: repeating it after it reached Airtable would make a duplicate, so the
    /// client never retries it blindly.
    fn creating(mut self) -> Self {
        self.idempotency = Idempotency::NotIdempotent;
        self
    }

    /// The base whose rate limit the call spends.
    pub fn base_id(&self) -> Option<&BaseId> {
        match &self.effect {
            Effect::RecordsRead { base, .. }
            | Effect::SchemaRead { base }
            | Effect::RecordsWrite { base, .. }
            | Effect::SchemaWrite { base } => Some(base),
            Effect::Uncached | Effect::BasesRead => None,
        }
    }

    /// Whether this call changes Airtable (and so honours `Idempotency-Key`).
    pub fn is_write(&self) -> bool {
        matches!(
            self.effect,
            Effect::RecordsWrite { .. } | Effect::SchemaWrite { .. }
        )
    }

    /// `GET /v0/meta/whoami`.
    pub fn whoami() -> Self {
        Self::new(
            "meta.whoami",
            Method::GET,
            vec!["meta".into(), "whoami".into()],
            Permission::Identity,
            Effect::Uncached,
        )
    }

    /// `GET /v0/meta/bases`.
    pub fn list_bases() -> Self {
        Self::new(
            "meta.bases",
            Method::GET,
            vec!["meta".into(), "bases".into()],
            Permission::SchemaRead,
            Effect::BasesRead,
        )
    }

    fn tables_path(base: &BaseId) -> Vec<String> {
        vec![
            "meta".into(),
            "bases".into(),
            base.0.clone(),
            "tables".into(),
        ]
    }

    /// `GET /v0/meta/bases/{baseId}/tables`.
    pub fn base_schema(base: BaseId) -> Self {
        Self::new(
            "schema.read",
            Method::GET,
            Self::tables_path(&base),
            Permission::SchemaRead,
            Effect::SchemaRead { base },
        )
    }

    /// `POST /v0/meta/bases/{baseId}/tables`.
    pub fn create_table(base: BaseId) -> Self {
        Self::new(
            "schema.create_table",
            Method::POST,
            Self::tables_path(&base),
            Permission::SchemaWrite,
            Effect::SchemaWrite { base },
        )
        .creating()
    }

    /// `PATCH /v0/meta/bases/{baseId}/tables/{tableIdOrName}`.
    pub fn update_table(base: BaseId, table: TableRef) -> Self {
        let mut segments = Self::tables_path(&base);
        segments.push(table.0);
        Self::new(
            "schema.update_table",
            Method::PATCH,
            segments,
            Permission::SchemaWrite,
            Effect::SchemaWrite { base },
        )
    }

    /// `POST /v0/meta/bases/{baseId}/tables/{tableId}/fields`.
    pub fn create_field(base: BaseId, table: TableRef) -> Self {
        let mut segments = Self::tables_path(&base);
        segments.extend([table.0, "fields".into()]);
        Self::new(
            "schema.create_field",
            Method::POST,
            segments,
            Permission::SchemaWrite,
            Effect::SchemaWrite { base },
        )
        .creating()
    }

    /// `PATCH /v0/meta/bases/{baseId}/tables/{tableId}/fields/{fieldId}`.
    pub fn update_field(base: BaseId, table: TableRef, field: FieldId) -> Self {
        let mut segments = Self::tables_path(&base);
        segments.extend([table.0, "fields".into(), field.0]);
        Self::new(
            "schema.update_field",
            Method::PATCH,
            segments,
            Permission::SchemaWrite,
            Effect::SchemaWrite { base },
        )
    }

    fn table_path(base: &BaseId, table: &TableRef) -> Vec<String> {
        vec![base.0.clone(), table.0.clone()]
    }

    /// `GET /v0/{baseId}/{table}`: list records with query parameters.
    pub fn list_records(base: BaseId, table: TableRef) -> Self {
        Self::new(
            "records.list",
            Method::GET,
            Self::table_path(&base, &table),
            Permission::RecordsRead,
            Effect::RecordsRead { base, table },
        )
    }

    /// `POST /v0/{baseId}/{table}/listRecords`: list records with the parameters in the body.
    pub fn list_records_post(base: BaseId, table: TableRef) -> Self {
        let mut segments = Self::table_path(&base, &table);
        segments.push("listRecords".into());
        Self::new(
            "records.list",
            Method::POST,
            segments,
            Permission::RecordsRead,
            Effect::RecordsRead { base, table },
        )
    }

    /// `GET /v0/{baseId}/{table}/{recordId}`.
    pub fn get_record(base: BaseId, table: TableRef, record: RecordId) -> Self {
        let mut segments = Self::table_path(&base, &table);
        segments.push(record.0);
        Self::new(
            "records.get",
            Method::GET,
            segments,
            Permission::RecordsRead,
            Effect::RecordsRead { base, table },
        )
    }

    /// `POST /v0/{baseId}/{table}`: create one or up to ten records.
    pub fn create_records(base: BaseId, table: TableRef) -> Self {
        Self::new(
            "records.create",
            Method::POST,
            Self::table_path(&base, &table),
            Permission::RecordsWrite,
            Effect::RecordsWrite { base, table },
        )
        .creating()
    }

    /// `PATCH` or `PUT /v0/{baseId}/{table}`: update many, or upsert with `performUpsert`.
    pub fn update_records(method: Method, base: BaseId, table: TableRef) -> Self {
        Self::new(
            "records.update",
            method,
            Self::table_path(&base, &table),
            Permission::RecordsWrite,
            Effect::RecordsWrite { base, table },
        )
    }

    /// `PATCH` or `PUT /v0/{baseId}/{table}/{recordId}`.
    pub fn update_record(method: Method, base: BaseId, table: TableRef, record: RecordId) -> Self {
        let mut segments = Self::table_path(&base, &table);
        segments.push(record.0);
        Self::new(
            "records.update",
            method,
            segments,
            Permission::RecordsWrite,
            Effect::RecordsWrite { base, table },
        )
    }

    /// `DELETE /v0/{baseId}/{table}?records[]=…`.
    pub fn delete_records(base: BaseId, table: TableRef) -> Self {
        Self::new(
            "records.delete",
            Method::DELETE,
            Self::table_path(&base, &table),
            Permission::RecordsWrite,
            Effect::RecordsWrite { base, table },
        )
    }

    /// `DELETE /v0/{baseId}/{table}/{recordId}`.
    pub fn delete_record(base: BaseId, table: TableRef, record: RecordId) -> Self {
        let mut segments = Self::table_path(&base, &table);
        segments.push(record.0);
        Self::new(
            "records.delete",
            Method::DELETE,
            segments,
            Permission::RecordsWrite,
            Effect::RecordsWrite { base, table },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_only_in_airtable_form() {
        assert!(BaseId::parse("appSandboxDemoCRM").is_ok());
        assert!(BaseId::parse("app").is_err());
        assert!(BaseId::parse("tblSandboxDemoCRM").is_err());
        assert!(BaseId::parse("app../../x").is_err());
        assert!(RecordId::parse("rec0123456789abcd").is_ok());
        assert!(RecordId::parse("rec 1").is_err());
        assert!(FieldId::parse("fldAbc").is_ok());
        assert!(TableRef::parse("Deals & Leads / 2026").is_ok());
        assert!(TableRef::parse("  ").is_err());
        assert!(TableRef::parse("a\nb").is_err());
        assert!(TableRef::parse(&"x".repeat(256)).is_err());
    }

    #[test]
    fn only_creates_are_not_idempotent() {
        let base = BaseId::parse("appA0000000000000").unwrap_or_else(|e| panic!("{e}"));
        let table = TableRef::parse("People").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            Operation::create_records(base.clone(), table.clone()).idempotency,
            Idempotency::NotIdempotent
        );
        assert_eq!(
            Operation::create_table(base.clone()).idempotency,
            Idempotency::NotIdempotent
        );
        assert_eq!(
            Operation::create_field(base.clone(), table.clone()).idempotency,
            Idempotency::NotIdempotent
        );
        assert_eq!(
            Operation::list_records_post(base.clone(), table.clone()).idempotency,
            Idempotency::Idempotent
        );
        assert_eq!(
            Operation::update_records(Method::PUT, base, table).idempotency,
            Idempotency::Idempotent
        );
    }
}
