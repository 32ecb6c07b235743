//! Creates the platform's resources on a local emulator (moto) for tests and local runs. In AWS
//! the SAM template owns them; these functions build the same shapes (keys, index, TTL, FIFO,
//! redrive) so that code tested here meets the same resources there.
//!
//! Every function is idempotent: run it on every start, and it only creates what is missing.
//! Errors are plain strings because these run at start-up, where the message is all we need.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_sqs::types::QueueAttributeName;
use ports::queue::MAX_RECEIVES;
use ports::table_store::{EXPIRES_AT, GSI1_PK, GSI1_SK, PK, SK};
use ports::{QueueName, Table};

/// The name of the tables' secondary index.
pub const GSI1: &str = "gsi1";

/// The role a state machine created here claims. Emulators accept any well-formed role ARN; in
/// AWS the SAM template creates the real, least-privilege role.
pub const LOCAL_STATE_MACHINE_ROLE: &str = "arn:aws:iam::123456789012:role/local-state-machine";

/// How long to wait for a new table to become ACTIVE (moto: at once; AWS: seconds).
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(60);

fn sdk_message<E>(operation: &str, err: E) -> String
where
    E: std::error::Error + Send + Sync + 'static,
{
    format!(
        "{operation}: {}",
        aws_sdk_dynamodb::error::DisplayErrorContext(err)
    )
}

/// Creates each table (pk/sk string keys, `gsi1` on tables that have it, on-demand billing) and
/// turns on TTL on `expires_at`.
pub async fn ensure_tables(
    client: &aws_sdk_dynamodb::Client,
    tables: &BTreeMap<Table, String>,
) -> Result<(), String> {
    for (table, name) in tables {
        create_table(client, *table, name).await?;
        wait_until_active(client, name).await?;
        enable_ttl(client, name).await?;
    }
    Ok(())
}

fn key_schema(partition: &str, sort: &str) -> Result<Vec<KeySchemaElement>, String> {
    [(partition, KeyType::Hash), (sort, KeyType::Range)]
        .into_iter()
        .map(|(name, kind)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| e.to_string())
        })
        .collect()
}

