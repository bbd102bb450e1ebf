//! Body of the home page's server function.

use leptos::prelude::ServerFnError;

use super::page_data;
use crate::pages::home::Me;

/// Body of `pages::home::whoami`.
pub async fn whoami() -> Result<Option<Me>, ServerFnError> {
    let found = page_data().await?;
    Ok(found.map(|(_, user, _)| Me { email: user.email }))
}
