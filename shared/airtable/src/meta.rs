//! The meta API: the token's identity, its bases, and base schemas (read, create, rename).
//!
//! Schema calls on a base spend that base's rate limit (Airtable counts every request to a
//! base); `whoami` and the base list spend only the token's.

use reqwest::Method;
use serde_json::json;

use crate::Airtable;
use crate::error::AirtableError;
use crate::ids::{BaseId, FieldId, TableId, TableRef};
use crate::models::schema::{
    BaseInfo, BaseSchema, BasesPage, FieldSchema, NewField, NewTable, SchemaChange, TableSchema,
    WhoAmI,
};
use crate::path::ApiPath;
use crate::retry::Idempotency;

impl Airtable {
    /// Who the token belongs to, and its scopes: the check a new connection must pass.
    pub async fn whoami(&self) -> Result<WhoAmI, AirtableError> {
        let transport = self.transport();
        let call = transport.call(Method::GET, &ApiPath::whoami(), Idempotency::Idempotent)?;
        transport.send(call).await
    }

    /// One page of the bases the token can see.
    pub async fn bases_page(&self, offset: Option<&str>) -> Result<BasesPage, AirtableError> {
        let transport = self.transport();
        let mut call = transport.call(Method::GET, &ApiPath::bases(), Idempotency::Idempotent)?;
        if let Some(offset) = offset {
            call.url.query_pairs_mut().append_pair("offset", offset);
        }
        transport.send(call).await
    }

    /// Every base the token can see (all pages).
    pub async fn bases(&self) -> Result<Vec<BaseInfo>, AirtableError> {
        let mut bases = Vec::new();
        let mut offset: Option<String> = None;
        loop {
            let page = self.bases_page(offset.as_deref()).await?;
            bases.extend(page.bases);
            match page.offset {
                Some(next) => offset = Some(next),
                None => return Ok(bases),
            }
        }
    }

    /// A base's tables, fields and views. `visible_field_ids` adds each grid view's visible
    /// fields (`include[]=visibleFieldIds`).
    pub async fn base_schema(
        &self,
        base_id: &BaseId,
        visible_field_ids: bool,
    ) -> Result<BaseSchema, AirtableError> {
        let transport = self.transport();
        let mut call = transport.call(
            Method::GET,
            &ApiPath::base_tables(base_id),
            Idempotency::Idempotent,
        )?;
        if visible_field_ids {
            call.url
                .query_pairs_mut()
                .append_pair("include[]", "visibleFieldIds");
        }
        transport.send(call.base(base_id)).await
    }

    /// Creates a table. Not retried once sent: a repeat would fail on the duplicate name at
    /// best.
    pub async fn create_table(
        &self,
        base_id: &BaseId,
        table: &NewTable,
    ) -> Result<TableSchema, AirtableError> {
        let transport = self.transport();
        let body = serde_json::to_value(table)
            .map_err(|e| AirtableError::InvalidRequest(e.to_string()))?;
        transport
            .send(
                transport
                    .call(
                        Method::POST,
                        &ApiPath::base_tables(base_id),
                        Idempotency::NotIdempotent,
                    )?
                    .body(body)
                    .base(base_id),
            )
            .await
    }

    /// Renames a table or changes its description.
    pub async fn update_table(
        &self,
        base_id: &BaseId,
        table: &TableRef,
        change: &SchemaChange,
    ) -> Result<TableSchema, AirtableError> {
        let transport = self.transport();
        transport
            .send(
                transport
                    .call(
                        Method::PATCH,
                        &ApiPath::table_schema(base_id, table),
                        Idempotency::Idempotent,
                    )?
                    .body(json!(change))
                    .base(base_id),
            )
            .await
    }

    /// Adds a field to a table (Airtable's field endpoints take the table's id, not its name).
    pub async fn create_field(
        &self,
        base_id: &BaseId,
        table_id: &TableId,
        field: &NewField,
    ) -> Result<FieldSchema, AirtableError> {
        let transport = self.transport();
        transport
            .send(
                transport
                    .call(
                        Method::POST,
                        &ApiPath::fields(base_id, &table_id.clone().into()),
                        Idempotency::NotIdempotent,
                    )?
                    .body(json!(field))
                    .base(base_id),
            )
            .await
    }

    /// Renames a field or changes its description (Airtable changes nothing else).
    pub async fn update_field(
        &self,
        base_id: &BaseId,
        table_id: &TableId,
        field_id: &FieldId,
        change: &SchemaChange,
    ) -> Result<FieldSchema, AirtableError> {
        let transport = self.transport();
        transport
            .send(
                transport
                    .call(
                        Method::PATCH,
                        &ApiPath::field(base_id, &table_id.clone().into(), field_id),
                        Idempotency::Idempotent,
                    )?
                    .body(json!(change))
                    .base(base_id),
            )
            .await
    }
}
