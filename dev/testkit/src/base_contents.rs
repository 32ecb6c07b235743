//! A base's contents by value: what a saga's compensation must put back. Every record of every
//! table, read straight from the sandbox (every page), compared by what a user wrote, not by
//! ids: a record a compensation recreated after a delete has a new id, so record ids are
//! dropped, links are replaced by the linked records' primary field values, attachments by
//! their file names and URLs, and computed fields (formulas, auto numbers, created and modified
//! times, lookups, rollups, counts, created and modified by) are left out.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Map, Value};

use crate::app::TestApp;

/// Field types Airtable computes: a compensation cannot (and need not) restore them.
const COMPUTED: &[&str] = &[
    "formula",
    "autoNumber",
    "createdTime",
    "lastModifiedTime",
    "createdBy",
    "lastModifiedBy",
    "rollup",
    "count",
    "multipleLookupValues",
    "lookup",
    "button",
];

/// Table name → its records' writable cells, sorted, so two snapshots compare with `==`.
pub type BaseContents = BTreeMap<String, Vec<Value>>;

struct TableSchema {
    id: String,
    name: String,
    primary: String,
    /// Writable fields: name → type.
    fields: Vec<(String, String)>,
}

async fn get(http: &reqwest::Client, url: String, token: &str) -> Value {
    let response = http
        .request(Method::GET, &url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    response
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"))
}

async fn schema(
    http: &reqwest::Client,
    sandbox: &str,
    token: &str,
    base: &str,
) -> Vec<TableSchema> {
    let body = get(
        http,
        format!("{sandbox}/v0/meta/bases/{base}/tables"),
        token,
    )
    .await;
    let tables = body["tables"].as_array().cloned().unwrap_or_default();
    tables
        .iter()
        .map(|table| {
            let fields = table["fields"].as_array().cloned().unwrap_or_default();
            let primary_id = table["primaryFieldId"].as_str().unwrap_or_default();
            TableSchema {
                id: table["id"].as_str().unwrap_or_default().to_string(),
                name: table["name"].as_str().unwrap_or_default().to_string(),
                primary: fields
                    .iter()
                    .find(|f| f["id"] == primary_id)
                    .or(fields.first())
                    .and_then(|f| f["name"].as_str())
                    .unwrap_or_default()
                    .to_string(),
                fields: fields
                    .iter()
                    .filter_map(|f| {
                        let kind = f["type"].as_str()?;
                        (!COMPUTED.contains(&kind)).then(|| {
                            (
                                f["name"].as_str().unwrap_or_default().to_string(),
                                kind.to_string(),
                            )
                        })
                    })
                    .collect(),
            }
        })
        .collect()
}

async fn records(
    http: &reqwest::Client,
    sandbox: &str,
    token: &str,
    base: &str,
    table_id: &str,
) -> Vec<Value> {
    let mut all = Vec::new();
    let mut offset: Option<String> = None;
    loop {
        let mut url = format!("{sandbox}/v0/{base}/{table_id}?pageSize=100");
        if let Some(offset) = &offset {
            url.push_str(&format!("&offset={offset}"));
        }
        let page = get(http, url, token).await;
        all.extend(page["records"].as_array().cloned().unwrap_or_default());
        match page["offset"].as_str() {
            Some(next) => offset = Some(next.to_string()),
            None => return all,
        }
    }
}

/// Every record of every table of `base` by value (see the module doc).
pub async fn base_contents(
    http: &reqwest::Client,
    sandbox: &str,
    token: &str,
    base: &str,
) -> BaseContents {
    let tables = schema(http, sandbox, token, base).await;
    let mut by_table = BTreeMap::new();
    // Record id → its primary field's value, across the base, for links.
    let mut names: BTreeMap<String, Value> = BTreeMap::new();
    for table in &tables {
        let rows = records(http, sandbox, token, base, &table.id).await;
        for row in &rows {
            if let Some(id) = row["id"].as_str() {
                names.insert(id.to_string(), row["fields"][&table.primary].clone());
            }
        }
        by_table.insert(table.name.clone(), rows);
    }
    let mut contents = BaseContents::new();
    for table in &tables {
        let rows = by_table.remove(&table.name).unwrap_or_default();
        let mut cells: Vec<Value> = rows
            .iter()
            .map(|row| {
                let mut kept = Map::new();
                for (name, kind) in &table.fields {
                    let Some(value) = row["fields"].get(name) else {
                        continue;
                    };
                    kept.insert(name.clone(), by_value(kind, value, &names));
                }
                Value::Object(kept)
            })
            .collect();
        cells.sort_by_key(|row| row.to_string());
        contents.insert(table.name.clone(), cells);
    }
    contents
}

fn by_value(kind: &str, value: &Value, names: &BTreeMap<String, Value>) -> Value {
    match kind {
        "multipleRecordLinks" => {
            let mut linked: Vec<Value> = value
                .as_array()
                .into_iter()
                .flatten()
                .map(|id| {
                    id.as_str()
                        .and_then(|id| names.get(id).cloned())
                        .unwrap_or_else(|| id.clone())
                })
                .collect();
            linked.sort_by_key(|v| v.to_string());
            Value::Array(linked)
        }
        "multipleAttachments" => Value::Array(
            value
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| serde_json::json!({"url": a["url"], "filename": a["filename"]}))
                .collect(),
        ),
        _ => value.clone(),
    }
}

impl TestApp {
    /// The sandbox base's contents by value (see [`base_contents`]).
    pub async fn sandbox_base_contents(&self, base: &str) -> BaseContents {
        base_contents(self.http(), &self.sandbox_url(), crate::DEMO_TOKEN, base).await
    }
}
