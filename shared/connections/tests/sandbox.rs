//! Connecting against the Airtable sandbox: what is verified, what is stored, and that a failed
//! verification stores nothing.

use std::sync::Arc;

use airtable::AirtableError;
use airtable_sandbox::{DEMO_TOKEN, Fault, Sandbox};
use basics::{Env, SystemClock};
use connections::{ConnectionError, Connections, token_secret_name};
use embedded::{Database, FileSecrets, SqliteStore};
use ports::Secrets;
use secrecy::{ExposeSecret, SecretString};

struct World {
    connections: Connections,
    secrets: Arc<FileSecrets>,
    _dir: tempfile::TempDir,
}

fn world(airtable_url: String) -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(SystemClock);
    let secrets = Arc::new(FileSecrets::new(
        dir.path().join("secrets.json"),
        Env::from_pairs([]),
    ));
    let store = Arc::new(SqliteStore::new(
        Database::in_memory().expect("db"),
        clock.clone(),
    ));
    World {
        connections: Connections::new(store, secrets.clone(), clock, airtable_url),
        secrets,
        _dir: dir,
    }
}

async fn sandbox() -> airtable_sandbox::SandboxHandle {
    Sandbox::builder()
        .no_rate_limits()
        .start("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("sandbox")
}

async fn stored_token(world: &World, tenant: &str) -> Option<String> {
    world
        .secrets
        .get(&token_secret_name(tenant))
        .await
        .expect("secrets")
        .map(|s| s.expose_secret().to_string())
}

#[tokio::test]
async fn a_verified_token_is_stored_and_shown_masked() {
    let sandbox = sandbox().await;
    let w = world(sandbox.url());
    let view = w
        .connections
        .connect("ten_a", SecretString::from(DEMO_TOKEN.to_string()))
        .await
        .expect("connect");
    assert_eq!(view.airtable_user_id, "usrSandboxDemo001");
    assert_eq!(view.token, "pat…only");
    assert!(
        view.scopes
            .as_ref()
            .is_some_and(|s| s.contains(&"data.records:read".to_string()))
    );
    assert_eq!(stored_token(&w, "ten_a").await.as_deref(), Some(DEMO_TOKEN));
    assert_eq!(
        w.connections
            .token("ten_a")
            .await
            .expect("token")
            .expose_secret(),
        DEMO_TOKEN
    );
    // Another tenant has none.
    assert!(matches!(
        w.connections.get("ten_b").await,
        Err(ConnectionError::NotConnected)
    ));
    w.connections.disconnect("ten_a").await.expect("disconnect");
    assert_eq!(stored_token(&w, "ten_a").await, None);
    assert!(matches!(
        w.connections.disconnect("ten_a").await,
        Err(ConnectionError::NotConnected)
    ));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn refused_or_unverifiable_tokens_store_nothing() {
    let sandbox = sandbox().await;
    let w = world(sandbox.url());
    let refused = w
        .connections
        .connect(
            "ten_a",
            SecretString::from("patNope.0000000000".to_string()),
        )
        .await
        .expect_err("refused");
    assert!(
        matches!(refused, ConnectionError::Refused(_)),
        "{refused:?}"
    );

    // Airtable failing throughout: a 5xx answer, and still nothing stored.
    sandbox
        .faults()
        .script("whoami", std::iter::repeat_n(Fault::status(503), 20));
    let failed = w
        .connections
        .connect("ten_a", SecretString::from(DEMO_TOKEN.to_string()))
        .await
        .expect_err("upstream down");
    assert!(
        matches!(&failed, ConnectionError::Airtable(err) if err.status().is_none_or(|status| status >= 500)),
        "{failed:?}"
    );
    assert_eq!(stored_token(&w, "ten_a").await, None);
    assert!(w.connections.get("ten_a").await.is_err());
    sandbox.shutdown().await;

    // Airtable unreachable.
    let w = world("http://127.0.0.1:9".to_string());
    let unreachable = w
        .connections
        .connect("ten_a", SecretString::from(DEMO_TOKEN.to_string()))
        .await
        .expect_err("unreachable");
    assert!(
        matches!(
            &unreachable,
            ConnectionError::Airtable(AirtableError::Network { .. })
        ),
        "{unreachable:?}"
    );
    assert_eq!(stored_token(&w, "ten_a").await, None);
}

/// Two function instances, each with its own secrets cache, over one store and one secrets
/// backend: a reconnect or a disconnect made through one is seen by the other at once, not
/// when its cache expires.
#[tokio::test]
async fn other_instances_see_a_reconnect_and_a_disconnect_at_once() {
    let sandbox = sandbox().await;
    let second_token = "patSecondToken01.another-sandbox-token-for-this-test";
    sandbox.control().add_token(airtable_sandbox::Token {
        token: second_token.to_string(),
        name: None,
        scopes: vec!["data.records:read".into(), "schema.bases:read".into()],
        bases: vec!["*".into()],
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let clock: Arc<dyn basics::Clock> = Arc::new(SystemClock);
    let backend = Arc::new(FileSecrets::new(
        dir.path().join("secrets.json"),
        Env::from_pairs([]),
    ));
    let store = Arc::new(SqliteStore::new(
        Database::in_memory().expect("db"),
        clock.clone(),
    ));
    let instance = |_: &str| {
        let cached = Arc::new(ports::CachedSecrets::new(
            backend.clone(),
            std::time::Duration::from_secs(300),
            clock.clone(),
        ));
        Connections::new(store.clone(), cached, clock.clone(), sandbox.url())
    };
    let (a, b) = (instance("a"), instance("b"));
    a.connect("ten_x", SecretString::from(DEMO_TOKEN.to_string()))
        .await
        .expect("connect");
    assert_eq!(
        b.token("ten_x").await.expect("token").expose_secret(),
        DEMO_TOKEN
    );
    // Reconnected with another token through A: B's cache still holds the first, but B uses
    // the second at once.
    a.connect("ten_x", SecretString::from(second_token.to_string()))
        .await
        .expect("reconnect");
    assert_eq!(
        b.token("ten_x").await.expect("token").expose_secret(),
        second_token
    );
    // Disconnected through A: B refuses at once.
    a.disconnect("ten_x").await.expect("disconnect");
    assert!(matches!(
        b.token("ten_x").await,
        Err(ConnectionError::NotConnected)
    ));
}
