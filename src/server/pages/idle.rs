//! Bodies of the idle warning's server functions.

use crate::{
    pages::idle::IdleClock,
    server::http::session::{session_error, store_idle, SIGNIN_KEY},
};

use super::*;

/// Body of `pages::idle::session_clock`: how long until this sign-in ends unused (no use recorded).
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

/// Body of `pages::idle::stay_signed_in`: records a use now (the idle clock starts again).
pub async fn stay_signed_in() -> Result<Option<IdleClock>, ServerFnError> {
    let (state, session, _) = context().await?;
    if let Some((_, signin)) = signed_in(&state).await? {
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
