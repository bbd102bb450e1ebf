//! Server functions behind the pages. Each body is one call into `server::browser`; on the client
//! they compile to HTTP calls (under `/_fn/`), and with JavaScript off the forms post to them.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What a signed-in page may show about its user.
/// Why a sign-in ended, as the server records it, and what `/login?ended=<reason>` says about it.
/// Any other value is not shown.
pub const END_REASONS: &[(&str, &str)] = &[
    ("logout", "You have logged out."),
    ("logout_others", "You were signed out from another of your devices."),
    ("logout_global", "You were signed out everywhere."),
    ("password_changed", "Your password was changed, so you were signed out. Sign in with the new password."),
    ("idle", "You were signed out after a period of inactivity."),
    ("absolute", "Your sign-in reached its time limit. Sign in again to continue."),
    ("refresh_reuse", "You were signed out because one of your sign-in tokens was used twice, which can mean it was stolen."),
    ("revoked", "Your sign-in was revoked."),
    ("admin", "An administrator signed you out."),
    ("expired", "Your sign-in expired. Sign in again to continue."),
    ("superseded", "You signed in again in this browser."),
];

/// How long until this browser's sign-in ends unused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdleClock {
    /// Seconds left (idle or absolute limit, whichever comes first).
    pub remaining: i64,
    /// The idle lifetime, in seconds.
    pub idle: i64,
}

/// How long until this sign-in ends unused, without counting as a use.
#[server(prefix = "/_fn", endpoint = "session_clock")]
pub async fn session_clock() -> Result<Option<IdleClock>, ServerFnError> {
    crate::server::browser::session_clock().await
}

/// Records a use now: "Stay signed in".
#[server(prefix = "/_fn", endpoint = "stay_signed_in")]
pub async fn stay_signed_in() -> Result<Option<IdleClock>, ServerFnError> {
    crate::server::browser::stay_signed_in().await
}

/// The sentence for end reason `reason`, if it is one.
pub fn end_reason_text(reason: &str) -> Option<&'static str> {
    END_REASONS
        .iter()
        .find(|(r, _)| *r == reason)
        .map(|(_, text)| *text)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// The account's email.
    pub email: String,
}

/// A personal token as the `/tokens` page lists it (never its text).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    /// Its sign-in id, used to revoke it.
    pub id: String,
    /// The name its owner gave it.
    pub name: String,
    /// When it was created, formatted for people (UTC).
    pub created: String,
    /// When it was last used, formatted, or `None` if never.
    pub last_used: Option<String>,
}

/// A token just created: the only time its text is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    /// The name given.
    pub name: String,
    /// The clear text (`so_pat_…`).
    pub token: String,
}

/// Everything the `/tokens` page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokensData {
    /// Who is signed in.
    pub me: Me,
    /// The active personal tokens, newest first.
    pub tokens: Vec<TokenView>,
    /// A token created a moment ago, shown once.
    pub new_token: Option<NewToken>,
}

/// The `/tokens` page's data, or `None` when signed out. Reading it consumes a just-created token.
#[server(prefix = "/_fn", endpoint = "tokens_page")]
pub async fn tokens_page() -> Result<Option<TokensData>, ServerFnError> {
    crate::server::browser::tokens_page().await
}

/// Creates a named personal token, then redirects to `/tokens`, which shows it once.
#[server(prefix = "/_fn", endpoint = "create_token")]
pub async fn create_token(name: String) -> Result<(), ServerFnError> {
    crate::server::browser::create_token(name).await
}

/// Revokes one of the user's personal tokens, then redirects to `/tokens`.
#[server(prefix = "/_fn", endpoint = "revoke_token")]
pub async fn revoke_token(id: String) -> Result<(), ServerFnError> {
    crate::server::browser::revoke_token(id).await
}

/// One active sign-in on the `/sessions` page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// The sign-in id.
    pub id: String,
    /// "Browser session", "API token", "JWT client" or "Personal token “name”".
    pub what: String,
    /// Browser and OS from the user agent, e.g. "Chrome 120 on Linux".
    pub device: String,
    /// IP address at sign-in.
    pub ip: String,
    /// When it started.
    pub created: String,
    /// When it was last used.
    pub last_used: String,
    /// This browser's own sign-in.
    pub current: bool,
}

/// One audit event on the `/sessions` page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityView {
    /// When.
    pub at: String,
    /// What, in words ("Signed in", "Logged out", …).
    pub what: String,
    /// Details (scope, which page or API).
    pub detail: String,
}

/// Everything the `/sessions` page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionsData {
    /// Who is signed in.
    pub me: Me,
    /// Every active sign-in of the user, this one included.
    pub sessions: Vec<SessionView>,
    /// The latest audit events.
    pub activity: Vec<ActivityView>,
}

/// The `/sessions` page's data, or `None` when signed out.
#[server(prefix = "/_fn", endpoint = "sessions_page")]
pub async fn sessions_page() -> Result<Option<SessionsData>, ServerFnError> {
    crate::server::browser::sessions_page().await
}

/// Ends one sign-in of the user (this browser's own: a full logout), then redirects.
#[server(prefix = "/_fn", endpoint = "end_session")]
pub async fn end_session(id: String) -> Result<(), ServerFnError> {
    crate::server::browser::end_session(id).await
}

/// Ends every other sign-in of the user; this browser stays signed in.
#[server(prefix = "/_fn", endpoint = "logout_others")]
pub async fn logout_others() -> Result<(), ServerFnError> {
    crate::server::browser::logout_others().await
}

/// Ends every sign-in of the user, this browser's included.
#[server(prefix = "/_fn", endpoint = "logout_everywhere")]
pub async fn logout_everywhere() -> Result<(), ServerFnError> {
    crate::server::browser::logout_everywhere().await
}

/// Changes the password (the current one required); by default ends every other sign-in.
#[server(prefix = "/_fn", endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
    sign_out_others: Option<String>,
) -> Result<(), ServerFnError> {
    crate::server::browser::change_password(
        current_password,
        new_password,
        sign_out_others.is_some(),
    )
    .await
}

/// The signed-in user, or `None`.
#[server(prefix = "/_fn", endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Me>, ServerFnError> {
    crate::server::browser::whoami().await
}

/// Creates an account, then redirects to `/login` (or back to `/register` with an error code).
#[server(prefix = "/_fn", endpoint = "register")]
pub async fn register(email: String, password: String) -> Result<(), ServerFnError> {
    crate::server::browser::register(email, password).await
}

/// Signs in, then redirects to `next` (a local path) or `/`.
#[server(prefix = "/_fn", endpoint = "login")]
pub async fn login(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<(), ServerFnError> {
    crate::server::browser::login(email, password, next).await
}

/// Ends this browser's sign-in and session, then redirects (303) to `/login`.
#[server(prefix = "/_fn", endpoint = "logout")]
pub async fn logout(next: Option<String>) -> Result<(), ServerFnError> {
    crate::server::browser::logout(next).await
}
