//! Every tool against the local Airtable sandbox (its demo CRM base), through the shared client.

use std::sync::Arc;

use accounts::{Credential, Principal, Scope, Scopes};
use airtable::{Airtable, ClientConfig, RateLimiter, RateLimits};
use airtable_sandbox::{DEMO_BASE_ID, DEMO_TOKEN, Sandbox};
use basics::{Clock, SystemClock};
use serde_json::{Value, json};
use tools::{Offer, Registry, ToolContext, ToolError};

struct Setup {
    sandbox: airtable_sandbox::SandboxHandle,
    _dir: tempfile::TempDir,
    context: ToolContext,
    registry: Registry,
}

async fn setup() -> Setup {
    let sandbox = Sandbox::builder()
        .no_rate_limits()
        .start("127.0.0.1:0".parse().expect("address"))
        .await
        .expect("sandbox starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let db = embedded::Database::open(&dir.path().join("t.sqlite")).expect("db");
    let store: Arc<dyn ports::TableStore> =
        Arc::new(embedded::SqliteStore::new(db, Arc::clone(&clock)));
    let limiter = RateLimiter::with_limits(store, Arc::clone(&clock), RateLimits::unlimited());
    let config = ClientConfig::new(DEMO_TOKEN.to_string().into()).with_base_url(sandbox.url());
    let airtable = Airtable::with_clock(config, limiter, clock).expect("client");
    Setup {
        sandbox,
        _dir: dir,
        context: ToolContext::new(airtable),
        registry: Registry::standard(),
    }
}

fn principal(scopes: &[Scope]) -> Principal {
    Principal {
        tenant_id: "ten_test".into(),
        user_id: "usr_test".into(),
        scopes: scopes.iter().copied().collect::<Scopes>(),
        credential: Credential::ApiKey {
            key_id: "key_test".into(),
        },
    }
}

impl Setup {
    async fn call(&self, name: &str, args: Value) -> Result<tools::ToolOutput, ToolError> {
        self.registry
            .call(
                &principal(&Scope::ALL[..]),
                Offer::All,
                name,
                args,
                self.context.clone(),
            )
            .await
    }

    async fn ok(&self, name: &str, args: Value) -> Value {
        match self.call(name, args).await {
            Ok(output) => output.structured,
            Err(err) => panic!("{name} failed: {err}"),
        }
    }
}

#[tokio::test]
async fn discovery_tools_describe_the_demo_base() {
    let s = setup().await;
    let bases = s.ok("list_bases", json!({})).await;
    assert!(
        bases["bases"]
            .as_array()
            .expect("bases")
            .iter()
            .any(|b| b["id"] == DEMO_BASE_ID)
    );
    let names = s
        .ok(
            "list_tables",
            json!({"base_id": DEMO_BASE_ID, "detail": "names"}),
        )
        .await;
    let tables: Vec<&str> = names["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        tables.contains(&"Contacts") && tables.contains(&"Deals"),
        "{tables:?}"
    );
    assert!(names["tables"][0].get("fields").is_none(), "names only");
    let with_fields = s.ok("list_tables", json!({"base_id": DEMO_BASE_ID})).await;
    assert!(with_fields["tables"][0]["fields"][0]["type"].is_string());
    let contacts = s
        .ok(
            "describe_table",
            json!({"base_id": DEMO_BASE_ID, "table": "Contacts"}),
        )
        .await;
    assert!(
        contacts["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .any(|f| f["name"] == "Email")
    );
    let missing = s
        .call(
            "describe_table",
            json!({"base_id": DEMO_BASE_ID, "table": "Nope"}),
        )
        .await;
    assert!(
        matches!(&missing, Err(ToolError::Failed(m)) if m.contains("Contacts")),
        "{missing:?}"
    );
}

#[tokio::test]
async fn reading_searching_and_getting_records() {
    let s = setup().await;
    let listed = s
        .ok(
            "list_records",
            json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "fields": ["Name", "Rating"],
                   "sort": [{"field": "Rating", "direction": "desc"}], "max_records": 3}),
        )
        .await;
    let records = listed["records"].as_array().expect("records");
    assert_eq!(records.len(), 3);
    assert_eq!(listed["count"], 3);
    let ratings: Vec<i64> = records
        .iter()
        .filter_map(|r| r["fields"]["Rating"].as_i64())
        .collect();
    assert!(ratings.windows(2).all(|w| w[0] >= w[1]), "{ratings:?}");
    assert!(records.iter().all(|r| r["fields"].get("Email").is_none()));

    let filtered = s
        .ok(
            "list_records",
            json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "filter_formula": "{Rating} = 5"}),
        )
        .await;
    assert!(
        filtered["records"]
            .as_array()
            .expect("records")
            .iter()
            .all(|r| r["fields"]["Rating"] == 5)
    );

    // Search escapes its term: quotes and braces are text, not formula.
    let found = s
        .ok(
            "search_records",
            json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "query": "lovelace"}),
        )
        .await;
    assert_eq!(found["count"], 1, "{found}");
    assert_eq!(found["records"][0]["fields"]["Name"], "Ada Lovelace");
    let hostile = s
        .ok(
            "search_records",
            json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "query": "x\") & {Name} & (\""}),
        )
        .await;
    assert_eq!(hostile["count"], 0);

    let id = found["records"][0]["id"].as_str().expect("id").to_string();
    let one = s
        .ok(
            "get_record",
            json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "record_id": id}),
        )
        .await;
    assert_eq!(one["fields"]["Name"], "Ada Lovelace");
}

