//! Signoff as an OpenID Provider (OpenID Connect Core 1.0, RP-Initiated and Back-Channel Logout
//! 1.0): its clients ([`clients`]), signing keys ([`keys`]), authorization codes and the tokens they
//! grant ([`grants`]), what clients ask about tokens ([`inspect`]), and the logout tokens sent when a
//! sign-in ends ([`logout_tokens`]).
//!
//! Every token a client receives belongs to the browser sign-in it was granted in: its access and
//! refresh tokens are the seed 004 pair of that sign-in (HS256, carrying the client and scope), so
//! the sign-in's ending revokes them on every instance exactly as it revokes every other credential
//! (the logout engine, the denylist), and refresh rotation and reuse detection are the ones seed 004
//! has. ID tokens and logout tokens are RS256, verifiable by anyone through the JWKS.

pub mod clients;
pub mod grants;
pub mod inspect;
pub mod keys;
pub mod logout_tokens;

use std::path::PathBuf;

pub use clients::{Client, NewClient};
pub use grants::{AuthorizeRequest, GrantError, Tokens};
pub use inspect::Hint;

use super::model::Result;

/// How long an ID token is valid (seconds).
pub const ID_TOKEN_TTL: i64 = 600;
/// How long a logout token is valid after it is signed (Back-Channel Logout 1.0 asks for minutes).
pub const LOGOUT_TOKEN_TTL: i64 = 120;
/// How long an authorization code may wait to be exchanged.
pub const CODE_TTL: i64 = 60;

/// The scopes this provider knows; others asked for are left out of the grant.
pub const SCOPES: [&str; 4] = ["openid", "email", "profile", "offline_access"];

/// The provider: who it is and what it signs with.
pub struct Provider {
    /// `iss` of everything it signs, and the base of its endpoints' URLs (`SIGNOFF_PUBLIC_URL`).
    pub issuer: String,
    /// The RS256 keys.
    pub keys: keys::KeyRing,
    /// Clients read lately, for the token and introspection endpoints: a client is read from the
    /// database at most once a [`CLIENT_CACHE_TTL`] per instance (a removal is in force everywhere
    /// within it; a new client is found at once).
    clients: quick_cache::sync::Cache<String, (Client, std::time::Instant)>,
}

/// How long a client read from the database is used without reading it again.
pub const CLIENT_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

impl Provider {
    /// A provider named `issuer`, with the keys of `keys_dir` (a first key is generated there when
    /// it has none).
    pub fn open(issuer: &str, keys_dir: &std::path::Path) -> Result<Self> {
        Ok(Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            keys: keys::KeyRing::open(keys_dir)?,
            clients: quick_cache::sync::Cache::new(1024),
        })
    }

    /// A client read within [`CLIENT_CACHE_TTL`], if any.
    pub(crate) fn recent_client(&self, client_id: &str) -> Option<Client> {
        let (client, read_at) = self.clients.get(client_id)?;
        (read_at.elapsed() < CLIENT_CACHE_TTL).then_some(client)
    }

    /// Remembers a client just read.
    pub(crate) fn remember_client(&self, client: &Client) {
        self.clients.insert(
            client.client_id.clone(),
            (client.clone(), std::time::Instant::now()),
        );
    }

    /// Reads the key directory again every [`keys::RELOAD_EVERY`], for as long as the server runs.
    pub fn spawn_key_reload(self: &std::sync::Arc<Self>) {
        let provider = std::sync::Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(keys::RELOAD_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(provider) = provider.upgrade() else {
                    return;
                };
                provider.keys.reload();
            }
        });
    }
}

/// Where the keys live when nobody says: for a service built without a key directory (the unit
/// tests), one per process under the system's temporary directory.
pub fn default_test_keys() -> PathBuf {
    std::env::temp_dir().join(format!("signoff-test-oidc-keys-{}", std::process::id()))
}

/// The scope granted for `requested`: the known scopes asked for, in the provider's order.
pub fn granted_scope(requested: &str) -> String {
    let asked: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
    SCOPES
        .iter()
        .filter(|s| asked.contains(s))
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `scope` (space-separated) holds `one`.
pub fn has_scope(scope: &str, one: &str) -> bool {
    scope.split(' ').any(|s| s == one)
}
