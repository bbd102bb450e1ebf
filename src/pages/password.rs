//! `/account/password`: change the password; by default every other sign-in ends.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{
    home::{whoami, Me},
    query_error, ErrorBanner, OkBanner, SignedInPage,
};

/// Changes the password (the current one required); by default ends every other sign-in.
#[server(prefix = "/_fn", endpoint = "change_password")]
pub async fn change_password(
    current_password: String,
    new_password: String,
    sign_out_others: Option<String>,
) -> Result<(), ServerFnError> {
    crate::server::pages::password::change_password(
        current_password,
        new_password,
        sign_out_others.is_some(),
    )
    .await
}

/// `/account/password`: change the password; by default every other sign-in ends.
#[component]
pub fn PasswordPage() -> impl IntoView {
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
        <SignedInPage title="Password" data=me email=|me: &Me| me.email.clone() page=move |_: Me| view! {
                            <ErrorBanner message=error/>
                            <OkBanner message=changed/>
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
                    }.into_any()/>
    }
}