#[tokio::test]
async fn writes_create_update_upsert_and_delete() {
    let s = setup().await;
    let created = s
        .ok(
            "create_records",
            json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "records": (0..12).map(|i| json!({"fields": {"Name": format!("Tool {i}"), "Email": format!("tool{i}@example.com")}})).collect::<Vec<_>>()}),
        )
        .await;
    assert_eq!(created["count"], 12, "chunked by the client into 10 + 2");
    let ids: Vec<String> = created["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect();

    let updated = s
        .ok("update_records", json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "records": [{"id": ids[0], "fields": {"Title": "Tester"}}]}))
        .await;
    assert_eq!(updated["records"][0]["fields"]["Title"], "Tester");
    assert_eq!(
        updated["records"][0]["fields"]["Name"], "Tool 0",
        "other fields keep their values"
    );

    let upserted = s
        .ok(
            "upsert_records",
            json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "merge_on": ["Email"], "records": [
                {"fields": {"Email": "tool1@example.com", "Title": "Upserted"}},
                {"fields": {"Email": "new@example.com", "Name": "New Person"}}
            ]}),
        )
        .await;
    assert_eq!(upserted["updatedRecords"].as_array().map(Vec::len), Some(1));
    assert_eq!(upserted["createdRecords"].as_array().map(Vec::len), Some(1));

    let deleted = s
        .ok(
            "delete_records",
            json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "record_ids": ids}),
        )
        .await;
    assert_eq!(deleted["count"], 12);
    let gone = s
        .ok(
            "search_records",
            json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "query": "Tool "}),
        )
        .await;
    assert_eq!(gone["count"], 0);
}

#[tokio::test]
async fn schema_writes_create_and_rename() {
    let s = setup().await;
    let table = s
        .ok(
            "create_table",
            json!({"base_id": DEMO_BASE_ID, "name": "Tickets", "fields": [{"name": "Title", "type": "singleLineText"}, {"name": "Points", "type": "number", "options": {"precision": 0}}]}),
        )
        .await;
    let table_id = table["id"].as_str().expect("table id").to_string();
    let field = s
        .ok("create_field", json!({"base_id": DEMO_BASE_ID, "table": "Tickets", "name": "Done", "type": "checkbox", "options": {"icon": "check", "color": "greenBright"}}))
        .await;
    assert_eq!(field["type"], "checkbox");
    let renamed = s
        .ok("update_field", json!({"base_id": DEMO_BASE_ID, "table": table_id, "field": "Points", "name": "Story points"}))
        .await;
    assert_eq!(renamed["name"], "Story points");
    let table = s
        .ok(
            "update_table",
            json!({"base_id": DEMO_BASE_ID, "table": table_id, "name": "Issues"}),
        )
        .await;
    assert_eq!(table["name"], "Issues");
}

