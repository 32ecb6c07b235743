//! The platform on DynamoDB, SQS and Secrets Manager (on AWS, or an emulator such as moto).

use std::sync::Arc;

use basics::{Clock, RandomIds};
use platform::{Platform, Ports, Settings};
use ports::CachedSecrets;

/// Builds the platform on the AWS adapters. With `AWS_PROVISION` on (an emulator), missing
/// tables and queues are created first.
pub async fn aws_platform(
    settings: &Settings,
    clock: Arc<dyn Clock>,
) -> Result<Arc<Platform>, String> {
    let aws = &settings.aws;
    let sdk = aws_adapters::sdk_config(aws.endpoint_url.as_deref()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let secrets_manager = aws_sdk_secretsmanager::Client::new(&sdk);
    let mut queue_urls = aws.queue_urls.clone();
    if aws.provision {
        aws_adapters::provision::ensure_tables(&dynamodb, &aws.tables).await?;
        let provisioned =
            aws_adapters::provision::ensure_queues(&sqs, &aws.resource_prefix).await?;
        for (queue, url) in provisioned {
            queue_urls.entry(queue).or_insert(url);
        }
    }
    let secrets =
        aws_adapters::SecretsManagerSecrets::new(secrets_manager, aws.secrets_prefix.clone());
    let ports = Ports {
        store: Arc::new(aws_adapters::DynamoStore::new(
            dynamodb,
            aws.tables.clone(),
            Arc::clone(&clock),
        )),
        queue: Arc::new(aws_adapters::SqsQueue::new(sqs, queue_urls)),
        secrets: Arc::new(CachedSecrets::new(
            secrets,
            settings.secrets_cache_ttl,
            Arc::clone(&clock),
        )),
        clock,
        ids: Arc::new(RandomIds),
    };
    Ok(crate::assemble(ports, settings))
}
