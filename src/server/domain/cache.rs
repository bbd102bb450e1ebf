//! What recent database reads said about opaque tokens ([`TokenCache`]), so that checking one
//! needs no database read most of the time.

use std::{
    sync::{
        atomic::{AtomicI64, AtomicU64},
        Arc,
    },
    time::{Duration, Instant},
};

use super::principal::Principal;

/// How many opaque tokens [`TokenCache`] holds at most (about 300 bytes each).
pub const CACHE_CAPACITY: usize = 100_000;

/// How long a cached database read may be used. It must stay well below the time the denylist
/// keeps an ended sign-in ([`super::ttl::ACCESS_TTL`], 15 minutes), which is what makes a cached
/// token's revocation visible; a minute also bounds how stale the cached use times can be.
pub const CACHE_FOR: Duration = Duration::from_secs(60);

/// What a recent database read said about an active opaque token, by the SHA-256 of the token.
///
/// It holds no authority of its own: a hit is used only while the denylist is complete
/// ([`super::revocations::Revocations::is_healthy`]; on PostgreSQL, while the notifications are
/// heard) and the token's sign-in is not on it, the read is younger than [`CACHE_FOR`], and the
/// token has not expired, nor its sign-in by idleness or age. Anything else goes to the database.
pub struct TokenCache {
    pub(super) map: quick_cache::sync::Cache<[u8; 32], Arc<Known>>,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self {
            map: quick_cache::sync::Cache::new(CACHE_CAPACITY),
        }
    }
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("len", &self.map.len())
            .finish()
    }
}

impl TokenCache {
    /// How many tokens it holds.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// One cached read (see [`TokenCache`]).
pub(super) struct Known {
    /// Whose token it is and of which sign-in: shared with every request it authenticates.
    pub(super) principal: Arc<Principal>,
    /// The denylist's version when its sign-in was last found absent from it (see
    /// `Revocations::version`; `u64::MAX`: not yet).
    pub(super) clean_at: AtomicU64,
    pub(super) kind: String,
    pub(super) created_at: i64,
    pub(super) expires_at: Option<i64>,
    pub(super) read_at: Instant,
    /// Unix seconds, as last written (by this process) or read.
    pub(super) last_seen_at: AtomicI64,
    /// Unix seconds; 0 when never used.
    pub(super) last_used_at: AtomicI64,
}

impl Known {
    pub(super) fn signin_id(&self) -> &str {
        &self.principal.signin_id
    }
}
