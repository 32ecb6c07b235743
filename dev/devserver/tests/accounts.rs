//! Accounts over HTTP against the dev server binary, as a user's client sees them: the whole
//! register → login → me → refresh → reuse detection → logout → password change cycle, the
//! lockout, refused tokens, tenant isolation, scopes, the Airtable connection, usage metering and
//! the per-tenant rate limit. Secrets are checked absent from every response, log line and the
//! store's files.

use std::path::Path;
use std::time::Duration;

use accounts::jwt::AccessSubject;
use accounts::{Role, TokenService, TokenSettings};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use basics::{Env, ManualClock, RandomIds};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{PASSWORD, Reply, TestApp, TestAppBuilder};

/// The platform with its logs captured at debug level: a secret that leaked into any log line
/// would show up there.
fn accounts_platform() -> TestAppBuilder {
    TestApp::builder().capture_logs()
}

/// The accounts routes' calls, on the kit's app.
trait AccountCalls {
    async fn register(&self, email: &str) -> Reply;
    async fn register_again_is_taken(&self, email: &str);
    async fn login(&self, email: &str, password: &str) -> Reply;
    fn stored_bytes(&self) -> Vec<u8>;
}

impl AccountCalls for TestApp {
    /// Registers an owner; the whole answer (tokens, user).
    async fn register(&self, email: &str) -> Reply {
        self.register_owner(email).await.registered
    }

