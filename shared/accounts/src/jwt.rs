//! Access tokens: EdDSA (Ed25519) JWTs.
//!
//! Why asymmetric: every function verifies tokens, but only api-auth may mint them. With an
//! HMAC key every verifier could also forge; with Ed25519, api-auth alone reads the signing
//! seed (`auth/jwt-signing-seed`) and publishes the public half (`auth/jwt-verify-keys`), which
//! is all the other functions can read.
//!
//! The signing key is derived from the seed secret (SHA-256 with a context label), so every
//! api-auth instance derives the same key without coordination. In AWS the template generates the
//! seed; locally the first run generates it into the secrets file.
//!
//! Verification pins the algorithm to EdDSA (so `alg: none` and HMAC-with-public-key tricks
//! fail), requires `kid`, `iss`, `aud`, `sub` and `exp`, and checks `exp` against the platform
//! clock (not the system clock) so that tests can move time.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use basics::{Clock, IdGenerator};
use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ports::{SecretError, Secrets};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::scopes::Role;

/// The seed api-auth derives its signing key from. Only api-auth may read it.
pub const SIGNING_SEED_SECRET: &str = "auth/jwt-signing-seed";
/// The public keys every function verifies with. Only api-auth writes it.
pub const VERIFY_KEYS_SECRET: &str = "auth/jwt-verify-keys";

/// How many published keys are kept, so tokens signed before a seed rotation stay valid.
const KEPT_VERIFY_KEYS: usize = 3;
/// Clock skew tolerated on `exp` between functions.
const LEEWAY_SECONDS: i64 = 5;
/// Characters in a locally generated seed.
const SEED_CHARS: usize = 64;
/// A token naming a key this process has not seen makes it re-read the published keys past the
/// secrets cache (a key published since), at most this often, so forged `kid`s cannot turn every
/// request into a Secrets Manager call.
const FORCED_REFRESH_INTERVAL_SECONDS: i64 = 30;