#[tokio::test]
async fn analysis_tools_count_profile_find_duplicates_and_export() {
    let s = setup().await;
    let profile = s
        .ok(
            "analyze_table",
            json!({"base_id": DEMO_BASE_ID, "table": "Contacts"}),
        )
        .await;
    assert_eq!(profile["record_count"], 10);
    assert_eq!(profile["complete"], true);
    let fields = profile["fields"].as_array().expect("fields");
    let rating = fields
        .iter()
        .find(|f| f["name"] == "Rating")
        .expect("Rating profiled");
    assert!(rating["numeric"]["max"].as_f64().unwrap_or_default() <= 5.0);
    assert!(rating["numeric"]["mean"].is_number());
    let title = fields
        .iter()
        .find(|f| f["name"] == "Title")
        .expect("Title profiled");
    assert!(title["empty_rate"].as_f64().is_some());

    s.ok(
        "create_records",
        json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "records": [
            {"fields": {"Name": "Dup One", "Email": "  DUP@example.com"}},
            {"fields": {"Name": "Dup Two", "Email": "dup@example.com "}}
        ]}),
    )
    .await;
    let duplicates = s
        .ok(
            "find_duplicates",
            json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "fields": ["Email"]}),
        )
        .await;
    assert_eq!(duplicates["count"], 1, "{duplicates}");
    assert_eq!(
        duplicates["groups"][0]["record_ids"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    let export = s
        .ok(
            "export_csv",
            json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "fields": ["Name", "Email"]}),
        )
        .await;
    let csv = export["csv"].as_str().expect("csv");
    assert!(csv.starts_with("id,Name,Email\r\n"), "{csv}");
    assert_eq!(export["rows"], 12);
    assert_eq!(csv.lines().count(), 13);
}

#[tokio::test]
async fn outputs_are_bounded_and_say_so() {
    let mut s = setup().await;
    s.context.max_output_bytes = 2_000;
    let out = s
        .call(
            "list_records",
            json!({"base_id": DEMO_BASE_ID, "table": "Contacts"}),
        )
        .await
        .expect("list");
    assert!(out.truncated);
    assert!(out.structured.to_string().len() <= 2_000);
    assert_eq!(out.structured["count"], 10);
    assert!(
        out.structured["note"]
            .as_str()
            .unwrap_or_default()
            .contains("of 10 records")
    );
    let csv = s
        .call(
            "export_csv",
            json!({"base_id": DEMO_BASE_ID, "table": "Contacts"}),
        )
        .await
        .expect("export");
    assert!(csv.truncated && csv.structured["truncated"] == true);
}

#[tokio::test]
async fn scopes_offers_and_bad_arguments() {
    let s = setup().await;
    let reader = principal(&[Scope::RecordsRead]);
    let offered: Vec<&str> = s
        .registry
        .offered(&reader, Offer::All)
        .map(|t| t.name)
        .collect();
    assert!(offered.contains(&"list_records") && offered.contains(&"analyze_table"));
    assert!(!offered.contains(&"create_records") && !offered.contains(&"list_bases"));
    let writer = principal(&Scope::ALL[..]);
    let read_only: Vec<&str> = s
        .registry
        .offered(&writer, Offer::ReadOnly)
        .map(|t| t.name)
        .collect();
    assert!(read_only.contains(&"list_bases"));
    assert!(!read_only.iter().any(|n| {
        [
            "create_records",
            "update_records",
            "upsert_records",
            "delete_records",
            "create_table",
            "update_table",
            "create_field",
            "update_field",
        ]
        .contains(n)
    }));

    // A tool not offered is unknown to the caller, and nothing is written.
    let refused = s
        .registry
        .call(&reader, Offer::All, "create_records", json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "records": [{"fields": {"Name": "No"}}]}), s.context.clone())
        .await;
    assert!(matches!(refused, Err(ToolError::UnknownTool(_))));
    let refused = s
        .registry
        .call(&writer, Offer::ReadOnly, "delete_records", json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "record_ids": ["recCt000000000001"]}), s.context.clone())
        .await;
    assert!(matches!(refused, Err(ToolError::UnknownTool(_))));
    let still = s
        .ok(
            "get_record",
            json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "record_id": "recCt000000000001"}),
        )
        .await;
    assert_eq!(still["id"], "recCt000000000001");

    for (name, args) in [
        ("list_records", json!({"table": "Contacts"})),
        (
            "list_records",
            json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "colour": "red"}),
        ),
        (
            "create_records",
            json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "records": []}),
        ),
        (
            "find_duplicates",
            json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "fields": []}),
        ),
        (
            "list_tables",
            json!({"base_id": DEMO_BASE_ID, "detail": "everything"}),
        ),
    ] {
        let result = s.call(name, args.clone()).await;
        assert!(
            matches!(result, Err(ToolError::InvalidArguments(_))),
            "{name} {args}: {result:?}"
        );
    }
    assert!(matches!(
        s.call("drop_database", json!({})).await,
        Err(ToolError::UnknownTool(_))
    ));
    // Airtable's own refusal is a tool failure carrying Airtable's message.
    let bad_formula = s
        .call(
            "list_records",
            json!({"base_id": DEMO_BASE_ID, "table": "Contacts", "filter_formula": "{Name} =="}),
        )
        .await;
    assert!(
        matches!(bad_formula, Err(ToolError::Airtable(_))),
        "{bad_formula:?}"
    );
}