    async fn register_again_is_taken(&self, email: &str) {
        let reply = self
            .post(
                "/v1/auth/register",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await
            .expect_error(StatusCode::CONFLICT);
        assert_eq!(reply.body["error"]["type"], "EMAIL_TAKEN");
    }

    async fn login(&self, email: &str, password: &str) -> Reply {
        self.post(
            "/v1/auth/login",
            None,
            json!({"email": email, "password": password}),
        )
        .await
    }

    /// Every byte the platform stored on disk (SQLite files and the secrets file), leaving out
    /// the sandbox's own state, were there any: that is the fake Airtable's storage, not ours.
    fn stored_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(self.data_dir()).expect("data dir") {
            let path = entry.expect("entry").path();
            let sandbox_state = path
                .file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("airtable-sandbox"));
            if path.is_file() && !sandbox_state {
                bytes.extend(std::fs::read(&path).expect("read a data file"));
            }
        }
        bytes
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test]
async fn the_whole_session_cycle() {
    let platform = accounts_platform().spawn().await;
    let registered = platform.register("  Ada@Example.com ").await;
    assert_eq!(registered.str("/user/email"), "ada@example.com");
    assert_eq!(registered.str("/user/role"), "owner");
    assert_eq!(registered.body["token_type"], "Bearer");
    assert_eq!(registered.body["expires_in"], 900);
    assert!(registered.body["user"].get("password_hash").is_none());
    let tenant_id = registered.str("/tenant/id");
    let user_id = registered.str("/user/id");

    // The same email, in any case, is taken.
    let taken = platform
        .post(
            "/v1/auth/register",
            None,
            json!({"email": "ADA@example.com", "password": "another password"}),
        )
        .await
        .expect_error(StatusCode::CONFLICT);
    assert_eq!(taken.body["error"]["type"], "EMAIL_TAKEN");

    // Bad input is a 400 naming the problem, and creates nothing.
    for (body, needle) in [
        (
            json!({"email": "not-an-email", "password": PASSWORD}),
            "email",
        ),
        (
            json!({"email": "bob@example.com", "password": "short"}),
            "8",
        ),
        (
            json!({"email": "bob@example.com", "password": "x".repeat(257)}),
            "256",
        ),
        (json!({"email": "bob@example.com"}), "password"),
        (
            json!({"email": "bob@example.com", "password": PASSWORD, "admin": true}),
            "admin",
        ),
    ] {
        let reply = platform
            .post("/v1/auth/register", None, body.clone())
            .await
            .expect_error(StatusCode::BAD_REQUEST);
        assert!(
            reply.text.contains(needle),
            "{body} -> {} should mention {needle}",
            reply.text
        );
    }
    platform
        .login("bob@example.com", PASSWORD)
        .await
        .expect_error(StatusCode::UNAUTHORIZED);

    // Login, then me.
    let first = platform
        .login("ada@example.com", PASSWORD)
        .await
        .expect(StatusCode::OK);
    let access = first.str("/access_token");
    let me = platform
        .get("/v1/auth/me", &access)
        .await
        .expect(StatusCode::OK);
    assert_eq!(me.str("/user/id"), user_id);
    assert_eq!(me.str("/tenant/id"), tenant_id);
    assert_eq!(me.body["credential"], "session");

    // PATCH me: the name; an email change needs the current password.
    let renamed = platform
        .call(
            Method::PATCH,
            "/v1/auth/me",
            &access,
            Some(json!({"name": "Ada Lovelace"})),
        )
        .await
        .expect(StatusCode::OK);
    assert_eq!(renamed.str("/user/name"), "Ada Lovelace");
    platform
        .call(
            Method::PATCH,
            "/v1/auth/me",
            &access,
            Some(json!({"email": "ada@lovelace.dev"})),
        )
        .await
        .expect_error(StatusCode::BAD_REQUEST);

    // Refresh rotates: the new pair works, the old refresh token is spent.
    let r1 = first.str("/refresh_token");
    let second = platform
        .post("/v1/auth/refresh", None, json!({"refresh_token": r1}))
        .await
        .expect(StatusCode::OK);
    let r2 = second.str("/refresh_token");
    let access2 = second.str("/access_token");
    assert_ne!(r1, r2);
    platform
        .get("/v1/auth/me", &access2)
        .await
        .expect(StatusCode::OK);

    // Reuse of r1 (as a thief would) revokes the whole session: r2 and its access token die.
    platform
        .post("/v1/auth/refresh", None, json!({"refresh_token": r1}))
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
    platform
        .post("/v1/auth/refresh", None, json!({"refresh_token": r2}))
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
    let ended = platform
        .get("/v1/auth/me", &access2)
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
    assert!(ended.headers.contains_key("www-authenticate"));

    // Logout ends a session at once, access and refresh token alike.
    let session = platform
        .login("ada@example.com", PASSWORD)
        .await
        .expect(StatusCode::OK);
    let access3 = session.str("/access_token");
    platform
        .call(Method::POST, "/v1/auth/logout", &access3, None)
        .await
        .expect(StatusCode::NO_CONTENT);
    platform
        .get("/v1/auth/me", &access3)
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
    platform
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": session.str("/refresh_token")}),
        )
        .await
        .expect_error(StatusCode::UNAUTHORIZED);

    // Password change: needs the current password, keeps this session, ends the others.
    let here = platform
        .login("ada@example.com", PASSWORD)
        .await
        .expect(StatusCode::OK);
    let elsewhere = platform
        .login("ada@example.com", PASSWORD)
        .await
        .expect(StatusCode::OK);
    let here_access = here.str("/access_token");
    platform
        .post(
            "/v1/auth/password",
            &here_access,
            json!({"current_password": "wrong password", "new_password": "a new passphrase"}),
        )
        .await
        .expect_error(StatusCode::FORBIDDEN);
    platform
        .post(
            "/v1/auth/password",
            &here_access,
            json!({"current_password": PASSWORD, "new_password": "a new passphrase"}),
        )
        .await
        .expect(StatusCode::NO_CONTENT);
    platform
        .get("/v1/auth/me", &here_access)
        .await
        .expect(StatusCode::OK);
    platform
        .get("/v1/auth/me", &elsewhere.str("/access_token"))
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
    platform
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": elsewhere.str("/refresh_token")}),
        )
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
    platform
        .post(
            "/v1/auth/refresh",
            None,
            json!({"refresh_token": here.str("/refresh_token")}),
        )
        .await
        .expect(StatusCode::OK);
    platform
        .login("ada@example.com", PASSWORD)
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
    platform
        .login("ada@example.com", "a new passphrase")
        .await
        .expect(StatusCode::OK);

    // What is stored: an argon2id hash, never the passwords.
    let stored = platform.stored_bytes();
    assert!(contains(&stored, "$argon2id$v=19$m=19456,t=2,p=1$"));
    for secret in [PASSWORD, "a new passphrase", r1.as_str(), r2.as_str()] {
        assert!(!contains(&stored, secret), "stored in the clear: {secret}");
        assert!(!platform.logs().contains(secret), "logged: {secret}");
    }
}