/// Who the tokens are from and for, and how long they live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    /// `JWT_ISSUER`.
    pub issuer: String,
    /// `JWT_AUDIENCE`.
    pub audience: String,
    /// Access-token lifetime: 15 minutes.
    pub access_ttl_seconds: i64,
    /// Refresh-token (and idle session) lifetime: 30 days.
    pub refresh_ttl_seconds: i64,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            issuer: "pyairtable-on-lambda".to_string(),
            audience: "pyairtable-on-lambda-api".to_string(),
            access_ttl_seconds: 15 * 60,
            refresh_ttl_seconds: 30 * 24 * 60 * 60,
        }
    }
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// The tenant id.
    pub tid: String,
    pub role: Role,
    /// The login session, checked on every request so that logout and password changes end it.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token is not one of ours, or no longer valid; the message is safe to show.
    #[error("{0}")]
    Invalid(&'static str),
    #[error(transparent)]
    Secrets(#[from] SecretError),
    #[error("token keys are unusable: {0}")]
    Keys(String),
}

/// One published public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PublishedKey {
    kid: String,
    /// The raw 32-byte Ed25519 public key, base64url without padding (JWK `x`).
    x: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct PublishedKeys {
    keys: Vec<PublishedKey>,
}

/// A signing key ready to mint tokens.
struct Signer {
    kid: String,
    key: EncodingKey,
}

/// Public keys by `kid`.
struct VerifyingKeys {
    by_kid: BTreeMap<String, DecodingKey>,
}

impl VerifyingKeys {
    fn parse(json: &str) -> Result<Self, TokenError> {
        let published: PublishedKeys = serde_json::from_str(json)
            .map_err(|err| TokenError::Keys(format!("{VERIFY_KEYS_SECRET}: {err}")))?;
        let mut by_kid = BTreeMap::new();
        for key in published.keys {
            // jsonwebtoken slices the first 32 bytes without checking: check here.
            let bytes = URL_SAFE_NO_PAD
                .decode(&key.x)
                .map_err(|err| TokenError::Keys(format!("key {}: {err}", key.kid)))?;
            if bytes.len() != 32 {
                return Err(TokenError::Keys(format!(
                    "key {} is {} bytes, not 32",
                    key.kid,
                    bytes.len()
                )));
            }
            by_kid.insert(key.kid, DecodingKey::from_ed_der(&bytes));
        }
        Ok(Self { by_kid })
    }
}

/// Mints and checks access tokens. One per process; it caches the derived signing key and the
/// parsed public keys (the secrets port caches the secret values themselves).
pub struct TokenService {
    settings: TokenSettings,
    signer: OnceCell<Signer>,
    verifying: Mutex<Option<(String, Arc<VerifyingKeys>)>>,
    /// When the published keys were last re-read past the cache (epoch seconds).
    last_forced_refresh: Mutex<Option<i64>>,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl TokenService {
    pub fn new(settings: TokenSettings) -> Self {
        Self {
            settings,
            signer: OnceCell::new(),
            verifying: Mutex::new(None),
            last_forced_refresh: Mutex::new(None),
        }
    }

    pub fn settings(&self) -> &TokenSettings {
        &self.settings
    }

    /// Mints an access token for a user's session.
    pub async fn issue(
        &self,
        secrets: &dyn Secrets,
        ids: &dyn IdGenerator,
        clock: &dyn Clock,
        subject: AccessSubject<'_>,
    ) -> Result<String, TokenError> {
        let signer = self
            .signer
            .get_or_try_init(|| load_signer(secrets, ids))
            .await?;
        let now = clock.epoch_seconds();
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            sub: subject.user_id.to_string(),
            tid: subject.tenant_id.to_string(),
            role: subject.role,
            sid: subject.session_id.to_string(),
            iat: now,
            exp: now + self.settings.access_ttl_seconds,
            jti: ids.new_id("jti"),
        };
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(signer.kid.clone());
        jsonwebtoken::encode(&header, &claims, &signer.key)
            .map_err(|err| TokenError::Keys(err.to_string()))
    }

    /// Checks an access token and returns its claims.
    pub async fn verify(
        &self,
        secrets: &dyn Secrets,
        clock: &dyn Clock,
        token: &str,
    ) -> Result<AccessClaims, TokenError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| TokenError::Invalid("the token is not a valid JWT"))?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid("the token's algorithm is not accepted"));
        }
        let kid = header
            .kid
            .ok_or(TokenError::Invalid("the token names no signing key"))?;
        let key = self.key_for(secrets, clock, &kid).await?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked below against the platform clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key, &validation).map_err(
            |err| match err.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidIssuer => {
                    TokenError::Invalid("the token is from another issuer")
                }
                jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                    TokenError::Invalid("the token is for another audience")
                }
                jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                    TokenError::Invalid("the token's signature does not match")
                }
                _ => TokenError::Invalid("the token is not a valid access token"),
            },
        )?;
        if data.claims.exp + LEEWAY_SECONDS <= clock.epoch_seconds() {
            return Err(TokenError::Invalid("the token has expired"));
        }
        Ok(data.claims)
    }

    /// The public key named `kid`: from the cached published keys, or, when they lack it, from a
    /// fresh read (rate-limited per process).
    async fn key_for(
        &self,
        secrets: &dyn Secrets,
        clock: &dyn Clock,
        kid: &str,
    ) -> Result<DecodingKey, TokenError> {
        let unknown = TokenError::Invalid("the token's signing key is unknown");
        if let Some(keys) = self.verifying_keys(secrets, false).await?
            && let Some(key) = keys.by_kid.get(kid)
        {
            return Ok(key.clone());
        }
        if !self.may_force_refresh(clock) {
            return Err(unknown);
        }
        self.verifying_keys(secrets, true)
            .await?
            .and_then(|keys| keys.by_kid.get(kid).cloned())
            .ok_or(unknown)
    }

    fn may_force_refresh(&self, clock: &dyn Clock) -> bool {
        let now = clock.epoch_seconds();
        let mut last = self
            .last_forced_refresh
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|at| now - at < FORCED_REFRESH_INTERVAL_SECONDS) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// The published keys, parsed once per distinct secret value; `None` before any is published.
    async fn verifying_keys(
        &self,
        secrets: &dyn Secrets,
        fresh: bool,
    ) -> Result<Option<Arc<VerifyingKeys>>, TokenError> {
        let raw = if fresh {
            secrets.get_fresh(VERIFY_KEYS_SECRET).await?
        } else {
            secrets.get(VERIFY_KEYS_SECRET).await?
        };
        let Some(raw) = raw else {
            return Ok(None);
        };
        let raw = raw.expose_secret();
        {
            let cached = self.verifying.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((source, keys)) = cached.as_ref()
                && source == raw
            {
                return Ok(Some(Arc::clone(keys)));
            }
        }
        let keys = Arc::new(VerifyingKeys::parse(raw)?);
        let mut cached = self.verifying.lock().unwrap_or_else(|p| p.into_inner());
        *cached = Some((raw.to_string(), Arc::clone(&keys)));
        Ok(Some(keys))
    }
}

