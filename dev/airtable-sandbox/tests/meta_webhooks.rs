//! The meta API, webhooks with signed pings, and persistence, over HTTP.

mod common;

use airtable_sandbox::Sandbox;
use axum::body::Bytes;
use axum::http::HeaderMap;
use base64::Engine;
use common::*;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::Duration;
use tokio::sync::mpsc;

#[tokio::test]
async fn whoami_bases_and_schema() {
    let sb = start().await;
    let c = Client::new(&sb);
    let (_, me) = c.get("/v0/meta/whoami").await;
    assert_eq!(me["id"], "usrSandboxDemo001");
    assert_eq!(me["email"], "demo@sandbox.local");
    let (_, bases) = c.get("/v0/meta/bases").await;
    assert_eq!(
        bases,
        json!({"bases":[{"id":BASE,"name":"Demo CRM","permissionLevel":"create"}]})
    );
    let (status, schema) = c
        .get(&format!(
            "/v0/meta/bases/{BASE}/tables?include%5B%5D=visibleFieldIds"
        ))
        .await;
    assert_eq!(status, 200);
    let tables = schema["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 3);
    let deals = &tables[2];
    assert_eq!(deals["primaryFieldId"], deals["fields"][0]["id"]);
    assert_eq!(
        deals["fields"][4]["options"]["choices"][0],
        json!({"id":"selStg00000000001","name":"Lead","color":"grayLight2"})
    );
    assert!(deals["views"][0]["visibleFieldIds"].is_array());
    let (_, schema) = c.get(&format!("/v0/meta/bases/{BASE}/tables")).await;
    assert!(
        schema["tables"][0]["views"][0]
            .get("visibleFieldIds")
            .is_none()
    );
}

#[tokio::test]
async fn create_and_update_tables_and_fields() {
    let sb = start().await;
    let c = Client::new(&sb);
    let (status, table) = c
        .post(
            &format!("/v0/meta/bases/{BASE}/tables"),
            json!({"name":"Support Tickets","description":"Inbound","fields":[
                {"name":"Subject","type":"singleLineText"},
                {"name":"Priority","type":"singleSelect","options":{"choices":[{"name":"High"},{"name":"Low"}]}},
                {"name":"Customer","type":"multipleRecordLinks","options":{"linkedTableId":"tblCompanies00000"}}
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{table}");
    let table_id = table["id"].as_str().unwrap().to_string();
    assert!(table_id.starts_with("tbl") && table_id.len() == 17);
    assert_eq!(table["views"][0]["name"], "Grid view");
    assert!(
        table["fields"][1]["options"]["choices"][0]["id"]
            .as_str()
            .unwrap()
            .starts_with("sel")
    );
    // The link made an inverse field on Companies.
    let (_, schema) = c.get(&format!("/v0/meta/bases/{BASE}/tables")).await;
    let companies = &schema["tables"][0];
    assert!(
        companies["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "Support Tickets")
    );

    // The new table takes records, addressed by its URL-encoded name.
    let (status, rec) = c
        .post(&format!("/v0/{BASE}/Support%20Tickets"), json!({"fields":{"Subject":"Broken","Priority":"High","Customer":["recCo000000000002"]}}))
        .await;
    assert_eq!(status, 200, "{rec}");

    let (status, field) = c
        .post(
            &format!("/v0/meta/bases/{BASE}/tables/{table_id}/fields"),
            json!({"name":"Opened","type":"date","description":"When"}),
        )
        .await;
    assert_eq!(status, 200, "{field}");
    assert_eq!(field["options"]["dateFormat"]["name"], "iso");
    let field_id = field["id"].as_str().unwrap();
    let (status, field) = c
        .patch(
            &format!("/v0/meta/bases/{BASE}/tables/{table_id}/fields/{field_id}"),
            json!({"name":"Opened on"}),
        )
        .await;
    assert_eq!((status, field["name"].as_str()), (200, Some("Opened on")));
    let (status, body) = c
        .post(
            &format!("/v0/meta/bases/{BASE}/tables/{table_id}/fields"),
            json!({"name":"subject","type":"email"}),
        )
        .await;
    assert_eq!(
        (status, error_type(&body)),
        (422, "DUPLICATE_OR_EMPTY_FIELD_NAME")
    );
    let (status, body) = c
        .post(
            &format!("/v0/meta/bases/{BASE}/tables/{table_id}/fields"),
            json!({"name":"F","type":"formula","options":{"formula":"1"}}),
        )
        .await;
    assert_eq!(
        (status, error_type(&body)),
        (422, "UNSUPPORTED_FIELD_TYPE_FOR_CREATE")
    );
    let (status, table) = c
        .patch(
            &format!("/v0/meta/bases/{BASE}/tables/{table_id}"),
            json!({"name":"Tickets"}),
        )
        .await;
    assert_eq!((status, table["name"].as_str()), (200, Some("Tickets")));
    let (status, body) = c
        .post(
            &format!("/v0/meta/bases/{BASE}/tables"),
            json!({"name":"tickets","fields":[{"name":"A","type":"singleLineText"}]}),
        )
        .await;
    assert_eq!((status, error_type(&body)), (422, "DUPLICATE_TABLE_NAME"));
    let (status, body) = c
        .post(
            &format!("/v0/meta/bases/{BASE}/tables"),
            json!({"name":"Empty","fields":[]}),
        )
        .await;
    assert_eq!(
        (status, error_type(&body)),
        (422, "INVALID_REQUEST_MISSING_FIELDS")
    );
}

type Received = (HeaderMap, Bytes);

/// A tiny notification receiver that forwards each ping to the test.
async fn receiver() -> (String, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((headers, body));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx)
}

fn verify(secret_b64: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret_b64)
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    headers
        .get("x-airtable-content-mac")
        .unwrap()
        .to_str()
        .unwrap()
        == format!("hmac-sha256={expected}")
}

#[tokio::test]
async fn webhooks_collect_payloads_and_send_signed_pings() {
    let sb = start().await;
    let c = Client::new(&sb);
    let (url, mut pings) = receiver().await;
    let (status, hook) = c
        .post(
            &format!("/v0/bases/{BASE}/webhooks"),
            json!({"notificationUrl": url, "specification":{"options":{"filters":{"dataTypes":["tableData"],"recordChangeScope":"tblDeals000000000"}}}}),
        )
        .await;
    assert_eq!(status, 200, "{hook}");
    let hook_id = hook["id"].as_str().unwrap().to_string();
    assert!(hook_id.starts_with("ach"));
    let secret = hook["macSecretBase64"].as_str().unwrap().to_string();
    assert!(hook["expirationTime"].is_string());

    let (_, created) = c
        .post(
            &format!("/v0/{BASE}/Deals"),
            json!({"fields":{"Name":"Hooked","Amount":10}}),
        )
        .await;
    let rec_id = created["id"].as_str().unwrap().to_string();
    c.patch(
        &format!("/v0/{BASE}/Deals/{rec_id}"),
        json!({"fields":{"Amount":20}}),
    )
    .await;
    c.delete(&format!("/v0/{BASE}/Deals/{rec_id}")).await;
    // Other tables are out of scope for this hook.
    c.post(
        &format!("/v0/{BASE}/Companies"),
        json!({"fields":{"Name":"Ignored"}}),
    )
    .await;

    let (headers, body) = tokio::time::timeout(Duration::from_secs(5), pings.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(verify(&secret, &headers, &body));
    let ping: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(ping["base"]["id"], BASE);
    assert_eq!(ping["webhook"]["id"], hook_id.as_str());

    let (_, page) = c
        .get(&format!(
            "/v0/bases/{BASE}/webhooks/{hook_id}/payloads?limit=2"
        ))
        .await;
    let payloads = page["payloads"].as_array().unwrap();
    assert_eq!(payloads.len(), 2);
    assert_eq!(page["cursor"], 3);
    assert_eq!(page["mightHaveMore"], true);
    let first = &payloads[0]["changedTablesById"]["tblDeals000000000"];
    assert_eq!(
        first["createdRecordsById"][&rec_id]["cellValuesByFieldId"]["fldDl000000000001"],
        "Hooked"
    );
    let second =
        &payloads[1]["changedTablesById"]["tblDeals000000000"]["changedRecordsById"][&rec_id];
    assert_eq!(
        second["current"]["cellValuesByFieldId"]["fldDl000000000003"],
        20
    );
    assert_eq!(
        second["previous"]["cellValuesByFieldId"]["fldDl000000000003"],
        10
    );
    let (_, page) = c
        .get(&format!(
            "/v0/bases/{BASE}/webhooks/{hook_id}/payloads?cursor=3"
        ))
        .await;
    assert_eq!(
        page["payloads"][0]["changedTablesById"]["tblDeals000000000"]["destroyedRecordIds"],
        json!([rec_id])
    );
    assert_eq!(page["cursor"], 4);
    assert_eq!(page["mightHaveMore"], false);

    let (_, list) = c.get(&format!("/v0/bases/{BASE}/webhooks")).await;
    assert_eq!(list["webhooks"][0]["cursorForNextPayload"], 4);
    assert_eq!(list["webhooks"][0]["areNotificationsEnabled"], true);
    let (status, refreshed) = c
        .post(
            &format!("/v0/bases/{BASE}/webhooks/{hook_id}/refresh"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(refreshed["expirationTime"].is_string());
    let (status, _) = c
        .post(
            &format!("/v0/bases/{BASE}/webhooks/{hook_id}/enableNotifications"),
            json!({"enable": false}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = c
        .delete(&format!("/v0/bases/{BASE}/webhooks/{hook_id}"))
        .await;
    assert_eq!(status, 200);
    let (_, list) = c.get(&format!("/v0/bases/{BASE}/webhooks")).await;
    assert_eq!(list, json!({"webhooks": []}));
}

#[tokio::test]
async fn persistence_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sandbox.json");
    let sb = start_with(Sandbox::builder().no_rate_limits().persist(&file)).await;
    let c = Client::new(&sb);
    let (_, rec) = c
        .post(
            &format!("/v0/{BASE}/Companies"),
            json!({"fields":{"Name":"Persisted","Industry":"Biotech"},"typecast":true}),
        )
        .await;
    let id = rec["id"].as_str().unwrap().to_string();
    sb.shutdown().await;

    let again = start_with(Sandbox::builder().no_rate_limits().persist(&file)).await;
    let c = Client::new(&again);
    let (status, body) = c.get(&format!("/v0/{BASE}/Companies/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(body["fields"]["Name"], "Persisted");
    assert_eq!(body["fields"]["Industry"], "Biotech");
    // The persisted file is itself a valid seed.
    let text = std::fs::read_to_string(&file).unwrap();
    let seeded = start_with(Sandbox::builder().no_rate_limits().seed_json(text)).await;
    let (status, _) = Client::new(&seeded)
        .get(&format!("/v0/{BASE}/Companies/{id}"))
        .await;
    assert_eq!(status, 200);
}
