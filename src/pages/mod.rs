//! The pages, by feature. Each feature's module holds its page, its components, the types that
//! cross the wire and its server functions (`#[server]`: in the browser an HTTP call under `/_fn/`;
//! on the server one call into the body of the same name under `crate::server::pages`).
//!
//! Pages are rendered on the server only (Leptos islands): the browser's bundle holds just the
//! islands (`#[island]`: the idle warning, the new token's **Copy**) and the tab code
//! ([`crate::tabs`]). Every form is an `ActionForm` posting to a server function, which the browser
//! submits as a plain form, with JavaScript on or off; results come back as redirects whose query
//! (`?error=…`, `?logged_out=1`) the next page reads.

pub mod end_session;
pub mod home;
pub mod idle;
pub mod password;
pub mod reference;
pub mod sessions;
pub mod sign_in;
pub mod tokens;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, Link, Meta, MetaTags, Title};
use leptos_router::{
    components::{Redirect, Route, Router, Routes, A},
    hooks::use_query_map,
    path, SsrMode,
};

use self::{
    home::HomePage,
    idle::IdleWarning,
    password::PasswordPage,
    reference::ApiReferencePage,
    sessions::SessionsPage,
    sign_in::{LoginPage, LogoutButton, RegisterPage},
    tokens::TokensPage,
};

/// The HTML document around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                // Both by their hashed names (cargo-leptos `hash-files`): cached for a year. The
                // sign-in page carries the stylesheet inline instead (see `inline_stylesheet`).
                {match inline_stylesheet(&options) {
                    Some(css) => view! { <style id="leptos" inner_html=css></style> }.into_any(),
                    None => view! { <HashedStylesheet options=options.clone() id="leptos"/> }.into_any(),
                }}
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The stylesheet's text on the sign-in page, where a logout lands just after its
/// `Clear-Site-Data: "cache"` evicted the stylesheet: inline, the page paints without fetching it
/// again. Every other page links the cached file. (The CSP restricts scripts, not styles.)
fn inline_stylesheet(options: &LeptosOptions) -> Option<String> {
    #[cfg(feature = "ssr")]
    {
        let parts = use_context::<http::request::Parts>()?;
        if parts.uri.path() != "/login" {
            return None;
        }
        crate::server::http::assets::stylesheet(
            &options.site_root,
            &options.site_pkg_dir,
            &options.output_name,
        )
        .map(|css| css.to_string())
    }
    #[cfg(not(feature = "ssr"))]
    {
        let _ = options;
        None
    }
}

/// Sends the page's Content-Security-Policy: only the scripts carrying this response's nonce run
/// (leptos puts it on the hydration scripts), and what they load (`strict-dynamic`), including the
/// wasm bundle (`wasm-unsafe-eval` lets it compile); no plugins, no `<base>`, no framing.
#[cfg(feature = "ssr")]
fn content_security_policy() {
    let (Some(nonce), Some(res)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let policy = format!(
        "script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; object-src 'none'; \
         base-uri 'none'; frame-ancestors 'none'"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        res.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

/// The application: routes and the frame around them.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg"/>
        <Meta name="description" content="Signoff: sign in, and sign out for real."/>
        <Title formatter=|page: String| if page.is_empty() { "Signoff".to_owned() } else { format!("{page} · Signoff") }/>
        <Router>
            <Routes fallback=|| view! { <NotFound/> }>
                // Async: the whole page waits for its data, so it is complete without JavaScript.
                <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                <Route path=path!("/tokens") view=TokensPage ssr=SsrMode::Async/>
                <Route path=path!("/sessions") view=SessionsPage ssr=SsrMode::Async/>
                <Route path=path!("/account/password") view=PasswordPage ssr=SsrMode::Async/>
                <Route path=path!("/docs/api") view=ApiReferencePage ssr=SsrMode::Async/>
                <Route path=path!("/login") view=LoginPage/>
                <Route path=path!("/register") view=RegisterPage/>
                <Route path=path!("/logout") view=end_session::LogoutConfirmPage/>
                <Route path=path!("/authorize/error") view=end_session::AuthorizeErrorPage/>
            </Routes>
        </Router>
    }
}

/// The brand mark and name, linking home.
#[component]
pub fn Brand() -> impl IntoView {
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
pub fn AuthCard(title: &'static str, subtitle: &'static str, children: Children) -> impl IntoView {
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

/// What went wrong, as a page shows it. The server function sends the person back to the page
/// with `?error=<code>`, so the same message appears with JavaScript on or off; a code that is none
/// of these (the query is the visitor's to write) shows nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageError {
    /// Wrong email or password (never says which), or a credential that no longer works.
    Credentials,
    InvalidEmail,
    PasswordShort,
    PasswordLong,
    EmailTaken,
    TokenName,
    /// What was to be revoked or ended is gone already.
    Gone,
    /// The current password, on `/account/password`, is not right.
    CurrentPassword,
    Throttled,
    Unavailable,
    Internal,
}

impl PageError {
    /// Every error a page can show.
    pub const ALL: [PageError; 11] = [
        Self::Credentials,
        Self::InvalidEmail,
        Self::PasswordShort,
        Self::PasswordLong,
        Self::EmailTaken,
        Self::TokenName,
        Self::Gone,
        Self::CurrentPassword,
        Self::Throttled,
        Self::Unavailable,
        Self::Internal,
    ];

    /// Its `?error=` code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Credentials => "credentials",
            Self::InvalidEmail => "invalid_email",
            Self::PasswordShort => "password_short",
            Self::PasswordLong => "password_long",
            Self::EmailTaken => "email_taken",
            Self::TokenName => "token_name",
            Self::Gone => "gone",
            Self::CurrentPassword => "current_password",
            Self::Throttled => "throttled",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    /// The error a `?error=` code names, if any.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.code() == code)
    }

    /// What the page says.
    pub fn text(self) -> &'static str {
        match self {
            Self::Credentials => "Invalid email or password.",
            Self::InvalidEmail => "Enter a valid email address.",
            Self::PasswordShort => "The password must be at least 8 characters.",
            Self::PasswordLong => "The password must be at most 1024 characters.",
            Self::EmailTaken => "An account with this email already exists. Sign in instead.",
            Self::TokenName => "Give the token a name of 1 to 100 characters.",
            Self::Gone => "That was already revoked.",
            Self::CurrentPassword => "The current password is not right.",
            Self::Throttled => "Too many attempts. Wait a little, then try again.",
            Self::Unavailable | Self::Internal => {
                "Signoff is unavailable right now. Try again in a moment."
            }
        }
    }
}

