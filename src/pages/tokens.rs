//! `/tokens`: named personal tokens: create (shown once), see when each was last used, revoke.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use super::{home::Me, query_error, ErrorBanner, OkBanner, SignedInPage};

/// A personal token as the `/tokens` page lists it (never its text).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    /// Its sign-in id, used to revoke it.
    pub id: String,
    /// The name its owner gave it.
    pub name: String,
    /// When it was created, formatted for people (UTC).
    pub created: String,
    /// When it was last used, formatted, or `None` if never.
    pub last_used: Option<String>,
}

/// A token just created: the only time its text is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewToken {
    /// The name given.
    pub name: String,
    /// The clear text (`so_pat_…`).
    pub token: String,
}

/// Everything the `/tokens` page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokensData {
    /// Who is signed in.
    pub me: Me,
    /// The active personal tokens, newest first.
    pub tokens: Vec<TokenView>,
    /// A token created a moment ago, shown once.
    pub new_token: Option<NewToken>,
}

/// The `/tokens` page's data, or `None` when signed out. Reading it consumes a just-created token.
#[server(prefix = "/_fn", endpoint = "tokens_page")]
pub async fn tokens_page() -> Result<Option<TokensData>, ServerFnError> {
    crate::server::pages::tokens::tokens_page().await
}

/// Creates a named personal token, then redirects to `/tokens`, which shows it once.
#[server(prefix = "/_fn", endpoint = "create_token")]
pub async fn create_token(name: String) -> Result<(), ServerFnError> {
    crate::server::pages::tokens::create_token(name).await
}

/// Revokes one of the user's personal tokens, then redirects to `/tokens`.
#[server(prefix = "/_fn", endpoint = "revoke_token")]
pub async fn revoke_token(id: String) -> Result<(), ServerFnError> {
    crate::server::pages::tokens::revoke_token(id).await
}

/// `/tokens`: named personal tokens: create (shown once), see when each was last used, revoke.
#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    // Each create or revoke is a form post, answered with a redirect to a new page.
    let data = Resource::new(|| (), |_| tokens_page());
    let query = use_query_map();
    let revoked = move || {
        query.with(|q| {
            q.get("revoked")
                .map(|_| "Token revoked. It no longer works anywhere.")
        })
    };
    let error = query_error();
    view! {
        <SignedInPage title="Tokens" data email=|page: &TokensData| page.me.email.clone() page=move |page: TokensData| view! {
                            <ErrorBanner message=error/>
                            <OkBanner message=revoked/>
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
                    }.into_any()/>
    }
}

/// The token just created, shown once, with a copy button (JavaScript: an island) and selectable
/// text.
#[island]
pub fn NewTokenBox(token: NewToken) -> impl IntoView {
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
pub fn TokenList(tokens: Vec<TokenView>, revoke: ServerAction<RevokeToken>) -> impl IntoView {
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
pub fn TokenRow(token: TokenView, revoke: ServerAction<RevokeToken>) -> impl IntoView {
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