/// Arguments that would steer a path segment (`..`, `meta` as a base) or break a declared limit
/// are refused as invalid arguments, naming the argument and the rule, before anything is sent:
/// the sandbox sees no request at all.
#[tokio::test]
async fn bad_arguments_are_refused_before_any_upstream_call() {
    let s = setup().await;
    let reader = principal(&[Scope::RecordsRead]);
    let every = principal(&Scope::ALL[..]);
    let long = |n: usize| "x".repeat(n);
    let many = |n: usize| (0..n).map(|i| format!("F{i}")).collect::<Vec<_>>();
    let table = "Contacts";
    // (who, tool, arguments, what the message must name)
    let cases: Vec<(&Principal, &str, Value, &str)> = vec![
        // Path steering, as found: `..` dropped by URL building reached meta/whoami; `meta` as
        // a base listed bases.
        (
            &reader,
            "get_record",
            json!({"base_id": "meta", "table": "whoami", "record_id": ".."}),
            "/base_id",
        ),
        (
            &reader,
            "list_records",
            json!({"base_id": "meta", "table": "bases"}),
            "/base_id",
        ),
        (
            &reader,
            "get_record",
            json!({"base_id": DEMO_BASE_ID, "table": table, "record_id": ".."}),
            "/record_id",
        ),
        (
            &reader,
            "list_records",
            json!({"base_id": DEMO_BASE_ID, "table": ".."}),
            "/table",
        ),
        (
            &reader,
            "list_records",
            json!({"base_id": DEMO_BASE_ID, "table": "."}),
            "/table",
        ),
        (
            &reader,
            "search_records",
            json!({"base_id": DEMO_BASE_ID, "table": "a\tb", "query": "x"}),
            "/table",
        ),
        (
            &every,
            "update_records",
            json!({"base_id": DEMO_BASE_ID, "table": table, "records": [{"id": "rec/../x", "fields": {}}]}),
            "/records/0/id",
        ),
        (
            &every,
            "delete_records",
            json!({"base_id": DEMO_BASE_ID, "table": table, "record_ids": [".."]}),
            "/record_ids/0",
        ),
        // maxLength
        (
            &reader,
            "search_records",
            json!({"base_id": DEMO_BASE_ID, "table": table, "query": long(501)}),
            "/query: longer than 500 characters",
        ),
        (
            &reader,
            "list_records",
            json!({"base_id": DEMO_BASE_ID, "table": table, "filter_formula": long(10_001)}),
            "/filter_formula: longer than 10000 characters",
        ),
        (
            &reader,
            "list_records",
            json!({"base_id": DEMO_BASE_ID, "table": long(256)}),
            "/table: longer than 255 characters",
        ),
        (
            &reader,
            "list_records",
            json!({"base_id": DEMO_BASE_ID, "table": "é".repeat(256)}),
            "/table: longer than 255 characters",
        ),
        // minLength
        (
            &reader,
            "list_records",
            json!({"base_id": DEMO_BASE_ID, "table": ""}),
            "/table: shorter than 1 character",
        ),
        (
            &reader,
            "list_records",
            json!({"base_id": DEMO_BASE_ID, "table": table, "fields": [""]}),
            "/fields/0: shorter than 1 character",
        ),
        // maxItems
        (
            &reader,
            "list_records",
            json!({"base_id": DEMO_BASE_ID, "table": table, "fields": many(101)}),
            "/fields: more than 100 items",
        ),
        (
            &reader,
            "find_duplicates",
            json!({"base_id": DEMO_BASE_ID, "table": table, "fields": many(6)}),
            "/fields: more than 5 items",
        ),
        (
            &reader,
            "list_records",
            json!({"base_id": DEMO_BASE_ID, "table": table, "sort": many(11).iter().map(|f| json!({"field": f})).collect::<Vec<_>>()}),
            "/sort: more than 10 items",
        ),
        // minItems
        (
            &every,
            "create_records",
            json!({"base_id": DEMO_BASE_ID, "table": table, "records": []}),
            "/records: fewer than 1 item",
        ),
        // maximum and minimum
        (
            &reader,
            "list_records",
            json!({"base_id": DEMO_BASE_ID, "table": table, "max_records": 1001}),
            "/max_records: greater than the maximum of 1000",
        ),
        (
            &reader,
            "analyze_table",
            json!({"base_id": DEMO_BASE_ID, "table": table, "max_records": 5001}),
            "/max_records: greater than the maximum of 5000",
        ),
        (
            &reader,
            "list_records",
            json!({"base_id": DEMO_BASE_ID, "table": table, "max_records": 0}),
            "/max_records: less than the minimum of 1",
        ),
        // enum
        (
            &reader,
            "list_records",
            json!({"base_id": DEMO_BASE_ID, "table": table, "sort": [{"field": "Name", "direction": "sideways"}]}),
            "/sort/0/direction: not one of",
        ),
        // type, required, unknown arguments
        (
            &reader,
            "list_records",
            json!({"base_id": DEMO_BASE_ID, "table": table, "max_records": "ten"}),
            "/max_records: not of type \"integer\"",
        ),
        (&reader, "list_records", json!({"table": table}), "base_id"),
        (
            &reader,
            "list_records",
            json!({"base_id": DEMO_BASE_ID, "table": table, "colour": "red"}),
            "colour",
        ),
        (
            &reader,
            "list_records",
            json!([DEMO_BASE_ID, table]),
            "object",
        ),
    ];
    s.sandbox.reset_counters();
    for (who, name, args, named) in cases {
        let result = s
            .registry
            .call(who, Offer::All, name, args.clone(), s.context.clone())
            .await;
        match result {
            Err(ToolError::InvalidArguments(message)) => assert!(
                message.contains(named),
                "{name} {args}: {message:?} should name {named:?}"
            ),
            other => panic!("{name} {args}: {other:?}"),
        }
    }
    assert_eq!(
        s.sandbox.counters().total_requests,
        0,
        "nothing reached Airtable: {:?}",
        s.sandbox.counters().routes.keys().collect::<Vec<_>>()
    );

    // At the limits the same tools run.
    let at_limit = s
        .call(
            "search_records",
            json!({"base_id": DEMO_BASE_ID, "table": table, "query": long(500), "fields": ["Name"], "max_records": 1000}),
        )
        .await;
    assert!(at_limit.is_ok(), "{at_limit:?}");
    // A table name with `/`, `?`, `#` or `%2F` is one segment: Airtable answers for that
    // (missing) table, never for another path.
    for odd in [
        "Contacts/../..",
        "Contacts?x=1",
        "Contacts#x",
        "Contacts%2F..",
        "...",
    ] {
        let result = s
            .call(
                "list_records",
                json!({"base_id": DEMO_BASE_ID, "table": odd}),
            )
            .await;
        assert!(
            matches!(&result, Err(ToolError::Airtable(err)) if err.status() == Some(403) || err.status() == Some(404)),
            "{odd}: {result:?}"
        );
    }
}
