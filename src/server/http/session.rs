//! The browser's web session: its cookie, the session layer, and where the browser's sign-in stands
//! ([`Browser`], an extractor read once per request).
//!
//! A browser session holds one thing, the id of its sign-in ([`SIGNIN_KEY`]); the sign-in itself
//! (and whether it has ended) lives in the domain. This module is the only one that touches it:
//! [`begin`] (after a sign-in), [`signin_id`] (reading it without counting a use), [`check`] (and
//! [`Browser`]: reading it as a use), [`slide`], and [`end`] with [`ending_headers`] (a logout).

use axum::{
    extract::{FromRef, FromRequestParts},
    response::{IntoResponse, Response},
};
use http::{header, request::Parts, HeaderName, HeaderValue, StatusCode};
use tower_sessions::{
    cookie::{time::Duration, SameSite},
    Expiry, Session, SessionManagerLayer,
};

use crate::server::{
    domain::{AuthError, EndReason, Signin, SigninStatus, User},
    sessions::Sessions,
    AppState,
};

/// The session key holding the sign-in id.
const SIGNIN_KEY: &str = "signin_id";
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

/// The device cookie's name, with or without `Secure` (`__Host-` over https, as the session's). A
/// browser that signed in keeps it for a year; its password checks are throttled apart from its
/// address's (`domain::throttle`).
pub fn device_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-signoff_device"
    } else {
        "signoff_device"
    }
}

/// The `Set-Cookie` value of a new device cookie.
pub fn device_cookie(value: &str, secure: bool) -> String {
    let name = device_cookie_name(secure);
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax{secure}")
}

/// The session layer: an `HttpOnly`, `SameSite=Lax` cookie (`Secure` and `__Host-` over https)
/// whose store entry expires unused after [`store_idle`].
pub fn layer(state: &AppState, sessions: Sessions) -> SessionManagerLayer<Sessions> {
    let secure = state.config.secure_cookies;
    SessionManagerLayer::new(sessions)
        .with_name(cookie_name(secure))
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(store_idle(state)))
}

/// How long the session store keeps a session unused: a little longer than the sign-in's idle
/// lifetime, so that the sign-in check (not the store) ends it and can say why (`idle`).
fn store_idle(state: &AppState) -> Duration {
    let lifetime = state.auth.lifetime();
    Duration::seconds(lifetime.idle + 2 * lifetime.touch_every + 60)
}

/// A `Set-Cookie` value that removes the session cookie. tower-sessions' own removal cookie names
/// only the path; this one repeats every attribute the cookie was set with, as some browsers
/// require to replace a `Secure` or `SameSite` cookie.
fn removal_cookie(secure: bool) -> HeaderValue {
    let name = cookie_name(secure);
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax{secure}"
    ))
    .expect("a cookie name and fixed attributes are a valid header value")
}

/// A session store failure, as the domain's error.
fn session_error(err: tower_sessions::session::Error) -> AuthError {
    AuthError::Internal(format!("session store: {err}"))
}

/// Begins this browser's session after a sign-in: a new session id (a fixated id from before is
/// worthless), pointing at the sign-in `signin_id`.
pub async fn begin(session: &Session, signin_id: &str) -> Result<(), AuthError> {
    session.cycle_id().await.map_err(session_error)?;
    session
        .insert(SIGNIN_KEY, signin_id)
        .await
        .map_err(session_error)
}

/// The id of the sign-in this browser's session points at, if any, read without counting as a use
/// of it (it may have ended since: [`check`] tells).
pub async fn signin_id(session: &Session) -> Result<Option<String>, AuthError> {
    session.get(SIGNIN_KEY).await.map_err(session_error)
}

/// Slides the session's expiry in the store, after a use of its sign-in was recorded.
pub fn slide(state: &AppState, session: &Session) {
    session.set_expiry(Some(Expiry::OnInactivity(store_idle(state))));
}

