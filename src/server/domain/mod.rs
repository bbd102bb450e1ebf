//! The domain: accounts, sign-ins and logout, with no HTTP in it.
//!
//! A *sign-in* is one login on one device. Every credential (a browser session, an opaque token, a
//! JWT pair, a personal token) belongs to one sign-in, and every ending of a sign-in, from any page,
//! API, scope, password change, reuse detection or pruning, goes through the logout engine in
//! [`logout`]: one transaction per request, committed in groups, after which the sign-in and every
//! credential of it are refused everywhere.
//!
//! [`Auth`] (here) is the one entry point; each module adds its part: [`account`] (what the
//! `/sessions` page reads, the audit log), [`password`], [`throttle`] (sign-in attempts), the
//! credentials ([`principal`], [`tokens`] for any bearer token, [`opaque`], [`jwt`], their lifetimes in [`ttl`]),
//! [`logout`] (the engine), [`revocations`] (the JWT denylist), [`outbox`] (webhook events),
//! [`prune`] and [`validate`].
//!
//! ```ignore
//! let auth = Auth::init(db, Options::default()).await?;
//! let user = auth.register("ada@example.com", "correct horse".into()).await?;
//! let user = auth.authenticate("ADA@example.com ", "correct horse".into()).await?;
//! let signin = auth.start_signin(&user, SigninKind::Browser, &ClientMeta::default(), "sign-in page").await?;
//! auth.logout(Caller::Signin(signin.id.clone()), Scope::Local, "Log out button").await?;
//! assert!(auth.active_signin(&signin.id).await?.is_none());
//! ```

pub mod account;
pub mod jwt;
pub mod logout;
pub mod opaque;
pub mod outbox;
pub mod password;
pub mod principal;
pub mod prune;
pub mod revocations;
pub mod throttle;
pub mod tokens;
pub mod ttl;
pub mod validate;

use std::time::Duration;

use secrecy::SecretString;
use serde::Serialize;

use crate::{
    server::db::{self, now, Db},
    with_pool,
};
pub use account::{AuditEvent, SigninInfo};
pub use jwt::JwtPair;
pub use logout::{Caller, Ended, EndedSignin, Ending, Scope};
pub use opaque::{IssuedToken, PersonalToken};
use password::{HashError, Hasher, PasswordHashString};
pub use principal::{Principal, Via};
pub use validate::InputError;

/// Appends an audit row through `$conn` (a transaction): who, what, which sign-in, a short detail.
/// Never pass a token or a password here.
macro_rules! audit_row {
    ($conn:expr, $user:expr, $event:expr, $signin:expr, $detail:expr) => {
        sqlx::query(
            "INSERT INTO audit_events (id, user_id, at, event, signin_id, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind($user)
        .bind($crate::server::db::now())
        .bind($event)
        .bind($signin)
        .bind($detail)
        .execute($conn)
        .await
    };
}

pub(crate) use audit_row as audit;

/// Domain errors. The HTTP layers map each to their own status and envelope.
#[derive(Clone, Debug, thiserror::Error)]
pub enum AuthError {
    /// Bad email or password shape (422 in the JSON APIs).
    #[error(transparent)]
    Input(#[from] InputError),
    /// The email belongs to another account already (409).
    #[error("An account with this email already exists.")]
    EmailTaken,
    /// Wrong email or wrong password: deliberately indistinguishable (401).
    #[error("Invalid credentials.")]
    InvalidCredentials,
    /// A bearer or refresh token that is missing, malformed, unknown, expired or revoked (401).
    #[error("invalid token")]
    InvalidToken,
    /// No such sign-in of this user (404).
    #[error("no such sign-in")]
    NotFound,
    /// The sign-in has already ended (409).
    #[error("the sign-in has already ended")]
    AlreadyEnded,
    /// Too many failed attempts, or too many password checks waiting: retry after this many
    /// seconds (429).
    #[error("too many attempts; retry in {0} s")]
    Throttled(i64),
    /// The database cannot be reached (503).
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Anything else (500): logged with detail, answered generically.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for AuthError {
    fn from(err: sqlx::Error) -> Self {
        if db::is_unavailable(&err) {
            Self::Unavailable(err.to_string())
        } else {
            Self::Internal(err.to_string())
        }
    }
}

impl From<HashError> for AuthError {
    fn from(err: HashError) -> Self {
        if err.is_busy() {
            Self::Throttled(1)
        } else {
            Self::Internal(err.to_string())
        }
    }
}

/// `Result` with [`AuthError`] as the default error.
pub type Result<T, E = AuthError> = std::result::Result<T, E>;

/// An account as the outside world may see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct User {
    /// A UUIDv7 in text form.
    pub id: String,
    /// Normalised (trimmed, lower-case).
    pub email: String,
}

/// What [`Auth::readiness`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Readiness {
    /// The database answered a query.
    pub database: bool,
    /// The JWT denylist is known to be complete.
    pub denylist: bool,
}

impl Readiness {
    /// Both.
    pub fn ready(self) -> bool {
        self.database && self.denylist
    }
}

/// What kind of credential a sign-in carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigninKind {
    /// A browser session cookie from the `/login` page.
    Browser,
    /// An opaque login token from `POST /api/v1/account/login`.
    Token,
    /// A JWT pair from `POST /api/auth/login`.
    Jwt,
    /// A named personal token from the `/tokens` page.
    Personal,
}

