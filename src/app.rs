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

use crate::auth::{
    sessions_page, tokens_page, whoami, ChangePassword, CreateToken, EndSession, Login, Logout,
    LogoutEverywhere, LogoutOthers, NewToken, Register, RevokeToken, SessionView, TokenView,
};

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
        crate::tabs::follow_logouts();
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
                <Route path=path!("/tokens") view=TokensPage ssr=SsrMode::Async/>
                <Route path=path!("/sessions") view=SessionsPage ssr=SsrMode::Async/>
                <Route path=path!("/account/password") view=PasswordPage ssr=SsrMode::Async/>
                <Route path=path!("/docs/api") view=ApiReferencePage ssr=SsrMode::Async/>
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
        "current_password" => "The current password is not right.",
        "throttled" => "Too many attempts. Wait a little, then try again.",
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
    // Signed out by the server (another device, a password change, …): say why.
    let ended = move || {
        query.with(|q| {
            q.get("ended")
                .and_then(|r| crate::auth::end_reason_text(&r))
        })
    };
    let registered = move || query.with(|q| q.get("registered").is_some());
    let next = move || query.with(|q| q.get("next").unwrap_or_default());
    let error = query_error();
    // Now that this browser's sign-in has ended on the server, the other tabs may follow.
    Effect::new(move |_| {
        if logged_out() || ended().is_some() {
            crate::tabs::announce_logout();
        }
    });
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

/// The frame of every signed-in page: brand, navigation, who is signed in, and **Log out**.
#[component]
fn SignedInLayout(email: String, children: Children) -> impl IntoView {
    // The page follows its sign-in live: when it ends anywhere, the page goes to /login.
    Effect::new(|_| crate::tabs::listen());
    view! {
        <div class="app-layout">
            <header class="app-header">
                <Brand/>
                <nav class="app-nav" aria-label="Main">
                    <A href="/" exact=true>"Home"</A>
                    <A href="/sessions">"Sessions"</A>
                    <A href="/tokens">"Tokens"</A>
                    <A href="/account/password">"Password"</A>
                    <a href="/docs/api" rel="external">"API reference"</a>
                </nav>
                <div class="who">
                    <span class="who-email" data-testid="header-email">{email}</span>
                    <LogoutButton/>
                </div>
            </header>
            <main class="content">{children()}</main>
            <crate::idle::IdleWarning/>
        </div>
    }
}

/// A signed-in page's data decides what it shows: the page, a redirect to `/login` (signed out), or
/// the "unavailable" notice.
fn signed_in_page<T>(
    data: Result<Option<T>, ServerFnError>,
    page: impl FnOnce(T) -> AnyView,
) -> AnyView {
    match data {
        Ok(Some(data)) => page(data),
        Ok(None) => view! { <Redirect path="/login"/> }.into_any(),
        Err(_) => view! { <Unavailable/> }.into_any(),
    }
}

/// What a page shows when its data could not be loaded.
#[component]
fn Unavailable() -> impl IntoView {
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

/// `/`: who is signed in, and the way out.
#[component]
fn HomePage() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    let error = query_error();
    view! {
        <Title text="Home"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                signed_in_page(me.await, |me| view! {
                        <SignedInLayout email=me.email.clone()>
                            <ErrorBanner message=error/>
                            <section class="card wide">
                                <p class="eyebrow">"Signed in"</p>
                                <h1>"Hello, " <span class="email">{me.email}</span></h1>
                                <p>
                                    "This browser is signed in. When you log out, the sign-in ends on the server: "
                                    "its cookie stops working everywhere, your other open tabs go to the sign-in page "
                                    "at once, and Back shows nothing private."
                                </p>
                                <p>
                                    "Scripts and API clients sign in with tokens. "
                                    <A href="/tokens">"Create a personal token"</A>
                                    ", or see the "<a href="/docs/api" rel="external">"API reference"</a>"."
                                </p>
                            </section>
                        </SignedInLayout>
                    }.into_any())
            })}
        </Suspense>
    }
}

