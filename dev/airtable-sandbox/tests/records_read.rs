//! Listing and reading records over HTTP: paging, offsets, views, sort, fields, formulas.

mod common;

use airtable_sandbox::Sandbox;
use common::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn pages_follow_offsets_until_the_end() {
    let sb = start().await;
    let c = Client::new(&sb);
    let mut seen = Vec::new();
    let mut offset: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &offset {
            Some(o) => format!("/v0/{BASE}/Contacts?pageSize=3&offset={o}"),
            None => format!("/v0/{BASE}/Contacts?pageSize=3"),
        };
        let (status, body) = c.get(&path).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        for r in body["records"].as_array().unwrap() {
            assert!(r["id"].as_str().unwrap().starts_with("rec"));
            assert!(r["createdTime"].as_str().unwrap().ends_with('Z'));
            seen.push(r["id"].as_str().unwrap().to_string());
        }
        match body.get("offset").and_then(|o| o.as_str()) {
            Some(o) => offset = Some(o.replace('/', "%2F")),
            None => break,
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(seen.len(), 10);
}

#[tokio::test]
async fn offsets_expire_and_unknown_offsets_are_refused() {
    let sb = start_with(
        Sandbox::builder()
            .no_rate_limits()
            .offset_ttl(Duration::from_millis(100)),
    )
    .await;
    let c = Client::new(&sb);
    let (_, first) = c.get(&format!("/v0/{BASE}/Contacts?pageSize=2")).await;
    let offset = first["offset"].as_str().unwrap().to_string();
    assert!(offset.starts_with("itr"));
    tokio::time::sleep(Duration::from_millis(250)).await;
    let (status, body) = c
        .get(&format!("/v0/{BASE}/Contacts?pageSize=2&offset={offset}"))
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        json!({"error":{"type":"LIST_RECORDS_ITERATOR_NOT_AVAILABLE"}})
    );

    let (status, body) = c.get(&format!("/v0/{BASE}/Contacts?offset=itrBogus")).await;
    assert_eq!(status, 422);
    assert_eq!(error_type(&body), "LIST_RECORDS_ITERATOR_NOT_AVAILABLE");

    // A restart (or the admin call) forgets every offset.
    sb.set_offset_ttl(Duration::from_secs(60));
    let (_, first) = c.get(&format!("/v0/{BASE}/Contacts?pageSize=2")).await;
    sb.expire_offsets();
    let (status, _) = c
        .get(&format!(
            "/v0/{BASE}/Contacts?offset={}",
            first["offset"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn max_records_caps_all_pages_and_page_size_is_bounded() {
    let sb = start().await;
    let c = Client::new(&sb);
    let (_, body) = c
        .get(&format!("/v0/{BASE}/Contacts?maxRecords=4&pageSize=3"))
        .await;
    assert_eq!(body["records"].as_array().unwrap().len(), 3);
    let (_, next) = c
        .get(&format!(
            "/v0/{BASE}/Contacts?pageSize=3&offset={}",
            body["offset"].as_str().unwrap()
        ))
        .await;
    assert_eq!(next["records"].as_array().unwrap().len(), 1);
    assert!(next.get("offset").is_none());
    let (status, body) = c.get(&format!("/v0/{BASE}/Contacts?pageSize=101")).await;
    assert_eq!(status, 422);
    assert_eq!(error_type(&body), "INVALID_REQUEST_UNKNOWN");
}

#[tokio::test]
async fn view_filters_and_orders() {
    let sb = start().await;
    let c = Client::new(&sb);
    let (status, body) = c.get(&format!("/v0/{BASE}/Deals?view=Open%20deals")).await;
    assert_eq!(status, 200, "{body}");
    let amounts: Vec<f64> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["fields"]["Amount"].as_f64().unwrap())
        .collect();
    assert_eq!(amounts, vec![125000.0, 56000.0, 48000.0, 12000.0, 4500.0]);
    // A sort parameter overrides the view's order; the filter still applies.
    let (_, body) = c
        .get(&format!(
            "/v0/{BASE}/Deals?view=viwDl000000000002&sort%5B0%5D%5Bfield%5D=Name"
        ))
        .await;
    assert_eq!(names(&body)[0], "Acme platform renewal");
    assert_eq!(names(&body).len(), 5);
    let (status, body) = c.get(&format!("/v0/{BASE}/Deals?view=Nope")).await;
    assert_eq!(status, 422);
    assert_eq!(error_type(&body), "VIEW_NAME_NOT_FOUND");
}

#[tokio::test]
async fn sort_by_query_parameters() {
    let sb = start().await;
    let c = Client::new(&sb);
    let (_, body) = c
        .get(&format!(
            "/v0/{BASE}/Companies?sort%5B0%5D%5Bfield%5D=Employees&sort%5B0%5D%5Bdirection%5D=desc"
        ))
        .await;
    assert_eq!(
        names(&body),
        vec![
            "Cedar Health",
            "Acme Robotics",
            "Dune Retail",
            "Bluebird Software",
            "Evergreen Labs"
        ]
    );
    let (_, body) = c.get(&format!("/v0/{BASE}/Companies?sort[0][field]=Industry&sort[1][field]=Name&sort[1][direction]=desc")).await;
    assert_eq!(
        names(&body),
        vec![
            "Cedar Health",
            "Acme Robotics",
            "Dune Retail",
            "Evergreen Labs",
            "Bluebird Software"
        ]
    );
    let (status, body) = c
        .get(&format!("/v0/{BASE}/Companies?sort%5B0%5D%5Bfield%5D=Nope"))
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        json!({"error":{"type":"UNKNOWN_FIELD_NAME","message":"Unknown field name: \"Nope\""}})
    );
}

#[tokio::test]
async fn fields_and_return_fields_by_field_id() {
    let sb = start().await;
    let c = Client::new(&sb);
    let (_, body) = c
        .get(&format!(
            "/v0/{BASE}/Companies?fields%5B%5D=Name&fields%5B%5D=Website&maxRecords=1"
        ))
        .await;
    let fields = body["records"][0]["fields"].as_object().unwrap();
    assert_eq!(
        fields.keys().cloned().collect::<Vec<_>>(),
        vec!["Name", "Website"]
    );
    let (_, body) = c
        .get(&format!(
            "/v0/{BASE}/Companies?fields%5B%5D=Name&returnFieldsByFieldId=1&maxRecords=1"
        ))
        .await;
    assert_eq!(
        body["records"][0]["fields"],
        json!({"fldCo000000000001": "Acme Robotics"})
    );
    let (_, body) = c
        .get(&format!(
            "/v0/{BASE}/Companies/recCo000000000002?returnFieldsByFieldId=true"
        ))
        .await;
    assert_eq!(body["fields"]["fldCo000000000001"], "Bluebird Software");
    let (status, body) = c
        .get(&format!("/v0/{BASE}/Companies?fields%5B%5D=Bogus"))
        .await;
    assert_eq!((status, error_type(&body)), (422, "UNKNOWN_FIELD_NAME"));
}

#[tokio::test]
async fn filter_by_formula_good_and_bad() {
    let sb = start().await;
    let c = Client::new(&sb);
    let (status, body) = c
        .get(&format!(
            "/v0/{BASE}/Companies?filterByFormula=%7BEmployees%7D%3E100"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(names(&body), vec!["Acme Robotics", "Cedar Health"]);
    let (_, body) = c.get(&format!("/v0/{BASE}/Contacts?filterByFormula=AND(%7BSubscribed%7D%2CFIND(%27Technical%27%2C%7BTags%7D))")).await;
    assert_eq!(
        names(&body),
        vec!["Ada Lovelace", "Farid Haddad", "Ines Duarte"]
    );
    // Field ids work inside braces too.
    let (_, body) = c
        .get(&format!(
            "/v0/{BASE}/Deals?filterByFormula=%7BfldDl000000000005%7D%3D%27Won%27"
        ))
        .await;
    assert_eq!(names(&body), vec!["Bluebird expansion"]);

    let (status, body) = c
        .get(&format!(
            "/v0/{BASE}/Companies?filterByFormula=%7BEmployees%7D%3E"
        ))
        .await;
    assert_eq!(status, 422);
    assert_eq!(error_type(&body), "INVALID_FILTER_BY_FORMULA");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("The formula for filtering records is invalid")
    );
    let (status, body) = c
        .get(&format!(
            "/v0/{BASE}/Companies?filterByFormula=%7BNope%7D%3D1"
        ))
        .await;
    assert_eq!(status, 422);
    assert_eq!(error_type(&body), "INVALID_FILTER_BY_FORMULA");
    let (status, body) = c
        .get(&format!("/v0/{BASE}/Companies?filterByFormula=NOSUCHFN(1)"))
        .await;
    assert_eq!(
        (status, error_type(&body)),
        (422, "INVALID_FILTER_BY_FORMULA")
    );
}

#[tokio::test]
async fn post_list_records_takes_a_json_body() {
    let sb = start().await;
    let c = Client::new(&sb);
    let (status, body) = c
        .post(
            &format!("/v0/{BASE}/Deals/listRecords"),
            json!({"filterByFormula":"{Stage}='Proposal'","sort":[{"field":"Amount","direction":"asc"}],"fields":["Name"],"returnFieldsByFieldId":false,"pageSize":1}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(names(&body), vec!["Acme platform renewal"]);
    let offset = body["offset"].as_str().unwrap();
    let (_, body) = c
        .post(
            &format!("/v0/{BASE}/Deals/listRecords"),
            json!({"offset": offset, "pageSize": 1, "fields":["Name"]}),
        )
        .await;
    assert_eq!(names(&body), vec!["Cedar EHR integration"]);
}

#[tokio::test]
async fn formula_fields_are_computed_and_empty_values_omitted() {
    let sb = start().await;
    let c = Client::new(&sb);
    let (_, body) = c.get(&format!("/v0/{BASE}/Deals/recDl000000000001")).await;
    assert_eq!(body["fields"]["Weighted amount"], json!(43200));
    let (_, body) = c
        .get(&format!("/v0/{BASE}/Contacts/recCt000000000001"))
        .await;
    assert_eq!(body["fields"]["Label"], "Ada Lovelace (CTO)");
    assert_eq!(body["fields"]["Contact number"], 1);
    // Brian is not subscribed: the checkbox is absent, never false.
    let (_, body) = c
        .get(&format!("/v0/{BASE}/Contacts/recCt000000000002"))
        .await;
    assert!(body["fields"].get("Subscribed").is_none());
    let (status, body) = c
        .get(&format!("/v0/{BASE}/Contacts/recCt00000000NOPE"))
        .await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({"error":{"type":"NOT_FOUND"}}));
}

#[tokio::test]
async fn tables_by_name_or_id_and_unknown_paths() {
    let sb = start().await;
    let c = Client::new(&sb);
    let (s1, b1) = c
        .get(&format!("/v0/{BASE}/tblDeals000000000?maxRecords=1"))
        .await;
    let (s2, b2) = c.get(&format!("/v0/{BASE}/Deals?maxRecords=1")).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(b1, b2);
    let (status, body) = c.get(&format!("/v0/{BASE}/NoSuchTable")).await;
    assert_eq!(
        (status, error_type(&body)),
        (403, "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND")
    );
    let (status, body) = c.get("/v0/nothing").await;
    assert_eq!((status, body), (404, json!({"error":"NOT_FOUND"})));
}
