//! Limits that must hold when requests race, on both backends: the embedded SQLite store and
//! the AWS adapters against moto (when `MOTO_ENDPOINT` is set, as `./scripts/test` sets it).
//! Each case fires its requests at once from many tasks on a multi-threaded runtime.

use std::sync::Arc;

use accounts::{
    AccountError, Accounts, MAX_KEYS_PER_TENANT, NewApiKey, TokenService, TokenSettings,
};
use basics::{Env, RandomIds, SystemClock};
use embedded::{Database, FileSecrets, SqliteStore};
use futures::future::join_all;
use ports::TableStore;
use secrecy::ExposeSecret;

const PASSWORD: &str = "correct horse battery staple";

/// The backends a case runs on, by name; the temp dir holds the SQLite file and the secrets.
async fn backends(dir: &tempfile::TempDir) -> Vec<(&'static str, Accounts)> {
    let clock = Arc::new(SystemClock);
    let sqlite: Arc<dyn TableStore> = Arc::new(SqliteStore::new(
        Database::open(&dir.path().join("platform.sqlite")).expect("db"),
        clock.clone(),
    ));
    let mut stores = vec![("sqlite", sqlite)];
    if let Some(moto) = aws_adapters::testing::moto_store("accounts-race-", clock.clone()).await {
        stores.push(("moto", Arc::new(moto) as Arc<dyn TableStore>));
    }
    stores
        .into_iter()
        .map(|(name, store)| {
            let accounts = Accounts::new(
                store,
                Arc::new(FileSecrets::new(
                    dir.path().join("secrets.json"),
                    Env::from_pairs([]),
                )),
                clock.clone(),
                Arc::new(RandomIds),
                Arc::new(TokenService::new(TokenSettings::default())),
            );
            (name, accounts)
        })
        .collect()
}

/// An email no other run on a shared moto has used.
fn unique_email(local: &str) -> String {
    use basics::IdGenerator;
    format!(
        "{local}-{}@example.com",
        RandomIds.random_token(8).to_lowercase()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_simultaneous_guesses_get_five_password_checks() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (backend, accounts) in backends(&dir).await {
        let email = unique_email("ada");
        accounts
            .register(&email, PASSWORD, None)
            .await
            .expect("register");
        let guesses = (0..20).map(|n| {
            let (accounts, email) = (accounts.clone(), email.clone());
            tokio::spawn(async move { accounts.login(&email, &format!("guess number {n}")).await })
        });
        let (mut checked, mut locked) = (0, 0);
        for guess in join_all(guesses).await {
            match guess.expect("task") {
                Err(AccountError::BadCredentials) => checked += 1,
                Err(AccountError::Locked { .. }) => locked += 1,
                other => panic!("{backend}: unexpected {other:?}"),
            }
        }
        assert_eq!((checked, locked), (5, 15), "{backend}");
        assert!(
            matches!(
                accounts.login(&email, PASSWORD).await,
                Err(AccountError::Locked { .. })
            ),
            "{backend}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_token_spent_twice_at_once_ends_the_session() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (backend, accounts) in backends(&dir).await {
        let signed_in = accounts
            .register(&unique_email("ada"), PASSWORD, None)
            .await
            .expect("register");
        let refresh = signed_in.tokens.refresh_token.expose_secret().to_string();
        let spends = (0..10).map(|_| {
            let (accounts, refresh) = (accounts.clone(), refresh.clone());
            tokio::spawn(async move { accounts.refresh(&refresh).await })
        });
        let mut issued = Vec::new();
        for spend in join_all(spends).await {
            match spend.expect("task") {
                Ok(pair) => issued.push(pair),
                Err(AccountError::Unauthenticated(_)) => {}
                Err(other) => panic!("{backend}: unexpected {other:?}"),
            }
        }
        // At most one exchange can win, and the reuse revokes the session, the winner's new
        // pair included: a stolen copy raced against its owner gains nothing.
        assert!(
            issued.len() <= 1,
            "{backend}: {} exchanges won",
            issued.len()
        );
        assert!(
            accounts
                .authenticate(&signed_in.tokens.access_token)
                .await
                .is_err(),
            "{backend}"
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_email_registered_at_once_gets_exactly_one_account() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (backend, accounts) in backends(&dir).await {
        let email = unique_email("twin");
        let registers = (0..10).map(|_| {
            let (accounts, email) = (accounts.clone(), email.clone());
            tokio::spawn(async move { accounts.register(&email, PASSWORD, None).await })
        });
        let (mut created, mut taken) = (0, 0);
        for register in join_all(registers).await {
            match register.expect("task") {
                Ok(_) => created += 1,
                Err(AccountError::EmailTaken) => taken += 1,
                Err(other) => panic!("{backend}: unexpected {other:?}"),
            }
        }
        assert_eq!((created, taken), (1, 9), "{backend}");
    }
}

fn new_key(n: usize) -> NewApiKey {
    NewApiKey {
        name: format!("key {n}"),
        scopes: vec!["records:read".into()],
        expires_at: None,
    }
}

/// The per-tenant key cap: with 95 keys, 20 creates at once leave exactly the cap, the rest
/// refused; revoking frees a slot, and the count follows creations and revocations exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_key_cap_holds_under_a_burst_of_creates() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (backend, accounts) in backends(&dir).await {
        let signed_in = accounts
            .register(&unique_email("keys"), PASSWORD, None)
            .await
            .expect("register");
        let owner = accounts
            .authenticate(&signed_in.tokens.access_token)
            .await
            .expect("principal");
        let first = join_all((0..95).map(|n| accounts.create_api_key(&owner, new_key(n)))).await;
        assert!(first.iter().all(Result::is_ok), "{backend}: {first:?}");
        let burst = (95..115).map(|n| {
            let (accounts, owner) = (accounts.clone(), owner.clone());
            tokio::spawn(async move { accounts.create_api_key(&owner, new_key(n)).await })
        });
        let (mut created, mut refused) = (0, 0);
        for create in join_all(burst).await {
            match create.expect("task") {
                Ok(_) => created += 1,
                Err(AccountError::Invalid(message)) if message.contains("at most") => refused += 1,
                Err(other) => panic!("{backend}: unexpected {other:?}"),
            }
        }
        assert_eq!((created, refused), (5, 15), "{backend}");
        let keys = accounts.list_api_keys(&owner).await.expect("list");
        assert_eq!(keys.len(), MAX_KEYS_PER_TENANT, "{backend}");

        // Revoking two frees two slots, concurrently too, and no more.
        let revoked = join_all(
            keys.iter()
                .take(2)
                .map(|key| accounts.revoke_api_key(&owner, &key.id)),
        )
        .await;
        assert!(revoked.iter().all(Result::is_ok), "{backend}: {revoked:?}");
        // Revoking one already revoked changes nothing.
        assert!(matches!(
            accounts.revoke_api_key(&owner, &keys[0].id).await,
            Err(AccountError::NotFound(_))
        ));
        let refill =
            join_all((0..6).map(|n| accounts.create_api_key(&owner, new_key(200 + n)))).await;
        assert_eq!(refill.iter().filter(|r| r.is_ok()).count(), 2, "{backend}");
        assert_eq!(
            accounts.list_api_keys(&owner).await.expect("list").len(),
            MAX_KEYS_PER_TENANT,
            "{backend}"
        );
    }
}
