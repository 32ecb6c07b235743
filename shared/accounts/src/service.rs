//! `Accounts`: register, sign in, refresh, sign out, profile and password, over the ports.

use std::sync::Arc;

use basics::{Clock, IdGenerator};
use ports::{
    Condition, Key, Query, Secrets, Table, TableStore, TransactOp, Update, from_item, to_item,
};
use secrecy::SecretString;
use serde::Serialize;

use crate::email::Email;
use crate::error::AccountError;
use crate::jwt::{AccessSubject, TokenService};
use crate::layout;
use crate::lockout::Lockout;
use crate::opaque_token::{OpaqueToken, TokenKind};
use crate::password::{self, NewPassword};
use crate::principal::Principal;
use crate::records::{
    EmailIndexRecord, RefreshTokenRecord, SessionRecord, TenantRecord, UserRecord,
};
use crate::scopes::Role;

/// The longest display name kept.
pub const MAX_NAME_CHARS: usize = 100;

/// The ports and settings account operations run on. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Accounts {
    pub(crate) store: Arc<dyn TableStore>,
    pub(crate) secrets: Arc<dyn Secrets>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ids: Arc<dyn IdGenerator>,
    pub(crate) tokens: Arc<TokenService>,
}

/// A user as the API shows them (never the hash).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub tenant_id: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TenantView {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

/// A fresh access token and the refresh token that renews it. `Debug` shows neither.
#[derive(Clone, Serialize)]
pub struct TokenPair {
    pub access_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    #[serde(serialize_with = "expose")]
    pub refresh_token: SecretString,
    pub refresh_expires_in: i64,
}

/// Serialises a secret that is meant for the caller (a token being handed out), which is the
/// one place a `SecretString` may become plain text.
pub(crate) fn expose<S: serde::Serializer>(
    secret: &SecretString,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use secrecy::ExposeSecret;
    serializer.serialize_str(secret.expose_secret())
}

/// The transaction step that claims an email for a user; it fails if the email is taken.
fn claim_email(email: &Email, owner: &EmailIndexRecord) -> Result<TransactOp, AccountError> {
    Ok(TransactOp::Put {
        table: Table::Core,
        item: to_item(&layout::email_index(email.as_str()), owner)?,
        condition: Some(Condition::NotExists),
    })
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"[REDACTED]")
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &"[REDACTED]")
            .finish()
    }
}

/// The answer to register and login.
#[derive(Debug, Clone, Serialize)]
pub struct SignedIn {
    pub user: UserView,
    pub tenant: TenantView,
    #[serde(flatten)]
    pub tokens: TokenPair,
}

/// Changes to the caller's profile.
#[derive(Debug, Clone, Default)]
pub struct ProfileChange {
    pub name: Option<String>,
    pub email: Option<String>,
    /// Required to change the email: a stolen access token alone must not move an account.
    pub current_password: Option<SecretString>,
}

impl UserView {
    fn of(user: &UserRecord) -> Self {
        Self {
            id: user.user_id.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            role: user.role,
            tenant_id: user.tenant_id.clone(),
            created_at: user.created_at.clone(),
        }
    }
}

impl TenantView {
    fn of(tenant: &TenantRecord) -> Self {
        Self {
            id: tenant.tenant_id.clone(),
            name: tenant.name.clone(),
            created_at: tenant.created_at.clone(),
        }
    }
}

/// Trims a display name and checks its length; empty means none.
fn parse_name(raw: Option<&str>) -> Result<Option<String>, AccountError> {
    let Some(name) = raw.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(AccountError::Invalid(format!(
            "name must be at most {MAX_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(AccountError::Invalid(
            "name cannot contain control characters".into(),
        ));
    }
    Ok(Some(name.to_string()))
}

impl Accounts {
    pub fn new(
        store: Arc<dyn TableStore>,
        secrets: Arc<dyn Secrets>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        tokens: Arc<TokenService>,
    ) -> Self {
        Self {
            store,
            secrets,
            clock,
            ids,
            tokens,
        }
    }

    pub(crate) fn now_rfc3339(&self) -> String {
        self.clock
            .now()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    fn lockout(&self) -> Lockout<'_> {
        Lockout::new(self.store.as_ref(), self.clock.as_ref())
    }