impl SigninKind {
    /// The kind as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Browser => "browser",
            Self::Token => "token",
            Self::Jwt => "jwt",
            Self::Personal => "personal",
        }
    }

    /// The kind stored as `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Browser, Self::Token, Self::Jwt, Self::Personal]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

impl TryFrom<String> for SigninKind {
    type Error = String;

    fn try_from(s: String) -> std::result::Result<Self, String> {
        Self::parse(&s).ok_or_else(|| format!("unknown sign-in kind {s:?}"))
    }
}

/// What an audit row records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditKind {
    SignIn,
    SignInFailed,
    TokenCreated,
    /// A sign-in ended by a logout (any scope, or a password change's).
    Logout,
    SignInReplaced,
    RefreshTokenReuse,
    /// A rotated refresh token presented again within the grace window: same pair given again.
    RefreshReplay,
    TokenRevoked,
    SignInExpired,
    AdminLogout,
    SignedOutIdle,
    SignedOutAbsolute,
    PasswordChanged,
}

impl AuditKind {
    /// Every kind, for parsing.
    pub const ALL: [AuditKind; 13] = [
        Self::SignIn,
        Self::SignInFailed,
        Self::TokenCreated,
        Self::Logout,
        Self::SignInReplaced,
        Self::RefreshTokenReuse,
        Self::RefreshReplay,
        Self::TokenRevoked,
        Self::SignInExpired,
        Self::AdminLogout,
        Self::SignedOutIdle,
        Self::SignedOutAbsolute,
        Self::PasswordChanged,
    ];

    /// The kind as stored in `audit_events.event`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "sign_in",
            Self::SignInFailed => "sign_in_failed",
            Self::TokenCreated => "token_created",
            Self::Logout => "logout",
            Self::SignInReplaced => "sign_in_replaced",
            Self::RefreshTokenReuse => "refresh_token_reuse",
            Self::RefreshReplay => "refresh_replay",
            Self::TokenRevoked => "token_revoked",
            Self::SignInExpired => "sign_in_expired",
            Self::AdminLogout => "admin_logout",
            Self::SignedOutIdle => "signed_out_idle",
            Self::SignedOutAbsolute => "signed_out_absolute",
            Self::PasswordChanged => "password_changed",
        }
    }

    /// The kind stored as `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl TryFrom<String> for AuditKind {
    type Error = String;

    fn try_from(s: String) -> std::result::Result<Self, String> {
        Self::parse(&s).ok_or_else(|| format!("unknown audit event {s:?}"))
    }
}

/// Why a sign-in ended; stored with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// The user logged out of this sign-in.
    Logout,
    /// The same browser signed in again; the old sign-in was replaced.
    Superseded,
    /// Another sign-in of the user asked to end all others.
    LogoutOthers,
    /// The user logged out everywhere.
    LogoutGlobal,
    /// A rotated refresh token was presented again.
    RefreshReuse,
    /// The user revoked a personal token.
    Revoked,
    /// The user changed the password and chose to end the other sign-ins.
    PasswordChanged,
    /// Nothing of it could be used any more (ended by the pruner).
    Expired,
    /// An operator ended it (`signoff sessions end`).
    Admin,
    /// Unused for longer than the idle lifetime (`SIGNOFF_SESSION_IDLE_SECS`).
    Idle,
    /// Older than the absolute lifetime (`SIGNOFF_SESSION_ABSOLUTE_SECS`): sign in again.
    Absolute,
}

