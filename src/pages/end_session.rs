//! `/logout`, where an application's logout request (OpenID Connect RP-Initiated Logout) that
//! Signoff cannot act on at once asks **Log out of Signoff?**, and `/authorize/error`, where an
//! application's sign-in request that cannot go back to it ends.

use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_query_map};

use super::AuthCard;

/// Ends this browser's sign-in (reason `rp_logout`: every application signed in through it is
/// told), then returns to the application's registered address with `state`, or to `/login`.
#[server(prefix = "/_fn", endpoint = "confirm_logout")]
pub async fn confirm_logout(
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
) -> Result<(), ServerFnError> {
    crate::server::pages::end_session::confirm_logout(client_id, post_logout_redirect_uri, state)
        .await
}

/// `/logout`: asks before logging out; nothing ends until **Log out** is pressed.
#[component]
pub fn LogoutConfirmPage() -> impl IntoView {
    let action = ServerAction::<ConfirmLogout>::new();
    let query = use_query_map();
    let param = move |name: &'static str| move || query.with(|q| q.get(name).unwrap_or_default());
    view! {
        <AuthCard title="Log out of Signoff?"
            subtitle="An application asked Signoff to sign you out.">
            <p>"Logging out ends your Signoff sign-in in this browser, and every application you signed in to through it is told."</p>
            <ActionForm action=action attr:class="form" attr:data-leaves="">
                <input type="hidden" name="client_id" value=param("client_id")/>
                <input type="hidden" name="post_logout_redirect_uri" value=param("post_logout_redirect_uri")/>
                <input type="hidden" name="state" value=param("state")/>
                <button type="submit" class="button button-primary">"Log out"</button>
            </ActionForm>
            <p class="alt"><A href="/">"Stay signed in"</A></p>
        </AuthCard>
    }
}

/// `/authorize/error`: an application's sign-in request that Signoff cannot answer.
#[component]
pub fn AuthorizeErrorPage() -> impl IntoView {
    let query = use_query_map();
    let why = move || {
        query.with(|q| match q.get("error").as_deref() {
            Some("unknown_client") => "The application that sent you here is not registered with Signoff.",
            Some("invalid_redirect_uri") => {
                "The application asked to be answered at an address it did not register, so Signoff will not send you there."
            }
            _ => "The application's request was not understood.",
        })
    };
    view! {
        <AuthCard title="This sign-in request cannot be completed"
            subtitle="Nothing was shared with the application.">
            <p class="banner banner-error" role="alert">{why}</p>
            <p class="alt"><A href="/">"Go to Signoff"</A></p>
        </AuthCard>
    }
}