    /// Creates a tenant with this user as its owner, and signs them in.
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        name: Option<&str>,
    ) -> Result<SignedIn, AccountError> {
        let email = Email::parse(email).map_err(|err| AccountError::Invalid(err.0))?;
        let password = NewPassword::parse(password).map_err(|err| AccountError::Invalid(err.0))?;
        let name = parse_name(name)?;
        let password_hash = password::hash_password(&password)
            .await
            .map_err(|err| AccountError::Internal(err.to_string()))?;
        let now = self.now_rfc3339();
        let tenant_id = self.ids.new_id("ten");
        let user_id = self.ids.new_id("usr");
        let tenant = TenantRecord {
            tenant_id: tenant_id.clone(),
            name: name
                .clone()
                .unwrap_or_else(|| email.as_str().split('@').next().unwrap_or("").to_string()),
            owner_user_id: user_id.clone(),
            created_at: now.clone(),
        };
        let user = UserRecord {
            user_id: user_id.clone(),
            tenant_id: tenant_id.clone(),
            email: email.as_str().to_string(),
            name,
            role: Role::Owner,
            password_hash,
            created_at: now.clone(),
            updated_at: now,
        };
        let index = EmailIndexRecord {
            tenant_id: tenant_id.clone(),
            user_id: user_id.clone(),
        };
        let result = self
            .store
            .transact_write(vec![
                claim_email(&email, &index)?,
                TransactOp::Put {
                    table: Table::Core,
                    item: to_item(&layout::tenant(&tenant_id), &tenant)?,
                    condition: Some(Condition::NotExists),
                },
                TransactOp::Put {
                    table: Table::Core,
                    item: to_item(&layout::user(&tenant_id, &user_id), &user)?,
                    condition: Some(Condition::NotExists),
                },
            ])
            .await;
        match result {
            Ok(()) => {}
            Err(err) if err.is_condition_failure() => return Err(AccountError::EmailTaken),
            Err(err) => return Err(err.into()),
        }
        tracing::info!(tenant_id, user_id, "registered a new tenant");
        let tokens = self.start_session(&user).await?;
        Ok(SignedIn {
            user: UserView::of(&user),
            tenant: TenantView::of(&tenant),
            tokens,
        })
    }

    /// Signs in with email and password. An unknown email and a wrong password get the same
    /// answer after the same work (one argon2 verification), and five failures lock the email
    /// for 15 minutes whether or not it has an account.
    pub async fn login(&self, email: &str, password: &str) -> Result<SignedIn, AccountError> {
        let parsed = Email::parse(email);
        // An address that cannot be an email still gets counted (and answered) like any other.
        let lockout_key = match &parsed {
            Ok(email) => email.as_str().to_string(),
            Err(_) => basics::digest::sha256_hex(email.trim()),
        };
        let attempt = self.lockout().begin(&lockout_key).await?;
        let user = match &parsed {
            Ok(email) => self.user_by_email(email).await?,
            Err(_) => None,
        };
        let presented = SecretString::from(password.to_string());
        let verified =
            password::verify_password(&presented, user.as_ref().map(|u| u.password_hash.as_str()))
                .await;
        let Some(user) = user.filter(|_| verified) else {
            self.lockout().failed(attempt).await?;
            return Err(AccountError::BadCredentials);
        };
        self.lockout().succeeded(attempt).await?;
        if password::needs_rehash(&user.password_hash) {
            self.rehash(&user, password).await;
        }
        let tenant = self.tenant(&user.tenant_id).await?;
        let tokens = self.start_session(&user).await?;
        tracing::info!(
            tenant_id = user.tenant_id,
            user_id = user.user_id,
            "signed in"
        );
        Ok(SignedIn {
            user: UserView::of(&user),
            tenant: TenantView::of(&tenant),
            tokens,
        })
    }

    /// Upgrades a stored hash made with older parameters; failure only costs the upgrade.
    async fn rehash(&self, user: &UserRecord, password: &str) {
        let Ok(password) = NewPassword::parse(password) else {
            return;
        };
        let Ok(hash) = password::hash_password(&password).await else {
            return;
        };
        let update = Update::new().set("password_hash", hash);
        // Only over the hash just verified: a password change in between must win.
        let unchanged = Condition::equals("password_hash", user.password_hash.clone());
        match self
            .store
            .update(
                Table::Core,
                &layout::user(&user.tenant_id, &user.user_id),
                update,
                Some(unchanged),
            )
            .await
        {
            Ok(_) => {}
            Err(err) if err.is_condition_failure() => {}
            Err(err) => tracing::warn!(error = %err, "could not upgrade a password hash"),
        }
    }

    /// Exchanges a refresh token for a new pair. The old token is spent; presenting a spent
    /// token again means it was copied, so the whole session (every token in its family, and
    /// the access tokens naming it) is revoked.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, AccountError> {
        let invalid = || AccountError::Unauthenticated("The refresh token is not valid".into());
        let presented = SecretString::from(refresh_token.to_string());
        let parsed = OpaqueToken::parse(TokenKind::Refresh, &presented).ok_or_else(invalid)?;
        let key = layout::refresh_token(&parsed.tenant_id, &parsed.id);
        let stored: RefreshTokenRecord = match self.store.get(Table::Core, &key).await? {
            Some(item) => from_item(item)?,
            None => return Err(invalid()),
        };
        if !basics::digest::constant_time_eq(&stored.hash, &parsed.hash) {
            return Err(invalid());
        }
        if stored.used {
            self.revoke_reused(&parsed.tenant_id, &stored).await?;
            return Err(AccountError::Unauthenticated(
                "This refresh token was already used; the session has been ended for safety".into(),
            ));
        }
        let session = self
            .active_session(&parsed.tenant_id, &stored.user_id, &stored.session_id)
            .await?
            .ok_or_else(|| AccountError::Unauthenticated("The session has ended".into()))?;
        let spent = self
            .store
            .update(
                Table::Core,
                &key,
                Update::new().set("used", true),
                Some(Condition::equals("used", false)),
            )
            .await;
        match spent {
            Ok(_) => {}
            Err(err) if err.is_condition_failure() => {
                // Another exchange of the same token won the race: that is reuse too.
                self.revoke_reused(&parsed.tenant_id, &stored).await?;
                return Err(AccountError::Unauthenticated(
                    "This refresh token was already used; the session has been ended for safety"
                        .into(),
                ));
            }
            Err(err) => return Err(err.into()),
        }
        let user = self.user(&parsed.tenant_id, &stored.user_id).await?;
        self.continue_session(&user, &session).await
    }

    async fn revoke_reused(
        &self,
        tenant_id: &str,
        token: &RefreshTokenRecord,
    ) -> Result<(), AccountError> {
        tracing::warn!(
            tenant_id,
            user_id = token.user_id,
            session_id = token.session_id,
            "refresh token reuse: revoking the session"
        );
        self.revoke_session(tenant_id, &token.user_id, &token.session_id)
            .await
    }

    /// Ends the caller's session: its refresh tokens and access tokens stop working at once.
    pub async fn logout(&self, principal: &Principal) -> Result<(), AccountError> {
        let Some(session_id) = principal.session_id() else {
            return Err(AccountError::Invalid(
                "An API key has no session to sign out of; delete the key instead".into(),
            ));
        };
        self.revoke_session(&principal.tenant_id, &principal.user_id, session_id)
            .await
    }

    pub async fn me(&self, principal: &Principal) -> Result<(UserView, TenantView), AccountError> {
        let user = self.user(&principal.tenant_id, &principal.user_id).await?;
        let tenant = self.tenant(&principal.tenant_id).await?;
        Ok((UserView::of(&user), TenantView::of(&tenant)))
    }

    /// Changes the caller's name and/or email. A new email must be free, and needs the current
    /// password.
    pub async fn update_profile(
        &self,
        principal: &Principal,
        change: ProfileChange,
    ) -> Result<UserView, AccountError> {
        if principal.session_id().is_none() {
            return Err(AccountError::Forbidden(
                "A profile is changed by its signed-in user, not by an API key".into(),
            ));
        }
        let user = self.user(&principal.tenant_id, &principal.user_id).await?;
        let name = match change.name.as_deref() {
            Some(raw) => Some(parse_name(Some(raw))?),
            None => None,
        };
        let new_email = match change.email.as_deref() {
            Some(raw) => {
                let email = Email::parse(raw).map_err(|err| AccountError::Invalid(err.0))?;
                (email.as_str() != user.email).then_some(email)
            }
            None => None,
        };
        if name.is_none() && new_email.is_none() {
            return Ok(UserView::of(&user));
        }
        let user_key = layout::user(&user.tenant_id, &user.user_id);
        let mut update = Update::new().set("updated_at", self.now_rfc3339());
        if let Some(name) = &name {
            update = match name {
                Some(name) => update.set("name", name.clone()),
                None => update.remove("name"),
            };
        }
        match new_email {
            None => {
                self.store
                    .update(Table::Core, &user_key, update, Some(Condition::Exists))
                    .await?;
            }
            Some(email) => {
                let Some(current) = change.current_password else {
                    return Err(AccountError::Invalid(
                        "Changing the email needs current_password".into(),
                    ));
                };
                self.check_current_password(&user, &current).await?;
                let index = EmailIndexRecord {
                    tenant_id: user.tenant_id.clone(),
                    user_id: user.user_id.clone(),
                };
                let result = self
                    .store
                    .transact_write(vec![
                        claim_email(&email, &index)?,
                        TransactOp::Delete {
                            table: Table::Core,
                            key: layout::email_index(&user.email),
                            condition: Some(Condition::equals("user_id", user.user_id.clone())),
                        },
                        TransactOp::Update {
                            table: Table::Core,
                            key: user_key,
                            update: update.set("email", email.as_str()),
                            condition: Some(Condition::equals("email", user.email.clone())),
                        },
                    ])
                    .await;
                match result {
                    Ok(()) => {}
                    Err(err) if err.is_condition_failure() => return Err(AccountError::EmailTaken),
                    Err(err) => return Err(err.into()),
                }
            }
        }
        let user = self.user(&principal.tenant_id, &principal.user_id).await?;
        Ok(UserView::of(&user))
    }

    /// Changes the caller's password and ends every other session of theirs.
    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
    ) -> Result<(), AccountError> {
        let Some(session_id) = principal.session_id() else {
            return Err(AccountError::Forbidden(
                "Changing a password needs a signed-in user, not an API key".into(),
            ));
        };
        let new = NewPassword::parse(new).map_err(|err| AccountError::Invalid(err.0))?;
        let user = self.user(&principal.tenant_id, &principal.user_id).await?;
        self.check_current_password(&user, &SecretString::from(current.to_string()))
            .await?;
        let hash = password::hash_password(&new)
            .await
            .map_err(|err| AccountError::Internal(err.to_string()))?;
        self.store
            .update(
                Table::Core,
                &layout::user(&user.tenant_id, &user.user_id),
                Update::new()
                    .set("password_hash", hash)
                    .set("updated_at", self.now_rfc3339()),
                Some(Condition::Exists),
            )
            .await?;
        let revoked = self
            .revoke_sessions_except(&user.tenant_id, &user.user_id, Some(session_id))
            .await?;
        tracing::info!(
            tenant_id = user.tenant_id,
            user_id = user.user_id,
            revoked,
            "password changed"
        );
        Ok(())
    }

    /// Checks the password of a signed-in user; failures count towards the email's lockout,
    /// so a stolen access token cannot be used to guess the password either.
    async fn check_current_password(
        &self,
        user: &UserRecord,
        current: &SecretString,
    ) -> Result<(), AccountError> {
        let attempt = self.lockout().begin(&user.email).await?;
        if password::verify_password(current, Some(&user.password_hash)).await {
            return self.lockout().succeeded(attempt).await;
        }
        self.lockout().failed(attempt).await?;
        Err(AccountError::Forbidden(
            "The current password is incorrect".into(),
        ))
    }

    // --- sessions ---

    /// Opens a session for the user and issues its first token pair.
    async fn start_session(&self, user: &UserRecord) -> Result<TokenPair, AccountError> {
        let session = SessionRecord {
            session_id: self.ids.new_id("ses"),
            user_id: user.user_id.clone(),
            created_at: self.now_rfc3339(),
            revoked: false,
            expires_at: self.refresh_expiry(),
        };
        self.store
            .put(
                Table::Core,
                to_item(
                    &layout::session(&user.tenant_id, &user.user_id, &session.session_id),
                    &session,
                )?,
                Some(Condition::NotExists),
            )
            .await?;
        self.continue_session(user, &session).await
    }

    /// Issues the next token pair in a session and extends the session's life.
    async fn continue_session(
        &self,
        user: &UserRecord,
        session: &SessionRecord,
    ) -> Result<TokenPair, AccountError> {
        let (refresh_token, parsed) =
            OpaqueToken::issue(TokenKind::Refresh, &user.tenant_id, self.ids.as_ref());
        let expires_at = self.refresh_expiry();
        let record = RefreshTokenRecord {
            token_id: parsed.id.clone(),
            session_id: session.session_id.clone(),
            user_id: user.user_id.clone(),
            hash: parsed.hash,
            used: false,
            expires_at,
        };
        self.store
            .transact_write(vec![
                TransactOp::Put {
                    table: Table::Core,
                    item: to_item(&layout::refresh_token(&user.tenant_id, &parsed.id), &record)?,
                    condition: Some(Condition::NotExists),
                },
                TransactOp::Update {
                    table: Table::Core,
                    key: layout::session(&user.tenant_id, &user.user_id, &session.session_id),
                    update: Update::new().set("expires_at", expires_at),
                    condition: Some(Condition::equals("revoked", false)),
                },
            ])
            .await
            .map_err(|err| {
                if err.is_condition_failure() {
                    AccountError::Unauthenticated("The session has ended".into())
                } else {
                    err.into()
                }
            })?;
        let access_token = self
            .tokens
            .issue(
                self.secrets.as_ref(),
                self.ids.as_ref(),
                self.clock.as_ref(),
                AccessSubject {
                    tenant_id: &user.tenant_id,
                    user_id: &user.user_id,
                    role: user.role,
                    session_id: &session.session_id,
                },
            )
            .await?;
        let settings = self.tokens.settings();
        Ok(TokenPair {
            access_token,
            token_type: "Bearer",
            expires_in: settings.access_ttl_seconds,
            refresh_token,
            refresh_expires_in: settings.refresh_ttl_seconds,
        })
    }

    fn refresh_expiry(&self) -> i64 {
        self.clock.epoch_seconds() + self.tokens.settings().refresh_ttl_seconds
    }

    /// The session if it exists, is not revoked and has not expired.
    pub(crate) async fn active_session(
        &self,
        tenant_id: &str,
        user_id: &str,
        session_id: &str,
    ) -> Result<Option<SessionRecord>, AccountError> {
        let item = self
            .store
            .get(
                Table::Core,
                &layout::session(tenant_id, user_id, session_id),
            )
            .await?;
        let Some(item) = item else {
            return Ok(None);
        };
        let session: SessionRecord = from_item(item)?;
        Ok((!session.revoked).then_some(session))
    }

    async fn revoke_session(
        &self,
        tenant_id: &str,
        user_id: &str,
        session_id: &str,
    ) -> Result<(), AccountError> {
        let result = self
            .store
            .update(
                Table::Core,
                &layout::session(tenant_id, user_id, session_id),
                Update::new().set("revoked", true),
                Some(Condition::Exists),
            )
            .await;
        match result {
            Ok(_) => Ok(()),
            // Already gone (expired): nothing left to revoke.
            Err(err) if err.is_condition_failure() => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// Revokes every session of the user except `keep`; returns how many were revoked.
    async fn revoke_sessions_except(
        &self,
        tenant_id: &str,
        user_id: &str,
        keep: Option<&str>,
    ) -> Result<usize, AccountError> {
        let mut revoked = 0;
        let mut cursor = None;
        loop {
            let page = self
                .store
                .query(
                    Table::Core,
                    Query::partition(layout::tenant_pk(tenant_id))
                        .begins_with(layout::sessions_prefix(user_id))
                        .after(cursor),
                )
                .await?;
            for item in page.items {
                let session: SessionRecord = from_item(item)?;
                if session.revoked || Some(session.session_id.as_str()) == keep {
                    continue;
                }
                self.revoke_session(tenant_id, user_id, &session.session_id)
                    .await?;
                revoked += 1;
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(revoked),
            }
        }
    }

    // --- lookups ---

    async fn user_by_email(&self, email: &Email) -> Result<Option<UserRecord>, AccountError> {
        let Some(item) = self
            .store
            .get(Table::Core, &layout::email_index(email.as_str()))
            .await?
        else {
            return Ok(None);
        };
        let index: EmailIndexRecord = from_item(item)?;
        let Some(item) = self
            .store
            .get(Table::Core, &layout::user(&index.tenant_id, &index.user_id))
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(from_item(item)?))
    }

    pub(crate) async fn user(
        &self,
        tenant_id: &str,
        user_id: &str,
    ) -> Result<UserRecord, AccountError> {
        self.get_typed(&layout::user(tenant_id, user_id))
            .await?
            .ok_or_else(|| AccountError::Unauthenticated("The user no longer exists".into()))
    }

    async fn tenant(&self, tenant_id: &str) -> Result<TenantRecord, AccountError> {
        self.get_typed(&layout::tenant(tenant_id))
            .await?
            .ok_or_else(|| AccountError::Unauthenticated("The tenant no longer exists".into()))
    }

    pub(crate) async fn get_typed<T: serde::de::DeserializeOwned>(
        &self,
        key: &Key,
    ) -> Result<Option<T>, AccountError> {
        match self.store.get(Table::Core, key).await? {
            Some(item) => Ok(Some(from_item(item)?)),
            None => Ok(None),
        }
    }
}