impl EndReason {
    /// The reason as stored with the sign-in.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::Superseded => "superseded",
            Self::LogoutOthers => "logout_others",
            Self::LogoutGlobal => "logout_global",
            Self::RefreshReuse => "refresh_reuse",
            Self::Revoked => "revoked",
            Self::PasswordChanged => "password_changed",
            Self::Expired => "expired",
            Self::Admin => "admin",
            Self::Idle => "idle",
            Self::Absolute => "absolute",
        }
    }

    /// Every reason, for parsing.
    pub const ALL: [EndReason; 11] = [
        Self::Idle,
        Self::Absolute,
        Self::Logout,
        Self::Superseded,
        Self::LogoutOthers,
        Self::LogoutGlobal,
        Self::RefreshReuse,
        Self::Revoked,
        Self::PasswordChanged,
        Self::Expired,
        Self::Admin,
    ];

    /// The reason stored as `s`, if it is one.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// True for reasons that end many sign-ins at once: their audit row counts them.
    fn counts(self) -> bool {
        matches!(
            self,
            Self::LogoutOthers
                | Self::LogoutGlobal
                | Self::PasswordChanged
                | Self::Expired
                | Self::Admin
                | Self::Idle
                | Self::Absolute
        )
    }

    /// The audit event that ending a sign-in for this reason records.
    fn event(self) -> AuditKind {
        match self {
            Self::Logout | Self::LogoutOthers | Self::LogoutGlobal | Self::PasswordChanged => {
                AuditKind::Logout
            }
            Self::Superseded => AuditKind::SignInReplaced,
            Self::RefreshReuse => AuditKind::RefreshTokenReuse,
            Self::Revoked => AuditKind::TokenRevoked,
            Self::Expired => AuditKind::SignInExpired,
            Self::Admin => AuditKind::AdminLogout,
            Self::Idle => AuditKind::SignedOutIdle,
            Self::Absolute => AuditKind::SignedOutAbsolute,
        }
    }

    /// How the audit trail words this reason.
    fn scope(self) -> &'static str {
        match self {
            Self::Logout => "this sign-in",
            Self::LogoutOthers => "all other sign-ins",
            Self::LogoutGlobal => "everywhere",
            Self::Superseded => "signed in again",
            Self::RefreshReuse => "a used refresh token was presented again",
            Self::Revoked => "token revoked",
            Self::PasswordChanged => "other sign-ins, after a password change",
            Self::Expired => "expired",
            Self::Admin => "ended by an operator",
            Self::Idle => "unused for too long",
            Self::Absolute => "reached the absolute time limit",
        }
    }
}

/// Where a login came from; kept with the sign-in so a user can recognise it later.
#[derive(Clone, Debug, Default)]
pub struct ClientMeta {
    /// The `User-Agent` header, truncated.
    pub user_agent: Option<String>,
    /// The peer's IP address.
    pub ip: Option<String>,
}

/// One active sign-in.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Signin {
    /// A UUIDv7 in text form.
    pub id: String,
    /// Whose it is.
    pub user_id: String,
    /// When it started (Unix seconds).
    pub created_at: i64,
    /// When it was last used (Unix seconds, updated at most once a minute).
    pub last_seen_at: i64,
}

#[derive(sqlx::FromRow)]
struct ActiveRow {
    id: String,
    user_id: String,
    kind: String,
    created_at: i64,
    last_seen_at: i64,
    email: String,
}

/// How often `last_seen_at` is written at most, so that reads stay reads.
pub(crate) const TOUCH_EVERY_SECS: i64 = 60;