async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    table: Table,
    name: &str,
) -> Result<(), String> {
    let mut key_attributes = vec![PK, SK];
    if table.has_gsi1() {
        key_attributes.extend([GSI1_PK, GSI1_SK]);
    }
    let definitions = key_attributes
        .into_iter()
        .map(|attribute| {
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut request = client
        .create_table()
        .table_name(name)
        .set_attribute_definitions(Some(definitions))
        .set_key_schema(Some(key_schema(PK, SK)?))
        .billing_mode(BillingMode::PayPerRequest);
    if table.has_gsi1() {
        let index = GlobalSecondaryIndex::builder()
            .index_name(GSI1)
            .set_key_schema(Some(key_schema(GSI1_PK, GSI1_SK)?))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(|e| e.to_string())?;
        request = request.global_secondary_indexes(index);
    }
    match request.send().await {
        Ok(_) => {
            tracing::info!(table = name, "created DynamoDB table");
            Ok(())
        }
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(err) => Err(sdk_message("CreateTable", err)),
    }
}

async fn wait_until_active(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + TABLE_ACTIVE_TIMEOUT;
    loop {
        let out = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| sdk_message("DescribeTable", e))?;
        let status = out.table().and_then(|t| t.table_status());
        if status == Some(&TableStatus::Active) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("table {name} is still {status:?}"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn ttl_enabled(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<bool, String> {
    let out = client
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(|e| sdk_message("DescribeTimeToLive", e))?;
    let description = out.time_to_live_description();
    let status = description.and_then(|d| d.time_to_live_status());
    let on = matches!(
        status,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    );
    Ok(on && description.and_then(|d| d.attribute_name()) == Some(EXPIRES_AT))
}

async fn enable_ttl(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), String> {
    if ttl_enabled(client, name).await? {
        return Ok(());
    }
    let specification = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(EXPIRES_AT)
        .build()
        .map_err(|e| e.to_string())?;
    let result = client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(specification)
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        // A concurrent start may have enabled it meanwhile ("TimeToLive is already enabled").
        Err(_) if ttl_enabled(client, name).await? => Ok(()),
        Err(err) => Err(sdk_message("UpdateTimeToLive", err)),
    }
}

/// Creates the four queues, dead-letter queues first, as `name_prefix + logical_name()`. FIFO
/// queues take explicit deduplication ids (the port requires one), so content-based
/// deduplication stays off. Returns each queue's URL.
pub async fn ensure_queues(
    client: &aws_sdk_sqs::Client,
    name_prefix: &str,
) -> Result<BTreeMap<QueueName, String>, String> {
    let mut urls: BTreeMap<QueueName, String> = BTreeMap::new();
    let dead_letter_first = [
        QueueName::RunsDlq,
        QueueName::EventsDlq,
        QueueName::Runs,
        QueueName::Events,
    ];
    for queue in dead_letter_first {
        let mut request = client
            .create_queue()
            .queue_name(format!("{name_prefix}{}", queue.logical_name()));
        if queue.is_fifo() {
            request = request.attributes(QueueAttributeName::FifoQueue, "true");
        }
        if let Some(dlq) = queue.dead_letter_queue() {
            let dlq_url = urls
                .get(&dlq)
                .ok_or_else(|| format!("{dlq} must exist before {queue}"))?;
            let dlq_arn = queue_arn(client, dlq_url).await?;
            let policy = serde_json::json!({
                "deadLetterTargetArn": dlq_arn,
                "maxReceiveCount": MAX_RECEIVES.to_string(),
            });
            request = request.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
        }
        let out = request.send().await.map_err(|e| {
            format!(
                "CreateQueue {queue}: {}",
                aws_sdk_sqs::error::DisplayErrorContext(e)
            )
        })?;
        let url = out
            .queue_url()
            .ok_or_else(|| format!("CreateQueue {queue} returned no URL"))?;
        urls.insert(queue, url.to_string());
    }
    Ok(urls)
}

async fn queue_arn(client: &aws_sdk_sqs::Client, url: &str) -> Result<String, String> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| {
            format!(
                "GetQueueAttributes {url}: {}",
                aws_sdk_sqs::error::DisplayErrorContext(e)
            )
        })?;
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| format!("queue {url} has no ARN"))
}

/// Creates the state machine `name` with `definition` (or updates the definition of an existing
/// one) and returns its ARN.
pub async fn ensure_state_machine(
    client: &aws_sdk_sfn::Client,
    name: &str,
    definition: &str,
) -> Result<String, String> {
    let sfn_message = |operation: &str, err: &dyn std::fmt::Display| format!("{operation}: {err}");
    let created = client
        .create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(LOCAL_STATE_MACHINE_ROLE)
        .send()
        .await;
    let arn = match created {
        Ok(out) => out.state_machine_arn().to_string(),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_state_machine_already_exists()) =>
        {
            find_state_machine(client, name).await?
        }
        Err(err) => {
            return Err(sfn_message(
                "CreateStateMachine",
                &aws_sdk_sfn::error::DisplayErrorContext(err),
            ));
        }
    };
    // Create returns an existing machine of the same name unchanged (moto always does), so make
    // sure it runs this definition.
    let current = client
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .map_err(|e| {
            sfn_message(
                "DescribeStateMachine",
                &aws_sdk_sfn::error::DisplayErrorContext(e),
            )
        })?;
    if current.definition() != definition {
        client
            .update_state_machine()
            .state_machine_arn(&arn)
            .definition(definition)
            .send()
            .await
            .map_err(|e| {
                sfn_message(
                    "UpdateStateMachine",
                    &aws_sdk_sfn::error::DisplayErrorContext(e),
                )
            })?;
    }
    Ok(arn)
}

async fn find_state_machine(client: &aws_sdk_sfn::Client, name: &str) -> Result<String, String> {
    let mut pages = client.list_state_machines().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            format!(
                "ListStateMachines: {}",
                aws_sdk_sfn::error::DisplayErrorContext(e)
            )
        })?;
        if let Some(machine) = page.state_machines().iter().find(|m| m.name() == name) {
            return Ok(machine.state_machine_arn().to_string());
        }
    }
    Err(format!("state machine {name} exists but is not listed"))
}
