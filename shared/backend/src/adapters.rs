//! Builds the ports' adapters for the configured backend.

use std::sync::Arc;

use basics::{Clock, Env, SystemClock};
use ports::{CachedSecrets, Queue, Secrets, TableStore};

use crate::config::{BackendConfig, BackendKind};

/// The adapters a process runs on.
#[derive(Debug, Clone)]
pub struct Adapters {
    pub store: Arc<dyn TableStore>,
    pub queue: Arc<dyn Queue>,
    pub secrets: Arc<dyn Secrets>,
    pub clock: Arc<dyn Clock>,
}

/// The SQLite file under `DATA_DIR`.
pub const DATABASE_FILE: &str = "platform.sqlite";
/// The local secrets file under `DATA_DIR`.
pub const SECRETS_FILE: &str = "secrets.json";

pub async fn build_adapters(config: &BackendConfig) -> Result<Adapters, String> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match config.kind {
        BackendKind::Embedded => embedded(config, clock),
        BackendKind::Aws => aws(config, clock).await,
    }
}

fn embedded(config: &BackendConfig, clock: Arc<dyn Clock>) -> Result<Adapters, String> {
    let db = embedded::Database::open(&config.data_dir.join(DATABASE_FILE))?;
    let secrets = embedded::FileSecrets::new(config.data_dir.join(SECRETS_FILE), Env::process());
    let store = embedded::SqliteStore::new(db.clone(), Arc::clone(&clock));
    embedded::ExpirySweeper::spawn(&store, embedded::ExpirySweeper::EVERY).detach();
    Ok(Adapters {
        store: Arc::new(store),
        queue: Arc::new(embedded::SqliteQueue::new(db, Arc::clone(&clock))),
        secrets: Arc::new(CachedSecrets::new(
            secrets,
            config.secrets_cache_ttl,
            Arc::clone(&clock),
        )),
        clock,
    })
}

async fn aws(config: &BackendConfig, clock: Arc<dyn Clock>) -> Result<Adapters, String> {
    let settings = &config.aws;
    let sdk = aws_adapters::sdk_config(settings.endpoint_url.as_deref()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let secrets_manager = aws_sdk_secretsmanager::Client::new(&sdk);
    let mut queue_urls = settings.queue_urls.clone();
    if settings.provision {
        aws_adapters::provision::ensure_tables(&dynamodb, &settings.tables).await?;
        let provisioned =
            aws_adapters::provision::ensure_queues(&sqs, &settings.resource_prefix).await?;
        for (queue, url) in provisioned {
            queue_urls.entry(queue).or_insert(url);
        }
    }
    let secrets =
        aws_adapters::SecretsManagerSecrets::new(secrets_manager, settings.secrets_prefix.clone());
    Ok(Adapters {
        store: Arc::new(aws_adapters::DynamoStore::new(
            dynamodb,
            settings.tables.clone(),
            Arc::clone(&clock),
        )),
        queue: Arc::new(aws_adapters::SqsQueue::new(sqs, queue_urls)),
        secrets: Arc::new(CachedSecrets::new(
            secrets,
            config.secrets_cache_ttl,
            Arc::clone(&clock),
        )),
        clock,
    })
}

#[cfg(test)]
mod tests {
    use ports::{Key, Table};
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn embedded_data_survives_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let env_dir = dir.path().to_string_lossy().to_string();
        let env = Env::from_pairs([("DATA_DIR", env_dir.as_str())]);
        let config = BackendConfig::from_env(&env, BackendKind::Embedded).expect("config");
        let key = Key::new("TENANT#t1", "PROFILE");
        {
            let first = build_adapters(&config).await.expect("adapters");
            let item = json!({"pk": "TENANT#t1", "sk": "PROFILE", "name": "Acme"});
            first
                .store
                .put(
                    Table::Core,
                    item.as_object().cloned().unwrap_or_default(),
                    None,
                )
                .await
                .expect("put");
        }
        let second = build_adapters(&config).await.expect("adapters again");
        let got = second.store.get(Table::Core, &key).await.expect("get");
        assert_eq!(
            got.and_then(|i| i.get("name").cloned()),
            Some(json!("Acme"))
        );
    }
}
