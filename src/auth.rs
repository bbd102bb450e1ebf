//! Server functions behind the pages. Each body is one call into `server::browser`; on the client
//! they compile to HTTP calls (under `/_fn/`), and with JavaScript off the forms post to them.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// What a signed-in page may show about its user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// The account's email.
    pub email: String,
}

/// The signed-in user, or `None`.
#[server(prefix = "/_fn", endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Me>, ServerFnError> {
    crate::server::browser::whoami().await
}

/// Creates an account, then redirects to `/login` (or back to `/register` with an error code).
#[server(prefix = "/_fn", endpoint = "register")]
pub async fn register(email: String, password: String) -> Result<(), ServerFnError> {
    crate::server::browser::register(email, password).await
}

/// Signs in, then redirects to `next` (a local path) or `/`.
#[server(prefix = "/_fn", endpoint = "login")]
pub async fn login(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<(), ServerFnError> {
    crate::server::browser::login(email, password, next).await
}

/// Ends this browser's sign-in and session, then redirects (303) to `/login`.
#[server(prefix = "/_fn", endpoint = "logout")]
pub async fn logout(next: Option<String>) -> Result<(), ServerFnError> {
    crate::server::browser::logout(next).await
}
