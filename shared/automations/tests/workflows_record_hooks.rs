//! The workflows service with the real record-trigger hooks against the Airtable sandbox:
//! saving, moving, disabling and deleting a record-triggered workflow leaves exactly the
//! registrations and Airtable webhooks it needs, no more.

#[path = "record_hooks_support/mod.rs"]
mod record_hooks_support;

use std::sync::Arc;

use async_trait::async_trait;
use automations::{AutomationError, SchemaLookup, WorkflowSpec, Workflows};
use basics::{SequentialIds, SystemClock};
use record_hooks_support::*;
use serde_json::json;

/// Every table exists with a `Name` field (the schema is not what this test is about).
#[derive(Debug)]
struct AnyTable;

#[async_trait]
impl SchemaLookup for AnyTable {
    async fn table_fields(
        &self,
        _tenant_id: &str,
        _base: &str,
        _table: &str,
    ) -> Result<Option<Vec<String>>, AutomationError> {
        Ok(Some(vec!["Name".to_string()]))
    }
}

fn on_table(table: &str, enabled: bool) -> WorkflowSpec {
    serde_json::from_value(json!({
        "name": "Contacts sync",
        "enabled": enabled,
        "trigger": {"type": "record_created", "base": airtable_sandbox::DEMO_BASE_ID, "table": table},
        "steps": [{"id": "note", "type": "set", "values": {"id": "{{ trigger.record_id }}"}}]
    }))
    .expect("spec")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saves_leave_exactly_the_webhooks_the_workflow_needs() {
    let world = World::start().await;
    let workflows = Workflows::new(
        Arc::clone(&world.store),
        Arc::new(SystemClock),
        Arc::new(SequentialIds::default()),
        Arc::new(world.hooks.clone()),
        Arc::new(AnyTable),
    );
    let id = workflows
        .create(TENANT, on_table("Contacts", true))
        .await
        .expect("create")
        .workflow
        .id;
    let contacts = world.registration(CONTACTS).await.expect("registered");
    assert_eq!(contacts.workflow_ids, vec![id.to_string()]);
    assert_eq!(world.sandbox_webhooks().await.len(), 1);

    // Moved to another table: the Contacts webhook goes, a Companies one comes.
    workflows
        .replace(TENANT, &id, on_table("Companies", true))
        .await
        .expect("move");
    assert!(world.registration(CONTACTS).await.is_none());
    let companies = world.registration(COMPANIES).await.expect("registered");
    assert_eq!(companies.workflow_ids, vec![id.to_string()]);
    assert_eq!(world.sandbox_webhooks().await.len(), 1);

    // Disabled: no webhook left; enabled again: back.
    workflows
        .patch(TENANT, &id, json!({"enabled": false}))
        .await
        .expect("disable");
    assert!(world.registration(COMPANIES).await.is_none());
    assert!(world.sandbox_webhooks().await.is_empty());
    workflows
        .patch(TENANT, &id, json!({"enabled": true}))
        .await
        .expect("enable");
    assert!(world.registration(COMPANIES).await.is_some());
    assert_eq!(world.sandbox_webhooks().await.len(), 1);

    // Renamed: still exactly one webhook.
    workflows
        .patch(TENANT, &id, json!({"name": "Companies sync"}))
        .await
        .expect("rename");
    assert_eq!(world.sandbox_webhooks().await.len(), 1);

    workflows.delete(TENANT, &id).await.expect("delete");
    assert!(world.registration(COMPANIES).await.is_none());
    assert!(world.sandbox_webhooks().await.is_empty());
}
