//! The browser side of sign-in: the session cookie, and the bodies of the server functions that the
//! `/login`, `/register` and `/` pages call. Each server function in `crate::auth` is one line that
//! calls into here.

use http::{header, request::Parts, HeaderValue, StatusCode};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use secrecy::SecretString;
use tower_sessions::Session;

use crate::{
    auth::{
        ActivityView, IdleClock, Me, NewToken, SessionView, SessionsData, TokenView, TokensData,
    },
    server::{
        domain::{AuthError, Caller, EndReason, Ending, Scope, Signin, SigninKind, User},
        AppState,
    },
};

/// The session key holding the sign-in id.
pub const SIGNIN_KEY: &str = "signin_id";
/// The session cookie's name over plain http (development, tests).
pub const COOKIE_NAME: &str = "signoff_session";
/// The session cookie's name over https: the `__Host-` prefix makes browsers refuse it unless it
/// is `Secure`, has `Path=/` and no `Domain`, so no subdomain can set or shadow it.
pub const SECURE_COOKIE_NAME: &str = "__Host-signoff_session";

/// The session cookie's name with or without `Secure`.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_COOKIE_NAME
    } else {
        COOKIE_NAME
    }
}

/// The signed-in user of this session, if its sign-in is still active. A session whose sign-in was
/// ended elsewhere (another tab, an API logout) is flushed here, which also clears its cookie.
pub async fn current(
    state: &AppState,
    session: &Session,
) -> Result<Option<(User, Signin)>, AuthError> {
    Ok(match check(state, session).await? {
        Current::SignedIn(user, signin) => Some((user, signin)),
        _ => None,
    })
}

/// Where this browser's session stands.
pub enum Current {
    /// Signed in.
    SignedIn(User, Signin),
    /// Its sign-in ended (elsewhere, or past its lifetime just now), for this reason; the session
    /// has been flushed.
    Ended(Option<EndReason>),
    /// No sign-in.
    SignedOut,
}

/// How long the session store keeps a session unused: a little longer than the sign-in's idle
/// lifetime, so that the sign-in check (not the store) ends it and can say why (`idle`).
pub fn store_idle(state: &AppState) -> tower_sessions::cookie::time::Duration {
    let lifetime = state.auth.lifetime();
    tower_sessions::cookie::time::Duration::seconds(lifetime.idle + 2 * lifetime.touch_every + 60)
}

/// [`current`], and why the sign-in ended when it did. A use of the sign-in is recorded at most
/// once a minute (or a quarter of the idle time); each time, the session's expiry slides too.
pub async fn check(state: &AppState, session: &Session) -> Result<Current, AuthError> {
    let id: Option<String> = session.get(SIGNIN_KEY).await.map_err(session_error)?;
    let Some(id) = id else {
        return Ok(Current::SignedOut);
    };
    match state.auth.use_signin(&id).await? {
        Some((user, signin, touched)) => {
            if touched {
                session.set_expiry(Some(tower_sessions::Expiry::OnInactivity(store_idle(
                    state,
                ))));
            }
            Ok(Current::SignedIn(user, signin))
        }
        None => {
            let reason = match state.auth.signin_status(&id).await? {
                crate::server::domain::SigninStatus::Ended(reason) => reason,
                _ => None,
            };
            session.flush().await.map_err(session_error)?;
            Ok(Current::Ended(reason))
        }
    }
}

/// Body of `auth::session_clock`: how long until this sign-in ends unused (no use recorded).
pub async fn session_clock() -> Result<Option<IdleClock>, ServerFnError> {
    let (state, session, _) = context().await?;
    expect_context::<ResponseOptions>()
        .insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let id: Option<String> = session
        .get(SIGNIN_KEY)
        .await
        .map_err(|e| unavailable(session_error(e)))?;
    let Some(id) = id else { return Ok(None) };
    let remaining = state.auth.remaining(&id).await.map_err(unavailable)?;
    Ok(remaining.map(|remaining| IdleClock {
        remaining,
        idle: state.auth.lifetime().idle,
    }))
}