#[tokio::test]
async fn five_failures_lock_an_email_for_fifteen_minutes() {
    let platform = accounts_platform().spawn().await;
    platform.register("grace@example.com").await;
    for _ in 0..5 {
        let reply = platform
            .login("grace@example.com", "not the password")
            .await
            .expect_error(StatusCode::UNAUTHORIZED);
        assert_eq!(reply.body["error"]["type"], "INVALID_CREDENTIALS");
    }
    // Now even the right password is refused until the lock expires.
    let locked = platform
        .login("grace@example.com", PASSWORD)
        .await
        .expect_error(StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = locked.headers["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((890..=900).contains(&retry_after), "{retry_after}");

    // An unknown email gets exactly the same answers, so the lock reveals nothing.
    let mut unknown_answers = Vec::new();
    for _ in 0..6 {
        let reply = platform.login("nobody@example.com", "whatever pass").await;
        unknown_answers.push((reply.status, reply.body["error"]["type"].clone()));
    }
    let mut known_answers = vec![(StatusCode::UNAUTHORIZED, json!("INVALID_CREDENTIALS")); 5];
    known_answers.push((StatusCode::TOO_MANY_REQUESTS, json!("ACCOUNT_LOCKED")));
    assert_eq!(unknown_answers, known_answers);

    // Another account is unaffected.
    platform.register("other@example.com").await;
    platform
        .login("other@example.com", PASSWORD)
        .await
        .expect(StatusCode::OK);
}

/// The claims of a token, read without verification (the test's own inspection).
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("json")
}

/// Mints a token with the dev server's own signing seed (read from its secrets file), so the
/// signature is genuine and only the claim under test is wrong.
async fn mint(
    data_dir: &Path,
    settings: TokenSettings,
    clock: &ManualClock,
    claims: &Value,
) -> String {
    let secrets = embedded::FileSecrets::new(data_dir.join("secrets.json"), Env::from_pairs([]));
    let service = TokenService::new(settings);
    let field = |name: &str| claims[name].as_str().expect("claim").to_string();
    let (tenant_id, user_id, session_id) = (field("tid"), field("sub"), field("sid"));
    service
        .issue(
            &secrets,
            &RandomIds,
            clock,
            AccessSubject {
                tenant_id: &tenant_id,
                user_id: &user_id,
                role: Role::Owner,
                session_id: &session_id,
            },
        )
        .await
        .expect("mint a token")
}

#[tokio::test]
async fn forged_expired_unsigned_and_foreign_tokens_are_refused() {
    let platform = accounts_platform().spawn().await;
    let signed_in = platform.register("eve@example.com").await;
    let access = signed_in.str("/access_token");
    let genuine = claims(&access);
    let parts: Vec<&str> = access.split('.').collect();

    // Control: a token minted with the real seed and the right claims is accepted, so each
    // refusal below is due to the one thing that differs.
    let now = ManualClock::at(chrono::Utc::now());
    let control = mint(
        platform.data_dir(),
        TokenSettings::default(),
        &now,
        &genuine,
    )
    .await;
    platform
        .get("/v1/auth/me", &control)
        .await
        .expect(StatusCode::OK);

    let an_hour_ago = ManualClock::at(chrono::Utc::now() - chrono::Duration::hours(1));
    let expired = mint(
        platform.data_dir(),
        TokenSettings::default(),
        &an_hour_ago,
        &genuine,
    )
    .await;
    let wrong_audience = mint(
        platform.data_dir(),
        TokenSettings {
            audience: "another-api".into(),
            ..TokenSettings::default()
        },
        &now,
        &genuine,
    )
    .await;
    let wrong_issuer = mint(
        platform.data_dir(),
        TokenSettings {
            issuer: "someone-else".into(),
            ..TokenSettings::default()
        },
        &now,
        &genuine,
    )
    .await;

    let mut tampered = genuine.clone();
    tampered["tid"] = json!("ten_someoneElse");
    let forged_payload = URL_SAFE_NO_PAD.encode(tampered.to_string());
    let forged = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{none_header}.{forged_payload}.");
    let hs_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let hmac = format!("{hs_header}.{}.{}", parts[1], parts[2]);

    // A key of our own (another seed) signing otherwise perfect claims.
    let other_dir = tempfile::tempdir().expect("tempdir");
    let foreign_key = mint(other_dir.path(), TokenSettings::default(), &now, &genuine).await;

    for (name, token) in [
        ("expired", expired.as_str()),
        ("wrong audience", &wrong_audience),
        ("wrong issuer", &wrong_issuer),
        ("tampered payload", &forged),
        ("alg none", &unsigned),
        ("alg HS256", &hmac),
        ("foreign key", &foreign_key),
        ("garbage", "not-a-token"),
        (
            "unknown API key",
            "pak_abcdefgh_abcdefgh_abcdefghabcdefghabcdefghabcdefgh",
        ),
    ] {
        let reply = platform.get("/v1/auth/me", token).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{name}: {}",
            reply.text
        );
        assert_eq!(
            reply.headers["www-authenticate"], "Bearer",
            "{name}: 401 carries the challenge"
        );
    }
    // No credentials at all, or the wrong scheme.
    let anonymous = platform
        .call(Method::GET, "/v1/auth/me", None, None)
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.body["error"]["type"], "AUTHENTICATION_REQUIRED");
    let basic = platform
        .http()
        .get(platform.url("/v1/auth/me"))
        .basic_auth("eve@example.com", Some(PASSWORD))
        .send()
        .await
        .expect("request");
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    // The public routes stay public.
    platform
        .call(Method::GET, "/v1/health", None, None)
        .await
        .expect(StatusCode::OK);
}

