//! `/docs/api`: a readable reference of every JSON endpoint, from the OpenAPI document the server
//! generates, so the page and `/api/openapi.json` never disagree.

use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

use super::{Brand, Nav};

/// One endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path.
    pub path: String,
    /// The dialect's tag.
    pub tag: String,
    /// One line on what it does.
    pub summary: String,
    /// Longer notes, if any.
    pub description: String,
    /// `(status, what it means)`, in order.
    pub responses: Vec<(String, String)>,
}

/// Every JSON endpoint, in the document's order.
#[server(prefix = "/_fn", endpoint = "api_reference")]
pub async fn api_reference() -> Result<Vec<Endpoint>, ServerFnError> {
    crate::server::pages::reference::api_reference().await
}

/// `/docs/api`: a readable reference of every JSON endpoint, from the OpenAPI document.
#[component]
pub fn ApiReferencePage() -> impl IntoView {
    let endpoints = Resource::new(|| (), |_| api_reference());
    view! {
        <Title text="API reference"/>
        <div class="app-layout">
            <header class="app-header">
                <Brand/>
                <Nav/>
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
