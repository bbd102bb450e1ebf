//! What a signed-in person manages about their own account: where they are signed in, what
//! happened recently, and their password.

use secrecy::{ExposeSecret, SecretString};

use super::{
    auth::Auth,
    logout::Ending,
    model::{
        audit, AuditKind, AuthError, Authority, ClientMeta, EndReason, Result, SigninKind, User,
        Verified,
    },
    opaque,
    password::PasswordHashString,
    throttle, validate,
};
use crate::{server::db::now, with_pool};

/// What `trusted_devices` keys a device cookie by: the digest of its value, when the value is one
/// this server could have given out (at most 64 bytes; anything longer names no browser).
fn device_digest(cookie: Option<&str>) -> Option<String> {
    cookie.filter(|c| c.len() <= 64).map(opaque::digest)
}

/// A browser trusted for an account (it signed in to it before): `/sessions` lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedBrowser {
    /// The SHA-256 of its device cookie (the cookie itself is never stored).
    pub id: String,
    /// Unix seconds: its first sign-in to the account.
    pub created_at: i64,
    /// Unix seconds: its latest.
    pub last_used_at: i64,
    /// Its `User-Agent` at that sign-in.
    pub user_agent: Option<String>,
    /// The browser asking.
    pub current: bool,
}

/// One active sign-in, as the `/sessions` page lists it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SigninInfo {
    /// The sign-in id.
    pub id: String,
    /// What kind of credential it carries.
    #[sqlx(try_from = "String")]
    pub kind: SigninKind,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub last_seen_at: i64,
    /// As sent at sign-in.
    pub user_agent: Option<String>,
    /// As seen at sign-in.
    pub ip: Option<String>,
    /// A personal token's name.
    pub token_name: Option<String>,
}

/// One row of the audit trail.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditEvent {
    /// Unix seconds.
    pub at: i64,
    /// What happened.
    #[sqlx(try_from = "String")]
    pub event: AuditKind,
    /// The sign-in concerned, if one.
    pub signin_id: Option<String>,
    /// A short readable detail (scope, which page or API).
    pub detail: String,
}

impl Auth {
    /// Creates an account for a client at `meta`: throttled per address (`throttle::REGISTER`),
    /// counted before any hashing; then as [`Auth::register`].
    pub async fn register_from(
        &self,
        email: &str,
        password: SecretString,
        meta: &ClientMeta,
    ) -> Result<User> {
        if let Err(err) = throttle::admit(&self.db, &throttle::register_keys(meta)).await {
            tracing::warn!(ip = ?meta.ip, "registration refused: too many attempts");
            return Err(err);
        }
        self.register(email, password).await
    }

    /// Creates an account. The email is normalised; the password is hashed with argon2id (in the
    /// hasher's lane for new hashes, which sign-ins never wait behind).
    #[tracing::instrument(skip_all)]
    pub async fn register(&self, email: &str, password: SecretString) -> Result<User> {
        let email = validate::normalize_email(email)?;
        validate::check_password(secrecy::ExposeSecret::expose_secret(&password))?;
        let hash = self.hasher.hash(password).await?;
        let user = User {
            id: uuid::Uuid::now_v7().to_string(),
            email,
        };
        let sql =
            "INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)";
        let inserted = with_pool!(&self.db, p => sqlx::query(sql)
            .bind(&user.id).bind(&user.email).bind(&hash.0).bind(now())
            .execute(p).await.map(|r| r.rows_affected()));
        match inserted {
            Ok(_) => {
                tracing::info!(user.id = %user.id, "account created");
                Ok(user)
            }
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(AuthError::EmailTaken),
            Err(e) => Err(e.into()),
        }
    }

    /// Checks an email and password. Unknown email and wrong password both give
    /// [`AuthError::InvalidCredentials`] after the same amount of work.
    #[tracing::instrument(skip_all)]
    pub async fn authenticate(&self, email: &str, password: SecretString) -> Result<User> {
        match self.verify_password(email, password).await? {
            (Some((user, _)), true) => Ok(user),
            _ => Err(AuthError::InvalidCredentials),
        }
    }

