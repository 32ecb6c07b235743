//! Records, list parameters and write results.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A record's cell values by field name (or field ID with `returnFieldsByFieldId`). Airtable
/// omits empty cells, so a missing key means "empty", not "unknown".
pub type Fields = Map<String, Value>;

/// Airtable's maximum records per write request.
pub const MAX_RECORDS_PER_WRITE: usize = 10;
/// Airtable's maximum page size for list requests.
pub const MAX_PAGE_SIZE: u32 = 100;

/// One record as Airtable returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    #[serde(rename = "createdTime")]
    pub created_time: DateTime<Utc>,
    #[serde(default)]
    pub fields: Fields,
    /// Present only when asked for with `recordMetadata[]=commentCount`.
    #[serde(
        rename = "commentCount",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub comment_count: Option<u64>,
}

/// One page of a listing. `offset` is Airtable's opaque cursor for the next page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordPage {
    pub records: Vec<Record>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<String>,
}

/// A sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SortDirection {
    #[default]
    Asc,
    Desc,
}

impl SortDirection {
    pub fn as_str(self) -> &'static str {
        match self {
            SortDirection::Asc => "asc",
            SortDirection::Desc => "desc",
        }
    }
}

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sort {
    pub field: String,
    #[serde(default)]
    pub direction: SortDirection,
}

/// How cell values are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CellFormat {
    /// Typed JSON values (the default).
    #[default]
    Json,
    /// Display strings; Airtable then requires `timeZone` and `userLocale`.
    String,
}

impl CellFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            CellFormat::Json => "json",
            CellFormat::String => "string",
        }
    }
}

/// Parameters of a list request (Airtable's list-records parameters, §3 of our reference).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListParams {
    pub view: Option<String>,
    pub fields: Vec<String>,
    pub filter_by_formula: Option<String>,
    pub sort: Vec<Sort>,
    pub page_size: Option<u32>,
    pub max_records: Option<u64>,
    pub return_fields_by_field_id: bool,
    pub cell_format: Option<CellFormat>,
    pub time_zone: Option<String>,
    pub user_locale: Option<String>,
    /// `recordMetadata[]`, e.g. `commentCount`.
    pub record_metadata: Vec<String>,
}

impl ListParams {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn view(mut self, view: impl Into<String>) -> Self {
        self.view = Some(view.into());
        self
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.fields.push(field.into());
        self
    }

    pub fn fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.fields.extend(fields.into_iter().map(Into::into));
        self
    }

    /// A filter; build it with [`crate::formula`] so user input cannot change its meaning.
    pub fn filter(mut self, formula: impl std::fmt::Display) -> Self {
        self.filter_by_formula = Some(formula.to_string());
        self
    }

    pub fn sort(mut self, field: impl Into<String>, direction: SortDirection) -> Self {
        self.sort.push(Sort {
            field: field.into(),
            direction,
        });
        self
    }

    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size);
        self
    }

    pub fn max_records(mut self, max: u64) -> Self {
        self.max_records = Some(max);
        self
    }

    pub fn return_fields_by_field_id(mut self, yes: bool) -> Self {
        self.return_fields_by_field_id = yes;
        self
    }

    /// String cell format; Airtable requires the time zone and locale with it.
    pub fn cell_format_string(
        mut self,
        time_zone: impl Into<String>,
        user_locale: impl Into<String>,
    ) -> Self {
        self.cell_format = Some(CellFormat::String);
        self.time_zone = Some(time_zone.into());
        self.user_locale = Some(user_locale.into());
        self
    }

    pub fn record_metadata(mut self, what: impl Into<String>) -> Self {
        self.record_metadata.push(what.into());
        self
    }

    /// The parameters as GET query pairs, in Airtable's bracket notation, plus the offset.
    pub fn query_pairs(&self, offset: Option<&str>) -> Vec<(String, String)> {
        let mut pairs = self.body_only_pairs();
        pairs.extend(self.query_only_pairs());
        if let Some(offset) = offset {
            pairs.push(("offset".into(), offset.into()));
        }
        pairs
    }

    /// What stays in the query when the listing is POSTed: Airtable (and both reference
    /// clients) keep `timeZone` and `userLocale` out of the `listRecords` body.
    pub fn query_only_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        if let Some(tz) = &self.time_zone {
            pairs.push(("timeZone".into(), tz.clone()));
        }
        if let Some(locale) = &self.user_locale {
            pairs.push(("userLocale".into(), locale.clone()));
        }
        pairs
    }

    fn body_only_pairs(&self) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        if let Some(view) = &self.view {
            pairs.push(("view".into(), view.clone()));
        }
        for field in &self.fields {
            pairs.push(("fields[]".into(), field.clone()));
        }
        if let Some(formula) = &self.filter_by_formula {
            pairs.push(("filterByFormula".into(), formula.clone()));
        }
        for (i, sort) in self.sort.iter().enumerate() {
            pairs.push((format!("sort[{i}][field]"), sort.field.clone()));
            pairs.push((
                format!("sort[{i}][direction]"),
                sort.direction.as_str().into(),
            ));
        }
        if let Some(size) = self.page_size {
            pairs.push(("pageSize".into(), size.to_string()));
        }
        if let Some(max) = self.max_records {
            pairs.push(("maxRecords".into(), max.to_string()));
        }
        if self.return_fields_by_field_id {
            pairs.push(("returnFieldsByFieldId".into(), "true".into()));
        }
        if let Some(format) = self.cell_format {
            pairs.push(("cellFormat".into(), format.as_str().into()));
        }
        for what in &self.record_metadata {
            pairs.push(("recordMetadata[]".into(), what.clone()));
        }
        pairs
    }

    /// The JSON body of `POST …/listRecords` (everything but `timeZone`/`userLocale`).
    pub fn post_body(&self, offset: Option<&str>) -> Value {
        let mut body = Map::new();
        if let Some(view) = &self.view {
            body.insert("view".into(), view.clone().into());
        }
        if !self.fields.is_empty() {
            body.insert("fields".into(), self.fields.clone().into());
        }
        if let Some(formula) = &self.filter_by_formula {
            body.insert("filterByFormula".into(), formula.clone().into());
        }
        if !self.sort.is_empty() {
            body.insert(
                "sort".into(),
                serde_json::to_value(&self.sort).unwrap_or(Value::Null),
            );
        }
        if let Some(size) = self.page_size {
            body.insert("pageSize".into(), size.into());
        }
        if let Some(max) = self.max_records {
            body.insert("maxRecords".into(), max.into());
        }
        if self.return_fields_by_field_id {
            body.insert("returnFieldsByFieldId".into(), true.into());
        }
        if let Some(format) = self.cell_format {
            body.insert("cellFormat".into(), format.as_str().into());
        }
        if !self.record_metadata.is_empty() {
            body.insert("recordMetadata".into(), self.record_metadata.clone().into());
        }
        if let Some(offset) = offset {
            body.insert("offset".into(), offset.into());
        }
        Value::Object(body)
    }
}

