//! Latency of the credential paths, on the embedded backend as the dev server wires it: a SQLite
//! file (WAL, synchronous=NORMAL) in a tempdir, `FileSecrets` behind `CachedSecrets`, the system
//! clock and random ids.
//!
//! Measured, one call at a time (sequential, no concurrency), after a warm-up:
//! - `login`: the whole of `Accounts::login` (lockout check, email lookup, argon2id verify,
//!   lockout clear, session and refresh-token writes, JWT signing);
//! - `argon2id verify`: `password::verify_password` alone, to show how much of login is the hash;
//! - `access-token verify`: `TokenService::verify` alone (signature and claims), with the cached
//!   secrets the server uses, and once more straight on `FileSecrets` (a file read per call);
//! - `authenticate (access token)`: verify plus one session read from the store;
//! - `authenticate (API key)`: one item read plus a hash compare (`last_used_at` is written at
//!   most once a minute, so the warm-up takes that write and the measured calls only read).
//!
//! `cargo bench -p accounts --bench auth_latency`. `BENCH_LOGINS` (default 200) sets the login
//! and argon2 sample counts, `BENCH_ITERATIONS` (default 20000) the others.

use std::fmt::Display;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use accounts::password::{self, NewPassword};
use accounts::{Accounts, Credential, NewApiKey, TokenService, TokenSettings};
use basics::{Clock, Env, IdGenerator, RandomIds, SystemClock};
use embedded::{Database, FileSecrets, SqliteStore};
use hdrhistogram::Histogram;
use ports::{CachedSecrets, Secrets, TableStore};
use secrecy::{ExposeSecret, SecretString};

const NAME: &str = "auth_latency";
const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "correct horse battery staple";
/// The dev server's default `SECRETS_CACHE_SECONDS`.
const SECRETS_CACHE: Duration = Duration::from_secs(300);

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Turns any error into one that says what was being done.
trait Context<T> {
    fn context(self, what: &str) -> Result<T, String>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn context(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

/// Fails the bench when a measured call did not do what it should, so it cannot silently time
/// errors or nothing.
fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!("self-check failed: {what}"))
    }
}

/// The longest latency a histogram tells apart (an hour); longer samples count as this long.
const LONGEST_SAMPLE_NANOS: u64 = 3_600 * 1_000_000_000;

/// Latencies of one operation, in an HDR histogram (nanoseconds, 3 significant digits: within
/// 0.1 %).
struct Stats {
    name: String,
    histogram: Histogram<u64>,
}

impl Stats {
    fn new(name: impl Into<String>, samples: Vec<Duration>) -> Self {
        let mut histogram = Histogram::new_with_bounds(1, LONGEST_SAMPLE_NANOS, 3)
            .expect("valid bounds and precision");
        for sample in samples {
            histogram.saturating_record(u64::try_from(sample.as_nanos()).unwrap_or(u64::MAX));
        }
        Self {
            name: name.into(),
            histogram,
        }
    }

    fn len(&self) -> u64 {
        self.histogram.len()
    }

    fn percentile(&self, p: f64) -> Duration {
        Duration::from_nanos(self.histogram.value_at_quantile(p / 100.0))
    }

    fn mean(&self) -> Duration {
        Duration::from_nanos(self.histogram.mean() as u64)
    }

    fn max(&self) -> Duration {
        Duration::from_nanos(self.histogram.max())
    }
}

fn human(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros >= 1000.0 {
        format!("{:.2} ms", micros / 1000.0)
    } else {
        format!("{micros:.1} µs")
    }
}

