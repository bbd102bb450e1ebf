//! Body of the password change.

use leptos::prelude::ServerFnError;
use secrecy::SecretString;

use super::{back_with_error, context, require_signed_in, see_other, with_query};
use crate::{
    pages::PageError,
    server::{domain::AuthError, http::extract::client_meta},
};

/// Body of `pages::password::change_password`.
pub async fn change_password(
    current: String,
    new: String,
    end_others: bool,
) -> Result<(), ServerFnError> {
    let (state, _session, parts) = context().await?;
    let Some((user, signin)) = require_signed_in(&state).await? else {
        return Ok(());
    };
    let meta = client_meta(&parts);
    let result = state
        .auth
        .change_password(
            &user,
            &signin.id,
            SecretString::from(current),
            SecretString::from(new),
            end_others,
            &meta,
        )
        .await;
    match result {
        Ok(n) => see_other(&with_query(
            "/account/password",
            &[("changed", &n.to_string())],
        )),
        Err(AuthError::InvalidCredentials) => see_other(&with_query(
            "/account/password",
            &[("error", PageError::CurrentPassword.code())],
        )),
        Err(err) => {
            back_with_error("/account/password", &err);
        }
    }
    Ok(())
}
