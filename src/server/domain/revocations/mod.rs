//! The in-memory denylist that lets JWT access tokens be checked without a database round trip.
//!
//! It holds the sign-ins ended and the access-token `jti`s denied within the lifetime of an access
//! token (15 minutes), each with the time after which no token it could refuse is valid anyway, so it
//! never grows without bound. On SQLite (one server process) the process updates it itself. On
//! PostgreSQL, triggers `NOTIFY signoff_revoked` in the same transaction as every revocation, and
//! each instance `LISTEN`s: revocations reach every instance within milliseconds.
//!
//! When the notification connection is lost, the instance is *unhealthy*: every JWT check goes to
//! the database until it has listened again and reloaded the denylist. A revoked token is never
//! accepted for want of a notification.
//!
//! A connection can also die without closing (a half-open TCP connection, a stalled proxy): then
//! nothing arrives and nothing fails. So each instance pings itself through the same channel every
//! [`HEARTBEAT`] (a `pg_notify` sent on the pool); a listener that has heard none of its own pings
//! for [`STALL_AFTER`] is treated as lost: the instance turns unhealthy (database checks) within
//! a second, drops the connection and connects again.
//!
//! An instance that commits a revocation answers only once every other instance has applied it
//! ([`Revocations::everyone_heard`]), so a client told "logged out" cannot race the notification to another
//! instance's memory (its opaque-token cache, its JWT checks). The pings say who is listening:
//! every instance hears every ping (`ping <instance> <generation>`, generation 0 while not
//! listening). After applying revocations, an instance that knows of others says so
//! (`ack <instance> <key>`, the latest key applied). PostgreSQL delivers the notifications of
//! different transactions to every listener in commit order, so an acknowledgement of a later key
//! covers every earlier one, and positions in one instance's stream compare across instances.
//!
//! An instance turns healthy only after it has heard one of its own pings sent after its reload,
//! and has listened for two heartbeats: whatever was committed before that ping it holds, and any
//! instance committing later knows it is listening, and waits for it.
//!
//! The same path tells open pages: an `/events` stream [`Revocations::watch`]es its sign-in, and
//! every ending this process learns of (its own commits, other instances' notifications, a reload
//! after the listener reconnects) wakes the streams of that sign-in with the reason.

//!
//! Here: the denylist and its version; [`cluster`] is the cross-instance protocol (`LISTEN`, pings,
//! acknowledgements, the SQLite poll); [`watch`] the open pages waiting for an ending.

mod cluster;
mod watch;

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, RwLock,
    },
    time::{Duration, Instant},
};

use tokio::sync::watch as channel;

use cluster::Heard;
pub use cluster::{CHANNEL, HEARTBEAT, OUTAGE_AFTER, SQLITE_POLL, STALL_AFTER, WAIT_AT_MOST};
pub use watch::{Watch, MAX_WATCHERS_PER_SIGNIN};

use super::{
    model::{EndReason, Result},
    ttl::ACCESS_TTL,
};
use crate::{
    server::db::{now, Db},
    with_pool,
};

/// Revoked sign-in ids and `jti`s, each with its expiry (Unix seconds), and the open pages waiting
/// to hear of an ending.
pub struct Revocations {
    /// Keyed by ids this server made (sign-in ids, `jti`s), never by what a client sends: ahash
    /// instead of the standard library's SipHash, whose flooding resistance buys nothing here and
    /// whose cost every JWT-authenticated request paid twice.
    entries: RwLock<HashMap<String, i64, ahash::RandomState>>,
    /// Changes with every addition to `entries`, while its write lock is held (see
    /// [`Revocations::version`]).
    version: AtomicU64,
    healthy: AtomicBool,
    /// Since when it has been unhealthy (its start, at first).
    down_since: std::sync::Mutex<Instant>,
    /// PostgreSQL: other instances learn of endings by notification, so an ending is answered
    /// only once every instance has applied it ([`Revocations::everyone_heard`]).
    listens: bool,
    /// This instance's name in pings and acknowledgements.
    instance: String,
    /// The listener connection's number while it is connected and caught up; 0 otherwise.
    generation: AtomicU64,
    /// The notifications reach this instance late (its own pings arrive older than
    /// [`STALL_AFTER`]): it checks in the database, and tells the others not to wait for it.
    behind: AtomicBool,
    /// When it started: its pings carry their send time as milliseconds since (its own clock).
    born: Instant,
    /// When (milliseconds since `born`) it last heard one of its own pings arrive in time: a
    /// listener that has not for [`STALL_AFTER`] cannot vouch for its memory, whatever its
    /// tasks have had the time to notice (a process frozen and resumed answers a request before
    /// its listener has read the backlog).
    fresh_ping_ms: AtomicU64,
    /// What the notifications said lately.
    heard: std::sync::Mutex<Heard>,
    /// Woken whenever a revocation, a ping or an acknowledgement is heard.
    announcement: tokio::sync::Notify,
    /// The latest revocation key applied, for the acknowledging task.
    applied: channel::Sender<Option<String>>,
    /// Tests: how long the listener holds each revocation before applying it (milliseconds).
    holding: AtomicU64,
    /// Per watched sign-in: a channel whose value becomes `Some(reason)` when it ends (`None`
    /// inside: ended, reason unknown).
    watchers: std::sync::Mutex<HashMap<String, channel::Sender<Option<Option<EndReason>>>>>,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations")
            .field("len", &self.len())
            .field("healthy", &self.is_healthy())
            .finish()
    }
}