/// Body of `auth::stay_signed_in`: records a use now (the idle clock starts again).
pub async fn stay_signed_in() -> Result<Option<IdleClock>, ServerFnError> {
    let (state, session, _) = context().await?;
    if let Some((_, signin)) = signed_in(&state, &session).await? {
        state
            .auth
            .touch_signin(&signin.id)
            .await
            .map_err(unavailable)?;
        session.set_expiry(Some(tower_sessions::Expiry::OnInactivity(store_idle(
            &state,
        ))));
    }
    session_clock().await
}

fn session_error(err: tower_sessions::session::Error) -> AuthError {
    AuthError::Internal(format!("session store: {err}"))
}

async fn context() -> Result<(AppState, Session, Parts), ServerFnError> {
    let state = expect_context::<AppState>();
    let session: Session = leptos_axum::extract().await?;
    let parts = expect_context::<Parts>();
    Ok((state, session, parts))
}

/// Redirects with 303 See Other. A plain form post (JavaScript off) gets a real redirect; the
/// server-function client (JavaScript on) gets leptos' redirect header and navigates itself.
/// (`leptos_axum::redirect` does the same with 302, which the contract does not allow.)
pub fn see_other(path: &str) {
    let (Some(parts), Some(res)) = (use_context::<Parts>(), use_context::<ResponseOptions>())
    else {
        return;
    };
    let Ok(location) = HeaderValue::from_str(path) else {
        return;
    };
    res.insert_header(header::LOCATION, location);
    let plain_form = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if plain_form {
        res.set_status(StatusCode::SEE_OTHER);
    } else {
        res.insert_header(
            http::HeaderName::from_static(leptos::server_fn::redirect::REDIRECT_HEADER),
            HeaderValue::from_static(""),
        );
    }
}

/// `target` when it is a path on this site (`/x`, not `//host`, `/\host` or `http://…`), else `fallback`.
pub fn local_path_or<'a>(target: Option<&'a str>, fallback: &'a str) -> &'a str {
    match target {
        Some(t) if is_local_path(t) => t,
        _ => fallback,
    }
}

fn is_local_path(t: &str) -> bool {
    let mut chars = t.chars();
    chars.next() == Some('/')
        && !matches!(chars.next(), Some('/' | '\\'))
        && t.len() <= 2048
        && !t
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
}

fn with_query(path: &str, pairs: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{path}?{query}")
}

/// Errors a page can show, carried in its `?error=` query so the same message appears with
/// JavaScript on or off. Only these codes are shown; any other value is ignored.
fn error_code(err: &AuthError) -> &'static str {
    use crate::server::domain::InputError::*;
    match err {
        AuthError::Input(InvalidEmail) => "invalid_email",
        AuthError::Input(PasswordTooShort) => "password_short",
        AuthError::Input(PasswordTooLong) => "password_long",
        AuthError::EmailTaken => "email_taken",
        AuthError::InvalidCredentials | AuthError::InvalidToken => "credentials",
        AuthError::Input(InvalidTokenName) => "token_name",
        AuthError::NotFound | AuthError::AlreadyEnded => "gone",
        AuthError::Throttled(_) => "throttled",
        AuthError::Unavailable(_) => "unavailable",
        AuthError::Internal(_) => "internal",
    }
}

fn log_unexpected(err: &AuthError) {
    if matches!(err, AuthError::Unavailable(_) | AuthError::Internal(_)) {
        tracing::error!(error = %err, "browser sign-in flow failed");
    }
}

/// Body of `auth::whoami`.
pub async fn whoami() -> Result<Option<Me>, ServerFnError> {
    let (state, session, _) = context().await?;
    // Private data: never cached, by the browser or anyone in between.
    expect_context::<ResponseOptions>()
        .insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let found = signed_in(&state, &session).await?;
    Ok(found.map(|(user, _)| Me { email: user.email }))
}

/// Body of `auth::register`: creates the account, then sends the person to sign in.
pub async fn register(email: String, password: String) -> Result<(), ServerFnError> {
    let (state, _, _) = context().await?;
    match state
        .auth
        .register(&email, SecretString::from(password))
        .await
    {
        Ok(_) => see_other("/login?registered=1"),
        Err(err) => {
            back_with_error("/register", &err);
        }
    }
    Ok(())
}