/// How the service is set up (see `server::config` for where each comes from).
#[derive(Clone, Debug)]
pub struct Options {
    /// The JWT signing secret; `None`: the one kept in the database (generated on first start).
    pub jwt_secret: Option<SecretString>,
    /// The secret used before the last rotation, still accepted for verification.
    pub jwt_previous_secret: Option<SecretString>,
    /// How long the revocation listener waits before reconnecting (PostgreSQL).
    pub listen_retry: Duration,
    /// Where the revocation listener connects, when not through the pool's URL (PostgreSQL).
    pub listen_url: Option<String>,
    /// How long after its rotation a refresh token may be presented again as a benign replay.
    pub refresh_grace: Duration,
    /// Where `session.ended` events go (none: no event is written).
    pub webhook_urls: Vec<String>,
    /// The idle lifetime of a sign-in (browser, login token, JWT): it ends when unused this long.
    pub session_idle: Duration,
    /// The absolute lifetime of a sign-in: it ends this long after it started, used or not.
    pub session_absolute: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            jwt_secret: None,
            jwt_previous_secret: None,
            listen_retry: Duration::from_millis(250),
            listen_url: None,
            refresh_grace: Duration::from_secs(10),
            webhook_urls: Vec::new(),
            session_idle: Duration::from_secs(14 * 24 * 3600),
            session_absolute: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// The account and sign-in service.
#[derive(Clone)]
pub struct Auth {
    db: Db,
    hasher: Hasher,
    /// Shared: `Auth` is cloned into every request's state.
    keys: std::sync::Arc<jwt::Keys>,
    revocations: std::sync::Arc<revocations::Revocations>,
    /// Opaque tokens recently read from the database (see [`opaque::TokenCache`]).
    token_cache: std::sync::Arc<opaque::TokenCache>,
    engine: logout::Engine,
    outbox: outbox::Outbox,
    refresh_grace: i64,
    lifetime: Lifetime,
}

/// How long sign-ins live (seconds), and how often their use is written down.
#[derive(Clone, Copy, Debug)]
pub struct Lifetime {
    /// Unused this long, a sign-in ends (reason `idle`).
    pub idle: i64,
    /// This long after it started, a sign-in ends (reason `absolute`).
    pub absolute: i64,
    /// `last_seen_at` is written at most this often: a minute, or a quarter of the idle time when
    /// that is shorter (so that short idle times still slide).
    pub touch_every: i64,
}

impl Lifetime {
    fn new(idle: Duration, absolute: Duration) -> Self {
        let idle = (idle.as_secs() as i64).max(1);
        Self {
            idle,
            absolute: (absolute.as_secs() as i64).max(1),
            touch_every: (idle / 4).clamp(1, TOUCH_EVERY_SECS),
        }
    }

    /// Why a sign-in of `kind` started at `created_at` and last used at `last_seen_at` must end
    /// at `at`, if it must. Personal tokens have neither limit.
    pub fn expired(
        &self,
        kind: &str,
        created_at: i64,
        last_seen_at: i64,
        at: i64,
    ) -> Option<EndReason> {
        if kind == "personal" {
            None
        } else if at - created_at >= self.absolute {
            Some(EndReason::Absolute)
        } else if at - last_seen_at >= self.idle {
            Some(EndReason::Idle)
        } else {
            None
        }
    }
}

/// Where a sign-in stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SigninStatus {
    /// It is active.
    Active,
    /// It ended, for this reason (`None`: not recorded).
    Ended(Option<EndReason>),
    /// There is no such sign-in (pruned, or never existed).
    Missing,
}

impl Auth {
    /// A service over `db` (already migrated): loads the JWT key and the denylist and starts the
    /// logout engine's writer(s).
    pub async fn init(db: Db, options: Options) -> Result<Self> {
        let keys = jwt::Keys::load(
            &db,
            options.jwt_secret.clone(),
            options.jwt_previous_secret.clone(),
        )
        .await?;
        let revocations =
            revocations::Revocations::start(&db, options.listen_retry, options.listen_url.clone())
                .await?;
        let outbox = outbox::Outbox {
            endpoints: options.webhook_urls.clone().into(),
            session_idle: options.session_idle.as_secs() as i64,
            written: Default::default(),
        };
        let engine = logout::Engine::start(
            &db,
            revocations.clone(),
            options.refresh_grace,
            outbox.clone(),
        )?;
        Ok(Self {
            db,
            hasher: Hasher::new(),
            keys: std::sync::Arc::new(keys),
            revocations,
            token_cache: Default::default(),
            engine,
            outbox,
            refresh_grace: options.refresh_grace.as_secs() as i64,
            lifetime: Lifetime::new(options.session_idle, options.session_absolute),
        })
    }

