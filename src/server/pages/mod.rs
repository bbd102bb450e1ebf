//! The server side of the pages: the Leptos routes (rendered with the app's state in context), the
//! server-function endpoints they post to, and, one module per feature, the bodies of the server
//! functions declared in [`crate::pages`]. Unknown paths are answered by the HTTP layer's fallback
//! ([`crate::server::http::router`]).

pub mod end_session;
pub mod home;
pub mod idle;
pub mod password;
pub mod reference;
pub mod sessions;
pub mod sign_in;
pub mod tokens;

use axum::{extract::FromRequestParts, Router};
use http::{header, request::Parts, HeaderValue, StatusCode};
use leptos::prelude::{expect_context, provide_context, use_context, ServerFnError};
use leptos_axum::{generate_route_list, LeptosRoutes, ResponseOptions};
use tower_sessions::Session;

use crate::{
    pages::{shell, App, PageError},
    server::{
        domain::{AuthError, InputError, Signin, User},
        http::session::{Browser, Unavailable},
        AppState,
    },
};

/// The pages and their server functions.
pub fn router(state: &AppState) -> Router<AppState> {
    // Generated once per process. Generating runs the app with resource loading suppressed by a
    // process-wide flag; a resource first polled by a request served meanwhile (another server in
    // the same process, as in the integration tests) would never resolve (leptos issue #4773).
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    let routes = ROUTES.get_or_init(|| generate_route_list(App)).clone();
    let context_state = state.clone();
    Router::new().leptos_routes_with_context(
        state,
        routes,
        move || provide_context(context_state.clone()),
        {
            let options = state.leptos_options.clone();
            move || shell(options.clone())
        },
    )
}

/// What a server function's body starts from: the state, the browser's session and the request.
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

/// What a page says about `err` (sent back to it as `?error=<code>`).
pub(crate) fn page_error(err: &AuthError) -> PageError {
    match err {
        AuthError::Input(InputError::InvalidEmail) => PageError::InvalidEmail,
        AuthError::Input(InputError::PasswordTooShort) => PageError::PasswordShort,
        AuthError::Input(InputError::PasswordTooLong) => PageError::PasswordLong,
        AuthError::EmailTaken => PageError::EmailTaken,
        AuthError::InvalidCredentials | AuthError::InvalidToken => PageError::Credentials,
        AuthError::Input(InputError::InvalidTokenName) => PageError::TokenName,
        AuthError::NotFound | AuthError::AlreadyEnded => PageError::Gone,
        AuthError::Throttled(_) => PageError::Throttled,
        AuthError::Unavailable(_) => PageError::Unavailable,
        AuthError::Internal(_) => PageError::Internal,
    }
}

fn log_unexpected(err: &AuthError) {
    if matches!(err, AuthError::Unavailable(_) | AuthError::Internal(_)) {
        tracing::error!(error = %err, "browser sign-in flow failed");
    }
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
    see_other(&with_query(path, &[("error", page_error(err).code())]));
}

/// For a server function behind a signed-in page: the user and sign-in, or (signed out) a
/// redirect to `/login` and `None`.
async fn require_signed_in(state: &AppState) -> Result<Option<(User, Signin)>, ServerFnError> {
    let found = signed_in(state).await?;
    if found.is_none() {
        see_other("/login");
    }
    Ok(found)
}

/// Marks the answer private: never cached, by the browser or anyone in between.
fn no_store() {
    expect_context::<ResponseOptions>()
        .insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// What a signed-in page's data starts from: the state, the signed-in user and the sign-in (`None`
/// when signed out), with the answer marked private ([`no_store`]).
async fn page_data() -> Result<Option<(AppState, User, Signin)>, ServerFnError> {
    let (state, _, _) = context().await?;
    no_store();
    let found = signed_in(&state).await?;
    Ok(found.map(|(user, signin)| (state, user, signin)))
}

/// The signed-in user and sign-in (for server functions behind pages).
/// Read once per request ([`Browser`]): the page guard's reading when it made one.
async fn signed_in(state: &AppState) -> Result<Option<(User, Signin)>, ServerFnError> {
    let mut parts = expect_context::<Parts>();
    let browser = Browser::from_request_parts(&mut parts, state)
        .await
        .map_err(|Unavailable(err)| unavailable(err))?;
    Ok(browser.signed_in())
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
