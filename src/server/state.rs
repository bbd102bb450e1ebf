//! The state every handler and server function can reach.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::server::{config::Config, domain::Auth, reveal::Reveal};

/// What every handler and server function can reach. Cheap to clone (axum clones it into every
/// request): one reference count.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<State>);

impl std::ops::Deref for AppState {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0
    }
}

/// The shared state behind [`AppState`].
pub struct State {
    /// Leptos' settings (needed by its router integration).
    pub leptos_options: LeptosOptions,
    /// Accounts and sign-ins.
    pub auth: Auth,
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// Personal tokens just created, waiting to be shown once (memory only).
    pub reveal: Reveal,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