    /// The logout engine: every ending of a sign-in goes through [`logout::Engine::end`].
    pub fn engine(&self) -> &logout::Engine {
        &self.engine
    }

    /// Ends sign-ins through the engine (see [`logout`]).
    pub async fn end(&self, ending: Ending, via: &str) -> Result<Ended> {
        let ended = self
            .engine
            .end(logout::Request {
                ending,
                via: via.to_owned(),
            })
            .await?;
        if !ended.signins.is_empty() {
            tracing::info!(ended = ended.signins.len(), "sign-ins ended");
        }
        Ok(ended)
    }

    /// A logout by `caller` with `scope`. A caller whose credential is no longer valid gets
    /// [`AuthError::InvalidToken`]: of racing logouts with one credential exactly one succeeds.
    #[tracing::instrument(skip_all)]
    pub async fn logout(&self, caller: Caller, scope: Scope, via: &str) -> Result<Ended> {
        self.end(Ending::Logout { caller, scope }, via).await
    }

    /// Ends one sign-in for `reason` (no owner check: the caller has done it). Returns false when
    /// it had already ended.
    pub async fn end_signin(&self, signin_id: &str, reason: EndReason, via: &str) -> Result<bool> {
        let ended = self
            .end(
                Ending::Signins {
                    ids: vec![signin_id.to_owned()],
                    owner: None,
                    reason,
                },
                via,
            )
            .await?;
        Ok(!ended.signins.is_empty())
    }

    /// Whether this instance can serve: the database answers, and the in-memory JWT denylist is
    /// complete (see [`revocations::Revocations::is_healthy`]).
    pub async fn readiness(&self) -> Readiness {
        let database = with_pool!(&self.db, p => sqlx::query("SELECT 1").execute(p).await.is_ok());
        Readiness {
            database,
            denylist: self.revocations.is_healthy(),
        }
    }

    /// The opaque tokens recently read from the database.
    pub fn token_cache(&self) -> &opaque::TokenCache {
        &self.token_cache
    }

    /// The in-memory denylist behind JWT checks, which also wakes the pages watching a sign-in.
    pub fn revocations(&self) -> &std::sync::Arc<revocations::Revocations> {
        &self.revocations
    }

    /// Where `session.ended` events are written (read by the delivery worker).
    pub fn outbox(&self) -> &outbox::Outbox {
        &self.outbox
    }

    /// Why the sign-in of `caller`'s credential ended, if it did.
    pub async fn end_reason_of(&self, caller: &Caller) -> Result<Option<EndReason>> {
        let reason: Option<Option<String>> = match caller {
            Caller::Opaque(digest) => with_pool!(&self.db, p => sqlx::query_scalar(
                "SELECT s.end_reason FROM tokens t JOIN signins s ON s.id = t.signin_id WHERE t.digest = $1")
                .bind(digest).fetch_optional(p).await)?,
            Caller::Jwt { sid, .. } | Caller::Signin(sid) => {
                return Ok(match self.signin_status(sid).await? {
                    SigninStatus::Ended(reason) => reason,
                    _ => None,
                });
            }
        };
        Ok(reason.flatten().as_deref().and_then(EndReason::parse))
    }

    /// Where sign-in `signin_id` stands, read from the database (no use is recorded).
    pub async fn signin_status(&self, signin_id: &str) -> Result<SigninStatus> {
        let row: Option<(Option<i64>, Option<String>)> = with_pool!(&self.db, p => sqlx::query_as(
            "SELECT ended_at, end_reason FROM signins WHERE id = $1")
            .bind(signin_id).fetch_optional(p).await)?;
        Ok(match row {
            None => SigninStatus::Missing,
            Some((None, _)) => SigninStatus::Active,
            Some((Some(_), reason)) => {
                SigninStatus::Ended(reason.as_deref().and_then(EndReason::parse))
            }
        })
    }