#[tokio::test]
async fn tenants_are_isolated_and_keys_are_scoped() {
    let platform = accounts_platform().spawn().await;
    let alice = platform.owner("alice@a.example").await;
    let bob = platform.owner("bob@b.example").await;

    // Bob makes a key; Alice cannot see or delete it.
    let bobs_key = platform
        .post(
            "/v1/api-keys",
            &bob,
            json!({"name": "ci", "scopes": ["records:read", "records:write"]}),
        )
        .await
        .expect(StatusCode::CREATED);
    let bobs_key_id = bobs_key.str("/id");
    let bobs_secret = bobs_key.str("/key");
    assert!(bobs_secret.starts_with("pak_"));
    assert!(bobs_key.str("/prefix").starts_with("pak_"));
    assert!(bobs_secret.starts_with(&bobs_key.str("/prefix")));
    let alices_list = platform
        .get("/v1/api-keys", &alice)
        .await
        .expect(StatusCode::OK);
    assert_eq!(alices_list.body["api_keys"], json!([]));
    platform
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{bobs_key_id}"),
            &alice,
            None,
        )
        .await
        .expect_error(StatusCode::NOT_FOUND);

    // Bob's key works, lists without its secret, and records its last use.
    let as_key = platform
        .get("/v1/auth/me", &bobs_secret)
        .await
        .expect(StatusCode::OK);
    assert_eq!(as_key.body["credential"], "api_key");
    let listed = platform
        .get("/v1/api-keys", &bob)
        .await
        .expect(StatusCode::OK);
    let entry = &listed.body["api_keys"][0];
    assert_eq!(entry["id"], json!(bobs_key_id));
    assert_eq!(entry["scopes"], json!(["records:read", "records:write"]));
    assert!(entry["last_used_at"].is_string(), "{entry}");
    assert!(!listed.text.contains(&bobs_secret));
    assert!(entry.get("hash").is_none());

    // A records:read key cannot write, or manage keys and connections.
    let reader = platform
        .post(
            "/v1/api-keys",
            &alice,
            json!({"name": "reader", "scopes": ["records:read"]}),
        )
        .await
        .expect(StatusCode::CREATED)
        .str("/key");
    for (method, path, body) in [
        (
            Method::POST,
            "/v1/api-keys",
            Some(json!({"name": "x", "scopes": ["records:read"]})),
        ),
        (Method::GET, "/v1/api-keys", None),
        (
            Method::PUT,
            "/v1/connections/airtable",
            Some(json!({"token": "patX.y"})),
        ),
        (Method::DELETE, "/v1/connections/airtable", None),
        (Method::GET, "/v1/connections/airtable", None),
        (Method::GET, "/v1/usage/summary", None),
    ] {
        let reply = platform
            .call(method.clone(), path, &reader, body)
            .await
            .expect_error(StatusCode::FORBIDDEN);
        assert_eq!(
            reply.body["error"]["type"], "INSUFFICIENT_SCOPE",
            "{method} {path}"
        );
    }
    // A key is no user: it cannot edit the profile, change the password, or mint keys, even
    // with `admin` (a child key would outlive its parent's expiry and revocation).
    let admin_key = platform
        .post(
            "/v1/api-keys",
            &alice,
            json!({"name": "admin", "scopes": ["admin"], "expires_at": "2030-01-01T00:00:00Z"}),
        )
        .await
        .expect(StatusCode::CREATED)
        .str("/key");
    for key in [&reader, &admin_key] {
        platform
            .call(
                Method::PATCH,
                "/v1/auth/me",
                key,
                Some(json!({"name": "pwned"})),
            )
            .await
            .expect_error(StatusCode::FORBIDDEN);
        platform
            .post(
                "/v1/auth/password",
                key,
                json!({"current_password": PASSWORD, "new_password": "taken over!"}),
            )
            .await
            .expect_error(StatusCode::FORBIDDEN);
    }
    platform
        .post(
            "/v1/api-keys",
            &admin_key,
            json!({"name": "forever", "scopes": ["admin"]}),
        )
        .await
        .expect_error(StatusCode::FORBIDDEN);
    let key_me = platform
        .get("/v1/auth/me", &reader)
        .await
        .expect(StatusCode::OK);
    assert!(key_me.body.get("user").is_none(), "{}", key_me.text);
    assert!(!key_me.text.contains("alice@a.example"));

    // A key cannot be granted more than its creator has, nor unknown scopes.
    platform
        .post(
            "/v1/api-keys",
            &alice,
            json!({"name": "x", "scopes": ["records:delete"]}),
        )
        .await
        .expect_error(StatusCode::BAD_REQUEST);
    platform
        .post(
            "/v1/api-keys",
            &alice,
            json!({"name": "x", "scopes": ["admin"], "expires_at": "2001-01-01T00:00:00Z"}),
        )
        .await
        .expect_error(StatusCode::BAD_REQUEST);
    platform
        .post(
            "/v1/api-keys",
            &alice,
            json!({"name": "x", "scopes": ["admin"], "expires_at": "9999-12-31T23:59:59-01:00"}),
        )
        .await
        .expect_error(StatusCode::BAD_REQUEST);

    // Revocation is immediate.
    platform
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{bobs_key_id}"),
            &bob,
            None,
        )
        .await
        .expect(StatusCode::OK);
    platform
        .get("/v1/auth/me", &bobs_secret)
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
    // A key with its tenant part swapped for Alice's is not Alice's key.
    let alice_tenant = platform.get("/v1/auth/me", &alice).await.str("/tenant/id");
    let mut parts: Vec<String> = reader.split('_').map(str::to_string).collect();
    parts[2] = alice_tenant.trim_start_matches("ten_").to_string();
    platform
        .get("/v1/auth/me", &parts.join("_"))
        .await
        .expect(StatusCode::OK);
    let bob_tenant = platform.get("/v1/auth/me", &bob).await.str("/tenant/id");
    parts[2] = bob_tenant.trim_start_matches("ten_").to_string();
    platform
        .get("/v1/auth/me", &parts.join("_"))
        .await
        .expect_error(StatusCode::UNAUTHORIZED);

    // Only hashes are stored.
    let stored = platform.stored_bytes();
    assert!(!contains(&stored, &bobs_secret));
    assert!(!contains(&stored, &reader));
    assert!(contains(&stored, &basics::digest::sha256_hex(&reader)));
    assert!(!platform.logs().contains(&reader));
}

