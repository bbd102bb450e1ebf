//! Bodies of the idle warning's server functions.

use leptos::prelude::ServerFnError;

use super::{context, no_store, signed_in, unavailable};
use crate::{pages::idle::IdleClock, server::http::session};

/// Body of `pages::idle::session_clock`: how long until this sign-in ends unused (no use recorded).
pub async fn session_clock() -> Result<Option<IdleClock>, ServerFnError> {
    let (state, session, _) = context().await?;
    no_store();
    let Some(id) = session::signin_id(&session).await.map_err(unavailable)? else {
        return Ok(None);
    };
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
        session::slide(&state, &session);
    }
    session_clock().await
}
