//! The platform on DynamoDB, SQS and Secrets Manager (on AWS, or an emulator such as moto).

use std::sync::Arc;

use basics::{Clock, RandomIds};
use platform::{Platform, Ports, Settings};
use ports::CachedSecrets;

use crate::MachineDefinitions;

/// The ARN prefix of the task functions in machines provisioned on an emulator: a placeholder
/// (moto's default account), since the emulator's machines run their Tasks against functions
/// that are not deployed there.
pub const PROVISIONED_FUNCTION_ARN_PREFIX: &str = "arn:aws:lambda:us-east-1:123456789012:function:";

/// Builds the platform on the AWS adapters, its state machines at the ARNs of
/// `STATE_MACHINE_ARNS`. With `AWS_PROVISION` on (an emulator), missing tables and queues are
/// created first, and so are the `machines` that setting does not name.
pub async fn aws_platform(
    settings: &Settings,
    clock: Arc<dyn Clock>,
    machines: &MachineDefinitions,
) -> Result<Arc<Platform>, String> {
    let aws = &settings.aws;
    let sdk = aws_adapters::sdk_config(aws.endpoint_url.as_deref()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let secrets_manager = aws_sdk_secretsmanager::Client::new(&sdk);
    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let mut queue_urls = aws.queue_urls.clone();
    let mut machine_arns = aws.state_machine_arns.clone();
    if aws.provision {
        aws_adapters::provision::ensure_tables(&dynamodb, &aws.tables).await?;
        let provisioned =
            aws_adapters::provision::ensure_queues(&sqs, &aws.resource_prefix).await?;
        for (queue, url) in provisioned {
            queue_urls.entry(queue).or_insert(url);
        }
        let definitions = machines
            .substituted(|function| format!("{PROVISIONED_FUNCTION_ARN_PREFIX}{function}"))?;
        for (name, definition) in definitions {
            if machine_arns.contains_key(&name) {
                continue;
            }
            let physical = format!("{}{name}", aws.resource_prefix);
            let arn =
                aws_adapters::provision::ensure_state_machine(&sfn, &physical, &definition).await?;
            machine_arns.insert(name, arn);
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
        state_machines: Arc::new(aws_adapters::StepFunctions::new(sfn, machine_arns)),
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
