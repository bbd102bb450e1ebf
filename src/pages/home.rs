//! `/`: who is signed in, and the way out.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::{query_error, ErrorBanner, SignedInPage};
use leptos_router::components::A;

/// What a signed-in page may show about its user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// The account's email.
    pub email: String,
}

/// The signed-in user, or `None`.
#[server(prefix = "/_fn", endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Me>, ServerFnError> {
    crate::server::pages::home::whoami().await
}

/// `/`: who is signed in, and the way out.
#[component]
pub fn HomePage() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());
    let error = query_error();
    view! {
        <SignedInPage title="Home" data=me email=|me: &Me| me.email.clone() page=move |me: Me| view! {
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
                    }.into_any()/>
    }
}