impl Revocations {
    /// Loads the denylist from `db`; on PostgreSQL also starts listening (reconnecting after
    /// `retry` whenever the connection is lost), through `listen_url` when given (a listener needs
    /// a session of its own, which a transaction-pooling proxy in front of the pool cannot give).
    pub async fn start(db: &Db, retry: Duration, listen_url: Option<String>) -> Result<Arc<Self>> {
        let this = Arc::new(Self {
            entries: RwLock::new(HashMap::default()),
            version: AtomicU64::new(0),
            healthy: AtomicBool::new(false),
            down_since: std::sync::Mutex::new(Instant::now()),
            listens: matches!(db, Db::Postgres(_)),
            instance: uuid::Uuid::now_v7().simple().to_string(),
            generation: AtomicU64::new(0),
            behind: AtomicBool::new(false),
            born: Instant::now(),
            fresh_ping_ms: AtomicU64::new(0),
            heard: Default::default(),
            announcement: tokio::sync::Notify::new(),
            applied: channel::channel(None).0,
            holding: AtomicU64::new(0),
            watchers: Default::default(),
        });
        match db {
            Db::Sqlite(pool) => {
                this.reload(db).await?;
                this.healthy.store(true, Ordering::SeqCst);
                tokio::spawn(this.clone().follow_sqlite(pool.clone()));
            }
            Db::Postgres(pool) => {
                let (this2, pool, db) = (this.clone(), pool.clone(), db.clone());
                tokio::spawn(async move { this2.listen(pool, db, retry, listen_url).await });
            }
        }
        Ok(this)
    }

