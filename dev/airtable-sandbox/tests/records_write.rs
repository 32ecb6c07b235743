//! Writing records over HTTP: create, batch limits, validation errors, typecast, PATCH vs PUT,
//! upsert, delete.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn create_one_and_a_batch() {
    let sb = start().await;
    let c = Client::new(&sb);
    let (status, rec) = c
        .post(
            &format!("/v0/{BASE}/Companies"),
            json!({"fields":{"Name":"Fox","Employees":3,"Notes":""}}),
        )
        .await;
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["id"].as_str().unwrap().len(), 17);
    assert_eq!(rec["fields"]["Name"], "Fox");
    assert!(
        rec["fields"].get("Notes").is_none(),
        "empty values are never returned"
    );
    assert!(rec["fields"]["Created"].is_string());
    let batch: Vec<Value> = (0..10)
        .map(|i| json!({"fields":{"Name": format!("C{i}")}}))
        .collect();
    let (status, body) = c
        .post(&format!("/v0/{BASE}/Companies"), json!({"records": batch}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["records"].as_array().unwrap().len(), 10);
    assert_eq!(body.as_object().unwrap().len(), 1);
}

#[tokio::test]
async fn more_than_ten_records_is_invalid_records() {
    let sb = start().await;
    let c = Client::new(&sb);
    let batch: Vec<Value> = (0..11)
        .map(|i| json!({"fields":{"Name": format!("C{i}")}}))
        .collect();
    let (status, body) = c
        .post(
            &format!("/v0/{BASE}/Companies"),
            json!({"records": batch.clone()}),
        )
        .await;
    assert_eq!((status, error_type(&body)), (422, "INVALID_RECORDS"));
    let (status, body) = c
        .patch(&format!("/v0/{BASE}/Companies"), json!({"records": batch}))
        .await;
    assert_eq!((status, error_type(&body)), (422, "INVALID_RECORDS"));
    let ids: String = (0..11)
        .map(|i| format!("records%5B%5D=recCo00000000000{i}&"))
        .collect();
    let (status, body) = c.delete(&format!("/v0/{BASE}/Companies?{ids}")).await;
    assert_eq!((status, error_type(&body)), (422, "INVALID_RECORDS"));
    // Nothing was written.
    let (_, body) = c.get(&format!("/v0/{BASE}/Companies")).await;
    assert_eq!(body["records"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn validation_errors_match_airtable() {
    let sb = start().await;
    let c = Client::new(&sb);
    let path = format!("/v0/{BASE}/Deals");
    let (status, body) = c.post(&path, json!({"fields":{"name":"lowercase"}})).await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        json!({"error":{"type":"UNKNOWN_FIELD_NAME","message":"Unknown field name: \"name\""}})
    );
    let (status, body) = c
        .post(&path, json!({"fields":{"Stage":"Negotiation"}}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        json!({"error":{"type":"INVALID_MULTIPLE_CHOICE_OPTIONS","message":"Insufficient permissions to create new select option \"\"Negotiation\"\""}})
    );
    let (status, body) = c.post(&path, json!({"fields":{"Amount":"lots"}})).await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        json!({"error":{"type":"INVALID_VALUE_FOR_COLUMN","message":"Field \"Amount\" cannot accept the provided value"}})
    );
    let (status, body) = c
        .post(&path, json!({"fields":{"Weighted amount": 3}}))
        .await;
    assert_eq!(
        (status, error_type(&body)),
        (422, "INVALID_VALUE_FOR_COLUMN")
    );
    let (status, body) = c
        .post(&path, json!({"fields":{"Company":["recNoSuchCompany1"]}}))
        .await;
    assert_eq!((status, error_type(&body)), (422, "ROW_DOES_NOT_EXIST"));
    let (status, body) = c
        .post(&path, json!({"fields":{"Close date":"yesterday"}}))
        .await;
    assert_eq!(
        (status, error_type(&body)),
        (422, "INVALID_VALUE_FOR_COLUMN")
    );
    let (status, body) = c.post(&path, json!({"nope": 1})).await;
    assert_eq!(
        (status, error_type(&body)),
        (422, "INVALID_REQUEST_UNKNOWN")
    );
    let (status, body) = c.post(&path, json!({})).await;
    assert_eq!(
        (status, error_type(&body)),
        (422, "INVALID_REQUEST_MISSING_FIELDS")
    );
}

#[tokio::test]
async fn typecast_converts_and_creates_select_options() {
    let sb = start().await;
    let c = Client::new(&sb);
    let (status, rec) = c
        .post(
            &format!("/v0/{BASE}/Contacts"),
            json!({"typecast": true, "fields": {"Name":"Typecast", "Tags":"Technical, Investor", "Subscribed":"yes", "Rating":"4", "Last contacted":"2024-06-01 10:30", "Company":"Acme Robotics"}}),
        )
        .await;
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["fields"]["Tags"], json!(["Technical", "Investor"]));
    assert_eq!(rec["fields"]["Subscribed"], json!(true));
    assert_eq!(rec["fields"]["Rating"], json!(4));
    assert_eq!(rec["fields"]["Last contacted"], "2024-06-01T10:30:00.000Z");
    assert_eq!(rec["fields"]["Company"], json!(["recCo000000000001"]));
    assert_eq!(rec["fields"]["Contact number"], json!(11));
    let (_, schema) = c.get(&format!("/v0/meta/bases/{BASE}/tables")).await;
    let tags = schema["tables"][1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Tags")
        .unwrap();
    let choice_names: Vec<&str> = tags["options"]["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(choice_names.contains(&"Investor"));
    // The inverse link on the company now lists the new contact.
    let (_, acme) = c
        .get(&format!("/v0/{BASE}/Companies/recCo000000000001"))
        .await;
    assert!(
        acme["fields"]["Contacts"]
            .as_array()
            .unwrap()
            .contains(&rec["id"])
    );
}

#[tokio::test]
async fn patch_merges_and_put_replaces() {
    let sb = start().await;
    let c = Client::new(&sb);
    let path = format!("/v0/{BASE}/Contacts/recCt000000000001");
    let (status, rec) = c
        .patch(&path, json!({"fields":{"Title":"Chief Scientist"}}))
        .await;
    assert_eq!(status, 200, "{rec}");
    assert_eq!(rec["fields"]["Title"], "Chief Scientist");
    assert_eq!(rec["fields"]["Email"], "ada@acme.example.com");
    let (status, rec) = c.put(&path, json!({"fields":{"Name":"Ada"}})).await;
    assert_eq!(status, 200);
    let keys: Vec<&str> = rec["fields"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert!(
        !keys.contains(&"Email") && !keys.contains(&"Title"),
        "{keys:?}"
    );
    assert_eq!(
        rec["fields"]["Contact number"], 1,
        "computed values survive PUT"
    );
    // The company lost the link that PUT cleared.
    let (_, acme) = c
        .get(&format!("/v0/{BASE}/Companies/recCo000000000001"))
        .await;
    assert_eq!(acme["fields"]["Contacts"], json!(["recCt000000000002"]));
    // Batch PATCH with an unknown id fails as a whole.
    let (status, body) = c
        .patch(
            &format!("/v0/{BASE}/Contacts"),
            json!({"records":[{"id":"recCt000000000002","fields":{"Title":"X"}},{"id":"recCt0000000NOPE1","fields":{"Title":"Y"}}]}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        json!({"error":{"type":"ROW_DOES_NOT_EXIST","message":"Record ID recCt0000000NOPE1 does not exist in this table"}})
    );
    let (_, brian) = c
        .get(&format!("/v0/{BASE}/Contacts/recCt000000000002"))
        .await;
    assert_eq!(brian["fields"]["Title"], "Engineer");
    let (status, body) = c
        .patch(
            &format!("/v0/{BASE}/Contacts/recCt0000000NOPE1"),
            json!({"fields":{}}),
        )
        .await;
    assert_eq!((status, error_type(&body)), (404, "NOT_FOUND"));
}

#[tokio::test]
async fn upsert_reports_created_and_updated() {
    let sb = start().await;
    let c = Client::new(&sb);
    let (status, body) = c
        .patch(
            &format!("/v0/{BASE}/Companies"),
            json!({"performUpsert":{"fieldsToMergeOn":["Name"]},"records":[
                {"fields":{"Name":"Acme Robotics","Employees":260}},
                {"fields":{"Name":"Hollow Oak","Employees":9}}
            ]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["updatedRecords"], json!(["recCo000000000001"]));
    let created = body["createdRecords"].as_array().unwrap();
    assert_eq!(created.len(), 1);
    assert_eq!(body["records"][1]["id"], created[0]);
    assert_eq!(body["records"][0]["fields"]["Employees"], 260);
    assert_eq!(
        body["records"][0]["fields"]["Website"],
        "https://acme.example.com"
    );
    let (status, body) = c
        .patch(&format!("/v0/{BASE}/Companies"), json!({"performUpsert":{"fieldsToMergeOn":["Nope"]},"records":[{"fields":{"Name":"x"}}]}))
        .await;
    assert_eq!((status, error_type(&body)), (422, "UNKNOWN_FIELD_NAME"));
    // Two existing matches make the whole request fail.
    c.post(
        &format!("/v0/{BASE}/Companies"),
        json!({"fields":{"Name":"Twin"}}),
    )
    .await;
    c.post(
        &format!("/v0/{BASE}/Companies"),
        json!({"fields":{"Name":"Twin"}}),
    )
    .await;
    let (status, _) = c
        .patch(&format!("/v0/{BASE}/Companies"), json!({"performUpsert":{"fieldsToMergeOn":["Name"]},"records":[{"fields":{"Name":"Twin"}}]}))
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn delete_one_and_many() {
    let sb = start().await;
    let c = Client::new(&sb);
    let (status, body) = c
        .delete(&format!("/v0/{BASE}/Deals/recDl000000000001"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"id":"recDl000000000001","deleted":true}));
    let (status, body) = c
        .delete(&format!(
            "/v0/{BASE}/Deals?records%5B%5D=recDl000000000002&records%5B%5D=recDl000000000003"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"records":[{"id":"recDl000000000002","deleted":true},{"id":"recDl000000000003","deleted":true}]})
    );
    let (status, _) = c.get(&format!("/v0/{BASE}/Deals/recDl000000000001")).await;
    assert_eq!(status, 404);
    // Links to deleted records disappear.
    let (_, acme) = c
        .get(&format!("/v0/{BASE}/Companies/recCo000000000001"))
        .await;
    assert!(acme["fields"].get("Deals").is_none(), "{acme}");
    let (status, body) = c
        .delete(&format!("/v0/{BASE}/Deals/recDl000000000001"))
        .await;
    assert_eq!((status, error_type(&body)), (404, "NOT_FOUND"));
}

#[tokio::test]
async fn attachments_by_url_and_kept_by_id() {
    let sb = start().await;
    let c = Client::new(&sb);
    let (status, rec) = c
        .patch(
            &format!("/v0/{BASE}/Companies/recCo000000000001"),
            json!({"fields":{"Logo":[{"id":"attAcmeLogo000001"},{"url":"https://example.com/files/deck.pdf"}]}}),
        )
        .await;
    assert_eq!(status, 200, "{rec}");
    let logo = rec["fields"]["Logo"].as_array().unwrap();
    assert_eq!(logo.len(), 2);
    assert_eq!(logo[0]["filename"], "acme-logo.png");
    assert_eq!(logo[1]["filename"], "deck.pdf");
    assert_eq!(logo[1]["type"], "application/pdf");
    assert!(logo[1]["id"].as_str().unwrap().starts_with("att"));
}
