//! Bodies of sign-in, registration and the **Log out** button.

use leptos::prelude::{expect_context, ServerFnError};
use leptos_axum::ResponseOptions;
use secrecy::SecretString;
use tower_sessions::Session;

use super::{
    back_with_error, context, is_local_path, local_path_or, log_unexpected, no_store, page_error,
    see_other, with_query,
};
use crate::server::{
    domain::{AuthError, Caller, EndReason, Scope, SigninKind},
    http::{extract::client_meta, session},
    AppState,
};

/// Body of `pages::sign_in::register`: creates the account, then sends the person to sign in.
pub async fn register(email: String, password: String) -> Result<(), ServerFnError> {
    let (state, _, parts) = context().await?;
    match state
        .auth
        .register_from(&email, SecretString::from(password), &client_meta(&parts))
        .await
    {
        Ok(_) => see_other("/login?registered=1"),
        Err(err) => {
            back_with_error("/register", &err);
        }
    }
    Ok(())
}

/// Body of `pages::sign_in::login`: checks the password, starts a sign-in and points a fresh session
/// at it (or, for the person already signed in here, renews their sign-in's authentication time).
pub async fn login(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<(), ServerFnError> {
    let (state, session, parts) = context().await?;
    let next = next.filter(|n| !n.is_empty());
    let result = async {
        let meta = client_meta(&parts);
        let verified = state
            .auth
            .check_password(&email, SecretString::from(password), &meta, "sign-in page")
            .await?;
        // Signing in again in the same browser: as the same person, the sign-in stays (the
        // applications signed in through it too) and counts as authenticated now (OpenID's
        // `prompt=login` and `max_age` send people here); as someone else, it is replaced.
        let again = match session::signin_id(&session).await? {
            Some(old) if state.auth.reauthenticate(&old, &verified).await? => {
                // A fresh session id all the same, as after any password check.
                session::begin(&session, &old).await?;
                true
            }
            Some(old) => {
                state
                    .auth
                    .end_signin(&old, EndReason::Superseded, "sign-in page")
                    .await?;
                false
            }
            None => false,
        };
        let (user, meta) = (verified.user, meta.authorised_by(verified.authority));
        if !again {
            let signin = state
                .auth
                .start_signin(&user, SigninKind::Browser, &meta, "browser sign-in")
                .await?;
            session::begin(&session, &signin.id).await?;
        }
        // This browser is now trusted for this account: its next password checks are throttled
        // apart from its address's.
        if let Some(device) = state
            .auth
            .trust_device(&user, meta.device.as_deref(), meta.user_agent.as_deref())
            .await?
        {
            let secure = state.config.secure_cookies;
            let cookie = session::device_cookie(&device, secure);
            if let Ok(value) = http::HeaderValue::from_str(&cookie) {
                expect_context::<ResponseOptions>().append_header(http::header::SET_COOKIE, value);
            }
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => see_other(local_path_or(next.as_deref(), "/")),
        Err(err) => {
            log_unexpected(&err);
            let mut pairs = vec![("error", page_error(&err).code())];
            if let Some(next) = next.as_deref().filter(|n| is_local_path(n)) {
                pairs.push(("next", next));
            }
            see_other(&with_query("/login", &pairs));
        }
    }
    Ok(())
}

/// Body of `pages::sign_in::logout`: ends the sign-in (revoking all its credentials), deletes the session from
/// the store, clears the cookie and site data, and redirects to `/login` (or a local `next`).
/// A session that already ended lands on `/login` all the same.
pub async fn logout(next: Option<String>) -> Result<(), ServerFnError> {
    let (state, session, _) = context().await?;
    let ended = match session::signin_id(&session).await {
        Ok(Some(id)) => end_own(&state, id, Scope::Local, "Log out button").await,
        Ok(None) => Ok(()),
        Err(err) => Err(err),
    };
    finish_logout(&state, &session, ended, Target::Local(next.as_deref())).await
}

/// The end of every browser logout: once the sign-in is ended (`ended` is Ok), deletes the session
/// from the store (tower-sessions then sends a removal cookie), sends `Clear-Site-Data` and a removal
/// cookie with every attribute the cookie was set with, and redirects (303) to `target`.
pub(super) async fn finish_logout(
    state: &AppState,
    session: &Session,
    ended: Result<(), AuthError>,
    target: Target<'_>,
) -> Result<(), ServerFnError> {
    let flushed = match ended {
        Ok(()) => session::end(session).await,
        Err(err) => Err(err),
    };
    if let Err(err) = flushed {
        back_with_error("/", &err);
        return Ok(());
    }
    no_store();
    let res = expect_context::<ResponseOptions>();
    for (name, value) in session::ending_headers(state.config.secure_cookies) {
        res.append_header(name, value);
    }
    let target = match target {
        Target::Local(next) => match local_path_or(next, "/login") {
            "/login" => "/login?logged_out=1",
            local => local,
        },
        Target::Application(uri) => uri,
    };
    see_other(target);
    Ok(())
}

/// Where a browser logout lands.
pub(super) enum Target<'a> {
    /// A local `next` (else `/login`, saying that the person logged out).
    Local(Option<&'a str>),
    /// An application's registered post-logout address (RP-Initiated Logout).
    Application(&'a str),
}

/// Ends the browser's own sign-in (`scope`: it alone, or every sign-in of its user). One that has
/// already ended (elsewhere, or by a racing click) is no error: the person is logged out either way.
pub(super) async fn end_own(
    state: &AppState,
    signin_id: String,
    scope: Scope,
    via: &str,
) -> Result<(), AuthError> {
    match state
        .auth
        .logout(Caller::Signin(signin_id), scope, via)
        .await
    {
        Ok(_) | Err(AuthError::InvalidToken) => Ok(()),
        Err(err) => Err(err),
    }
}