    /// RFC 7009: revokes `token` (an opaque token, or a JWT access or refresh token) by ending its
    /// sign-in, reason `revoked`. Unknown, malformed, expired and already revoked tokens end
    /// nothing and are no error; `Ok(true)` when a sign-in ended. `hint` (`access_token` or
    /// `refresh_token`) only says which kind to try first.
    pub async fn revoke_token(&self, token: &str, hint: Option<&str>) -> Result<bool> {
        if token.is_empty() || token.len() > principal::MAX_TOKEN_LEN {
            return Ok(false);
        }
        let as_access = || self.caller_for_token(token).ok();
        let as_refresh = || {
            self.keys
                .verify(token, "refresh")
                .ok()
                .map(|claims| (claims.sid, claims.sub))
        };
        let ending = if hint == Some("refresh_token") {
            as_refresh()
                .map(refresh_ending)
                .or_else(|| as_access().map(|caller| Ending::Revoke { caller }))
        } else {
            as_access()
                .map(|caller| Ending::Revoke { caller })
                .or_else(|| as_refresh().map(refresh_ending))
        };
        let Some(ending) = ending else {
            return Ok(false);
        };
        let ended = self.end(ending, "RFC 7009 revocation").await?;
        Ok(!ended.signins.is_empty())
    }

