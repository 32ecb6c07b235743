//! Secrets for the local default: the environment first (`SECRET_<NAME>`, the name upper-cased
//! with every other character as `_`, or for a few secrets their conventional variable, see
//! [`CONVENTIONAL_VARIABLES`]), then a JSON file under the data directory, written with
//! owner-only permissions. Writes go to the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use basics::Env;
use ports::secrets::{SecretError, Secrets, validate_name};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

#[derive(Debug, Clone)]
pub struct FileSecrets {
    path: PathBuf,
    env: Env,
    /// Serialises read-modify-write cycles on the file within this process.
    lock: Arc<Mutex<()>>,
}

/// Secrets that also come from the variable everyone already sets for them, so a developer's
/// usual `GEMINI_API_KEY=…` works locally as it does with every other tool.
pub const CONVENTIONAL_VARIABLES: [(&str, &str); 2] = [
    ("llm/gemini-api-key", "GEMINI_API_KEY"),
    ("llm/openai-api-key", "OPENAI_API_KEY"),
];

/// The environment variable that overrides a secret: `jwt-signing-key` → `SECRET_JWT_SIGNING_KEY`.
pub fn env_var_for(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("SECRET_{upper}")
}

impl FileSecrets {
    pub fn new(path: impl Into<PathBuf>, env: Env) -> Self {
        Self {
            path: path.into(),
            env,
            lock: Arc::new(Mutex::new(())),
        }
    }

    fn read(path: &Path) -> Result<BTreeMap<String, String>, SecretError> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                SecretError::Unavailable(format!("{} is not a JSON object: {e}", path.display()))
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(err) => Err(SecretError::Unavailable(format!(
                "cannot read {}: {err}",
                path.display()
            ))),
        }
    }

    /// Writes the whole file atomically (temporary file, then rename), readable by the owner only.
    fn write(path: &Path, secrets: &BTreeMap<String, String>) -> Result<(), SecretError> {
        let fail = |e: std::io::Error| {
            SecretError::Unavailable(format!("cannot write {}: {e}", path.display()))
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(fail)?;
        }
        let text = serde_json::to_string_pretty(secrets)
            .map_err(|e| SecretError::Unavailable(e.to_string()))?;
        let temporary = path.with_extension("tmp");
        {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&temporary).map_err(fail)?;
            file.write_all(text.as_bytes()).map_err(fail)?;
            file.sync_all().map_err(fail)?;
        }
        std::fs::rename(&temporary, path).map_err(fail)
    }

    async fn modify(
        &self,
        change: impl FnOnce(&mut BTreeMap<String, String>) + Send + 'static,
    ) -> Result<(), SecretError> {
        let _guard = self.lock.lock().await;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let mut secrets = Self::read(&path)?;
            change(&mut secrets);
            Self::write(&path, &secrets)
        })
        .await
        .map_err(|e| SecretError::Unavailable(e.to_string()))?
    }
}

#[async_trait]
impl Secrets for FileSecrets {
    async fn get(&self, name: &str) -> Result<Option<SecretString>, SecretError> {
        validate_name(name)?;
        if let Some(value) = self.env.raw(&env_var_for(name)) {
            return Ok(Some(SecretString::from(value)));
        }
        let conventional = CONVENTIONAL_VARIABLES
            .iter()
            .find(|(secret, _)| *secret == name)
            .and_then(|(_, variable)| self.env.raw(variable))
            .filter(|value| !value.trim().is_empty());
        if let Some(value) = conventional {
            return Ok(Some(SecretString::from(value)));
        }
        let _guard = self.lock.lock().await;
        let path = self.path.clone();
        let secrets = tokio::task::spawn_blocking(move || Self::read(&path))
            .await
            .map_err(|e| SecretError::Unavailable(e.to_string()))??;
        Ok(secrets.get(name).cloned().map(SecretString::from))
    }

    async fn put(&self, name: &str, value: SecretString) -> Result<(), SecretError> {
        validate_name(name)?;
        let name = name.to_string();
        let value = value.expose_secret().to_string();
        self.modify(move |secrets| {
            secrets.insert(name, value);
        })
        .await
    }

    async fn delete(&self, name: &str) -> Result<(), SecretError> {
        validate_name(name)?;
        let name = name.to_string();
        self.modify(move |secrets| {
            secrets.remove(&name);
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ports::contract::secrets::Fixture;

    use super::*;

    async fn fixture(case: &str) -> Fixture {
        let dir = std::env::temp_dir().join(ports::contract::unique_prefix(case));
        Fixture {
            secrets: Arc::new(FileSecrets::new(
                dir.join("secrets.json"),
                Env::from_pairs([]),
            )),
            prefix: ports::contract::unique_prefix(case),
        }
    }

    ports::secrets_contract_tests!(fixture);

    #[tokio::test]
    async fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secrets = FileSecrets::new(
            dir.path().join("secrets.json"),
            Env::from_pairs([("SECRET_JWT_SIGNING_KEY", "from-env")]),
        );
        secrets
            .put("jwt-signing-key", SecretString::from("from-file"))
            .await
            .expect("put");
        let got = secrets.get("jwt-signing-key").await.expect("get");
        assert_eq!(
            got.map(|s| s.expose_secret().to_string()),
            Some("from-env".into())
        );
    }

    #[tokio::test]
    async fn model_keys_come_from_their_conventional_variables() {
        let dir = tempfile::tempdir().expect("tempdir");
        let secrets = FileSecrets::new(
            dir.path().join("secrets.json"),
            Env::from_pairs([("GEMINI_API_KEY", "g-key"), ("OPENAI_API_KEY", "")]),
        );
        let gemini = secrets.get("llm/gemini-api-key").await.expect("get");
        assert_eq!(
            gemini.map(|s| s.expose_secret().to_string()),
            Some("g-key".into())
        );
        assert!(
            secrets
                .get("llm/openai-api-key")
                .await
                .expect("get")
                .is_none(),
            "empty is unset"
        );
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secrets.json");
        let secrets = FileSecrets::new(&path, Env::from_pairs([]));
        secrets
            .put("a", SecretString::from("b"))
            .await
            .expect("put");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