/// Ends this browser's session: deletes it from the store (tower-sessions then sends its own
/// removal cookie). An answer to a logout carries [`ending_headers`] as well.
pub async fn end(session: &Session) -> Result<(), AuthError> {
    session.flush().await.map_err(session_error)
}

/// What the answer to a browser logout carries besides [`end`]'s removal cookie:
/// `Clear-Site-Data: "cache", "storage"` and a removal cookie with every attribute the cookie was
/// set with ([`removal_cookie`]). Not `"cookies"`: that would also take the device cookie, which
/// is no credential (it signs no one in) but what keeps this browser's sign-ins apart from its
/// address's throttling (`domain::throttle`); the session cookie, the only credential, is removed
/// by name.
pub fn ending_headers(secure: bool) -> [(HeaderName, HeaderValue); 2] {
    [
        (
            HeaderName::from_static("clear-site-data"),
            HeaderValue::from_static("\"cache\", \"storage\""),
        ),
        (header::SET_COOKIE, removal_cookie(secure)),
    ]
}

/// Where this browser's session stands.
#[derive(Clone, Debug)]
pub enum Current {
    /// Signed in.
    SignedIn(User, Signin),
    /// Its sign-in ended (elsewhere, or past its lifetime just now), for this reason; the session
    /// has been flushed.
    Ended(Option<EndReason>),
    /// No sign-in.
    SignedOut,
}

impl Current {
    /// The user and sign-in, when signed in.
    pub fn signed_in(self) -> Option<(User, Signin)> {
        match self {
            Current::SignedIn(user, signin) => Some((user, signin)),
            _ => None,
        }
    }
}

/// Where this browser's session stands. A session whose sign-in was ended elsewhere (another tab, an
/// API logout) is flushed here, which also clears its cookie. A use of the sign-in is recorded at
/// most once a minute (or a quarter of the idle time); each time, the session's expiry slides too.
pub async fn check(state: &AppState, session: &Session) -> Result<Current, AuthError> {
    let Some(id) = signin_id(session).await? else {
        return Ok(Current::SignedOut);
    };
    match state.auth.use_signin(&id).await? {
        Some((user, signin, touched)) => {
            if touched {
                slide(state, session);
            }
            Ok(Current::SignedIn(user, signin))
        }
        None => {
            let reason = match state.auth.signin_status(&id).await? {
                SigninStatus::Ended(reason) => reason,
                _ => None,
            };
            end(session).await?;
            Ok(Current::Ended(reason))
        }
    }
}

/// The browser's session and where its sign-in stands, as an extractor. The sign-in is read once per
/// request: the page guard and the page's server functions share the first reading.
#[derive(Clone, Debug)]
pub struct Browser {
    pub session: Session,
    pub current: Current,
}

impl Browser {
    /// The signed-in user and sign-in, when signed in.
    pub fn signed_in(&self) -> Option<(User, Signin)> {
        self.current.clone().signed_in()
    }
}

impl<S> FromRequestParts<S> for Browser
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = Unavailable;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(found) = parts.extensions.get::<Browser>() {
            return Ok(found.clone());
        }
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, why)| {
                Unavailable(AuthError::Internal(format!("session layer: {why}")))
            })?;
        let current = check(&AppState::from_ref(state), &session)
            .await
            .map_err(Unavailable)?;
        let browser = Browser { session, current };
        parts.extensions.insert(browser.clone());
        Ok(browser)
    }
}

/// The session or the sign-in could not be read: a plain 503 with `Retry-After`, logged here.
#[derive(Debug)]
pub struct Unavailable(pub AuthError);

impl IntoResponse for Unavailable {
    fn into_response(self) -> Response {
        tracing::error!(error = %self.0, "checking the session failed");
        let mut res = (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CACHE_CONTROL, "no-store")],
            "Signoff is unavailable right now. Try again in a moment.",
        )
            .into_response();
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        res
    }
}