/// The `?error=` message of the current page, if any.
fn query_error() -> impl Fn() -> Option<&'static str> + Copy {
    let query = use_query_map();
    move || {
        query.with(|q| {
            q.get("error")
                .and_then(|c| PageError::from_code(&c))
                .map(PageError::text)
        })
    }
}

/// What went wrong (`role="alert"`), while `message` says something.
#[component]
pub fn ErrorBanner(
    message: impl Fn() -> Option<&'static str> + Send + Sync + Copy + 'static,
) -> impl IntoView {
    view! {
        <Show when=move || message().is_some()>
            <p class="banner banner-error" role="alert">{message}</p>
        </Show>
    }
}

/// What went well (`role="status"`: "Password changed.", "You have logged out."), while `message`
/// says something.
#[component]
pub fn OkBanner<M>(message: impl Fn() -> Option<M> + Send + Sync + Copy + 'static) -> impl IntoView
where
    M: IntoView + 'static,
{
    view! {
        <Show when=move || message().is_some()>
            <p class="banner banner-ok" role="status">{message}</p>
        </Show>
    }
}

/// The navigation bar, from [`crate::routes::PAGES`]. The API reference is a plain link: it is
/// loaded as a whole page.
#[component]
pub fn Nav() -> impl IntoView {
    let links = crate::routes::PAGES
        .iter()
        .filter_map(|page| Some((page.path, page.nav?)))
        .map(|(path, label)| {
            if path == crate::routes::API_REFERENCE {
                let current = leptos_router::hooks::use_location().pathname.get_untracked() == path;
                view! { <a href=path rel="external" aria-current=current.then_some("page")>{label}</a> }
                    .into_any()
            } else {
                view! { <A href=path exact=true>{label}</A> }.into_any()
            }
        })
        .collect_view();
    view! { <nav class="app-nav" aria-label="Main">{links}</nav> }
}

/// The frame of every signed-in page: brand, navigation, who is signed in, and **Log out**.
#[component]
fn SignedInLayout(email: String, children: Children) -> impl IntoView {
    view! {
        // `data-signed-in`: the page follows its sign-in live (`crate::tabs`): when it ends
        // anywhere, the page goes to /login.
        <div class="app-layout" data-signed-in="">
            <header class="app-header">
                <Brand/>
                <Nav/>
                <div class="who">
                    <span class="who-email" data-testid="header-email">{email}</span>
                    <LogoutButton/>
                </div>
            </header>
            <main class="content">{children()}</main>
            <IdleWarning/>
        </div>
    }
}

/// Every signed-in page: its title, then, once `data` has loaded, the page in the signed-in frame,
/// a redirect to `/login` (signed out), or the "unavailable" notice. The whole page waits for its
/// data (its route is `SsrMode::Async`), so it is complete without JavaScript.
#[component]
pub fn SignedInPage<T, P>(
    title: &'static str,
    data: Resource<Result<Option<T>, ServerFnError>>,
    /// The signed-in user's email, for the header.
    email: fn(&T) -> String,
    page: P,
) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    P: Fn(T) -> AnyView + Clone + Send + Sync + 'static,
{
    view! {
        <Title text=title/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let page = page.clone();
                Suspend::new(async move {
                    match data.await {
                        Ok(Some(data)) => {
                            let email = email(&data);
                            view! { <SignedInLayout email>{page(data)}</SignedInLayout> }.into_any()
                        }
                        Ok(None) => view! { <Redirect path="/login"/> }.into_any(),
                        Err(_) => view! { <Unavailable/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// What a page shows when its data could not be loaded.
#[component]
pub fn Unavailable() -> impl IntoView {
    view! {
        <div class="app-layout">
            <main class="content">
                <p class="banner banner-error" role="alert">
                    "Signoff is unavailable right now. Try again in a moment."
                </p>
            </main>
        </div>
    }
}

/// Any unknown path.
#[component]
pub fn NotFound() -> impl IntoView {
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

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn the_router_serves_exactly_the_pages_of_the_route_table() {
        let mut routed: Vec<String> = leptos_axum::generate_route_list(App)
            .iter()
            .map(|route| route.path().to_owned())
            .collect();
        routed.sort();
        routed.dedup();
        let mut table: Vec<String> = crate::routes::PAGES
            .iter()
            .map(|page| page.path.to_owned())
            .collect();
        table.sort();
        assert_eq!(routed, table);
    }
}
