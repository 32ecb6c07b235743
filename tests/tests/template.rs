//! `infra/template.yaml` and the code must agree: the same HTTP routes, each served by the same
//! function, and the same queue redrive count.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_yaml::Value;

fn template() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
    let text = std::fs::read_to_string(&path).expect("read infra/template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

fn resources(template: &Value) -> Vec<(String, Value)> {
    template["Resources"]
        .as_mapping()
        .expect("Resources")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), v.clone()))
        .collect()
}

/// (function binary, METHOD, path) for every HttpApi event in the template.
fn template_routes(template: &Value) -> BTreeSet<(String, String, String)> {
    let mut routes = BTreeSet::new();
    for (name, resource) in resources(template) {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} names no Binary in Metadata.BuildProperties"))
            .to_string();
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, event) in events {
            if event["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let method = event["Properties"]["Method"].as_str().expect("Method");
            let path = event["Properties"]["Path"].as_str().expect("Path");
            assert!(
                event["Properties"]["ApiId"]["Ref"].as_str() == Some("HttpApi"),
                "{name}: every route belongs to the one HttpApi"
            );
            routes.insert((binary.clone(), method.to_uppercase(), path.to_string()));
        }
    }
    routes
}

#[test]
fn template_routes_equal_the_dev_server_routes() {
    let in_template = template_routes(&template());
    let in_code: BTreeSet<(String, String, String)> = http_api::routes::route_table()
        .into_iter()
        .map(|r| (r.function.to_string(), r.method, r.path.to_string()))
        .collect();
    assert!(!in_code.is_empty());
    let only_template: Vec<_> = in_template.difference(&in_code).collect();
    let only_code: Vec<_> = in_code.difference(&in_template).collect();
    assert!(
        only_template.is_empty() && only_code.is_empty(),
        "routes differ\n  only in template.yaml: {only_template:?}\n  only in the code: {only_code:?}"
    );
}

#[test]
fn every_function_binary_exists_as_a_crate() {
    for (name, resource) in resources(&template()) {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_default();
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../functions")
            .join(binary)
            .join("Cargo.toml");
        assert!(
            manifest.exists(),
            "{name}: no crate at {}",
            manifest.display()
        );
        assert_eq!(
            resource["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
            "{name}"
        );
    }
}

#[test]
fn redrive_counts_match_the_queue_port() {
    for (name, resource) in resources(&template()) {
        if resource["Type"].as_str() != Some("AWS::SQS::Queue") {
            continue;
        }
        if let Some(count) = resource["Properties"]["RedrivePolicy"]["maxReceiveCount"].as_u64() {
            assert_eq!(
                count,
                u64::from(ports::queue::MAX_RECEIVES),
                "{name}: maxReceiveCount must equal ports::queue::MAX_RECEIVES"
            );
        }
    }
}
