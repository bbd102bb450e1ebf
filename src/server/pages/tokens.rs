//! Bodies of the `/tokens` server functions.

use leptos::prelude::ServerFnError;
use secrecy::ExposeSecret;

use super::{
    back_with_error, context, human_time, page_data, require_signed_in, see_other, unavailable,
};
use crate::{
    pages::{
        home::Me,
        tokens::{NewToken, TokenView, TokensData},
    },
    server::{domain::Authority, http::extract::client_meta},
};

/// Body of `pages::tokens::tokens_page`.
pub async fn tokens_page() -> Result<Option<TokensData>, ServerFnError> {
    let Some((state, user, signin)) = page_data().await? else {
        return Ok(None);
    };
    let tokens = state
        .auth
        .personal_tokens(&user.id)
        .await
        .map_err(unavailable)?;
    Ok(Some(TokensData {
        me: Me { email: user.email },
        tokens: tokens
            .into_iter()
            .map(|t| TokenView {
                id: t.id,
                name: t.name,
                created: human_time(t.created_at),
                last_used: t.last_used_at.map(human_time),
            })
            .collect(),
        new_token: state
            .reveal
            .take(&signin.id)
            .map(|(name, token)| NewToken { name, token }),
    }))
}

/// Body of `pages::tokens::create_token`. The clear text is kept in this server's memory only (never in the
/// database or the session store) until the `/tokens` page shows it, once.
pub async fn create_token(name: String) -> Result<(), ServerFnError> {
    let (state, _session, parts) = context().await?;
    let Some((user, signin)) = require_signed_in(&state).await? else {
        return Ok(());
    };
    match state
        .auth
        .create_personal_token(
            &user,
            &name,
            // Made only while the sign-in that asks is active ("Log out everywhere" may be running).
            &client_meta(&parts).authorised_by(Authority::Signin(signin.id.clone())),
        )
        .await
    {
        Ok(issued) => {
            let token = issued.token.expose_secret().to_owned();
            state.reveal.put(&signin.id, name.trim().to_owned(), token);
            see_other("/tokens");
        }
        Err(err) => {
            back_with_error("/tokens", &err);
        }
    }
    Ok(())
}

/// Body of `pages::tokens::revoke_token`: ends the token's sign-in if it is one of this user's personal tokens.
pub async fn revoke_token(id: String) -> Result<(), ServerFnError> {
    let (state, _session, _) = context().await?;
    let Some((user, _)) = require_signed_in(&state).await? else {
        return Ok(());
    };
    let revoked = state
        .auth
        .revoke_personal_token(&user.id, &id, "tokens page");
    match revoked.await {
        Ok(true) => see_other("/tokens?revoked=1"),
        Ok(false) => see_other("/tokens?error=gone"),
        Err(err) => back_with_error("/tokens", &err),
    }
    Ok(())
}
