//! The browser side of sign-in: the session cookie, and the bodies of the server functions that the
//! `/login`, `/register` and `/` pages call. Each server function in `crate::auth` is one line that
//! calls into here.

use http::{header, request::Parts, HeaderValue, StatusCode};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use secrecy::SecretString;
use tower_sessions::Session;

use crate::{
    auth::{Me, NewToken, TokenView, TokensData},
    server::{
        domain::{AuthError, EndReason, Signin, SigninKind, User},
        AppState,
    },
};

/// The session key holding the sign-in id.
pub const SIGNIN_KEY: &str = "signin_id";
/// The session cookie's name.
pub const COOKIE_NAME: &str = "signoff_session";

/// The signed-in user of this session, if its sign-in is still active. A session whose sign-in was
/// ended elsewhere (another tab, an API logout) is flushed here, which also clears its cookie.
pub async fn current(
    state: &AppState,
    session: &Session,
) -> Result<Option<(User, Signin)>, AuthError> {
    let id: Option<String> = session.get(SIGNIN_KEY).await.map_err(session_error)?;
    let Some(id) = id else { return Ok(None) };
    match state.auth.active_signin(&id).await? {
        Some(found) => Ok(Some(found)),
        None => {
            session.flush().await.map_err(session_error)?;
            Ok(None)
        }
    }
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
    match current(&state, &session).await {
        Ok(found) => Ok(found.map(|(user, _)| Me { email: user.email })),
        Err(err) => {
            log_unexpected(&err);
            Err(ServerFnError::new(
                "Signoff is unavailable right now. Try again in a moment.",
            ))
        }
    }
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
            log_unexpected(&err);
            see_other(&with_query("/register", &[("error", error_code(&err))]));
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
        let user = state
            .auth
            .authenticate(&email, SecretString::from(password))
            .await?;
        // Signing in again in the same browser replaces the earlier sign-in.
        if let Some(old) = session
            .get::<String>(SIGNIN_KEY)
            .await
            .map_err(session_error)?
        {
            state.auth.end_signin(&old, EndReason::Superseded).await?;
        }
        let signin = state
            .auth
            .start_signin(
                &user,
                SigninKind::Browser,
                &crate::server::http::client_meta(&parts),
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
            state.auth.end_signin(&id, EndReason::Logout).await?;
        }
        // Deletes the record from the store; tower-sessions then sends a removal cookie.
        session.flush().await.map_err(session_error)?;
        Ok::<_, AuthError>(())
    }
    .await;
    if let Err(err) = ended {
        log_unexpected(&err);
        see_other(&with_query("/", &[("error", error_code(&err))]));
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
    let removal = format!(
        "{COOKIE_NAME}=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax{secure}"
    );
    if let Ok(value) = HeaderValue::from_str(&removal) {
        res.append_header(header::SET_COOKIE, value);
    }
    let target = local_path_or(next.as_deref(), "/login");
    if target == "/login" {
        see_other("/login?logged_out=1");
    } else {
        see_other(target);
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

/// The signed-in user and sign-in, or a redirect to `/login` (for server functions behind pages).
async fn signed_in(
    state: &AppState,
    session: &Session,
) -> Result<Option<(User, Signin)>, ServerFnError> {
    match current(state, session).await {
        Ok(found) => Ok(found),
        Err(err) => {
            log_unexpected(&err);
            Err(ServerFnError::new(
                "Signoff is unavailable right now. Try again in a moment.",
            ))
        }
    }
}

/// Body of `auth::tokens_page`.
pub async fn tokens_page() -> Result<Option<TokensData>, ServerFnError> {
    let (state, session, _) = context().await?;
    expect_context::<ResponseOptions>()
        .insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let Some((user, signin)) = signed_in(&state, &session).await? else {
        return Ok(None);
    };
    let tokens = state.auth.personal_tokens(&user.id).await.map_err(|err| {
        log_unexpected(&err);
        ServerFnError::new("Signoff is unavailable right now. Try again in a moment.")
    })?;
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
    let Some((user, signin)) = signed_in(&state, &session).await? else {
        see_other("/login");
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
            log_unexpected(&err);
            see_other(&with_query("/tokens", &[("error", error_code(&err))]));
        }
    }
    Ok(())
}

/// Body of `auth::revoke_token`: ends the token's sign-in if it is one of this user's personal tokens.
pub async fn revoke_token(id: String) -> Result<(), ServerFnError> {
    let (state, session, _) = context().await?;
    let Some((user, _)) = signed_in(&state, &session).await? else {
        see_other("/login");
        return Ok(());
    };
    let owned = match state.auth.personal_tokens(&user.id).await {
        Ok(tokens) => tokens.iter().any(|t| t.id == id),
        Err(err) => {
            log_unexpected(&err);
            see_other(&with_query("/tokens", &[("error", error_code(&err))]));
            return Ok(());
        }
    };
    if !owned {
        see_other("/tokens?error=gone");
        return Ok(());
    }
    match state.auth.end_signin(&id, EndReason::Revoked).await {
        Ok(true) => see_other("/tokens?revoked=1"),
        Ok(false) => see_other("/tokens?error=gone"),
        Err(err) => {
            log_unexpected(&err);
            see_other(&with_query("/tokens", &[("error", error_code(&err))]));
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
    fn queries_are_encoded() {
        assert_eq!(
            with_query("/login", &[("error", "credentials"), ("next", "/a?b=c&d")]),
            "/login?error=credentials&next=%2Fa%3Fb%3Dc%26d"
        );
    }
}
