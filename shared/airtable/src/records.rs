//! Record operations on one table: list (as a stream of pages), get, and create/update/upsert/
//! delete of any number of records, chunked by Airtable's 10-per-request limit.
//!
//! Chunks are sent one after the other: the base's 5 requests/s are the bottleneck, so sending
//! chunks of one call in parallel would only queue them in the limiter. When a chunk fails the
//! chunks before it stay applied (Airtable has no multi-request transaction); the error says
//! which chunk failed so a caller can resume. Upserts are checked completely before the first
//! chunk so that a missing merge field never leaves one half-applied.

use futures::StreamExt;
use futures::stream::BoxStream;
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::Airtable;
use crate::error::AirtableError;
use crate::ids::{BaseId, RecordId, TableRef};
use crate::models::records::{
    DeletedRecord, Fields, GetParams, ListParams, MAX_RECORDS_PER_WRITE, Record, RecordPage,
    RecordUpdate, RecordsEnvelope, UpsertRecord, UpsertResult, WriteOptions,
};
use crate::path::ApiPath;
use crate::retry::Idempotency;

/// URLs at or above this length go as `POST …/listRecords` (Airtable rejects URLs of 16,000
/// characters or more; pyairtable switches at the same point).
pub const MAX_URL_LENGTH: usize = 16_000;

/// Airtable's limit on merge fields in one upsert.
const MAX_MERGE_FIELDS: usize = 3;

/// One table of one base. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TableClient {
    client: Airtable,
    base_id: BaseId,
    table: TableRef,
}

impl TableClient {
    pub(crate) fn new(client: Airtable, base_id: BaseId, table: TableRef) -> Self {
        Self {
            client,
            base_id,
            table,
        }
    }

    pub fn base_id(&self) -> &BaseId {
        &self.base_id
    }

    pub fn table(&self) -> &TableRef {
        &self.table
    }

    /// `{baseId}/{table}`.
    fn records_path(&self) -> ApiPath {
        ApiPath::records(&self.base_id, &self.table)
    }

    /// One page of a listing, starting at `offset` (from the previous page). Uses GET, or POST
    /// `listRecords` when the GET URL would be too long (e.g. a large `filterByFormula`).
    pub async fn page(
        &self,
        params: &ListParams,
        offset: Option<&str>,
    ) -> Result<RecordPage, AirtableError> {
        let transport = self.client.transport();
        let mut call =
            transport.call(Method::GET, &self.records_path(), Idempotency::Idempotent)?;
        call.url
            .query_pairs_mut()
            .extend_pairs(params.query_pairs(offset));
        if call.url.as_str().len() >= MAX_URL_LENGTH {
            // A listRecords POST only reads, so it is as safe to retry as a GET.
            call = transport
                .call(
                    Method::POST,
                    &ApiPath::list_records(&self.base_id, &self.table),
                    Idempotency::Idempotent,
                )?
                .body(params.post_body(offset));
            let query_only = params.query_only_pairs();
            if !query_only.is_empty() {
                call.url.query_pairs_mut().extend_pairs(query_only);
            }
        }
        transport.send(call.base(&self.base_id)).await
    }