/// Whom an access token is for.
#[derive(Debug, Clone, Copy)]
pub struct AccessSubject<'a> {
    pub tenant_id: &'a str,
    pub user_id: &'a str,
    pub role: Role,
    pub session_id: &'a str,
}

/// Reads (or, on a first local run, creates) the seed, derives the key, and makes sure its
/// public half is published.
async fn load_signer(secrets: &dyn Secrets, ids: &dyn IdGenerator) -> Result<Signer, TokenError> {
    let seed = match secrets.get(SIGNING_SEED_SECRET).await? {
        Some(seed) => seed,
        None => {
            let seed = SecretString::from(ids.random_token(SEED_CHARS));
            secrets.put(SIGNING_SEED_SECRET, seed.clone()).await?;
            tracing::info!(
                secret = SIGNING_SEED_SECRET,
                "generated a new token signing seed"
            );
            seed
        }
    };
    if seed.expose_secret().len() < 32 {
        return Err(TokenError::Keys(format!(
            "{SIGNING_SEED_SECRET} must hold at least 32 characters"
        )));
    }
    let signing = derive_signing_key(&seed);
    let public = signing.verifying_key().to_bytes();
    let kid = basics::digest::sha256_hex(public)[..16].to_string();
    publish(secrets, &kid, &public).await?;
    Ok(Signer {
        kid,
        key: EncodingKey::from_ed_der(&pkcs8_der(&signing.to_bytes())),
    })
}

fn derive_signing_key(seed: &SecretString) -> SigningKey {
    let mut hasher = Sha256::new();
    hasher.update(b"pyairtable-on-lambda jwt ed25519 v1\0");
    hasher.update(seed.expose_secret().as_bytes());
    let bytes: [u8; 32] = hasher.finalize().into();
    SigningKey::from_bytes(&bytes)
}

/// Wraps a raw Ed25519 seed in PKCS#8 v1 DER (RFC 8410), the form jsonwebtoken signs with.
fn pkcs8_der(seed: &[u8; 32]) -> Vec<u8> {
    const PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let mut der = PREFIX.to_vec();
    der.extend_from_slice(seed);
    der
}

/// Adds this key to the published list if it is missing, keeping the newest few.
async fn publish(secrets: &dyn Secrets, kid: &str, public: &[u8; 32]) -> Result<(), TokenError> {
    let mut published = match secrets.get(VERIFY_KEYS_SECRET).await? {
        Some(raw) => serde_json::from_str::<PublishedKeys>(raw.expose_secret()).unwrap_or_default(),
        None => PublishedKeys::default(),
    };
    if published.keys.iter().any(|key| key.kid == kid) {
        return Ok(());
    }
    published.keys.insert(
        0,
        PublishedKey {
            kid: kid.to_string(),
            x: URL_SAFE_NO_PAD.encode(public),
        },
    );
    published.keys.truncate(KEPT_VERIFY_KEYS);
    let json =
        serde_json::to_string(&published).map_err(|err| TokenError::Keys(err.to_string()))?;
    secrets
        .put(VERIFY_KEYS_SECRET, SecretString::from(json))
        .await?;
    tracing::info!(kid, "published a token verification key");
    Ok(())
}

#[cfg(test)]
mod tests {
    use basics::{Env, ManualClock, RandomIds};
    use chrono::{TimeZone, Utc};
    use embedded::FileSecrets;

    use super::*;

    fn secrets() -> (tempfile::TempDir, FileSecrets) {
        let dir = tempfile::tempdir().expect("tempdir");
        let secrets = FileSecrets::new(dir.path().join("secrets.json"), Env::from_pairs([]));
        (dir, secrets)
    }