/// Body of `auth::login`: checks the password, starts a sign-in and points a fresh session at it.
pub async fn login(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<(), ServerFnError> {
    let (state, session, parts) = context().await?;
    let next = next.filter(|n| !n.is_empty());
    let result = async {
        let meta = crate::server::http::client_meta(&parts);
        let user = state
            .auth
            .check_password(&email, SecretString::from(password), &meta, "sign-in page")
            .await?;
        // Signing in again in the same browser replaces the earlier sign-in.
        if let Some(old) = session
            .get::<String>(SIGNIN_KEY)
            .await
            .map_err(session_error)?
        {
            state
                .auth
                .end_signin(&old, EndReason::Superseded, "sign-in page")
                .await?;
        }
        let signin = state
            .auth
            .start_signin(
                &user,
                SigninKind::Browser,
                &crate::server::http::client_meta(&parts),
                "browser sign-in",
            )
            .await?;
        // A new session id at every login: a fixated id from before is worthless.
        session.cycle_id().await.map_err(session_error)?;
        session
            .insert(SIGNIN_KEY, &signin.id)
            .await
            .map_err(session_error)?;
        Ok::<_, AuthError>(())
    }
    .await;
    match result {
        Ok(()) => see_other(local_path_or(next.as_deref(), "/")),
        Err(err) => {
            log_unexpected(&err);
            let mut pairs = vec![("error", error_code(&err))];
            if let Some(next) = next.as_deref().filter(|n| is_local_path(n)) {
                pairs.push(("next", next));
            }
            see_other(&with_query("/login", &pairs));
        }
    }
    Ok(())
}

/// Body of `auth::logout`: ends the sign-in (revoking all its credentials), deletes the session from
/// the store, clears the cookie and site data, and redirects to `/login` (or a local `next`).
/// A session that already ended lands on `/login` all the same.
pub async fn logout(next: Option<String>) -> Result<(), ServerFnError> {
    let (state, session, _) = context().await?;
    let ended = async {
        if let Some(id) = session
            .get::<String>(SIGNIN_KEY)
            .await
            .map_err(session_error)?
        {
            end_own(&state, id, "Log out button").await?;
        }
        Ok::<_, AuthError>(())
    }
    .await;
    finish_logout(&state, &session, ended, next.as_deref()).await
}

/// The end of every browser logout: once the sign-in is ended (`ended` is Ok), deletes the session
/// from the store (tower-sessions then sends a removal cookie), sends `Clear-Site-Data` and a removal
/// cookie with every attribute the cookie was set with, and redirects (303) to `/login` or `next`.
async fn finish_logout(
    state: &AppState,
    session: &Session,
    ended: Result<(), AuthError>,
    next: Option<&str>,
) -> Result<(), ServerFnError> {
    let flushed = match ended {
        Ok(()) => session.flush().await.map_err(session_error),
        Err(err) => Err(err),
    };
    if let Err(err) = flushed {
        back_with_error("/", &err);
        return Ok(());
    }
    let res = expect_context::<ResponseOptions>();
    res.insert_header(
        http::HeaderName::from_static("clear-site-data"),
        HeaderValue::from_static("\"cache\", \"cookies\", \"storage\""),
    );
    res.insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // tower-sessions' removal cookie names only the path; this one repeats every attribute the cookie
    // was set with, as some browsers require to replace a Secure or SameSite cookie.
    let secure = if state.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let name = cookie_name(state.config.secure_cookies);
    let removal = format!(
        "{name}=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax{secure}"
    );
    if let Ok(value) = HeaderValue::from_str(&removal) {
        res.append_header(header::SET_COOKIE, value);
    }
    let target = local_path_or(next, "/login");
    if target == "/login" {
        see_other("/login?logged_out=1");
    } else {
        see_other(target);
    }
    Ok(())
}

/// Ends the browser's own sign-in. One that has already ended (elsewhere, or by a racing click) is
/// no error: the person is logged out either way.
async fn end_own(state: &AppState, signin_id: String, via: &str) -> Result<(), AuthError> {
    match state
        .auth
        .logout(Caller::Signin(signin_id), Scope::Local, via)
        .await
    {
        Ok(_) | Err(AuthError::InvalidToken) => Ok(()),
        Err(err) => Err(err),
    }
}

/// Body of `auth::sessions_page`.
pub async fn sessions_page() -> Result<Option<SessionsData>, ServerFnError> {
    let (state, session, _) = context().await?;
    expect_context::<ResponseOptions>()
        .insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let Some((user, current)) = signed_in(&state, &session).await? else {
        return Ok(None);
    };
    let signins = state
        .auth
        .active_signins(&user.id)
        .await
        .map_err(unavailable)?;
    let activity = state
        .auth
        .recent_activity(&user.id, 20)
        .await
        .map_err(unavailable)?;
    Ok(Some(SessionsData {
        me: Me { email: user.email },
        sessions: signins
            .into_iter()
            .map(|s| SessionView {
                current: s.id == current.id,
                what: match (s.kind.as_str(), &s.token_name) {
                    ("browser", _) => "Browser session".to_owned(),
                    ("token", _) => "API token".to_owned(),
                    ("jwt", _) => "JWT client".to_owned(),
                    (_, Some(name)) => format!("Personal token “{name}”"),
                    _ => "Personal token".to_owned(),
                },
                device: describe_agent(s.user_agent.as_deref()),
                ip: s.ip.unwrap_or_else(|| "unknown".to_owned()),
                created: human_time(s.created_at),
                last_used: human_time(s.last_seen_at),
                id: s.id,
            })
            .collect(),
        activity: activity
            .into_iter()
            .map(|e| ActivityView {
                at: human_time(e.at),
                what: match e.event.as_str() {
                    "sign_in" => "Signed in",
                    "logout" => "Logged out",
                    "token_created" => "Token created",
                    "token_revoked" => "Token revoked",
                    "refresh_token_reuse" => "Refresh token reused: sign-in ended",
                    "refresh_replay" => "Refresh repeated (same tokens given again)",
                    "sign_in_expired" => "Sign-in expired",
                    "sign_in_replaced" => "Sign-in replaced",
                    "password_changed" => "Password changed",
                    "admin_logout" => "Signed out by an administrator",
                    "sign_in_failed" => "Failed sign-in",
                    "signed_out_idle" => "Signed out after inactivity",
                    "signed_out_absolute" => "Sign-in time limit reached",
                    _ => "Account event",
                }
                .to_owned(),
                detail: e.detail,
            })
            .collect(),
    }))
}

/// "Chrome 120 on Linux", from a user agent (parsed with the `woothee` crate).
fn describe_agent(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.filter(|ua| !ua.is_empty()) else {
        return "Unknown device".to_owned();
    };
    match woothee::parser::Parser::new().parse(ua) {
        // Crawlers and libraries ("deploy-bot/2.1", "okhttp/4.12") read best as they are.
        Some(r) if r.name != "UNKNOWN" && r.category != "crawler" && r.category != "misc" => {
            let version = r.version.split('.').next().unwrap_or_default();
            let browser = if version.is_empty() || version == "UNKNOWN" {
                r.name.to_owned()
            } else {
                format!("{} {version}", r.name)
            };
            if r.os == "UNKNOWN" {
                browser
            } else {
                format!("{browser} on {}", r.os)
            }
        }
        _ => ua.chars().take(40).collect(),
    }
}

/// Body of `auth::end_session`.
pub async fn end_session(id: String) -> Result<(), ServerFnError> {
    let (state, session, _) = context().await?;
    let Some((_, current)) = require_signed_in(&state, &session).await? else {
        return Ok(());
    };
    if id == current.id {
        let ended = end_own(&state, id, "sessions page").await;
        return finish_logout(&state, &session, ended, None).await;
    }
    match state
        .auth
        .logout(
            Caller::Signin(current.id),
            Scope::Signin(id),
            "sessions page",
        )
        .await
    {
        Ok(_) => see_other("/sessions?ended=1"),
        Err(err) => {
            back_with_error("/sessions", &err);
        }
    }
    Ok(())
}

/// Body of `auth::logout_others`.
pub async fn logout_others() -> Result<(), ServerFnError> {
    let (state, session, _) = context().await?;
    let Some((_, current)) = require_signed_in(&state, &session).await? else {
        return Ok(());
    };
    match state
        .auth
        .logout(Caller::Signin(current.id), Scope::Others, "sessions page")
        .await
    {
        Ok(_) => see_other("/sessions?ended=others"),
        Err(err) => {
            back_with_error("/sessions", &err);
        }
    }
    Ok(())
}

/// Body of `auth::logout_everywhere`.
pub async fn logout_everywhere() -> Result<(), ServerFnError> {
    let (state, session, _) = context().await?;
    let Some((_, current)) = signed_in(&state, &session).await? else {
        return finish_logout(&state, &session, Ok(()), None).await;
    };
    let ended = match state
        .auth
        .logout(Caller::Signin(current.id), Scope::Global, "sessions page")
        .await
    {
        Ok(_) | Err(AuthError::InvalidToken) => Ok(()),
        Err(err) => Err(err),
    };
    finish_logout(&state, &session, ended, None).await
}

/// Body of `auth::change_password`.
pub async fn change_password(
    current: String,
    new: String,
    end_others: bool,
) -> Result<(), ServerFnError> {
    let (state, session, parts) = context().await?;
    let Some((user, signin)) = require_signed_in(&state, &session).await? else {
        return Ok(());
    };
    let meta = crate::server::http::client_meta(&parts);
    let result = state
        .auth
        .change_password(
            &user,
            &signin.id,
            SecretString::from(current),
            SecretString::from(new),
            end_others,
            &meta,
        )
        .await;
    match result {
        Ok(n) => see_other(&with_query(
            "/account/password",
            &[("changed", &n.to_string())],
        )),
        Err(AuthError::InvalidCredentials) => see_other("/account/password?error=current_password"),
        Err(err) => {
            back_with_error("/account/password", &err);
        }
    }
    Ok(())
}

/// Formats Unix seconds for people: `2026-11-21 14:05 UTC`.
fn human_time(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// What a page shows when its data cannot be loaded.
const UNAVAILABLE: &str = "Signoff is unavailable right now. Try again in a moment.";

/// The error a page's data function returns when storage fails, after logging the cause.
fn unavailable(err: AuthError) -> ServerFnError {
    log_unexpected(&err);
    ServerFnError::new(UNAVAILABLE)
}

/// Sends the browser back to `path` with the error's code (logging it when unexpected).
fn back_with_error(path: &str, err: &AuthError) {
    log_unexpected(err);
    see_other(&with_query(path, &[("error", error_code(err))]));
}

/// For a server function behind a signed-in page: the user and sign-in, or (signed out) a
/// redirect to `/login` and `None`.
async fn require_signed_in(
    state: &AppState,
    session: &Session,
) -> Result<Option<(User, Signin)>, ServerFnError> {
    let found = signed_in(state, session).await?;
    if found.is_none() {
        see_other("/login");
    }
    Ok(found)
}

/// The signed-in user and sign-in (for server functions behind pages).
async fn signed_in(
    state: &AppState,
    session: &Session,
) -> Result<Option<(User, Signin)>, ServerFnError> {
    current(state, session).await.map_err(unavailable)
}

/// Body of `auth::tokens_page`.
pub async fn tokens_page() -> Result<Option<TokensData>, ServerFnError> {
    let (state, session, _) = context().await?;
    expect_context::<ResponseOptions>()
        .insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let Some((user, signin)) = signed_in(&state, &session).await? else {
        return Ok(None);
    };
    let tokens = state
        .auth
        .personal_tokens(&user.id)
        .await
        .map_err(unavailable)?;
    Ok(Some(TokensData {
        me: Me { email: user.email },
        tokens: tokens
            .into_iter()
            .map(|t| TokenView {
                id: t.id,
                name: t.name,
                created: human_time(t.created_at),
                last_used: t.last_used_at.map(human_time),
            })
            .collect(),
        new_token: state.reveal.take(&signin.id),
    }))
}

/// Body of `auth::create_token`. The clear text is kept in this server's memory only (never in the
/// database or the session store) until the `/tokens` page shows it, once.
pub async fn create_token(name: String) -> Result<(), ServerFnError> {
    let (state, session, parts) = context().await?;
    let Some((user, signin)) = require_signed_in(&state, &session).await? else {
        return Ok(());
    };
    match state
        .auth
        .create_personal_token(&user, &name, &crate::server::http::client_meta(&parts))
        .await
    {
        Ok(issued) => {
            let token = secrecy::ExposeSecret::expose_secret(&issued.token).to_owned();
            state.reveal.put(
                &signin.id,
                NewToken {
                    name: name.trim().to_owned(),
                    token,
                },
            );
            see_other("/tokens");
        }
        Err(err) => {
            back_with_error("/tokens", &err);
        }
    }
    Ok(())
}

/// Body of `auth::revoke_token`: ends the token's sign-in if it is one of this user's personal tokens.
pub async fn revoke_token(id: String) -> Result<(), ServerFnError> {
    let (state, session, _) = context().await?;
    let Some((user, _)) = require_signed_in(&state, &session).await? else {
        return Ok(());
    };
    let owned = match state.auth.personal_tokens(&user.id).await {
        Ok(tokens) => tokens.iter().any(|t| t.id == id),
        Err(err) => {
            back_with_error("/tokens", &err);
            return Ok(());
        }
    };
    if !owned {
        see_other("/tokens?error=gone");
        return Ok(());
    }
    let ending = Ending::Signins {
        ids: vec![id],
        owner: Some(user.id),
        reason: EndReason::Revoked,
    };
    match state.auth.end(ending, "tokens page").await {
        Ok(ended) if !ended.signins.is_empty() => see_other("/tokens?revoked=1"),
        Ok(_) => see_other("/tokens?error=gone"),
        Err(err) => {
            back_with_error("/tokens", &err);
        }
    }
    Ok(())
}

/// Just-created tokens waiting to be shown once, in this process's memory, by sign-in id.
#[derive(Clone, Default)]
pub struct Reveal(
    std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<String, (NewToken, std::time::Instant)>>,
    >,
);

impl Reveal {
    /// How long an unshown token waits before it is forgotten.
    const TTL: std::time::Duration = std::time::Duration::from_secs(600);

    fn put(&self, signin_id: &str, token: NewToken) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, (_, at)| at.elapsed() < Self::TTL);
        map.insert(signin_id.to_owned(), (token, std::time::Instant::now()));
    }

    fn take(&self, signin_id: &str) -> Option<NewToken> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(signin_id)
            .filter(|(_, at)| at.elapsed() < Self::TTL)
            .map(|(t, _)| t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        for ok in ["/", "/tokens", "/a?b=c#d"] {
            assert_eq!(local_path_or(Some(ok), "/login"), ok);
        }
        for bad in [
            "",
            "//evil.example",
            "/\\evil.example",
            "https://evil.example/",
            "evil",
            "/a b",
            "/\t/x",
            "javascript:alert(1)",
        ] {
            assert_eq!(local_path_or(Some(bad), "/login"), "/login", "{bad:?}");
        }
        assert_eq!(local_path_or(None, "/login"), "/login");
    }

    #[test]
    fn devices_read_as_browser_and_os_or_as_sent() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        assert_eq!(describe_agent(Some(chrome)), "Chrome 120 on Linux");
        assert_eq!(describe_agent(Some("deploy-bot/2.1")), "deploy-bot/2.1");
        assert_eq!(describe_agent(Some("")), "Unknown device");
        assert_eq!(describe_agent(None), "Unknown device");
    }

    #[test]
    fn queries_are_encoded() {
        assert_eq!(
            with_query("/login", &[("error", "credentials"), ("next", "/a?b=c&d")]),
            "/login?error=credentials&next=%2Fa%3Fb%3Dc%26d"
        );
    }
}
