//! Body of the home page's server function.

use crate::pages::home::Me;

use super::*;

/// Body of `pages::home::whoami`.
pub async fn whoami() -> Result<Option<Me>, ServerFnError> {
    let (state, _session, _) = context().await?;
    // Private data: never cached, by the browser or anyone in between.
    expect_context::<ResponseOptions>()
        .insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let found = signed_in(&state).await?;
    Ok(found.map(|(user, _)| Me { email: user.email }))
}