    fn subject() -> AccessSubject<'static> {
        AccessSubject {
            tenant_id: "ten_a",
            user_id: "usr_a",
            role: Role::Owner,
            session_id: "ses_a",
        }
    }

    #[tokio::test]
    async fn tokens_round_trip_and_expire_on_the_platform_clock() {
        let (_dir, secrets) = secrets();
        let clock = ManualClock::at(
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
                .single()
                .expect("date"),
        );
        let service = TokenService::new(TokenSettings::default());
        let token = service
            .issue(&secrets, &RandomIds, &clock, subject())
            .await
            .expect("issue");
        let claims = service
            .verify(&secrets, &clock, &token)
            .await
            .expect("verify");
        assert_eq!(claims.sub, "usr_a");
        assert_eq!(claims.tid, "ten_a");
        assert_eq!(claims.exp - claims.iat, 900);
        clock.advance(chrono::Duration::minutes(16));
        assert!(matches!(
            service.verify(&secrets, &clock, &token).await,
            Err(TokenError::Invalid("the token has expired"))
        ));
    }

    #[tokio::test]
    async fn another_process_derives_the_same_key_from_the_seed() {
        let (_dir, secrets) = secrets();
        let clock = ManualClock::at(Utc::now());
        let first = TokenService::new(TokenSettings::default());
        let token = first
            .issue(&secrets, &RandomIds, &clock, subject())
            .await
            .expect("issue");
        let second = TokenService::new(TokenSettings::default());
        second
            .issue(&secrets, &RandomIds, &clock, subject())
            .await
            .expect("issue again");
        let published: PublishedKeys = serde_json::from_str(
            secrets
                .get(VERIFY_KEYS_SECRET)
                .await
                .expect("get")
                .expect("published")
                .expose_secret(),
        )
        .expect("json");
        assert_eq!(published.keys.len(), 1, "the same seed publishes one key");
        assert!(second.verify(&secrets, &clock, &token).await.is_ok());
    }

    #[tokio::test]
    async fn a_key_published_after_the_cache_filled_is_found() {
        let (dir, file) = secrets();
        let clock = Arc::new(ManualClock::at(Utc::now()));
        let cached =
            ports::CachedSecrets::new(file, std::time::Duration::from_secs(300), clock.clone());
        // A verifier looks (and caches "nothing published") before api-auth ever ran.
        let verifier = TokenService::new(TokenSettings::default());
        assert!(
            verifier
                .verify(&cached, clock.as_ref(), "a.b.c")
                .await
                .is_err()
        );
        assert!(matches!(
            verifier
                .verify(&cached, clock.as_ref(), &unknown_kid_token())
                .await,
            Err(TokenError::Invalid(_))
        ));
        // api-auth, in another process, publishes its key and signs a token.
        let shared_file = FileSecrets::new(dir.path().join("secrets.json"), Env::from_pairs([]));
        let signer = TokenService::new(TokenSettings::default());
        let token = signer
            .issue(&shared_file, &RandomIds, clock.as_ref(), subject())
            .await
            .expect("issue");
        // Within the forced-refresh interval the verifier does not re-read...
        assert!(
            verifier
                .verify(&cached, clock.as_ref(), &token)
                .await
                .is_err()
        );
        // ...after it, one re-read past the cache finds the new key.
        clock.advance(chrono::Duration::seconds(31));
        let claims = verifier
            .verify(&cached, clock.as_ref(), &token)
            .await
            .expect("the new key is found");
        assert_eq!(claims.tid, "ten_a");
    }

    /// A well-formed EdDSA token naming a key nobody published.
    fn unknown_kid_token() -> String {
        let header =
            URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA","typ":"JWT","kid":"0000000000000000"}"#);
        format!("{header}.e30.AAAA")
    }

    #[tokio::test]
    async fn foreign_tokens_are_refused() {
        let (_dir, secrets) = secrets();
        let clock = ManualClock::at(Utc::now());
        let service = TokenService::new(TokenSettings::default());
        let token = service
            .issue(&secrets, &RandomIds, &clock, subject())
            .await
            .expect("issue");
        // Another audience and issuer.
        let other = TokenService::new(TokenSettings {
            audience: "someone-else".into(),
            ..TokenSettings::default()
        });
        assert!(other.verify(&secrets, &clock, &token).await.is_err());
        let other = TokenService::new(TokenSettings {
            issuer: "someone-else".into(),
            ..TokenSettings::default()
        });
        assert!(other.verify(&secrets, &clock, &token).await.is_err());
        // A changed payload breaks the signature.
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("json");
        claims["tid"] = "ten_b".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            parts[2]
        );
        assert!(service.verify(&secrets, &clock, &forged).await.is_err());
        // alg: none, unsigned.
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert!(service.verify(&secrets, &clock, &unsigned).await.is_err());
        // HS256 keyed with the public key.
        let hs_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
        let hs = format!("{hs_header}.{}.{}", parts[1], parts[2]);
        assert!(service.verify(&secrets, &clock, &hs).await.is_err());
        assert!(service.verify(&secrets, &clock, "garbage").await.is_err());
    }
}
