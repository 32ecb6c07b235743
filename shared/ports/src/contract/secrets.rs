//! The secrets contract, including the TTL cache every adapter is wrapped in.

use std::sync::Arc;

use basics::ManualClock;
use chrono::Duration;
use secrecy::{ExposeSecret, SecretString};

use crate::secrets::*;

pub struct Fixture {
    pub secrets: Arc<dyn Secrets>,
    pub prefix: String,
}

#[macro_export]
macro_rules! secrets_contract_tests {
    ($make:expr) => {
        $crate::secrets_contract_tests!(@cases $make;
            put_then_get_round_trips,
            put_replaces_and_delete_removes,
            invalid_names_are_refused,
            cache_serves_until_ttl_then_refreshes,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let fixture = ($make)(stringify!($case)).await;
                $crate::contract::secrets::$case(&fixture).await;
            }
        )*
    };
}

fn name(f: &Fixture, leaf: &str) -> String {
    format!("test/{}/{leaf}", f.prefix)
}

fn exposed(value: Option<SecretString>) -> Option<String> {
    value.map(|v| v.expose_secret().to_string())
}

pub async fn put_then_get_round_trips(f: &Fixture) {
    let n = name(f, "airtable-token");
    assert_eq!(exposed(f.secrets.get(&n).await.expect("get missing")), None);
    let value = "patAbc.123 ünïcode \"quoted\"\nline";
    f.secrets
        .put(&n, SecretString::from(value))
        .await
        .expect("put");
    assert_eq!(
        exposed(f.secrets.get(&n).await.expect("get")),
        Some(value.into())
    );
}

pub async fn put_replaces_and_delete_removes(f: &Fixture) {
    let n = name(f, "key");
    f.secrets
        .put(&n, SecretString::from("one"))
        .await
        .expect("put");
    f.secrets
        .put(&n, SecretString::from("two"))
        .await
        .expect("put again");
    assert_eq!(
        exposed(f.secrets.get(&n).await.expect("get")),
        Some("two".into())
    );
    f.secrets.delete(&n).await.expect("delete");
    assert_eq!(exposed(f.secrets.get(&n).await.expect("get")), None);
    f.secrets
        .delete(&n)
        .await
        .expect("deleting a missing secret is fine");
}

pub async fn invalid_names_are_refused(f: &Fixture) {
    for bad in ["", "has space", "semi;colon", "../escape\0"] {
        let result = f.secrets.put(bad, SecretString::from("x")).await;
        assert!(
            matches!(result, Err(SecretError::InvalidName(_))),
            "{bad:?}: {result:?}"
        );
    }
}

pub async fn cache_serves_until_ttl_then_refreshes(f: &Fixture) {
    let n = name(f, "signing-key");
    f.secrets
        .put(&n, SecretString::from("v1"))
        .await
        .expect("put");
    let clock = ManualClock::starting_now();
    let cached = CachedSecrets::new(
        Arc::clone(&f.secrets),
        std::time::Duration::from_secs(60),
        Arc::new(clock.clone()),
    );
    assert_eq!(
        exposed(cached.get(&n).await.expect("get")),
        Some("v1".into())
    );
    // Another instance rotates the secret behind the cache's back.
    f.secrets
        .put(&n, SecretString::from("v2"))
        .await
        .expect("rotate");
    assert_eq!(
        exposed(cached.get(&n).await.expect("get")),
        Some("v1".into()),
        "within the TTL the cached value is served"
    );
    assert_eq!(
        exposed(cached.get_fresh(&n).await.expect("get fresh")),
        Some("v2".into()),
        "get_fresh reads past the cache"
    );
    assert_eq!(
        exposed(cached.get(&n).await.expect("get")),
        Some("v2".into()),
        "and the fresh value is what the cache serves next"
    );
    f.secrets
        .put(&n, SecretString::from("v2b"))
        .await
        .expect("rotate again");
    clock.advance(Duration::seconds(61));
    assert_eq!(
        exposed(cached.get(&n).await.expect("get")),
        Some("v2b".into()),
        "after the TTL the value is fetched again"
    );
    cached
        .put(&n, SecretString::from("v3"))
        .await
        .expect("write through");
    assert_eq!(
        exposed(f.secrets.get(&n).await.expect("get")),
        Some("v3".into())
    );
    assert_eq!(
        exposed(cached.get(&n).await.expect("get")),
        Some("v3".into())
    );
}
