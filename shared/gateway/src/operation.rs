//! What a `/v0` request asks for: which Airtable call it is, the scope it needs, and how it
//! touches the cache. The HTTP layer builds one [`Operation`] per route from parsed path
//! parameters, so everything after this point works on ids that are known to be well formed.

use airtable::{ApiPath, Change, Idempotency};
use http::Method;

/// The id types are the Airtable client's: the gateway and the client parse with the same rules.
pub use airtable::{BaseId, FieldId, InvalidPath, RecordId, TableRef};

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
    /// The path after `/v0/`, built from the parsed ids.
    pub path: ApiPath,
    pub permission: Permission,
    pub effect: Effect,
    pub idempotency: Idempotency,
}

impl Operation {
    fn new(
        name: &'static str,
        method: Method,
        path: ApiPath,
        permission: Permission,
        effect: Effect,
    ) -> Self {
        Self {
            name,
            method,
            path,
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

    /// What the call changes at Airtable, in the terms both write paths invalidate by (see
    /// [`crate::stale`]); `None` for reads.
    pub fn change(&self) -> Option<Change> {
        match &self.effect {
            Effect::RecordsWrite { base, table } => Some(Change::Records {
                base: base.clone(),
                table: table.clone(),
            }),
            Effect::SchemaWrite { base } => Some(Change::Schema { base: base.clone() }),
            Effect::Uncached
            | Effect::RecordsRead { .. }
            | Effect::SchemaRead { .. }
            | Effect::BasesRead => None,
        }
    }

    /// `GET /v0/meta/whoami`.
    pub fn whoami() -> Self {
        Self::new(
            "meta.whoami",
            Method::GET,
            ApiPath::whoami(),
            Permission::Identity,
            Effect::Uncached,
        )
    }

    /// `GET /v0/meta/bases`.
    pub fn list_bases() -> Self {
        Self::new(
            "meta.bases",
            Method::GET,
            ApiPath::bases(),
            Permission::SchemaRead,
            Effect::BasesRead,
        )
    }

    /// `GET /v0/meta/bases/{baseId}/tables`.
    pub fn base_schema(base: BaseId) -> Self {
        Self::new(
            "schema.read",
            Method::GET,
            ApiPath::base_tables(&base),
            Permission::SchemaRead,
            Effect::SchemaRead { base },
        )
    }

    /// `POST /v0/meta/bases/{baseId}/tables`.
    pub fn create_table(base: BaseId) -> Self {
        Self::new(
            "schema.create_table",
            Method::POST,
            ApiPath::base_tables(&base),
            Permission::SchemaWrite,
            Effect::SchemaWrite { base },
        )
        .creating()
    }

    /// `PATCH /v0/meta/bases/{baseId}/tables/{tableIdOrName}`.
    pub fn update_table(base: BaseId, table: TableRef) -> Self {
        Self::new(
            "schema.update_table",
            Method::PATCH,
            ApiPath::table_schema(&base, &table),
            Permission::SchemaWrite,
            Effect::SchemaWrite { base },
        )
    }

    /// `POST /v0/meta/bases/{baseId}/tables/{tableId}/fields`.
    pub fn create_field(base: BaseId, table: TableRef) -> Self {
        Self::new(
            "schema.create_field",
            Method::POST,
            ApiPath::fields(&base, &table),
            Permission::SchemaWrite,
            Effect::SchemaWrite { base },
        )
        .creating()
    }

    /// `PATCH /v0/meta/bases/{baseId}/tables/{tableId}/fields/{fieldId}`.
    pub fn update_field(base: BaseId, table: TableRef, field: FieldId) -> Self {
        Self::new(
            "schema.update_field",
            Method::PATCH,
            ApiPath::field(&base, &table, &field),
            Permission::SchemaWrite,
            Effect::SchemaWrite { base },
        )
    }

    /// `GET /v0/{baseId}/{table}`: list records with query parameters.
    pub fn list_records(base: BaseId, table: TableRef) -> Self {
        Self::new(
            "records.list",
            Method::GET,
            ApiPath::records(&base, &table),
            Permission::RecordsRead,
            Effect::RecordsRead { base, table },
        )
    }

    /// `POST /v0/{baseId}/{table}/listRecords`: list records with the parameters in the body.
    pub fn list_records_post(base: BaseId, table: TableRef) -> Self {
        Self::new(
            "records.list",
            Method::POST,
            ApiPath::list_records(&base, &table),
            Permission::RecordsRead,
            Effect::RecordsRead { base, table },
        )
    }

    /// `GET /v0/{baseId}/{table}/{recordId}`.
    pub fn get_record(base: BaseId, table: TableRef, record: RecordId) -> Self {
        let path = ApiPath::record(&base, &table, &record);
        Self::new(
            "records.get",
            Method::GET,
            path,
            Permission::RecordsRead,
            Effect::RecordsRead { base, table },
        )
    }

    /// `POST /v0/{baseId}/{table}`: create one or up to ten records.
    pub fn create_records(base: BaseId, table: TableRef) -> Self {
        Self::new(
            "records.create",
            Method::POST,
            ApiPath::records(&base, &table),
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
            ApiPath::records(&base, &table),
            Permission::RecordsWrite,
            Effect::RecordsWrite { base, table },
        )
    }

    /// `PATCH` or `PUT /v0/{baseId}/{table}/{recordId}`.
    pub fn update_record(method: Method, base: BaseId, table: TableRef, record: RecordId) -> Self {
        let path = ApiPath::record(&base, &table, &record);
        Self::new(
            "records.update",
            method,
            path,
            Permission::RecordsWrite,
            Effect::RecordsWrite { base, table },
        )
    }

    /// `DELETE /v0/{baseId}/{table}?records[]=…`.
    pub fn delete_records(base: BaseId, table: TableRef) -> Self {
        Self::new(
            "records.delete",
            Method::DELETE,
            ApiPath::records(&base, &table),
            Permission::RecordsWrite,
            Effect::RecordsWrite { base, table },
        )
    }

    /// `DELETE /v0/{baseId}/{table}/{recordId}`.
    pub fn delete_record(base: BaseId, table: TableRef, record: RecordId) -> Self {
        let path = ApiPath::record(&base, &table, &record);
        Self::new(
            "records.delete",
            Method::DELETE,
            path,
            Permission::RecordsWrite,
            Effect::RecordsWrite { base, table },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
