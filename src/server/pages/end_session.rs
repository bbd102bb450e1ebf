//! Body of `pages::end_session::confirm_logout`: the **Log out** of the `/logout` page.

use leptos::prelude::ServerFnError;

use super::{
    context,
    sign_in::{finish_logout, Target},
};
use crate::server::{
    domain::EndReason,
    http::{oidc::browser::with_params, session},
};

/// Ends this browser's sign-in (reason `rp_logout`), then goes to the application's
/// `post_logout_redirect_uri` with `state` when it is registered for `client_id`, else to `/login`.
/// A browser not signed in is sent on all the same.
pub async fn confirm_logout(
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
) -> Result<(), ServerFnError> {
    let (app, browser_session, _) = context().await?;
    let ended = match session::signin_id(&browser_session).await {
        Ok(Some(id)) => app
            .auth
            .end_signin(&id, EndReason::RpLogout, "RP-initiated logout, confirmed")
            .await
            .map(|_| ()),
        Ok(None) => Ok(()),
        Err(err) => Err(err),
    };
    let client = match client_id.as_deref().filter(|c| !c.is_empty()) {
        Some(id) => app.auth.oidc_client(id).await.ok().flatten(),
        None => None,
    };
    let back = match (client, post_logout_redirect_uri.as_deref()) {
        (Some(c), Some(uri)) if c.allows_post_logout(uri) => {
            let state = state.as_deref().filter(|s| !s.is_empty());
            Some(with_params(uri, &[("state", state)]))
        }
        _ => None,
    };
    let target = match &back {
        Some(uri) => Target::Application(uri),
        None => Target::Local(None),
    };
    finish_logout(&app, &browser_session, ended, target).await
}