#[tokio::test]
async fn the_airtable_connection_is_verified_stored_masked_and_never_shown() {
    let platform = accounts_platform().spawn().await;
    let alice = platform.owner("alice@a.example").await;
    let bob = platform.owner("bob@b.example").await;
    // A token of our own in the sandbox (the demo token is printed in the banner on purpose).
    let secret_part = format!(
        "{}{}",
        "s3cr3t",
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(7)
    );
    let token = format!("patTestConnect01.{secret_part}");
    platform
        .sandbox_admin(
            Method::POST,
            "/_sandbox/tokens",
            json!({"token": token, "scopes": ["data.records:read", "schema.bases:read"], "bases": ["*"]}),
        )
        .await;
    let token = token.as_str();

    platform
        .get("/v1/connections/airtable", &alice)
        .await
        .expect_error(StatusCode::NOT_FOUND);
    let rejected = platform
        .call(
            Method::PUT,
            "/v1/connections/airtable",
            &alice,
            Some(json!({"token": "patNotAToken.0000000000000000"})),
        )
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(rejected.body["error"]["type"], "AIRTABLE_TOKEN_REJECTED");
    platform
        .call(
            Method::PUT,
            "/v1/connections/airtable",
            &alice,
            Some(json!({"token": ""})),
        )
        .await
        .expect_error(StatusCode::BAD_REQUEST);

    let connected = platform
        .call(
            Method::PUT,
            "/v1/connections/airtable",
            &alice,
            Some(json!({"token": token})),
        )
        .await
        .expect(StatusCode::OK);
    assert!(connected.str("/airtable_user_id").starts_with("usr"));
    assert!(connected.body["scopes"].is_array(), "{}", connected.text);
    let hint = format!("pat…{}", &secret_part[secret_part.len() - 4..]);
    assert_eq!(connected.str("/token"), hint);
    assert_eq!(
        connected.body["scopes"],
        json!(["data.records:read", "schema.bases:read"])
    );
    let shown = platform
        .get("/v1/connections/airtable", &alice)
        .await
        .expect(StatusCode::OK);
    assert_eq!(shown.str("/token"), hint);

    // Bob's tenant sees no connection, and cannot remove Alice's.
    platform
        .get("/v1/connections/airtable", &bob)
        .await
        .expect_error(StatusCode::NOT_FOUND);
    platform
        .call(Method::DELETE, "/v1/connections/airtable", &bob, None)
        .await
        .expect_error(StatusCode::NOT_FOUND);
    platform
        .get("/v1/connections/airtable", &alice)
        .await
        .expect(StatusCode::OK);

    // The token's secret part appears in no response and no log line.
    for reply in [&connected, &shown] {
        assert!(!reply.text.contains(&secret_part));
    }
    let output = platform.logs();
    assert!(!output.is_empty(), "debug logging captured something");
    assert!(
        !output.contains(&secret_part),
        "the Airtable token was logged"
    );
    assert!(!output.contains("patNotAToken.0000000000000000"));

    platform
        .call(Method::DELETE, "/v1/connections/airtable", &alice, None)
        .await
        .expect(StatusCode::NO_CONTENT);
    platform
        .get("/v1/connections/airtable", &alice)
        .await
        .expect_error(StatusCode::NOT_FOUND);
    let stored = platform.stored_bytes();
    assert!(
        !contains(&stored, &secret_part),
        "disconnecting removes the token"
    );
}