    /// The database this service uses.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Creates an account. The email is normalised; the password is hashed with argon2id.
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
            (Some(user), true) => Ok(user),
            _ => Err(AuthError::InvalidCredentials),
        }
    }

    /// The account with `email` (if any) and whether `password` is its password; an unknown email
    /// costs one verification all the same.
    async fn verify_password(
        &self,
        email: &str,
        password: SecretString,
    ) -> Result<(Option<User>, bool)> {
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
        let matches = self.hasher.verify(password, hash).await?;
        Ok((user, matches))
    }

    /// Checks an email and password for a sign-in or a password change: refused at once while the
    /// account or the client's address is throttled ([`throttle`]); a failure is counted, logged
    /// and audited (for an existing account, which sees it on `/sessions`); a success clears the
    /// account's count. `via` names the page or API (audit detail).
    pub async fn check_password(
        &self,
        email: &str,
        password: SecretString,
        meta: &ClientMeta,
        via: &str,
    ) -> Result<User> {
        let keys = throttle::keys(email, meta);
        if let Err(err) = throttle::check(&self.db, &keys).await {
            tracing::warn!(via, ip = ?meta.ip, "password check refused: too many attempts");
            return Err(err);
        }
        match self.verify_password(email, password).await? {
            (Some(user), true) => {
                throttle::succeeded(&self.db, &keys).await?;
                Ok(user)
            }
            (user, _) => {
                throttle::failed(&self.db, &keys).await?;
                tracing::warn!(user.id = ?user.as_ref().map(|u| &u.id), via, ip = ?meta.ip, "password check failed");
                if let Some(user) = user {
                    let from = meta.ip.as_deref().unwrap_or("an unknown address");
                    let detail = format!("wrong password (via {via}, from {from})");
                    with_pool!(&self.db, p => audit_row!(p, &user.id, AuditKind::SignInFailed.as_str(), None::<String>, &detail).map(|_| ()))?;
                }
                Err(AuthError::InvalidCredentials)
            }
        }
    }

    /// Starts a sign-in for `user`, recording `detail` (what started it) in the audit trail.
    #[tracing::instrument(skip_all, fields(user.id = %user.id))]
    pub async fn start_signin(
        &self,
        user: &User,
        kind: SigninKind,
        meta: &ClientMeta,
        detail: &str,
    ) -> Result<Signin> {
        let at = now();
        let signin = Signin {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: user.id.clone(),
            created_at: at,
            last_seen_at: at,
        };
        let user_agent = meta.user_agent.as_deref().map(|ua| truncate(ua, 512));
        let event = if kind == SigninKind::Personal {
            AuditKind::TokenCreated
        } else {
            AuditKind::SignIn
        }
        .as_str();
        with_pool!(&self.db, p => async {
            let mut tx = p.begin().await?;
            sqlx::query(
                "INSERT INTO signins (id, user_id, kind, created_at, last_seen_at, user_agent, ip) \
                 VALUES ($1, $2, $3, $4, $4, $5, $6)")
                .bind(&signin.id).bind(&signin.user_id).bind(kind.as_str()).bind(at)
                .bind(user_agent).bind(&meta.ip)
                .execute(&mut *tx).await?;
            audit_row!(&mut *tx, &user.id, event, &signin.id, detail)?;
            tx.commit().await
        }.await)?;
        tracing::info!(signin.id = %signin.id, kind = kind.as_str(), "signed in");
        Ok(signin)
    }

    /// The sign-in and its user, if the sign-in exists and has not ended. Records the use.
    pub async fn active_signin(&self, signin_id: &str) -> Result<Option<(User, Signin)>> {
        Ok(self
            .use_signin(signin_id)
            .await?
            .map(|(user, signin, _)| (user, signin)))
    }

    /// [`Auth::active_signin`], also saying whether the use was written down this time (the
    /// browser session's expiry slides then). A sign-in past its idle or absolute lifetime is
    /// ended here, through the logout engine, and is not active.
    pub async fn use_signin(&self, signin_id: &str) -> Result<Option<(User, Signin, bool)>> {
        let row: Option<ActiveRow> = with_pool!(&self.db, p => sqlx::query_as(
            "SELECT s.id, s.user_id, s.kind, s.created_at, s.last_seen_at, u.email \
             FROM signins s JOIN users u ON u.id = s.user_id \
             WHERE s.id = $1 AND s.ended_at IS NULL")
            .bind(signin_id).fetch_optional(p).await)?;
        let Some(row) = row else { return Ok(None) };
        let at = now();
        if let Some(reason) = self
            .lifetime
            .expired(&row.kind, row.created_at, row.last_seen_at, at)
        {
            self.end_signin(&row.id, reason, "lifetime check").await?;
            return Ok(None);
        }
        let touched = at - row.last_seen_at >= self.lifetime.touch_every;
        if touched {
            with_pool!(&self.db, p => sqlx::query(
                "UPDATE signins SET last_seen_at = $1 WHERE id = $2 AND ended_at IS NULL")
                .bind(at).bind(&row.id).execute(p).await.map(|r| r.rows_affected()))?;
        }
        Ok(Some((
            User {
                id: row.user_id.clone(),
                email: row.email,
            },
            Signin {
                id: row.id,
                user_id: row.user_id,
                created_at: row.created_at,
                last_seen_at: if touched { at } else { row.last_seen_at },
            },
            touched,
        )))
    }

    /// Records a use of the sign-in now, whenever it was last recorded ("Stay signed in").
    pub async fn touch_signin(&self, signin_id: &str) -> Result<()> {
        with_pool!(&self.db, p => sqlx::query(
            "UPDATE signins SET last_seen_at = $1 WHERE id = $2 AND ended_at IS NULL")
            .bind(now()).bind(signin_id).execute(p).await.map(|_| ()))?;
        Ok(())
    }

    /// How sign-ins live.
    pub fn lifetime(&self) -> Lifetime {
        self.lifetime
    }

    /// Seconds until sign-in `signin_id` ends for want of use (or reaches its absolute limit,
    /// whichever comes first), read without recording a use; `None` when it is not active.
    pub async fn remaining(&self, signin_id: &str) -> Result<Option<i64>> {
        let row: Option<(i64, i64)> = with_pool!(&self.db, p => sqlx::query_as(
            "SELECT created_at, last_seen_at FROM signins WHERE id = $1 AND ended_at IS NULL")
            .bind(signin_id).fetch_optional(p).await)?;
        Ok(row.map(|(created, seen)| {
            let at = now();
            (seen + self.lifetime.idle - at).min(created + self.lifetime.absolute - at)
        }))
    }

    /// Where sign-in `signin_id` stands, ending it first if it is past its lifetime.
    pub async fn enforce_lifetime(&self, signin_id: &str) -> Result<SigninStatus> {
        let row: Option<(String, i64, i64)> = with_pool!(&self.db, p => sqlx::query_as(
            "SELECT kind, created_at, last_seen_at FROM signins WHERE id = $1 AND ended_at IS NULL")
            .bind(signin_id).fetch_optional(p).await)?;
        if let Some((kind, created, seen)) = row {
            if let Some(reason) = self.lifetime.expired(&kind, created, seen, now()) {
                self.end_signin(signin_id, reason, "lifetime check").await?;
            }
        }
        self.signin_status(signin_id).await
    }
}

