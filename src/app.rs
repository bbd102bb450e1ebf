//! The pages. Compiled for the server (rendering) and the browser (hydration).
//!
//! Every form is an `ActionForm` posting to a server function, so each page works with JavaScript
//! off; results come back as redirects whose query (`?error=…`, `?logged_out=1`) the page reads, so
//! both paths show the same messages.

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, Meta, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Redirect, Route, Router, Routes, A},
    hooks::use_query_map,
    path, SsrMode,
};

use crate::auth::{whoami, Login, Logout, Register};

/// The HTML document around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application: routes and the frame around them.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Marks the page once hydrated: browser tests wait for it before clicking.
    Effect::new(move |_| {
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/signoff.css"/>
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg"/>
        <Meta name="description" content="Signoff: sign in, and sign out for real."/>
        <Title formatter=|page: String| if page.is_empty() { "Signoff".to_owned() } else { format!("{page} · Signoff") }/>
        <Router>
            <Routes fallback=|| view! { <NotFound/> }>
                // Async: the whole page waits for its data, so it is complete without JavaScript.
                <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                <Route path=path!("/login") view=LoginPage/>
                <Route path=path!("/register") view=RegisterPage/>
            </Routes>
        </Router>
    }
}

/// The brand mark and name, linking home.
#[component]
fn Brand() -> impl IntoView {
    view! {
        <A href="/" attr:class="brand">
            <svg class="brand-mark" viewBox="0 0 64 64" aria-hidden="true">
                <rect width="64" height="64" rx="14" fill="currentColor"/>
                <path d="M32 14v18" stroke="#fff" stroke-width="6" stroke-linecap="round"/>
                <path d="M21 21a16 16 0 1 0 22 0" fill="none" stroke="#fff" stroke-width="6" stroke-linecap="round"/>
            </svg>
            <span class="brand-name">"Signoff"</span>
        </A>
    }
}

/// A centred card for the signed-out pages.
#[component]
fn AuthCard(title: &'static str, subtitle: &'static str, children: Children) -> impl IntoView {
    view! {
        <Title text=title/>
        <div class="auth-layout">
            <header class="auth-header"><Brand/></header>
            <main class="card">
                <h1>{title}</h1>
                <p class="subtitle">{subtitle}</p>
                {children()}
            </main>
            <footer class="auth-footer">"Sign in on any device. Sign out, and it is really over."</footer>
        </div>
    }
}

/// The text for an `?error=` code; unknown codes show nothing (the query is user-controlled).
fn error_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "credentials" => "Invalid email or password.",
        "invalid_email" => "Enter a valid email address.",
        "password_short" => "The password must be at least 8 characters.",
        "password_long" => "The password must be at most 1024 characters.",
        "email_taken" => "An account with this email already exists. Sign in instead.",
        "token_name" => "Give the token a name of 1 to 100 characters.",
        "gone" => "That was already revoked.",
        "unavailable" | "internal" => "Signoff is unavailable right now. Try again in a moment.",
        _ => return None,
    })
}

/// The `?error=` message of the current page, if any.
fn query_error() -> impl Fn() -> Option<&'static str> + Copy {
    let query = use_query_map();
    move || query.with(|q| q.get("error").and_then(|c| error_text(&c)))
}

#[component]
fn ErrorBanner(
    message: impl Fn() -> Option<&'static str> + Send + Sync + Copy + 'static,
) -> impl IntoView {
    view! {
        <Show when=move || message().is_some()>
            <p class="banner banner-error" role="alert">{message}</p>
        </Show>
    }
}

/// `/login`: email and password, then home (or a local `next`).
#[component]
fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let query = use_query_map();
    let logged_out = move || query.with(|q| q.get("logged_out").is_some());
    let registered = move || query.with(|q| q.get("registered").is_some());
    let next = move || query.with(|q| q.get("next").unwrap_or_default());
    let error = query_error();
    view! {
        <AuthCard title="Sign in" subtitle="Welcome back. Sign in to see where you are signed in.">
            <Show when=logged_out>
                <p class="banner banner-ok" role="status">"You have logged out."</p>
            </Show>
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
fn RegisterPage() -> impl IntoView {
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

/// `/`: who is signed in, and the way out.
#[component]
fn HomePage() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    let error = query_error();
    view! {
        <Title text="Home"/>
        <Suspense fallback=|| view! { <div class="app-layout"><p class="loading">"Loading…"</p></div> }>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(me)) => {
                        view! {
                            <div class="app-layout">
                                <header class="app-header">
                                    <Brand/>
                                    <div class="who">
                                        <span class="who-email" data-testid="header-email">{me.email.clone()}</span>
                                        <LogoutButton/>
                                    </div>
                                </header>
                                <main class="content">
                                    <ErrorBanner message=error/>
                                    <section class="card wide">
                                        <p class="eyebrow">"Signed in"</p>
                                        <h1>"Hello, " <span class="email">{me.email}</span></h1>
                                        <p>
                                            "This browser is signed in. When you log out, the sign-in ends on the server: "
                                            "its cookie stops working everywhere, other tabs are signed out at their next "
                                            "request, and Back shows nothing private."
                                        </p>
                                    </section>
                                </main>
                            </div>
                        }
                        .into_any()
                    }
                    Ok(None) => view! { <Redirect path="/login"/> }.into_any(),
                    Err(_) => {
                        view! {
                            <div class="app-layout">
                                <main class="content">
                                    <p class="banner banner-error" role="alert">
                                        "Signoff is unavailable right now. Try again in a moment."
                                    </p>
                                </main>
                            </div>
                        }
                        .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// **Log out**: a form posting to the `logout` server function (works without JavaScript).
#[component]
fn LogoutButton() -> impl IntoView {
    let action = ServerAction::<Logout>::new();
    view! {
        <ActionForm action=action attr:class="logout-form">
            <button type="submit" class="button button-secondary">"Log out"</button>
        </ActionForm>
    }
}

/// Any unknown path.
#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <AuthCard title="Page not found" subtitle="There is nothing at this address.">
            <p class="alt"><A href="/">"Go to Signoff"</A></p>
        </AuthCard>
    }
}
