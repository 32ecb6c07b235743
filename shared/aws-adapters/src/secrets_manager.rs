//! [`SecretsManagerSecrets`]: the secrets port on Secrets Manager. Secret ids are
//! `prefix + name`, so one account can hold several stages. Values only ever travel inside
//! `SecretString`, and nothing here logs one: error messages carry the secret's id, never its
//! value. Wrap this in `ports::CachedSecrets`; every call costs money and time.

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use ports::secrets::validate_name;
use ports::{SecretError, Secrets};
use secrecy::{ExposeSecret, SecretString};

const NOT_FOUND: &str = "ResourceNotFoundException";
const ALREADY_EXISTS: &str = "ResourceExistsException";

#[derive(Debug, Clone)]
pub struct SecretsManagerSecrets {
    client: Client,
    prefix: String,
}

fn unavailable<E, R>(operation: &str, id: &str, err: SdkError<E, R>) -> SecretError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    SecretError::Unavailable(format!(
        "Secrets Manager {operation} {id:?}: {}",
        DisplayErrorContext(err)
    ))
}

impl SecretsManagerSecrets {
    /// `prefix` is prepended to every name, e.g. `pyairtable/prod/`.
    pub fn new(client: Client, prefix: String) -> Self {
        Self { client, prefix }
    }

    fn secret_id(&self, name: &str) -> Result<String, SecretError> {
        validate_name(name)?;
        Ok(format!("{}{name}", self.prefix))
    }

    async fn create(&self, id: &str, value: &SecretString) -> Result<bool, SecretError> {
        let result = self
            .client
            .create_secret()
            .name(id)
            .secret_string(value.expose_secret())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if err.code() == Some(ALREADY_EXISTS) => Ok(false),
            Err(err) => Err(unavailable("CreateSecret", id, err)),
        }
    }
}

#[async_trait]
impl Secrets for SecretsManagerSecrets {
    async fn get(&self, name: &str) -> Result<Option<SecretString>, SecretError> {
        let id = self.secret_id(name)?;
        let result = self.client.get_secret_value().secret_id(&id).send().await;
        let out = match result {
            Ok(out) => out,
            Err(err) if err.code() == Some(NOT_FOUND) => return Ok(None),
            Err(err) => return Err(unavailable("GetSecretValue", &id, err)),
        };
        if let Some(text) = out.secret_string() {
            return Ok(Some(SecretString::from(text)));
        }
        // A binary secret (created by other tools) must still be UTF-8 text to be usable here.
        match out.secret_binary() {
            Some(blob) => String::from_utf8(blob.as_ref().to_vec())
                .map(|text| Some(SecretString::from(text)))
                .map_err(|_| {
                    SecretError::Unavailable(format!("secret {id:?} is binary, not text"))
                }),
            None => Ok(None),
        }
    }

    async fn put(&self, name: &str, value: SecretString) -> Result<(), SecretError> {
        let id = self.secret_id(name)?;
        // Usually the secret exists (rotation, reconnecting), so put first and create on a miss;
        // a concurrent create wins the race harmlessly and the put is retried.
        for _ in 0..2 {
            let result = self
                .client
                .put_secret_value()
                .secret_id(&id)
                .secret_string(value.expose_secret())
                .send()
                .await;
            match result {
                Ok(_) => return Ok(()),
                Err(err) if err.code() == Some(NOT_FOUND) => {
                    if self.create(&id, &value).await? {
                        return Ok(());
                    }
                }
                Err(err) => return Err(unavailable("PutSecretValue", &id, err)),
            }
        }
        Err(SecretError::Unavailable(format!(
            "secret {id:?} kept appearing and disappearing while being written"
        )))
    }

    async fn delete(&self, name: &str) -> Result<(), SecretError> {
        let id = self.secret_id(name)?;
        let result = self
            .client
            .delete_secret()
            .secret_id(&id)
            .force_delete_without_recovery(true)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if err.code() == Some(NOT_FOUND) => Ok(()),
            Err(err) => Err(unavailable("DeleteSecret", &id, err)),
        }
    }
}

#[cfg(test)]
mod contract {
    use std::sync::Arc;

    use ports::contract::secrets::Fixture;

    use super::*;
    use crate::moto;

    #[cfg_attr(not(moto), allow(dead_code))]
    async fn fixture(case: &str) -> Fixture {
        let config = moto::sdk_config().await;
        Fixture {
            secrets: Arc::new(SecretsManagerSecrets::new(
                Client::new(&config),
                "pyairtable/contract/".to_string(),
            )),
            prefix: ports::contract::unique_prefix(case),
        }
    }

    #[cfg(moto)]
    ports::secrets_contract_tests!(fixture);
}