/// A verified refresh token `(sid, sub)` ends its whole sign-in (rotated or not: whoever presents
/// it wants it dead).
fn refresh_ending((sid, sub): (String, String)) -> Ending {
    Ending::Signins {
        ids: vec![sid],
        owner: Some(sub),
        reason: EndReason::Revoked,
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A service on a fresh SQLite file (the logout writer needs a file of its own to open).
    pub(crate) async fn auth_with(options: Options) -> Auth {
        let dir = tempfile::tempdir().unwrap().keep();
        let url = format!("sqlite://{}/signoff.db?mode=rwc", dir.display());
        let db = Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        Auth::init(db, options).await.unwrap()
    }

    pub(crate) async fn auth() -> Auth {
        auth_with(Options::default()).await
    }

    #[tokio::test]
    async fn register_then_authenticate_ignoring_case_and_spaces() {
        let auth = auth().await;
        let user = auth
            .register("Ada@Example.com", "correct horse".into())
            .await
            .unwrap();
        assert_eq!(user.email, "ada@example.com");
        let again = auth
            .authenticate("  ADA@example.com ", "correct horse".into())
            .await
            .unwrap();
        assert_eq!(again, user);
    }

    #[tokio::test]
    async fn the_same_email_cannot_register_twice() {
        let auth = auth().await;
        auth.register("ada@example.com", "correct horse".into())
            .await
            .unwrap();
        let err = auth
            .register("ADA@example.com", "other horse".into())
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::EmailTaken), "{err:?}");
    }

    #[tokio::test]
    async fn unknown_email_and_wrong_password_are_the_same_error() {
        let auth = auth().await;
        auth.register("ada@example.com", "correct horse".into())
            .await
            .unwrap();
        let a = auth
            .authenticate("bob@example.com", "correct horse".into())
            .await
            .unwrap_err();
        let b = auth
            .authenticate("ada@example.com", "wrong horse!".into())
            .await
            .unwrap_err();
        assert_eq!(a.to_string(), b.to_string());
        assert!(matches!(a, AuthError::InvalidCredentials));
    }

    #[tokio::test]
    async fn an_ended_signin_is_no_longer_active_and_ends_once() {
        let auth = auth().await;
        let user = auth
            .register("ada@example.com", "correct horse".into())
            .await
            .unwrap();
        let s = auth
            .start_signin(&user, SigninKind::Browser, &ClientMeta::default(), "test")
            .await
            .unwrap();
        assert_eq!(auth.active_signin(&s.id).await.unwrap().unwrap().0, user);
        let caller = || Caller::Signin(s.id.clone());
        let ended = auth.logout(caller(), Scope::Local, "test").await.unwrap();
        assert_eq!(ended.signins.len(), 1);
        assert!(matches!(
            auth.logout(caller(), Scope::Local, "test").await,
            Err(AuthError::InvalidToken)
        ));
        assert!(auth.active_signin(&s.id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn an_address_spraying_many_accounts_is_throttled_and_others_are_not() {
        let auth = auth().await;
        let from = |ip: &str| ClientMeta {
            user_agent: None,
            ip: Some(ip.into()),
        };
        let sprayer = from("203.0.113.9");
        for n in 0..throttle::IP_FREE {
            let email = format!("victim{n}@example.com");
            let err = auth
                .check_password(&email, "guess".into(), &sprayer, "test")
                .await
                .unwrap_err();
            assert!(matches!(err, AuthError::InvalidCredentials), "{n}: {err:?}");
        }
        // One more failure locks the address; then it is refused before any hashing.
        let _ = auth
            .check_password("one-more@example.com", "guess".into(), &sprayer, "test")
            .await;
        let err = auth
            .check_password("fresh@example.com", "guess".into(), &sprayer, "test")
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::Throttled(s) if s >= 1), "{err:?}");
        // Another address, and a loopback peer (a proxy), are not.
        for other in [from("198.51.100.7"), from("127.0.0.1")] {
            let err = auth
                .check_password("fresh@example.com", "guess".into(), &other, "test")
                .await
                .unwrap_err();
            assert!(matches!(err, AuthError::InvalidCredentials), "{err:?}");
        }
    }
}