fn print_table(rows: &[Stats]) {
    let width = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(10);
    println!(
        "{:<width$}  {:>8}  {:>10}  {:>10}  {:>10}  {:>10}",
        "operation", "samples", "p50", "p99", "mean", "max"
    );
    println!("{}", "-".repeat(width + 2 + 8 + 4 * 12));
    for row in rows {
        println!(
            "{:<width$}  {:>8}  {:>10}  {:>10}  {:>10}  {:>10}",
            row.name,
            row.len(),
            human(row.percentile(50.0)),
            human(row.percentile(99.0)),
            human(row.mean()),
            human(row.max()),
        );
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    // cargo bench passes `--bench`; a filter argument that names another bench skips this one.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !NAME.contains(a.as_str()))
    {
        return ExitCode::SUCCESS;
    }
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{NAME} failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let started = Instant::now();
    let logins = env_number("BENCH_LOGINS", 200).max(1);
    let iterations = env_number("BENCH_ITERATIONS", 20_000).max(1);
    let login_warmup = 5;
    let fast_warmup = (iterations / 10).clamp(1, 1_000);

    let dir = tempfile::tempdir().context("creating a tempdir for the SQLite file")?;
    let db_path = dir.path().join("platform.sqlite");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let ids: Arc<dyn IdGenerator> = Arc::new(RandomIds);
    let store: Arc<dyn TableStore> = Arc::new(SqliteStore::new(
        Database::open(&db_path).context("opening the SQLite file")?,
        Arc::clone(&clock),
    ));
    let file_secrets = FileSecrets::new(dir.path().join("secrets.json"), Env::from_pairs([]));
    let secrets: Arc<dyn Secrets> = Arc::new(CachedSecrets::new(
        file_secrets.clone(),
        SECRETS_CACHE,
        Arc::clone(&clock),
    ));
    let tokens = Arc::new(TokenService::new(TokenSettings::default()));
    let accounts = Accounts::new(
        Arc::clone(&store),
        Arc::clone(&secrets),
        Arc::clone(&clock),
        Arc::clone(&ids),
        Arc::clone(&tokens),
    );

    let cpus = std::thread::available_parallelism()
        .map_or_else(|e| format!("unknown ({e})"), |n| n.get().to_string());
    println!("{NAME}: sequential calls, one at a time");
    println!("  CPUs (available_parallelism): {cpus}");
    println!(
        "  argon2id: m={} KiB, t={}, p={} (run on spawn_blocking)",
        password::MEMORY_KIB,
        password::ITERATIONS,
        password::PARALLELISM
    );
    println!(
        "  store: SQLite file {} (WAL, synchronous=NORMAL); secrets: FileSecrets behind \
         CachedSecrets ({} s)",
        db_path.display(),
        SECRETS_CACHE.as_secs()
    );
    println!(
        "  build: debug assertions {}",
        if cfg!(debug_assertions) { "on" } else { "off" }
    );
    println!();

    // --- setup ---
    let registered = accounts
        .register(EMAIL, PASSWORD, Some("Bench"))
        .await
        .context("registering the bench user")?;
    let tenant_id = registered.tenant.id.clone();
    let user_id = registered.user.id.clone();

    // --- login ---
    for _ in 0..login_warmup {
        accounts
            .login(EMAIL, PASSWORD)
            .await
            .context("warm-up login")?;
    }
    let mut samples = Vec::with_capacity(logins);
    let mut last_login = None;
    for _ in 0..logins {
        let t = Instant::now();
        let signed_in = accounts.login(EMAIL, PASSWORD).await;
        samples.push(t.elapsed());
        let signed_in = signed_in.context("login")?;
        check(
            signed_in.tenant.id == tenant_id && signed_in.user.id == user_id,
            "login signed in someone else",
        )?;
        check(
            !signed_in.tokens.access_token.is_empty()
                && !signed_in.tokens.refresh_token.expose_secret().is_empty(),
            "login returned empty tokens",
        )?;
        last_login = Some(signed_in);
    }
    let login = Stats::new("login", samples);
    let signed_in = last_login.ok_or("no login was measured")?;
    let access_token = signed_in.tokens.access_token.clone();

    // --- refused logins: a wrong password and an unknown email should cost the same ---
    let lockout = accounts::lockout::Lockout::new(store.as_ref(), clock.as_ref());
    let mut refused_rows = Vec::new();
    for (label, email, password) in [
        ("login refused: wrong password", EMAIL, "not the password"),
        (
            "login refused: unknown email",
            "nobody@example.com",
            PASSWORD,
        ),
    ] {
        let mut samples = Vec::with_capacity(logins);
        for _ in 0..logins {
            let t = Instant::now();
            let refused = accounts.login(email, password).await;
            samples.push(t.elapsed());
            check(
                matches!(refused, Err(accounts::AccountError::BadCredentials)),
                &format!("{label}: expected the one refusal, got {refused:?}"),
            )?;
            // Forget the failure (untimed), or the fifth would lock the email.
            lockout.clear(email).await.context("clearing the lockout")?;
        }
        refused_rows.push(Stats::new(label, samples));
    }

    // --- argon2id verify alone ---
    let new_password = NewPassword::parse(PASSWORD).context("the bench password")?;
    let hash = password::hash_password(&new_password)
        .await
        .context("hashing the bench password")?;
    let expected_prefix = format!(
        "$argon2id$v=19$m={},t={},p={}$",
        password::MEMORY_KIB,
        password::ITERATIONS,
        password::PARALLELISM
    );
    check(
        hash.starts_with(&expected_prefix),
        &format!("the hash {hash:?} does not start with {expected_prefix:?}"),
    )?;
    let presented = SecretString::from(PASSWORD.to_string());
    for _ in 0..login_warmup {
        check(
            password::verify_password(&presented, Some(&hash)).await,
            "warm-up argon2 verify did not match",
        )?;
    }
    let mut samples = Vec::with_capacity(logins);
    for _ in 0..logins {
        let t = Instant::now();
        let matched = password::verify_password(&presented, Some(&hash)).await;
        samples.push(t.elapsed());
        check(matched, "argon2 verify did not match the right password")?;
    }
    let argon2 = Stats::new("argon2id verify", samples);

    // --- access-token verify alone, cached secrets and straight on the file ---
    let mut token_rows = Vec::new();
    for (label, source) in [
        ("access-token verify", Arc::clone(&secrets)),
        (
            "access-token verify (uncached FileSecrets)",
            Arc::new(file_secrets.clone()) as Arc<dyn Secrets>,
        ),
    ] {
        for _ in 0..fast_warmup {
            tokens
                .verify(source.as_ref(), clock.as_ref(), &access_token)
                .await
                .context("warm-up token verify")?;
        }
        let mut samples = Vec::with_capacity(iterations);
        for _ in 0..iterations {
            let t = Instant::now();
            let claims = tokens
                .verify(source.as_ref(), clock.as_ref(), &access_token)
                .await;
            samples.push(t.elapsed());
            let claims = claims.context("token verify")?;
            check(
                claims.tid == tenant_id && claims.sub == user_id,
                "verified claims name another tenant or user",
            )?;
        }
        token_rows.push(Stats::new(label, samples));
    }

    // --- authenticate with the access token ---
    for _ in 0..fast_warmup {
        accounts
            .authenticate(&access_token)
            .await
            .context("warm-up authenticate (access token)")?;
    }
    let mut samples = Vec::with_capacity(iterations);
    let mut principal = None;
    for _ in 0..iterations {
        let t = Instant::now();
        let result = accounts.authenticate(&access_token).await;
        samples.push(t.elapsed());
        let p = result.context("authenticate (access token)")?;
        check(
            p.tenant_id == tenant_id
                && matches!(p.credential, Credential::Session { .. })
                && p.session_id().is_some(),
            "access-token principal has the wrong tenant or credential",
        )?;
        principal = Some(p);
    }
    let auth_jwt = Stats::new("authenticate (access token)", samples);
    let principal = principal.ok_or("no access-token authentication was measured")?;

    // --- authenticate with an API key ---
    let created = accounts
        .create_api_key(
            &principal,
            NewApiKey {
                name: "bench".into(),
                scopes: vec!["records:read".into()],
                expires_at: None,
            },
        )
        .await
        .context("creating an API key")?;
    let api_key = created.key.expose_secret().to_string();
    // The first use writes last_used_at; the rest of this minute only reads.
    for _ in 0..fast_warmup {
        accounts
            .authenticate(&api_key)
            .await
            .context("warm-up authenticate (API key)")?;
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        let result = accounts.authenticate(&api_key).await;
        samples.push(t.elapsed());
        let p = result.context("authenticate (API key)")?;
        check(
            p.tenant_id == tenant_id
                && p.credential
                    == Credential::ApiKey {
                        key_id: created.view.id.clone(),
                    },
            "API-key principal has the wrong tenant or key",
        )?;
    }
    let auth_key = Stats::new("authenticate (API key)", samples);
    // A wrong key must fail, or the loop above proved nothing.
    let mut forged = api_key.clone();
    let last = forged
        .pop()
        .map_or('A', |c| if c == 'A' { 'B' } else { 'A' });
    forged.push(last);
    check(
        accounts.authenticate(&forged).await.is_err(),
        "a forged API key authenticated",
    )?;

    let mut rows = vec![login, argon2];
    rows.extend(refused_rows);
    rows.extend(token_rows);
    rows.push(auth_jwt);
    rows.push(auth_key);
    print_table(&rows);

    let (login, argon2) = (&rows[0], &rows[1]);
    let hash_share = |a: Duration, b: Duration| {
        if a.is_zero() {
            0.0
        } else {
            100.0 * b.as_secs_f64() / a.as_secs_f64()
        }
    };
    println!();
    println!(
        "argon2id verify is {:.0}% of login at p50 ({} of {}) and {:.0}% by mean ({} of {}); \
         the rest of login (store reads and writes, JWT signing) is roughly {} (difference of \
         means)",
        hash_share(login.percentile(50.0), argon2.percentile(50.0)),
        human(argon2.percentile(50.0)),
        human(login.percentile(50.0)),
        hash_share(login.mean(), argon2.mean()),
        human(argon2.mean()),
        human(login.mean()),
        human(login.mean().saturating_sub(argon2.mean())),
    );
    println!(
        "self-checks passed; bench ran in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