    /// Every page of a listing, lazily, as a stream; the next page is fetched only when the
    /// previous one has been consumed. An expired offset ends the stream with Airtable's 422
    /// `LIST_RECORDS_ITERATOR_NOT_AVAILABLE`: restarting silently could yield records twice.
    pub fn pages(
        &self,
        params: ListParams,
    ) -> BoxStream<'static, Result<Vec<Record>, AirtableError>> {
        let table = self.clone();
        // `next` is None once there is no further page; Some(None) asks for the first one.
        let start: Option<Option<String>> = Some(None);
        futures::stream::try_unfold((table, params, start), |(table, params, next)| async move {
            let Some(offset) = next else {
                return Ok(None);
            };
            let page = table.page(&params, offset.as_deref()).await?;
            let next = page.offset.map(Some);
            Ok(Some((page.records, (table, params, next))))
        })
        .boxed()
    }

    /// Every record of a listing (all pages).
    pub async fn all(&self, params: ListParams) -> Result<Vec<Record>, AirtableError> {
        let mut pages = self.pages(params);
        let mut records = Vec::new();
        while let Some(page) = pages.next().await {
            records.extend(page?);
        }
        Ok(records)
    }

    /// The first record of a listing, if any (asks for one record only).
    pub async fn first(&self, params: ListParams) -> Result<Option<Record>, AirtableError> {
        let page = self.page(&params.page_size(1).max_records(1), None).await?;
        Ok(page.records.into_iter().next())
    }

    /// One record by ID.
    pub async fn get(&self, record_id: &RecordId) -> Result<Record, AirtableError> {
        self.get_with(record_id, &GetParams::default()).await
    }

    /// One record by ID, with read options.
    pub async fn get_with(
        &self,
        record_id: &RecordId,
        params: &GetParams,
    ) -> Result<Record, AirtableError> {
        let transport = self.client.transport();
        let mut call = transport.call(
            Method::GET,
            &ApiPath::record(&self.base_id, &self.table, record_id),
            Idempotency::Idempotent,
        )?;
        let pairs = params.query_pairs();
        if !pairs.is_empty() {
            call.url.query_pairs_mut().extend_pairs(pairs);
        }
        transport.send(call.base(&self.base_id)).await
    }

    /// Creates one record.
    pub async fn create(
        &self,
        fields: Fields,
        options: WriteOptions,
    ) -> Result<Record, AirtableError> {
        let mut created = self.create_many(vec![fields], options).await?;
        created.pop().ok_or_else(|| AirtableError::Decode {
            status: 200,
            message: "Airtable created no record".to_string(),
        })
    }

    /// Creates any number of records, 10 per request, in order. Never retried blindly: see
    /// [`crate::retry`].
    pub async fn create_many(
        &self,
        records: Vec<Fields>,
        options: WriteOptions,
    ) -> Result<Vec<Record>, AirtableError> {
        let mut created = Vec::with_capacity(records.len());
        for chunk in records.chunks(MAX_RECORDS_PER_WRITE) {
            let records: Vec<Value> = chunk.iter().map(|f| json!({"fields": f})).collect();
            let mut body = Map::new();
            body.insert("records".into(), records.into());
            options.apply(&mut body);
            let envelope: RecordsEnvelope<Record> = self
                .write(
                    Method::POST,
                    Value::Object(body),
                    Idempotency::NotIdempotent,
                )
                .await?;
            created.extend(envelope.records);
        }
        Ok(created)
    }

    /// Updates one record: `replace` clears the fields left out (PUT), otherwise they are kept
    /// (PATCH).
    pub async fn update(
        &self,
        record_id: &RecordId,
        fields: Fields,
        replace: bool,
        options: WriteOptions,
    ) -> Result<Record, AirtableError> {
        let transport = self.client.transport();
        let path = ApiPath::record(&self.base_id, &self.table, record_id);
        let mut body = Map::new();
        body.insert("fields".into(), Value::Object(fields));
        options.apply(&mut body);
        let call = transport
            .call(method_for(replace), &path, Idempotency::Idempotent)?
            .body(Value::Object(body))
            .base(&self.base_id);
        transport.send(call).await
    }

    /// Updates any number of records, 10 per request.
    pub async fn update_many(
        &self,
        records: Vec<RecordUpdate>,
        replace: bool,
        options: WriteOptions,
    ) -> Result<Vec<Record>, AirtableError> {
        let mut updated = Vec::with_capacity(records.len());
        for chunk in records.chunks(MAX_RECORDS_PER_WRITE) {
            let mut body = Map::new();
            body.insert("records".into(), to_json(chunk)?);
            options.apply(&mut body);
            let envelope: RecordsEnvelope<Record> = self
                .write(
                    method_for(replace),
                    Value::Object(body),
                    Idempotency::Idempotent,
                )
                .await?;
            updated.extend(envelope.records);
        }
        Ok(updated)
    }

    /// Creates or updates any number of records matched on `merge_on` (1 to 3 fields), 10 per
    /// request. Every record is checked for every merge field before anything is sent. Upserts
    /// are retried like other idempotent calls: repeating one matches the records it created.
    pub async fn upsert_many(
        &self,
        records: Vec<UpsertRecord>,
        merge_on: &[&str],
        replace: bool,
        options: WriteOptions,
    ) -> Result<UpsertResult, AirtableError> {
        check_upsert(&records, merge_on)?;
        let mut result = UpsertResult::default();
        for chunk in records.chunks(MAX_RECORDS_PER_WRITE) {
            let mut body = Map::new();
            body.insert("records".into(), to_json(chunk)?);
            body.insert(
                "performUpsert".into(),
                json!({ "fieldsToMergeOn": merge_on }),
            );
            options.apply(&mut body);
            let part: UpsertResult = self
                .write(
                    method_for(replace),
                    Value::Object(body),
                    Idempotency::Idempotent,
                )
                .await?;
            result.records.extend(part.records);
            result.created_records.extend(part.created_records);
            result.updated_records.extend(part.updated_records);
        }
        Ok(result)
    }

    /// Deletes one record.
    pub async fn delete(&self, record_id: &RecordId) -> Result<DeletedRecord, AirtableError> {
        let transport = self.client.transport();
        let call = transport
            .call(
                Method::DELETE,
                &ApiPath::record(&self.base_id, &self.table, record_id),
                Idempotency::Idempotent,
            )?
            .base(&self.base_id);
        transport.send(call).await
    }

    /// Deletes any number of records, 10 per request.
    pub async fn delete_many(
        &self,
        record_ids: &[RecordId],
    ) -> Result<Vec<DeletedRecord>, AirtableError> {
        let transport = self.client.transport();
        let mut deleted = Vec::with_capacity(record_ids.len());
        for chunk in record_ids.chunks(MAX_RECORDS_PER_WRITE) {
            let mut call = transport
                .call(
                    Method::DELETE,
                    &self.records_path(),
                    Idempotency::Idempotent,
                )?
                .base(&self.base_id);
            call.url
                .query_pairs_mut()
                .extend_pairs(chunk.iter().map(|id| ("records[]", id.as_str())));
            let envelope: RecordsEnvelope<DeletedRecord> = transport.send(call).await?;
            deleted.extend(envelope.records);
        }
        Ok(deleted)
    }

    /// A batch write to the table URL.
    async fn write<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        body: Value,
        idempotency: Idempotency,
    ) -> Result<T, AirtableError> {
        let transport = self.client.transport();
        let call = transport
            .call(method, &self.records_path(), idempotency)?
            .body(body)
            .base(&self.base_id);
        transport.send(call).await
    }
}