/// `/tokens`: named personal tokens: create (shown once), see when each was last used, revoke.
#[component]
fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    // Loaded again after each create or revoke (with JavaScript; without, each is a new page).
    let data = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| tokens_page(),
    );
    let query = use_query_map();
    let revoked = move || query.with(|q| q.get("revoked").is_some());
    let error = query_error();
    view! {
        <Title text="Tokens"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                signed_in_page(data.await, |page| view! {
                        <SignedInLayout email=page.me.email.clone()>
                            <ErrorBanner message=error/>
                            <Show when=revoked>
                                <p class="banner banner-ok" role="status">"Token revoked. It no longer works anywhere."</p>
                            </Show>
                            {page.new_token.clone().map(|t| view! { <NewTokenBox token=t/> })}
                            <section class="card wide">
                                <h1>"Personal tokens"</h1>
                                <p class="subtitle">
                                    "A personal token signs a script or API client in as you, with "
                                    <code>"Authorization: Bearer …"</code>
                                    ". It never expires; revoke it when you no longer need it."
                                </p>
                                <ActionForm action=create attr:class="form inline-form">
                                    <label for="token-name">"Token name"</label>
                                    <div class="inline-row">
                                        <input id="token-name" name="name" type="text" required maxlength="100"
                                            placeholder="e.g. Deploy script" autocomplete="off"/>
                                        <button type="submit" class="button button-primary">"Create token"</button>
                                    </div>
                                </ActionForm>
                                <TokenList tokens=page.tokens revoke/>
                            </section>
                        </SignedInLayout>
                    }.into_any())
            })}
        </Suspense>
    }
}

/// `/sessions`: every place the user is signed in, each with **Log out**, plus **Log out of all
/// other sessions**, **Log out everywhere**, and the recent activity.
#[component]
fn SessionsPage() -> impl IntoView {
    let end = ServerAction::<EndSession>::new();
    let others = ServerAction::<LogoutOthers>::new();
    let everywhere = ServerAction::<LogoutEverywhere>::new();
    let data = Resource::new(
        move || (end.version().get(), others.version().get()),
        |_| sessions_page(),
    );
    let query = use_query_map();
    let ended = move || {
        query.with(|q| match q.get("ended").as_deref() {
            Some("others") => {
                Some("You are signed out everywhere else. This browser stays signed in.")
            }
            Some(_) => Some("That session is signed out."),
            None => None,
        })
    };
    let error = query_error();
    view! {
        <Title text="Sessions"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                signed_in_page(data.await, |page| {
                        let others_count = page.sessions.iter().filter(|s| !s.current).count();
                        view! {
                            <SignedInLayout email=page.me.email.clone()>
                                <ErrorBanner message=error/>
                                <Show when=move || ended().is_some()>
                                    <p class="banner banner-ok" role="status">{ended}</p>
                                </Show>
                                <section class="card wide">
                                    <h1>"Where you're signed in"</h1>
                                    <p class="subtitle">
                                        "Every browser, API token and app signed in as you. Log out of any you do not recognise."
                                    </p>
                                    <ul class="sessions">
                                        {page.sessions.into_iter().map(|s| view! { <SessionRow session=s end/> }).collect_view()}
                                    </ul>
                                    <div class="bulk-actions">
                                        <ActionForm action=others>
                                            <button type="submit" class="button button-secondary" disabled=others_count == 0>
                                                "Log out of all other sessions"
                                            </button>
                                        </ActionForm>
                                        <ActionForm action=everywhere attr:data-leaves="">
                                            <button type="submit" class="button button-danger-solid">"Log out everywhere"</button>
                                        </ActionForm>
                                    </div>
                                </section>
                                <section class="card wide">
                                    <h2>"Recent activity"</h2>
                                    <ol class="activity">
                                        {page.activity.into_iter().map(|a| view! {
                                            <li>
                                                <span class="activity-what">{a.what}</span>
                                                <span class="activity-detail">{a.detail}</span>
                                                <time class="activity-at">{a.at}</time>
                                            </li>
                                        }).collect_view()}
                                    </ol>
                                </section>
                            </SignedInLayout>
                        }
                        .into_any()
                })
            })}
        </Suspense>
    }
}

