//! `/sessions`: every place the user is signed in, each with **Log out**, **Log out of all other
//! sessions**, **Log out everywhere**, and the recent activity.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use super::{home::Me, query_error, ErrorBanner, OkBanner, SignedInPage};

/// One active sign-in on the `/sessions` page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// The sign-in id.
    pub id: String,
    /// "Browser session", "API token", "JWT client" or "Personal token “name”".
    pub what: String,
    /// Browser and OS from the user agent, e.g. "Chrome 120 on Linux".
    pub device: String,
    /// IP address at sign-in.
    pub ip: String,
    /// When it started.
    pub created: String,
    /// When it was last used.
    pub last_used: String,
    /// This browser's own sign-in.
    pub current: bool,
    /// The applications signed in through it (OpenID clients that received an ID token in it).
    pub apps: Vec<String>,
}

/// One audit event on the `/sessions` page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityView {
    /// When.
    pub at: String,
    /// What, in words ("Signed in", "Logged out", …).
    pub what: String,
    /// Details (scope, which page or API).
    pub detail: String,
}

/// A browser trusted for the account (it signed in to it before) on the `/sessions` page: a wrong
/// password from elsewhere never locks it out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedBrowserView {
    /// What identifies it to the server (the digest of its device cookie).
    pub id: String,
    /// Browser and OS from its user agent, e.g. "Chrome 120 on Linux".
    pub device: String,
    /// Its first sign-in to the account.
    pub since: String,
    /// Its latest.
    pub last_used: String,
    /// This browser.
    pub current: bool,
}

/// Everything the `/sessions` page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionsData {
    /// Who is signed in.
    pub me: Me,
    /// Every active sign-in of the user, this one included.
    pub sessions: Vec<SessionView>,
    /// The latest audit events.
    pub activity: Vec<ActivityView>,
    /// The browsers trusted for the account.
    pub browsers: Vec<TrustedBrowserView>,
}

/// The `/sessions` page's data, or `None` when signed out.
#[server(prefix = "/_fn", endpoint = "sessions_page")]
pub async fn sessions_page() -> Result<Option<SessionsData>, ServerFnError> {
    crate::server::pages::sessions::sessions_page().await
}

/// Ends one sign-in of the user (this browser's own: a full logout), then redirects.
#[server(prefix = "/_fn", endpoint = "end_session")]
pub async fn end_session(id: String) -> Result<(), ServerFnError> {
    crate::server::pages::sessions::end_session(id).await
}

/// Ends every other sign-in of the user; this browser stays signed in.
#[server(prefix = "/_fn", endpoint = "logout_others")]
pub async fn logout_others() -> Result<(), ServerFnError> {
    crate::server::pages::sessions::logout_others().await
}

/// Ends every sign-in of the user, this browser's included.
#[server(prefix = "/_fn", endpoint = "logout_everywhere")]
pub async fn logout_everywhere() -> Result<(), ServerFnError> {
    crate::server::pages::sessions::logout_everywhere().await
}

/// Forgets one trusted browser of the user, then redirects back.
#[server(prefix = "/_fn", endpoint = "forget_browser")]
pub async fn forget_browser(id: String) -> Result<(), ServerFnError> {
    crate::server::pages::sessions::forget_browser(id).await
}

/// `/sessions`: every place the user is signed in, each with **Log out**, plus **Log out of all
/// other sessions**, **Log out everywhere**, the recent activity, and the trusted browsers.
#[component]
pub fn SessionsPage() -> impl IntoView {
    let end = ServerAction::<EndSession>::new();
    let forget = ServerAction::<ForgetBrowser>::new();
    let others = ServerAction::<LogoutOthers>::new();
    let everywhere = ServerAction::<LogoutEverywhere>::new();
    // Each button is a form post, answered with a redirect to a new page.
    let data = Resource::new(|| (), |_| sessions_page());
    let query = use_query_map();
    let ended = move || {
        query.with(|q| match q.get("ended").as_deref() {
            Some("others") => {
                Some("You are signed out everywhere else. This browser stays signed in.")
            }
            Some(_) => Some("That session is signed out."),
            None => q
                .get("forgot")
                .map(|_| "That browser is forgotten: wrong passwords from its address count against it again."),
        })
    };
    let error = query_error();
    view! {
        <SignedInPage title="Sessions" data email=|page: &SessionsData| page.me.email.clone() page=move |page: SessionsData| {
                        let others_count = page.sessions.iter().filter(|s| !s.current).count();
                        view! {
                                <ErrorBanner message=error/>
                                <OkBanner message=ended/>
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
                                    <h2>"Trusted browsers"</h2>
                                    <p class="subtitle">
                                        "Browsers that signed in to your account before. Wrong passwords typed elsewhere never lock them out. Forget one you no longer use."
                                    </p>
                                    {if page.browsers.is_empty() {
                                        view! { <p class="empty">"No trusted browser."</p> }.into_any()
                                    } else {
                                        view! {
                                            <ul class="sessions">
                                                {page.browsers.into_iter().map(|b| view! { <BrowserRow browser=b forget/> }).collect_view()}
                                            </ul>
                                        }.into_any()
                                    }}
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
                        }
                        .into_any()
                }/>
    }
}

/// One sign-in on `/sessions`.
#[component]
pub fn SessionRow(session: SessionView, end: ServerAction<EndSession>) -> impl IntoView {
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
                {(!session.apps.is_empty()).then(|| view! {
                    <p class="session-apps" data-testid="session-apps">
                        "Applications signed in through it: " {session.apps.join(", ")}
                    </p>
                })}
            </div>
            <ActionForm action=end attr:data-leaves=session.current.then_some("")>
                <input type="hidden" name="id" value=session.id/>
                <button type="submit" class="button button-danger" aria-label=label>"Log out"</button>
            </ActionForm>
        </li>
    }
}

/// One trusted browser on `/sessions`.
#[component]
pub fn BrowserRow(
    browser: TrustedBrowserView,
    forget: ServerAction<ForgetBrowser>,
) -> impl IntoView {
    let label = format!("Forget {}", browser.device);
    view! {
        <li class="session" class:current=browser.current data-testid="trusted-browser">
            <div class="session-main">
                <p class="session-what">
                    {browser.device.clone()}
                    {browser.current.then(|| view! { <span class="badge">"This browser"</span> })}
                </p>
                <p class="session-meta">
                    "trusted since " {browser.since} " · last sign-in " {browser.last_used}
                </p>
            </div>
            <ActionForm action=forget>
                <input type="hidden" name="id" value=browser.id/>
                <button type="submit" class="button button-secondary" aria-label=label>"Forget"</button>
            </ActionForm>
        </li>
    }
}