fn method_for(replace: bool) -> Method {
    if replace { Method::PUT } else { Method::PATCH }
}

fn to_json<T: serde::Serialize>(records: &[T]) -> Result<Value, AirtableError> {
    serde_json::to_value(records).map_err(|e| AirtableError::InvalidRequest(e.to_string()))
}

/// Refuses an upsert that Airtable would reject part-way through: 1 to 3 merge fields, and
/// every record carrying every one of them.
pub fn check_upsert(records: &[UpsertRecord], merge_on: &[&str]) -> Result<(), AirtableError> {
    if merge_on.is_empty() || merge_on.len() > MAX_MERGE_FIELDS {
        return Err(AirtableError::InvalidRequest(format!(
            "an upsert merges on 1 to {MAX_MERGE_FIELDS} fields, not {}",
            merge_on.len()
        )));
    }
    for (index, record) in records.iter().enumerate() {
        let missing: Vec<&str> = merge_on
            .iter()
            .copied()
            .filter(|field| !record.fields.contains_key(*field))
            .collect();
        if !missing.is_empty() {
            return Err(AirtableError::InvalidRequest(format!(
                "record {index} lacks the merge field(s) {missing:?}; nothing was sent"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(v: Value) -> UpsertRecord {
        UpsertRecord::from(v.as_object().cloned().unwrap_or_default())
    }

    #[test]
    fn upsert_checks_every_record_before_sending() {
        let mut records: Vec<UpsertRecord> = (0..25)
            .map(|i| record(json!({"Key": i, "Name": "x"})))
            .collect();
        assert!(check_upsert(&records, &["Key"]).is_ok());
        records.push(record(json!({"Name": "no key"})));
        let err = check_upsert(&records, &["Key"]);
        assert!(matches!(err, Err(AirtableError::InvalidRequest(m)) if m.contains("record 25")));
        assert!(check_upsert(&records[..1], &[]).is_err());
        assert!(check_upsert(&records[..1], &["a", "b", "c", "d"]).is_err());
    }
}
