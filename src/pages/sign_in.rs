//! `/login` and `/register`, and the **Log out** every signed-in page carries.

use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_query_map};

use super::{query_error, AuthCard, ErrorBanner, OkBanner};

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
    // Signed out by the server (another device, a password change, …): why; else a plain logout.
    let signed_out = move || {
        query.with(|q| {
            q.get("ended")
                .and_then(|r| crate::reasons::EndReason::parse(&r))
                .map(crate::reasons::EndReason::text)
                .or_else(|| {
                    q.get("logged_out")
                        .map(|_| crate::reasons::EndReason::Logout.text())
                })
        })
    };
    let registered = move || {
        query.with(|q| {
            q.get("registered")
                .map(|_| "Your account is ready. Sign in to continue.")
        })
    };
    // Sent by an application that wants the person to confirm who they are (OpenID `prompt=login`
    // or `max_age`): signing in as the same person keeps the sign-in.
    let reauth = move || {
        query.with(|q| {
            q.get("reauth").map(|_| {
                "An application asks you to confirm it is you. Enter your password again to continue; \
                 you stay signed in everywhere else."
            })
        })
    };
    let next = move || query.with(|q| q.get("next").unwrap_or_default());
    let error = query_error();
    // Once shown, it tells this browser's other tabs of the logout (`crate::tabs::start`).
    view! {
        <AuthCard title="Sign in" subtitle="Welcome back. Sign in to see where you are signed in.">
            <OkBanner message=signed_out/>
            <OkBanner message=registered/>
            <OkBanner message=reauth/>
            <ErrorBanner message=error/>
            <ActionForm action=action attr:class="form">
                <CredentialFields new_account=false/>
                <input type="hidden" name="next" value=next/>
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
                <CredentialFields new_account=true/>
                <button type="submit" class="button button-primary">"Create account"</button>
            </ActionForm>
            <p class="alt">"Already have an account? " <A href="/login">"Sign in"</A></p>
        </AuthCard>
    }
}

/// The email and password fields of the sign-in form, or (`new_account`) of the registration
/// form, where the password is a new one of 8 to 1024 characters.
#[component]
fn CredentialFields(new_account: bool) -> impl IntoView {
    let (email, password) = if new_account {
        ("email", "new-password")
    } else {
        ("username", "current-password")
    };
    let new = move |value: &'static str| new_account.then_some(value);
    view! {
        <label for="email">"Email"</label>
        <input id="email" name="email" type="email" autocomplete=email required/>
        <label for="password">"Password"</label>
        <input id="password" name="password" type="password" autocomplete=password required
            minlength=new("8") maxlength=new("1024") aria-describedby=new("password-help")/>
        {new_account.then(|| view! { <p id="password-help" class="help">"At least 8 characters."</p> })}
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
