//! Personal tokens just created, kept in memory until the `/tokens` page shows them once.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// A token waiting to be shown: its name, its clear text, and when it was created.
struct Waiting {
    name: String,
    token: String,
    at: Instant,
}

/// Just-created tokens waiting to be shown once, in this process's memory, by sign-in id.
#[derive(Clone, Default)]
pub struct Reveal(Arc<Mutex<HashMap<String, Waiting>>>);

impl Reveal {
    /// How long an unshown token waits before it is forgotten.
    const TTL: Duration = Duration::from_secs(600);

    /// Keeps a new token (its name and clear text) for the sign-in that created it.
    pub fn put(&self, signin_id: &str, name: String, token: String) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, w| w.at.elapsed() < Self::TTL);
        let at = Instant::now();
        map.insert(signin_id.to_owned(), Waiting { name, token, at });
    }

    /// The token waiting for this sign-in (name, clear text), once.
    pub fn take(&self, signin_id: &str) -> Option<(String, String)> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(signin_id)
            .filter(|w| w.at.elapsed() < Self::TTL)
            .map(|w| (w.name, w.token))
    }
}