#[tokio::test]
async fn usage_is_metered_per_tenant_and_the_rate_limit_answers_429() {
    let platform = accounts_platform().tenant_limit(20).spawn().await;
    let alice = platform.owner("alice@a.example").await;
    let bob = platform.owner("bob@b.example").await;
    for _ in 0..3 {
        platform
            .get("/v1/auth/me", &alice)
            .await
            .expect(StatusCode::OK);
    }
    let summary = platform
        .get("/v1/usage/summary", &alice)
        .await
        .expect(StatusCode::OK);
    // Three `me` calls; register is public and not counted, and a request is counted when it
    // has been served, so the summary does not yet see itself.
    assert_eq!(summary.body["requests"]["total"], 3, "{}", summary.text);
    assert_eq!(summary.body["requests"]["by_group"]["auth"], 3);
    let summary = platform
        .get("/v1/usage/summary", &alice)
        .await
        .expect(StatusCode::OK);
    assert_eq!(summary.body["requests"]["total"], 4, "{}", summary.text);
    assert_eq!(summary.body["requests"]["by_group"]["usage"], 1);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let days = summary.body["days"].as_array().expect("days");
    assert!(
        days.iter().any(|d| d["date"] == json!(today)),
        "{}",
        summary.text
    );
    assert_eq!(summary.body["limits"]["requests_per_minute"], 20);
    platform
        .call(Method::GET, "/v1/usage/summary?month=2026-13", &alice, None)
        .await
        .expect_error(StatusCode::BAD_REQUEST);

    // Past the limit: 429 with Retry-After. 45 requests cannot all fit in two windows of 20.
    let mut limited = None;
    for _ in 0..45 {
        let reply = platform.get("/v1/auth/me", &alice).await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(reply);
            break;
        }
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    let limited = limited.expect("the tenant limit was reached");
    assert_eq!(limited.body["error"]["type"], "TENANT_RATE_LIMITED");
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry_after));
    // The limit is per tenant: Bob is unaffected.
    platform
        .get("/v1/auth/me", &bob)
        .await
        .expect(StatusCode::OK);
    let bobs = platform
        .get("/v1/usage/summary", &bob)
        .await
        .expect(StatusCode::OK);
    assert_eq!(bobs.body["requests"]["total"], 1, "{}", bobs.text);
}

