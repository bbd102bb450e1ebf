//! The domain's words: its errors, the account and sign-in types, the kinds and reasons stored in
//! the database, and how the service is set up. A leaf: every other file of the domain shares these
//! names from here, and this file imports nothing of the domain.

use std::time::Duration;

use secrecy::SecretString;
use serde::Serialize;

pub use crate::reasons::EndReason;
use crate::server::db;

/// The one statement that appends an audit row (the logout engine's writers bind the same text).
pub(crate) const AUDIT_INSERT: &str =
    "INSERT INTO audit_events (id, user_id, at, event, signin_id, detail) VALUES ($1, $2, $3, $4, $5, $6)";

/// Appends an audit row through `$conn` (a transaction): who, what, which sign-in, a short detail.
/// Never pass a token or a password here.
macro_rules! audit_row {
    ($conn:expr, $user:expr, $event:expr, $signin:expr, $detail:expr) => {
        sqlx::query($crate::server::domain::model::AUDIT_INSERT)
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

/// Why an email or password was refused. The `Display` text is shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Not an email address.
    #[error("Enter a valid email address.")]
    InvalidEmail,
    /// Under `validate::PASSWORD_MIN` characters.
    #[error("The password must be at least 8 characters.")]
    PasswordTooShort,
    /// Over `validate::PASSWORD_MAX` characters.
    #[error("The password must be at most 1024 characters.")]
    PasswordTooLong,
    /// A personal token's name is empty or over 100 characters.
    #[error("Give the token a name of 1 to 100 characters.")]
    InvalidTokenName,
}

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

/// What `Auth::readiness` found.
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

/// Gives a fieldless enum its stored names: `as_str`, `parse`, `ALL`, and `TryFrom<String>` (for
/// `#[sqlx(try_from = "String")]`). Written here rather than taken from `strum`: two enums need it,
/// and a dozen lines cost less than a proc-macro dependency in every build.
macro_rules! stored_names {
    ($(#[$meta:meta])* $vis:vis enum $name:ident ($what:literal) { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            /// Every value, for parsing.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The value as stored.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// The value stored as `s`, if it is one.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;

            fn try_from(s: String) -> std::result::Result<Self, String> {
                Self::parse(&s).ok_or_else(|| format!(concat!("unknown ", $what, " {:?}"), s))
            }
        }
    };
}

stored_names! {
    /// What kind of credential a sign-in carries.
    pub enum SigninKind ("sign-in kind") {
        /// A browser session cookie from the `/login` page.
        Browser = "browser",
        /// An opaque login token from `POST /api/v1/account/login`.
        Token = "token",
        /// A JWT pair from `POST /api/auth/login`.
        Jwt = "jwt",
        /// A named personal token from the `/tokens` page.
        Personal = "personal",
    }
}

stored_names! {
    /// What an audit row records.
    pub enum AuditKind ("audit event") {
        SignIn = "sign_in",
        SignInFailed = "sign_in_failed",
        TokenCreated = "token_created",
        /// A sign-in ended by a logout (any scope, or a password change's).
        Logout = "logout",
        SignInReplaced = "sign_in_replaced",
        RefreshTokenReuse = "refresh_token_reuse",
        /// A rotated refresh token presented again within the grace window: same pair given again.
        RefreshReplay = "refresh_replay",
        TokenRevoked = "token_revoked",
        SignInExpired = "sign_in_expired",
        AdminLogout = "admin_logout",
        SignedOutIdle = "signed_out_idle",
        SignedOutAbsolute = "signed_out_absolute",
        PasswordChanged = "password_changed",
        /// A sign-in ended by a newer one over the concurrent sign-in limit.
        SignInEvicted = "sign_in_evicted",
        /// An application signed the person out (OpenID Connect RP-Initiated Logout).
        RpLogout = "rp_logout",
        /// An OpenID client was issued tokens in a sign-in (its detail names the client).
        OidcTokens = "oidc_tokens",
        /// The person entered their password again within their sign-in (OpenID `prompt=login`,
        /// `max_age`): the sign-in stays, authenticated anew.
        SignInConfirmed = "sign_in_confirmed",
    }
}

/// What the audit trail makes of each [`EndReason`] (the reasons themselves are shared with the
/// browser, in [`crate::reasons`]).
pub(crate) trait Audited {
    /// True for reasons that end many sign-ins at once: their audit row counts them.
    fn counts(self) -> bool;
    /// The audit event that ending a sign-in for this reason records.
    fn event(self) -> AuditKind;
    /// How the audit trail words this reason.
    fn scope(self) -> &'static str;
}

impl Audited for EndReason {
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
            Self::Limit => AuditKind::SignInEvicted,
            Self::RpLogout => AuditKind::RpLogout,
        }
    }

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
            Self::Limit => "over the limit of sign-ins at once",
            Self::RpLogout => "an application signed the person out",
        }
    }
}