/// Options for reading one record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GetParams {
    pub return_fields_by_field_id: bool,
    pub cell_format: Option<CellFormat>,
    pub time_zone: Option<String>,
    pub user_locale: Option<String>,
}

impl GetParams {
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        if self.return_fields_by_field_id {
            pairs.push(("returnFieldsByFieldId".into(), "true".into()));
        }
        if let Some(format) = self.cell_format {
            pairs.push(("cellFormat".into(), format.as_str().into()));
        }
        if let Some(tz) = &self.time_zone {
            pairs.push(("timeZone".into(), tz.clone()));
        }
        if let Some(locale) = &self.user_locale {
            pairs.push(("userLocale".into(), locale.clone()));
        }
        pairs
    }
}

/// Options shared by every write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Convert strings to the field's type, creating unknown select choices.
    pub typecast: bool,
    /// Answer with fields keyed by field ID.
    pub return_fields_by_field_id: bool,
}

impl WriteOptions {
    pub fn typecast() -> Self {
        Self {
            typecast: true,
            ..Self::default()
        }
    }

    /// Adds the options to a write body.
    pub(crate) fn apply(&self, body: &mut Map<String, Value>) {
        if self.typecast {
            body.insert("typecast".into(), true.into());
        }
        if self.return_fields_by_field_id {
            body.insert("returnFieldsByFieldId".into(), true.into());
        }
    }
}

/// A change to one existing record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordUpdate {
    pub id: String,
    pub fields: Fields,
}

impl RecordUpdate {
    pub fn new(id: impl Into<String>, fields: Fields) -> Self {
        Self {
            id: id.into(),
            fields,
        }
    }
}

/// A record to upsert: matched on the merge fields, or by `id` when one is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpsertRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub fields: Fields,
}

impl From<Fields> for UpsertRecord {
    fn from(fields: Fields) -> Self {
        Self { id: None, fields }
    }
}

/// What an upsert did, summed over every chunk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpsertResult {
    pub records: Vec<Record>,
    #[serde(rename = "createdRecords", default)]
    pub created_records: Vec<String>,
    #[serde(rename = "updatedRecords", default)]
    pub updated_records: Vec<String>,
}

/// One record's deletion as Airtable confirms it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedRecord {
    pub id: String,
    pub deleted: bool,
}

/// The `{records:[…]}` envelope of batch answers.
#[derive(Debug, Deserialize)]
pub(crate) struct RecordsEnvelope<T> {
    pub records: Vec<T>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_record_parses_with_and_without_fields() {
        let record: Record = serde_json::from_value(json!({
            "id": "rec00000000000001", "createdTime": "2022-09-05T07:00:00.000Z",
            "fields": {"Name": "x"}, "unknownKey": 1
        }))
        .unwrap();
        assert_eq!(record.fields["Name"], "x");
        let bare: Record = serde_json::from_value(json!({
            "id": "rec00000000000002", "createdTime": "2022-09-05T07:00:00.000Z"
        }))
        .unwrap();
        assert!(bare.fields.is_empty());
    }

    #[test]
    fn list_params_use_airtables_bracket_notation() {
        let params = ListParams::new()
            .view("Grid")
            .fields(["A", "B"])
            .filter("{A}=1")
            .sort("A", SortDirection::Desc)
            .page_size(50)
            .max_records(120)
            .return_fields_by_field_id(true)
            .cell_format_string("Europe/Berlin", "de");
        let pairs = params.query_pairs(Some("itr1/rec1"));
        let has = |k: &str, v: &str| pairs.iter().any(|(a, b)| a == k && b == v);
        assert!(has("view", "Grid"));
        assert!(has("fields[]", "A") && has("fields[]", "B"));
        assert!(has("filterByFormula", "{A}=1"));
        assert!(has("sort[0][field]", "A") && has("sort[0][direction]", "desc"));
        assert!(has("pageSize", "50") && has("maxRecords", "120"));
        assert!(has("cellFormat", "string") && has("timeZone", "Europe/Berlin"));
        assert!(has("offset", "itr1/rec1"));

        let body = params.post_body(Some("itr1/rec1"));
        assert_eq!(body["sort"], json!([{"field":"A","direction":"desc"}]));
        assert_eq!(body["fields"], json!(["A", "B"]));
        assert_eq!(body["returnFieldsByFieldId"], json!(true));
        assert!(body.get("timeZone").is_none());
        assert_eq!(params.query_only_pairs().len(), 2);
    }
}
