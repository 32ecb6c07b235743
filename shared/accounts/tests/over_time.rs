//! What changes as time passes, on a clock the test moves: lock expiry, access-token expiry,
//! refresh-token and session lifetime, and API-key expiry.

use std::sync::Arc;

use accounts::{AccountError, Accounts, NewApiKey, TokenService, TokenSettings};
use basics::{Env, ManualClock, RandomIds};
use chrono::{Duration, TimeZone, Utc};
use embedded::{Database, FileSecrets, SqliteStore};

const PASSWORD: &str = "correct horse battery staple";

struct World {
    accounts: Accounts,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::at(
        Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0)
            .single()
            .expect("time"),
    ));
    let db = Database::in_memory().expect("db");
    let accounts = Accounts::new(
        Arc::new(SqliteStore::new(db, clock.clone())),
        Arc::new(FileSecrets::new(
            dir.path().join("secrets.json"),
            Env::from_pairs([]),
        )),
        clock.clone(),
        Arc::new(RandomIds),
        Arc::new(TokenService::new(TokenSettings::default())),
    );
    World {
        accounts,
        clock,
        _dir: dir,
    }
}

#[tokio::test]
async fn a_lock_lifts_after_fifteen_minutes() {
    let w = world();
    w.accounts
        .register("ada@example.com", PASSWORD, None)
        .await
        .expect("register");
    for _ in 0..5 {
        assert!(matches!(
            w.accounts.login("ada@example.com", "wrong password").await,
            Err(AccountError::BadCredentials)
        ));
    }
    match w.accounts.login("ada@example.com", PASSWORD).await {
        Err(AccountError::Locked { retry_after }) => assert_eq!(retry_after, 900),
        other => panic!("expected a lock, got {other:?}"),
    }
    w.clock.advance(Duration::minutes(14));
    assert!(matches!(
        w.accounts.login("ada@example.com", PASSWORD).await,
        Err(AccountError::Locked { retry_after: 60 })
    ));
    w.clock.advance(Duration::minutes(1));
    w.accounts
        .login("ada@example.com", PASSWORD)
        .await
        .expect("the lock has lifted");
}

#[tokio::test]
async fn failures_spread_beyond_the_window_do_not_lock() {
    let w = world();
    w.accounts
        .register("ada@example.com", PASSWORD, None)
        .await
        .expect("register");
    for _ in 0..4 {
        let _ = w.accounts.login("ada@example.com", "wrong password").await;
    }
    // The window of the first failure ends; the count starts again.
    w.clock.advance(Duration::minutes(16));
    for _ in 0..4 {
        let _ = w.accounts.login("ada@example.com", "wrong password").await;
    }
    w.accounts
        .login("ada@example.com", PASSWORD)
        .await
        .expect("four failures in a window do not lock");
}

#[tokio::test]
async fn access_tokens_last_fifteen_minutes_and_sessions_thirty_idle_days() {
    let w = world();
    let signed_in = w
        .accounts
        .register("ada@example.com", PASSWORD, None)
        .await
        .expect("register");
    let access = signed_in.tokens.access_token.clone();
    w.clock.advance(Duration::seconds(14 * 60 + 59));
    w.accounts.authenticate(&access).await.expect("still valid");
    // Past 15 minutes plus the 5 s of tolerated clock skew.
    w.clock.advance(Duration::seconds(7));
    assert!(matches!(
        w.accounts.authenticate(&access).await,
        Err(AccountError::Unauthenticated(_))
    ));

    // Refreshing within 30 days keeps the session alive past its first 30 days.
    let mut refresh =
        secrecy::ExposeSecret::expose_secret(&signed_in.tokens.refresh_token).to_string();
    for _ in 0..3 {
        w.clock.advance(Duration::days(20));
        let pair = w.accounts.refresh(&refresh).await.expect("refresh");
        refresh = secrecy::ExposeSecret::expose_secret(&pair.refresh_token).to_string();
    }
    // Thirty idle days end it.
    w.clock.advance(Duration::days(31));
    assert!(matches!(
        w.accounts.refresh(&refresh).await,
        Err(AccountError::Unauthenticated(_))
    ));
}

#[tokio::test]
async fn api_keys_stop_at_their_expiry() {
    let w = world();
    let signed_in = w
        .accounts
        .register("ada@example.com", PASSWORD, None)
        .await
        .expect("register");
    let owner = w
        .accounts
        .authenticate(&signed_in.tokens.access_token)
        .await
        .expect("owner");
    let created = w
        .accounts
        .create_api_key(
            &owner,
            NewApiKey {
                name: "nightly".into(),
                scopes: vec!["records:read".into()],
                expires_at: Some("2026-11-23T09:00:00Z".into()),
            },
        )
        .await
        .expect("create");
    let key = secrecy::ExposeSecret::expose_secret(&created.key).to_string();
    let principal = w.accounts.authenticate(&key).await.expect("valid");
    assert_eq!(principal.tenant_id, owner.tenant_id);
    assert_eq!(principal.scopes.names(), vec!["records:read"]);
    w.clock.advance(Duration::days(1));
    assert!(matches!(
        w.accounts.authenticate(&key).await,
        Err(AccountError::Unauthenticated(_))
    ));
}
