//! Limits that must hold when requests race: guesses fired at once, a refresh token spent twice
//! at once.

use std::sync::Arc;

use accounts::{AccountError, Accounts, TokenService, TokenSettings};
use basics::{Env, RandomIds, SystemClock};
use embedded::{Database, FileSecrets, SqliteStore};
use secrecy::ExposeSecret;

const PASSWORD: &str = "correct horse battery staple";

fn accounts(dir: &tempfile::TempDir) -> Accounts {
    let clock = Arc::new(SystemClock);
    Accounts::new(
        Arc::new(SqliteStore::new(
            Database::open(&dir.path().join("platform.sqlite")).expect("db"),
            clock.clone(),
        )),
        Arc::new(FileSecrets::new(
            dir.path().join("secrets.json"),
            Env::from_pairs([]),
        )),
        clock,
        Arc::new(RandomIds),
        Arc::new(TokenService::new(TokenSettings::default())),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_simultaneous_guesses_get_five_password_checks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let accounts = accounts(&dir);
    accounts
        .register("ada@example.com", PASSWORD, None)
        .await
        .expect("register");
    let guesses: Vec<_> = (0..20)
        .map(|n| {
            let accounts = accounts.clone();
            tokio::spawn(async move {
                accounts
                    .login("ada@example.com", &format!("guess number {n}"))
                    .await
            })
        })
        .collect();
    let (mut checked, mut locked) = (0, 0);
    for guess in guesses {
        match guess.await.expect("task") {
            Err(AccountError::BadCredentials) => checked += 1,
            Err(AccountError::Locked { .. }) => locked += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((checked, locked), (5, 15));
    assert!(matches!(
        accounts.login("ada@example.com", PASSWORD).await,
        Err(AccountError::Locked { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_token_spent_twice_at_once_ends_the_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    let accounts = accounts(&dir);
    let signed_in = accounts
        .register("ada@example.com", PASSWORD, None)
        .await
        .expect("register");
    let refresh = signed_in.tokens.refresh_token.expose_secret().to_string();
    let spends: Vec<_> = (0..10)
        .map(|_| {
            let accounts = accounts.clone();
            let refresh = refresh.clone();
            tokio::spawn(async move { accounts.refresh(&refresh).await })
        })
        .collect();
    let mut issued = Vec::new();
    for spend in spends {
        if let Ok(pair) = spend.await.expect("task") {
            issued.push(pair);
        }
    }
    // At most one exchange can win, and the reuse revokes the session, the winner's new pair
    // included: a stolen copy raced against its owner gains nothing.
    assert!(issued.len() <= 1, "{} exchanges won", issued.len());
    assert!(
        accounts
            .authenticate(&signed_in.tokens.access_token)
            .await
            .is_err()
    );
    for pair in issued {
        assert!(accounts.authenticate(&pair.access_token).await.is_err());
        assert!(
            accounts
                .refresh(pair.refresh_token.expose_secret())
                .await
                .is_err()
        );
    }
}