/// The browser sessions' store, as the pruner sees it: it deletes its own expired rows and says
/// how many (the domain names no table of it).
pub trait ExpiredSessions: Send + Sync {
    /// Deletes the expired sessions; returns how many went.
    fn delete_expired(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64>> + Send + '_>>;
}

/// Where a login came from; kept with the sign-in so a user can recognise it later.
#[derive(Clone, Debug, Default)]
pub struct ClientMeta {
    /// The `User-Agent` header, truncated.
    pub user_agent: Option<String>,
    /// The peer's IP address.
    pub ip: Option<String>,
    /// The browser's device cookie (a browser that signed in before; see `throttle`).
    pub device: Option<String>,
    /// What authorised the sign-in it starts, re-checked when the sign-in commits.
    pub authorised_by: Authority,
}

impl ClientMeta {
    /// The same, with what authorised the sign-in it starts.
    pub fn authorised_by(self, authority: Authority) -> Self {
        Self {
            authorised_by: authority,
            ..self
        }
    }
}

/// What authorised a new sign-in. The statement that commits the sign-in checks it is still
/// valid (on PostgreSQL after locking the account's row, which an ending of all its sign-ins and a
/// password change lock too), so a sign-in authorised by something that ended meanwhile never
/// commits after that ending and survives it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Authority {
    /// Nothing to re-check (an operator's command, the benchmark's helper, a test, or what was
    /// re-checked otherwise: an OpenID grant runs on a live browser sign-in).
    #[default]
    Unchecked,
    /// A password check, against this stored hash: it must still be the account's.
    Password(String),
    /// The sign-in that asked (a personal token made on `/tokens`): it must still be active.
    Signin(String),
}

/// A password check that succeeded: the account, and what a sign-in it starts re-checks.
#[derive(Clone, Debug)]
pub struct Verified {
    pub user: User,
    /// [`Authority::Password`] with the hash the password matched.
    pub authority: Authority,
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

/// How often `last_seen_at` is written at most, so that reads stay reads.
pub(crate) const TOUCH_EVERY_SECS: i64 = 60;

/// Logout writer tasks per PostgreSQL instance, unless `SIGNOFF_PG_WRITERS` says otherwise
/// ([`Options::pg_writers`]). Fewer writers make bigger groups (fewer round trips and commits per logout); more overlap one
/// group's commit with the next group's statements. Measured on 2 cores with two instances
/// (`docs/performance.md`): 1 writer 5,600 logouts/s, 2 writers 4,800.
pub const PG_WRITERS: usize = 1;

/// The issuer when `SIGNOFF_PUBLIC_URL` is not set.
pub const DEFAULT_ISSUER: &str = "http://127.0.0.1:3000";

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
    /// Logout writer tasks per PostgreSQL instance (`SIGNOFF_PG_WRITERS`; see
    /// [`PG_WRITERS`] for why one is the default).
    pub pg_writers: usize,
    /// How SQLite commits (the logout writer's own connection uses the pool's setting).
    pub durability: db::Durability,
    /// Active sign-ins per user at most (personal tokens not counted): a new one over it ends
    /// the least recently used (reason `limit`). `None`: no limit.
    pub max_signins_per_user: Option<usize>,
    /// The OpenID Provider's issuer (`SIGNOFF_PUBLIC_URL`).
    pub oidc_issuer: String,
    /// Where its RS256 keys live (`SIGNOFF_OIDC_KEYS`); `None`: a per-process temporary directory
    /// (the unit tests).
    pub oidc_keys: Option<std::path::PathBuf>,
    /// Refreshes per sign-in per minute at most, on one instance (0: no limit).
    pub refresh_per_minute: u32,
    /// Whether this process serves (and so says where webhooks go) or is an operator's command,
    /// which, given no receivers of its own, writes events for the ones the servers named.
    pub role: Role,
}

/// Refreshes per sign-in per minute by default: a client refreshes once per access token (15
/// minutes); sixty a minute leaves room for any retry and none for a loop that would fill the
/// refresh table, the denylist and the notification stream.
pub const REFRESH_PER_MINUTE: u32 = 60;

/// What a process built on the domain is (see [`Options::role`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    /// A server: its webhook receivers are the deployment's, recorded in the database at start.
    #[default]
    Server,
    /// An operator's command: without receivers of its own it uses the recorded ones, so the
    /// sign-ins it ends are told to the same receivers as the servers' endings.
    Operator,
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
            pg_writers: PG_WRITERS,
            durability: db::Durability::Full,
            max_signins_per_user: None,
            oidc_issuer: DEFAULT_ISSUER.to_owned(),
            oidc_keys: None,
            refresh_per_minute: REFRESH_PER_MINUTE,
            role: Role::Server,
        }
    }
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
    /// From the configured idle and absolute lifetimes.
    pub fn new(idle: Duration, absolute: Duration) -> Self {
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