#[tokio::test]
async fn sign_in_routes_are_limited_per_client_address() {
    let platform = accounts_platform().client_auth_limit(5).spawn().await;
    // Password spraying: one attempt per email, so no email's lockout ever triggers. 12 attempts
    // cannot all fit in two one-minute windows of 5.
    let mut limited = None;
    for n in 0..12 {
        let reply = platform
            .login(&format!("victim{n}@example.com"), "Summer2026!")
            .await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(reply);
            break;
        }
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.text);
    }
    let limited = limited.expect("the per-client limit was reached");
    assert_eq!(limited.body["error"]["type"], "CLIENT_RATE_LIMITED");
    assert!(limited.headers.contains_key("retry-after"));
    // Registering is limited the same way; health and authenticated routes are not.
    let reply = platform
        .post(
            "/v1/auth/register",
            None,
            json!({"email": "new@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.text
    );
    platform
        .call(Method::GET, "/v1/health", None, None)
        .await
        .expect(StatusCode::OK);
}

/// The same flows on the AWS adapters (DynamoDB transactions and conditions, Secrets Manager for
/// the signing seed, the verify keys and the Airtable token), against moto.
#[tokio::test]
async fn accounts_work_on_the_aws_backend_against_moto() {
    let Some(moto) = testkit::moto_endpoint("the BACKEND=aws accounts run") else {
        return;
    };
    let platform = accounts_platform()
        .on_moto(&moto, "accounts")
        .secrets_cache_ttl(Duration::ZERO)
        .spawn()
        .await;

    let signed_in = platform.register("ada@example.com").await;
    let access = signed_in.str("/access_token");
    platform.register_again_is_taken("ADA@example.com").await;
    platform
        .get("/v1/auth/me", &access)
        .await
        .expect(StatusCode::OK);

    // Rotation and reuse detection rely on conditional updates.
    let r1 = signed_in.str("/refresh_token");
    let rotated = platform
        .post("/v1/auth/refresh", None, json!({"refresh_token": r1}))
        .await
        .expect(StatusCode::OK);
    platform
        .post("/v1/auth/refresh", None, json!({"refresh_token": r1}))
        .await
        .expect_error(StatusCode::UNAUTHORIZED);
    platform
        .get("/v1/auth/me", &rotated.str("/access_token"))
        .await
        .expect_error(StatusCode::UNAUTHORIZED);

    let access = platform
        .login("ada@example.com", PASSWORD)
        .await
        .expect(StatusCode::OK)
        .str("/access_token");
    let key = platform
        .post(
            "/v1/api-keys",
            &access,
            json!({"name": "etl", "scopes": ["records:read", "usage:read"]}),
        )
        .await
        .expect(StatusCode::CREATED);
    let secret = key.str("/key");
    platform
        .get("/v1/usage/summary", &secret)
        .await
        .expect(StatusCode::OK);
    platform
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{}", key.str("/id")),
            &access,
            None,
        )
        .await
        .expect(StatusCode::OK);
    platform
        .get("/v1/usage/summary", &secret)
        .await
        .expect_error(StatusCode::UNAUTHORIZED);

    // The Airtable token goes to Secrets Manager and comes back only masked.
    platform
        .call(
            Method::PUT,
            "/v1/connections/airtable",
            &access,
            Some(json!({"token": airtable_sandbox::DEMO_TOKEN})),
        )
        .await
        .expect(StatusCode::OK);
    platform
        .get("/v1/connections/airtable", &access)
        .await
        .expect(StatusCode::OK);
    platform
        .call(Method::DELETE, "/v1/connections/airtable", &access, None)
        .await
        .expect(StatusCode::NO_CONTENT);
    platform
        .get("/v1/connections/airtable", &access)
        .await
        .expect_error(StatusCode::NOT_FOUND);

    let usage = platform
        .get("/v1/usage/summary", &access)
        .await
        .expect(StatusCode::OK);
    assert!(
        usage.body["requests"]["total"].as_i64().unwrap_or(0) >= 6,
        "{}",
        usage.text
    );
    assert!(
        !platform.data_dir().join("platform.sqlite").exists(),
        "the AWS backend must not touch the embedded store"
    );
}