/// One sign-in on `/sessions`.
#[component]
fn SessionRow(session: SessionView, end: ServerAction<EndSession>) -> impl IntoView {
    let label = if session.current {
        "Log out this device".to_owned()
    } else {
        format!("Log out {} ({})", session.what, session.device)
    };
    view! {
        <li class="session" class:current=session.current data-testid="session">
            <div class="session-main">
                <p class="session-what">
                    {session.what.clone()}
                    {session.current.then(|| view! { <span class="badge">"This device"</span> })}
                </p>
                <p class="session-meta">
                    {session.device} " · " {session.ip} " · signed in " {session.created} " · last active " {session.last_used}
                </p>
            </div>
            <ActionForm action=end attr:data-leaves=session.current.then_some("")>
                <input type="hidden" name="id" value=session.id/>
                <button type="submit" class="button button-danger" aria-label=label>"Log out"</button>
            </ActionForm>
        </li>
    }
}

/// `/account/password`: change the password; by default every other sign-in ends.
#[component]
fn PasswordPage() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    let action = ServerAction::<ChangePassword>::new();
    let query = use_query_map();
    let changed = move || {
        query.with(|q| {
            q.get("changed").map(|n| match n.as_str() {
                "0" => "Password changed.".to_owned(),
                "1" => "Password changed. 1 other sign-in was ended.".to_owned(),
                n => format!("Password changed. {n} other sign-ins were ended."),
            })
        })
    };
    let error = query_error();
    view! {
        <Title text="Password"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                signed_in_page(me.await, |me| view! {
                        <SignedInLayout email=me.email>
                            <ErrorBanner message=error/>
                            <Show when=move || changed().is_some()>
                                <p class="banner banner-ok" role="status">{changed}</p>
                            </Show>
                            <section class="card">
                                <h1>"Change password"</h1>
                                <p class="subtitle">"You need your current password to set a new one."</p>
                                <ActionForm action=action attr:class="form">
                                    <label for="current-password">"Current password"</label>
                                    <input id="current-password" name="current_password" type="password"
                                        autocomplete="current-password" required/>
                                    <label for="new-password">"New password"</label>
                                    <input id="new-password" name="new_password" type="password"
                                        autocomplete="new-password" required minlength="8" maxlength="1024"/>
                                    <p class="help">"At least 8 characters."</p>
                                    <label class="check">
                                        <input type="checkbox" name="sign_out_others" value="on" checked/>
                                        "Sign out of all other sessions"
                                    </label>
                                    <button type="submit" class="button button-primary">"Change password"</button>
                                </ActionForm>
                            </section>
                        </SignedInLayout>
                    }.into_any())
            })}
        </Suspense>
    }
}

/// The token just created, shown once, with a copy button (JavaScript) and selectable text.
#[component]
fn NewTokenBox(token: NewToken) -> impl IntoView {
    let (copied, set_copied) = signal(None::<&'static str>);
    let text = token.token.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let text = text.clone();
            leptos::task::spawn_local(async move {
                let clipboard = window().navigator().clipboard();
                let done = wasm_bindgen_futures::JsFuture::from(clipboard.write_text(&text)).await;
                set_copied.set(Some(if done.is_ok() {
                    "Copied."
                } else {
                    "Select the token and copy it."
                }));
            });
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = (&text, set_copied);
        }
    };
    view! {
        <section class="card wide new-token" aria-labelledby="new-token-title">
            <h2 id="new-token-title">"Your new token “" {token.name} "”"</h2>
            <p role="status">"Copy it now: this is the only time it is shown."</p>
            <div class="inline-row">
                <input id="new-token" class="token-text" type="text" readonly aria-label="New token"
                    value=token.token.clone()/>
                <button type="button" class="button button-secondary" on:click=copy>"Copy"</button>
            </div>
            <p class="help" aria-live="polite">{move || copied.get()}</p>
        </section>
    }
}