    /// True when the in-memory denylist is complete: JWT checks may rely on it alone. On
    /// PostgreSQL that also takes one of its own pings heard in time within [`STALL_AFTER`].
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::SeqCst) && (!self.listens || self.heard_in_time())
    }

    /// Whether its latest ping heard in time is at most [`STALL_AFTER`] old.
    fn heard_in_time(&self) -> bool {
        let now = self.born.elapsed().as_millis() as u64;
        now.saturating_sub(self.fresh_ping_ms.load(Ordering::Acquire))
            <= STALL_AFTER.as_millis() as u64
    }

    /// True when `key` (a sign-in id or a `jti`) is revoked.
    pub fn contains(&self, key: &str) -> bool {
        self.contains_any(&[key])
    }

    /// True when any of `keys` is revoked, under one read of the lock (a JWT is checked by its
    /// sign-in and its `jti` on every request).
    pub fn contains_any(&self, keys: &[&str]) -> bool {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        keys.iter().any(|key| entries.contains_key(*key))
    }

    /// A number that changes whenever a key is added (and whenever the denylist becomes complete
    /// again), never otherwise: a key found absent at version `v` is still absent while
    /// `version()` is `v`.
    ///
    /// Why it holds: an addition changes the version before it releases the write lock, and a
    /// reader takes the version before its lookup. A lookup that missed an addition ran before it,
    /// so the version it was paired with is older than the addition's; a reader that takes the
    /// version after a logout was answered sees the new one. The JWT check uses it to skip the
    /// lookup (and the lock, whose reader count every core writes) while nothing was added.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// True when any of `keys` is revoked, looked up only if the denylist has changed since
    /// `clean_at` (a [`Revocations::version`] at which they were all absent; `u64::MAX` before the
    /// first look). A look that finds them absent moves `clean_at` to the version it was paired
    /// with.
    pub fn revoked_since(&self, clean_at: &AtomicU64, keys: &[&str]) -> bool {
        let version = self.version();
        if clean_at.load(Ordering::Relaxed) == version {
            return false;
        }
        if self.contains_any(keys) {
            return true;
        }
        clean_at.store(version, Ordering::Relaxed);
        false
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.entries.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records a revocation made by this process (after its transaction committed).
    pub fn insert(&self, key: &str, expires_at: i64) {
        let mut map = self.entries.write().unwrap_or_else(|e| e.into_inner());
        map.insert(key.to_owned(), expires_at);
        self.version.fetch_add(1, Ordering::Release);
    }

    /// Records the end of a sign-in (committed by this process, or announced by another) and
    /// wakes the pages watching it.
    pub fn signin_ended(&self, signin_id: &str, reason: Option<EndReason>) {
        self.insert(signin_id, now() + ACCESS_TTL);
        self.wake(signin_id, reason);
    }

    pub(super) fn set_healthy(&self, healthy: bool) {
        if healthy {
            // Whatever was learnt while it was incomplete is checked again.
            self.version.fetch_add(1, Ordering::Release);
        }
        if self.healthy.swap(healthy, Ordering::SeqCst) && !healthy {
            *self.down_since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        }
        self.announcement.notify_waiters();
    }

    /// Drops entries whose tokens have all expired; returns how many.
    pub fn prune(&self) -> usize {
        let at = now();
        let mut map = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let before = map.len();
        map.retain(|_, exp| *exp > at);
        before - map.len()
    }

    /// Replaces the denylist with what the database says now.
    pub(super) async fn reload(&self, db: &Db) -> Result<()> {
        let at = now();
        let ended: Vec<(String, i64, Option<String>)> = with_pool!(db, p => sqlx::query_as(
            "SELECT id, ended_at, end_reason FROM signins WHERE ended_at > $1")
            .bind(at - ACCESS_TTL).fetch_all(p).await)?;
        // Pages watching a sign-in that ended while notifications were not heard learn it now.
        let watched: Vec<(String, Option<EndReason>)> = {
            let map = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
            ended
                .iter()
                .filter(|(id, _, _)| map.contains_key(id))
                .map(|(id, _, r)| (id.clone(), r.as_deref().and_then(EndReason::parse)))
                .collect()
        };
        let denied: Vec<(String, i64)> = with_pool!(db, p => sqlx::query_as(
            "SELECT jti, expires_at FROM jwt_denylist WHERE expires_at > $1")
            .bind(at).fetch_all(p).await)?;
        // Merged, not replaced: an ending this process recorded while the rows were read is kept
        // (every entry is a real revocation; expired ones go at the next prune).
        let mut map = self.entries.write().unwrap_or_else(|e| e.into_inner());
        map.extend(
            ended
                .into_iter()
                .map(|(id, ended_at, _)| (id, ended_at + ACCESS_TTL)),
        );
        map.extend(denied);
        self.version.fetch_add(1, Ordering::Release);
        drop(map);
        for (id, reason) in watched {
            self.wake(&id, reason);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_version_changes_with_every_addition_and_only_then() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}/t.db?mode=rwc", dir.path().display()))
            .await
            .unwrap();
        db.migrate().await.unwrap();
        let denylist = Revocations::start(&db, Duration::from_millis(100), None)
            .await
            .unwrap();
        let before = denylist.version();
        assert!(!denylist.contains_any(&["sid-1", "jti-1"]));
        assert_eq!(denylist.prune(), 0);
        assert_eq!(denylist.version(), before, "lookups and pruning leave it");
        denylist.insert("sid-1", now() + 60);
        let once = denylist.version();
        assert_ne!(once, before);
        // Added again (the same ending heard twice): a change all the same.
        denylist.signin_ended("sid-1", None);
        assert_ne!(denylist.version(), once);
        assert!(denylist.contains("sid-1"));
    }
}
