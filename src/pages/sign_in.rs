//! `/login` and `/register`, and the **Log out** every signed-in page carries.

use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_query_map};

use super::{query_error, AuthCard, ErrorBanner};

/// Creates an account, then redirects to `/login` (or back to `/register` with an error code).
#[server(prefix = "/_fn", endpoint = "register")]
pub async fn register(email: String, password: String) -> Result<(), ServerFnError> {
    crate::server::pages::sign_in::register(email, password).await
}

/// Signs in, then redirects to `next` (a local path) or `/`.
#[server(prefix = "/_fn", endpoint = "login")]
pub async fn login(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<(), ServerFnError> {
    crate::server::pages::sign_in::login(email, password, next).await
}

/// Ends this browser's sign-in and session, then redirects (303) to `/login`.
#[server(prefix = "/_fn", endpoint = "logout")]
pub async fn logout(next: Option<String>) -> Result<(), ServerFnError> {
    crate::server::pages::sign_in::logout(next).await
}

/// `/login`: email and password, then home (or a local `next`).
#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let query = use_query_map();
    let logged_out = move || query.with(|q| q.get("logged_out").is_some());
    // Signed out by the server (another device, a password change, …): say why.
    let ended = move || {
        query.with(|q| {
            q.get("ended")
                .and_then(|r| crate::reasons::EndReason::parse(&r))
                .map(crate::reasons::EndReason::text)
        })
    };
    let registered = move || query.with(|q| q.get("registered").is_some());
    let next = move || query.with(|q| q.get("next").unwrap_or_default());
    let error = query_error();
    // Once shown, it tells this browser's other tabs of the logout (`crate::tabs::start`).
    view! {
        <AuthCard title="Sign in" subtitle="Welcome back. Sign in to see where you are signed in.">
            <Show when=move || logged_out() && ended().is_none()>
                <p class="banner banner-ok" role="status">"You have logged out."</p>
            </Show>
            {move || ended().map(|text| view! { <p class="banner banner-ok" role="status">{text}</p> })}
            <Show when=registered>
                <p class="banner banner-ok" role="status">"Your account is ready. Sign in to continue."</p>
            </Show>
            <ErrorBanner message=error/>
            <ActionForm action=action attr:class="form">
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="username" required/>
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required/>
                <input type="hidden" name="next" prop:value=next/>
                <button type="submit" class="button button-primary">"Sign in"</button>
            </ActionForm>
            <p class="alt">"New to Signoff? " <A href="/register">"Create an account"</A></p>
        </AuthCard>
    }
}

/// `/register`: creates an account, then sends the person to sign in.
#[component]
pub fn RegisterPage() -> impl IntoView {
    let action = ServerAction::<Register>::new();
    let error = query_error();
    view! {
        <AuthCard title="Create account" subtitle="One account for the app and every API client.">
            <ErrorBanner message=error/>
            <ActionForm action=action attr:class="form">
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="email" required/>
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="new-password"
                    required minlength="8" maxlength="1024" aria-describedby="password-help"/>
                <p id="password-help" class="help">"At least 8 characters."</p>
                <button type="submit" class="button button-primary">"Create account"</button>
            </ActionForm>
            <p class="alt">"Already have an account? " <A href="/login">"Sign in"</A></p>
        </AuthCard>
    }
}

/// **Log out**: a form posting to the `logout` server function (works without JavaScript).
#[component]
pub fn LogoutButton() -> impl IntoView {
    let action = ServerAction::<Logout>::new();
    view! {
        <ActionForm action=action attr:class="logout-form" attr:data-leaves="">
            <button type="submit" class="button button-secondary">"Log out"</button>
        </ActionForm>
    }
}