/// The active personal tokens, each with **Revoke**.
#[component]
fn TokenList(tokens: Vec<TokenView>, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    if tokens.is_empty() {
        return view! { <p class="empty">"No personal tokens yet."</p> }.into_any();
    }
    view! {
        <table class="list">
            <thead><tr><th scope="col">"Name"</th><th scope="col">"Created"</th><th scope="col">"Last used"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
            <tbody>
                {tokens.into_iter().map(|t| view! { <TokenRow token=t revoke/> }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn TokenRow(token: TokenView, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    let label = format!("Revoke {}", token.name);
    view! {
        <tr>
            <td class="strong">{token.name.clone()}</td>
            <td>{token.created}</td>
            <td>{token.last_used.unwrap_or_else(|| "Never".to_owned())}</td>
            <td class="actions">
                <ActionForm action=revoke>
                    <input type="hidden" name="id" value=token.id/>
                    <button type="submit" class="button button-danger" aria-label=label>"Revoke"</button>
                </ActionForm>
            </td>
        </tr>
    }
}

/// `/docs/api`: a readable reference of every JSON endpoint, from the OpenAPI document.
#[component]
fn ApiReferencePage() -> impl IntoView {
    let endpoints = Resource::new(|| (), |_| crate::reference::api_reference());
    view! {
        <Title text="API reference"/>
        <div class="app-layout">
            <header class="app-header">
                <Brand/>
                <nav class="app-nav" aria-label="Main">
                    <A href="/">"Home"</A>
                    <A href="/sessions">"Sessions"</A>
                    <A href="/tokens">"Tokens"</A>
                    <a href="/docs/api" aria-current="page">"API reference"</a>
                </nav>
            </header>
            <main class="content reference">
                <section class="card wide">
                    <h1>"API reference"</h1>
                    <p>
                        "Signoff speaks five published logout APIs over one account system: a token from any "
                        "login works with every dialect's logout, and once any logout succeeds the credential "
                        "is refused everywhere. Send tokens as " <code>"Authorization: Bearer <token>"</code>
                        ". Every 401 carries " <code>"WWW-Authenticate: Bearer error=\"invalid_token\""</code>
                        "; every 503 carries " <code>"Retry-After"</code> "."
                    </p>
                    <p>
                        "Machine-readable: " <a href="/api/openapi.json" rel="external">"OpenAPI 3.1 document"</a> "."
                    </p>
                </section>
                <section class="card wide" aria-labelledby="clients-title">
                    <h2 id="clients-title">"Client libraries (seed 003)"</h2>
                    <p>
                        "Each has " <code>"login()"</code> " and " <code>"logout()"</code> ", returning the user, the token, "
                        "the status and the status text. " <code>"logout()"</code>
                        " calls " <code>"POST /auth/logout"</code> " and always clears the saved token."
                    </p>
                    <ul class="clients">
                        <li>
                            <strong>"JavaScript"</strong> " (browsers, Node 20+): "
                            <a href="/clients/signoff.js" rel="external">"signoff.js"</a> " with "
                            <a href="/clients/signoff.d.ts" rel="external">"TypeScript types"</a> "; "
                            <code>"import { SignoffClient } from \"/clients/signoff.js\""</code>
                            ". In a browser the token is kept in " <code>"localStorage"</code> " under " <code>"signoff.token"</code> "."
                        </li>
                        <li><strong>"Go"</strong> ": package " <code>"signoff"</code> " in " <code>"clients/go"</code> " of the repository (standard library only)."</li>
                        <li><strong>"PHP"</strong> ": class " <code>"Signoff\\Client"</code> " in " <code>"clients/php"</code> " of the repository (curl, no Composer needed)."</li>
                    </ul>
                </section>
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        endpoints.await.unwrap_or_default().into_iter().map(|e| view! {
                            <section class="card wide endpoint">
                                <p class="eyebrow">{e.tag}</p>
                                <h2><span class="method">{e.method}</span> " " <code>{e.path}</code></h2>
                                <p>{e.summary}</p>
                                {(!e.description.is_empty()).then(|| view! { <p class="help">{e.description}</p> })}
                                <table class="list">
                                    <thead><tr><th scope="col">"Status"</th><th scope="col">"Meaning"</th></tr></thead>
                                    <tbody>
                                        {e.responses.into_iter().map(|(code, what)| view! {
                                            <tr><td class="strong">{code}</td><td>{what}</td></tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </section>
                        }).collect_view()
                    })}
                </Suspense>
            </main>
        </div>
    }
}

/// **Log out**: a form posting to the `logout` server function (works without JavaScript).
#[component]
fn LogoutButton() -> impl IntoView {
    let action = ServerAction::<Logout>::new();
    view! {
        <ActionForm action=action attr:class="logout-form" attr:data-leaves="">
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