    /// The account with `email` (if any) and whether `password` is its password; an unknown email
    /// costs one verification all the same.
    async fn verify_password(
        &self,
        email: &str,
        password: SecretString,
    ) -> Result<(Option<(User, PasswordHashString)>, bool)> {
        // A malformed email cannot match an account, but it still costs one verification so that
        // the answer's timing says nothing.
        let email = validate::normalize_email(email).ok();
        let row: Option<(String, String, String)> = match &email {
            Some(email) => with_pool!(&self.db, p => sqlx::query_as(
                "SELECT id, email, password_hash FROM users WHERE email = $1")
                .bind(email).fetch_optional(p).await)?,
            None => None,
        };
        let (user, hash) = match row {
            Some((id, email, hash)) => (Some(User { id, email }), Some(PasswordHashString(hash))),
            None => (None, None),
        };
        let matches = self.hasher.verify(password, hash.clone()).await?;
        Ok((user.zip(hash), matches))
    }

    /// Checks an email and password for a sign-in or a password change: counted first, and refused
    /// at once while its (account, address) pair, its address or its trusted device is throttled
    /// ([`throttle`]); a failure is logged and audited (for an existing account, which sees it on
    /// `/sessions`); a success takes its attempt back. `via` names the page or API (audit detail).
    pub async fn check_password(
        &self,
        email: &str,
        password: SecretString,
        meta: &ClientMeta,
        via: &str,
    ) -> Result<Verified> {
        let device = self.trusted_device(email, meta).await?;
        let keys = throttle::login_keys(email, meta, device.as_deref());
        // Counted before it is checked: see `throttle`.
        if let Err(err) = throttle::admit(&self.db, &keys).await {
            tracing::warn!(via, ip = ?meta.ip, "password check refused: too many attempts");
            return Err(err);
        }
        match self.verify_password(email, password).await? {
            (Some((user, hash)), true) => {
                throttle::succeeded(&self.db, &keys).await?;
                Ok(Verified {
                    user,
                    authority: Authority::Password(hash.0),
                })
            }
            (user, _) => {
                let user = user.map(|(user, _)| user);
                tracing::warn!(user.id = ?user.as_ref().map(|u| &u.id), via, ip = ?meta.ip, "password check failed");
                if let Some(user) = user {
                    let from = meta.ip.as_deref().unwrap_or("an unknown address");
                    let detail = format!("wrong password (via {via}, from {from})");
                    with_pool!(&self.db, p => audit!(p, &user.id, AuditKind::SignInFailed.as_str(), None::<String>, &detail).map(|_| ()))?;
                }
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    /// The digest of `meta`'s device cookie when it names a browser that signed in to `email`'s
    /// account before (OWASP's device cookies: its password checks are counted apart).
    async fn trusted_device(&self, email: &str, meta: &ClientMeta) -> Result<Option<String>> {
        let (Some(digest), Ok(email)) = (
            device_digest(meta.device.as_deref()),
            validate::normalize_email(email),
        ) else {
            return Ok(None);
        };
        let found: Option<String> = with_pool!(&self.db, p => sqlx::query_scalar(
            "SELECT d.digest FROM trusted_devices d JOIN users u ON u.id = d.user_id \
             WHERE d.digest = $1 AND u.email = $2")
            .bind(&digest).bind(&email).fetch_optional(p).await)?;
        Ok(found)
    }

    /// Remembers the browser that just signed in to `user` (its device cookie `current`, if it
    /// sent one, and its `user_agent`): returns a new cookie value to set when it had none, else
    /// `None` (the same value serves every account signed in from that browser).
    pub async fn trust_device(
        &self,
        user: &User,
        current: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<Option<String>> {
        // A value is kept only if this server gave it out (it is trusted for some account): one a
        // page could have planted is replaced.
        let kept = match device_digest(current) {
            Some(digest) => {
                let known = with_pool!(&self.db, p => sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM trusted_devices WHERE digest = $1")
                    .bind(&digest).fetch_one(p).await)?;
                (known > 0).then_some(digest)
            }
            None => None,
        };
        let (digest, new) = match kept {
            Some(digest) => (digest, None),
            None => {
                let raw = opaque::random_token("sod_").expose_secret().to_owned();
                (opaque::digest(&raw), Some(raw))
            }
        };
        let at = now();
        let agent: Option<String> = user_agent.map(|a| a.chars().take(512).collect());
        with_pool!(&self.db, p => sqlx::query(
            "INSERT INTO trusted_devices (digest, user_id, created_at, last_used_at, user_agent) \
             VALUES ($1, $2, $3, $3, $4) \
             ON CONFLICT (digest, user_id) DO UPDATE SET last_used_at = $3, user_agent = $4")
            .bind(&digest).bind(&user.id).bind(at).bind(&agent)
            .execute(p).await.map(|_| ()))?;
        Ok(new)
    }

    /// The browsers trusted for `user_id` (each signed in to it before), last used first; `current`
    /// (this browser's device cookie, if it sent one) marks its own.
    pub async fn trusted_browsers(
        &self,
        user_id: &str,
        current: Option<&str>,
    ) -> Result<Vec<TrustedBrowser>> {
        let mine = device_digest(current);
        let rows: Vec<(String, i64, i64, Option<String>)> = with_pool!(&self.db, p => sqlx::query_as(
            "SELECT digest, created_at, last_used_at, user_agent FROM trusted_devices \
             WHERE user_id = $1 ORDER BY last_used_at DESC, digest LIMIT 100")
            .bind(user_id).fetch_all(p).await)?;
        Ok(rows
            .into_iter()
            .map(
                |(id, created_at, last_used_at, user_agent)| TrustedBrowser {
                    current: mine.as_deref() == Some(id.as_str()),
                    id,
                    created_at,
                    last_used_at,
                    user_agent,
                },
            )
            .collect())
    }

    /// Forgets the browser `id` (a [`TrustedBrowser::id`]) for `user_id`: its password checks are
    /// counted by address again, like any other browser's, until it signs in anew. False when
    /// `user_id` has no such browser.
    pub async fn forget_browser(&self, user_id: &str, id: &str) -> Result<bool> {
        let done = with_pool!(&self.db, p => sqlx::query(
            "DELETE FROM trusted_devices WHERE digest = $1 AND user_id = $2")
            .bind(id).bind(user_id).execute(p).await.map(|d| d.rows_affected() == 1))?;
        Ok(done)
    }

    /// The account with this email (normalised first), if there is one.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let Ok(email) = validate::normalize_email(email) else {
            return Ok(None);
        };
        Ok(with_pool!(&self.db, p => sqlx::query_as(
            "SELECT id, email FROM users WHERE email = $1")
            .bind(&email).fetch_optional(p).await)?)
    }

    /// An operator ends every active sign-in of `user` (reason `admin`), through the logout
    /// engine; `note` (why, for the audit trail) is cut to 200 printable characters.
    pub async fn end_all_signins_as_operator(
        &self,
        user: &User,
        note: Option<&str>,
    ) -> Result<usize> {
        let note: String = note
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        let via = if note.trim().is_empty() {
            "operator command".to_owned()
        } else {
            format!("operator command: {}", note.trim())
        };
        let ended = self
            .end(
                Ending::User {
                    user_id: user.id.clone(),
                    reason: EndReason::Admin,
                },
                &via,
            )
            .await?;
        Ok(ended.signins.len())
    }

    /// The user's active sign-ins, most recently used first.
    pub async fn active_signins(&self, user_id: &str) -> Result<Vec<SigninInfo>> {
        Ok(with_pool!(&self.db, p => sqlx::query_as(
            "SELECT s.id, s.kind, s.created_at, s.last_seen_at, s.user_agent, s.ip, \
                    (SELECT t.name FROM tokens t WHERE t.signin_id = s.id) AS token_name \
             FROM signins s WHERE s.user_id = $1 AND s.ended_at IS NULL \
             ORDER BY s.last_seen_at DESC, s.id DESC")
            .bind(user_id).fetch_all(p).await)?)
    }

    /// The user's latest audit events, newest first.
    pub async fn recent_activity(&self, user_id: &str, limit: i64) -> Result<Vec<AuditEvent>> {
        Ok(with_pool!(&self.db, p => sqlx::query_as(
            "SELECT at, event, signin_id, detail FROM audit_events WHERE user_id = $1 \
             ORDER BY at DESC, id DESC LIMIT $2")
            .bind(user_id).bind(limit).fetch_all(p).await)?)
    }

    /// Changes the password after checking the current one. With `end_others`, every other
    /// sign-in of the user ends in the same transaction; `keep` (the caller's) stays.
    /// Returns how many sign-ins ended.
    #[tracing::instrument(skip_all, fields(user.id = %user.id))]
    pub async fn change_password(
        &self,
        user: &User,
        keep: &str,
        current: SecretString,
        new: SecretString,
        end_others: bool,
        meta: &ClientMeta,
    ) -> Result<u64> {
        // The current password is checked like a sign-in: throttled, and failures audited.
        self.check_password(&user.email, current, meta, "password page")
            .await?;
        validate::check_password(new.expose_secret())?;
        let hash = self.hasher.hash(new).await?;
        // The new hash and the ending of the other sign-ins commit together, or not at all.
        let ending = Ending::PasswordChange {
            user_id: user.id.clone(),
            keep: keep.to_owned(),
            hash: hash.0.clone(),
            end_others,
        };
        let ended = self.end(ending, "password page").await?.signins;
        let ended = ended.len() as u64;
        tracing::info!(ended, "password changed");
        Ok(ended)
    }
}

#[cfg(test)]
mod tests {
    use crate::server::domain::{
        auth::testing::{auth, user},
        model::{AuditKind, AuthError, ClientMeta, SigninKind},
    };

    #[tokio::test]
    async fn a_password_change_can_end_the_other_signins_and_keeps_the_current_one() {
        let auth = auth().await;
        let ada = user(&auth, "ada@example.com").await;
        let m = ClientMeta::default();
        let here = auth
            .start_signin(&ada, SigninKind::Browser, &m, "test")
            .await
            .unwrap();
        let there = auth
            .start_signin(&ada, SigninKind::Browser, &m, "test")
            .await
            .unwrap();
        let wrong = auth
            .change_password(
                &ada,
                &here.id,
                "nope nope".into(),
                "new password".into(),
                true,
                &m,
            )
            .await;
        assert!(matches!(wrong, Err(AuthError::InvalidCredentials)));
        let short = auth
            .change_password(
                &ada,
                &here.id,
                "correct horse".into(),
                "short".into(),
                true,
                &m,
            )
            .await;
        assert!(matches!(short, Err(AuthError::Input(_))));
        assert_eq!(
            auth.active_signins(&ada.id).await.unwrap().len(),
            2,
            "failed attempts change nothing"
        );

        let ended = auth
            .change_password(
                &ada,
                &here.id,
                "correct horse".into(),
                "new password".into(),
                true,
                &m,
            )
            .await;
        assert_eq!(ended.unwrap(), 1);
        assert!(auth.active_signin(&here.id).await.unwrap().is_some());
        assert!(auth.active_signin(&there.id).await.unwrap().is_none());
        assert!(auth
            .authenticate("ada@example.com", "new password".into())
            .await
            .is_ok());
        assert!(auth
            .authenticate("ada@example.com", "correct horse".into())
            .await
            .is_err());
        let events: Vec<AuditKind> = auth
            .recent_activity(&ada.id, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect();
        assert!(events.contains(&AuditKind::PasswordChanged), "{events:?}");
    }
}
