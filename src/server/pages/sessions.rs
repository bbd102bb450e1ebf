//! Bodies of the `/sessions` server functions.

use leptos::prelude::ServerFnError;

use super::{
    back_with_error, context, human_time, page_data, require_signed_in, see_other,
    sign_in::{end_own, finish_logout, Target},
    signed_in, unavailable,
};
use crate::{
    pages::{
        home::Me,
        sessions::{ActivityView, SessionView, SessionsData, TrustedBrowserView},
    },
    server::{
        domain::{AuditKind, Caller, Scope, Signin, SigninKind},
        http::extract::client_meta,
        AppState,
    },
};

/// Body of `pages::sessions::sessions_page`.
pub async fn sessions_page() -> Result<Option<SessionsData>, ServerFnError> {
    let Some((state, user, current)) = page_data().await? else {
        return Ok(None);
    };
    let signins = state
        .auth
        .active_signins(&user.id)
        .await
        .map_err(unavailable)?;
    let mut apps = state
        .auth
        .apps_by_signin(&user.id)
        .await
        .map_err(unavailable)?;
    let activity = state
        .auth
        .recent_activity(&user.id, 20)
        .await
        .map_err(unavailable)?;
    // The request's head, which leptos_axum puts in the context (no second session lookup).
    let parts = leptos::prelude::expect_context::<http::request::Parts>();
    let browsers = state
        .auth
        .trusted_browsers(&user.id, client_meta(&parts).device.as_deref())
        .await
        .map_err(unavailable)?;
    Ok(Some(SessionsData {
        me: Me { email: user.email },
        sessions: signins
            .into_iter()
            .map(|s| SessionView {
                current: s.id == current.id,
                what: match (s.kind, &s.token_name) {
                    (SigninKind::Browser, _) => "Browser session".to_owned(),
                    (SigninKind::Token, _) => "API token".to_owned(),
                    (SigninKind::Jwt, _) => "JWT client".to_owned(),
                    (SigninKind::Personal, Some(name)) => format!("Personal token “{name}”"),
                    (SigninKind::Personal, None) => "Personal token".to_owned(),
                },
                device: describe_agent(s.user_agent.as_deref()),
                ip: s.ip.unwrap_or_else(|| "unknown".to_owned()),
                created: human_time(s.created_at),
                last_used: human_time(s.last_seen_at),
                apps: apps.remove(&s.id).unwrap_or_default(),
                id: s.id,
            })
            .collect(),
        activity: activity
            .into_iter()
            .map(|e| ActivityView {
                at: human_time(e.at),
                what: match e.event {
                    AuditKind::SignIn => "Signed in",
                    AuditKind::Logout => "Logged out",
                    AuditKind::TokenCreated => "Token created",
                    AuditKind::TokenRevoked => "Token revoked",
                    AuditKind::RefreshTokenReuse => "Refresh token reused: sign-in ended",
                    AuditKind::RefreshReplay => "Refresh repeated (same tokens given again)",
                    AuditKind::SignInExpired => "Sign-in expired",
                    AuditKind::SignInReplaced => "Sign-in replaced",
                    AuditKind::PasswordChanged => "Password changed",
                    AuditKind::AdminLogout => "Signed out by an administrator",
                    AuditKind::SignInFailed => "Failed sign-in",
                    AuditKind::SignedOutIdle => "Signed out after inactivity",
                    AuditKind::SignedOutAbsolute => "Sign-in time limit reached",
                    AuditKind::SignInEvicted => "Signed out: too many sign-ins at once",
                    AuditKind::RpLogout => "Logged out by an application",
                    AuditKind::OidcTokens => "Signed in to an application",
                    AuditKind::SignInConfirmed => "Password entered again",
                }
                .to_owned(),
                detail: e.detail,
            })
            .collect(),
        browsers: browsers
            .into_iter()
            .map(|b| TrustedBrowserView {
                device: describe_agent(b.user_agent.as_deref()),
                since: human_time(b.created_at),
                last_used: human_time(b.last_used_at),
                current: b.current,
                id: b.id,
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

/// Body of `pages::sessions::end_session`.
pub async fn end_session(id: String) -> Result<(), ServerFnError> {
    let (state, session, _) = context().await?;
    let Some((_, current)) = require_signed_in(&state).await? else {
        return Ok(());
    };
    if id == current.id {
        let ended = end_own(&state, id, Scope::Local, "sessions page").await;
        return finish_logout(&state, &session, ended, Target::Local(None)).await;
    }
    end_others(&state, current, Scope::Signin(id), "/sessions?ended=1").await;
    Ok(())
}

/// Body of `pages::sessions::logout_others`.
pub async fn logout_others() -> Result<(), ServerFnError> {
    let (state, _session, _) = context().await?;
    let Some((_, current)) = require_signed_in(&state).await? else {
        return Ok(());
    };
    end_others(&state, current, Scope::Others, "/sessions?ended=others").await;
    Ok(())
}

/// Ends sign-ins of the user other than this browser's (`current`) as `scope` says, then goes back
/// to `/sessions`: to `done`, or with the error.
async fn end_others(state: &AppState, current: Signin, scope: Scope, done: &str) {
    match state
        .auth
        .logout(Caller::Signin(current.id), scope, "sessions page")
        .await
    {
        Ok(_) => see_other(done),
        Err(err) => back_with_error("/sessions", &err),
    }
}

/// Body of `pages::sessions::forget_browser`.
pub async fn forget_browser(id: String) -> Result<(), ServerFnError> {
    let (state, _session, _) = context().await?;
    let Some((user, _)) = require_signed_in(&state).await? else {
        return Ok(());
    };
    // An id that is not one of this account's browsers forgets nothing, and says the same.
    match state.auth.forget_browser(&user.id, &id).await {
        Ok(_) => see_other("/sessions?forgot=1"),
        Err(err) => back_with_error("/sessions", &err),
    }
    Ok(())
}

/// Body of `pages::sessions::logout_everywhere`.
pub async fn logout_everywhere() -> Result<(), ServerFnError> {
    let (state, session, _) = context().await?;
    let Some((_, current)) = signed_in(&state).await? else {
        return finish_logout(&state, &session, Ok(()), Target::Local(None)).await;
    };
    let ended = end_own(&state, current.id, Scope::Global, "sessions page").await;
    finish_logout(&state, &session, ended, Target::Local(None)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_read_as_browser_and_os_or_as_sent() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        assert_eq!(describe_agent(Some(chrome)), "Chrome 120 on Linux");
        assert_eq!(describe_agent(Some("deploy-bot/2.1")), "deploy-bot/2.1");
        assert_eq!(describe_agent(Some("")), "Unknown device");
        assert_eq!(describe_agent(None), "Unknown device");
    }
}
