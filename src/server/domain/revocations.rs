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

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, RwLock,
    },
    time::{Duration, Instant},
};

use sqlx::postgres::PgListener;
use tokio::sync::watch;

use super::{ttl::ACCESS_TTL, EndReason, Result};
use crate::{
    server::db::{now, Db},
    with_pool,
};

/// The PostgreSQL channel revocations are announced on.
pub const CHANNEL: &str = "signoff_revoked";
/// How often an instance pings its own listener (PostgreSQL).
pub const HEARTBEAT: Duration = Duration::from_millis(200);
/// A listener that heard none of its own pings for this long is stalled.
pub const STALL_AFTER: Duration = Duration::from_millis(700);
/// How often a SQLite server looks for sign-ins ended by another process.
pub const SQLITE_POLL: Duration = Duration::from_millis(500);
/// Connecting the listener (and reloading the denylist) may take this long at most.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a heard notification is remembered for [`Revocations::everyone_heard`] (whose waits last at
/// most [`WAIT_AT_MOST`]).
const ANNOUNCED_FOR: Duration = Duration::from_secs(3);

/// How long [`Revocations::everyone_heard`] waits for the other instances at most. A listening instance
/// that has not acknowledged by then has stalled: it has heard none of its own pings for
/// [`STALL_AFTER`], noticed (within half a heartbeat) and checks in the database.
pub const WAIT_AT_MOST: Duration = STALL_AFTER.saturating_add(HEARTBEAT);

/// Another instance whose ping was not heard for this long is gone (stopped, or cut off from the
/// database: then it cannot answer anything from memory for longer than [`STALL_AFTER`] either).
const PEER_GONE_AFTER: Duration = Duration::from_millis(1400);

/// An instance unhealthy for longer than this is in an outage, not connecting: its endings do not
/// wait to hear themselves (there is nothing to hear; the other instances' fallbacks apply).
pub const OUTAGE_AFTER: Duration = Duration::from_secs(5);

/// Open streams per sign-in at most (one per tab of one browser).
pub const MAX_WATCHERS_PER_SIGNIN: usize = 32;

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
    /// What the notifications said lately.
    heard: std::sync::Mutex<Heard>,
    /// Woken whenever a revocation, a ping or an acknowledgement is heard.
    announcement: tokio::sync::Notify,
    /// The latest revocation key applied, for the acknowledging task.
    applied: watch::Sender<Option<String>>,
    /// Tests: how long the listener holds each revocation before applying it (milliseconds).
    holding: AtomicU64,
    /// Per watched sign-in: a channel whose value becomes `Some(reason)` when it ends (`None`
    /// inside: ended, reason unknown).
    watchers: std::sync::Mutex<HashMap<String, watch::Sender<Option<Option<EndReason>>>>>,
}

/// What this instance heard of the stream of notifications.
#[derive(Default)]
struct Heard {
    /// How many revocations it has heard: the position of the latest in the stream.
    position: u64,
    /// Revocation keys (sign-in ids, `jti`s) heard lately, with their position and when.
    keys: HashMap<String, (u64, Instant)>,
    /// When `keys` and `peers` were last pruned.
    pruned: Option<Instant>,
    /// The other instances heard lately, by name.
    peers: HashMap<String, Peer>,
}

/// Another instance, as its pings and acknowledgements describe it.
struct Peer {
    seen: Instant,
    listening: bool,
    /// The position (in this instance's stream) of the latest revocation it has applied.
    acked: u64,
}

impl Heard {
    fn prune(&mut self) {
        // At most once a second, so a burst of endings costs one pass, not one per ending.
        if self
            .pruned
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(1))
        {
            self.keys.retain(|_, (_, at)| at.elapsed() < ANNOUNCED_FOR);
            self.peers.retain(|_, p| p.seen.elapsed() < PEER_GONE_AFTER);
            self.pruned = Some(Instant::now());
        }
    }

    fn revoked(&mut self, key: &str) {
        self.prune();
        self.position += 1;
        self.keys
            .insert(key.to_owned(), (self.position, Instant::now()));
    }

    fn pinged(&mut self, peer: &str, generation: &str) {
        self.prune();
        let listening = generation != "0";
        self.peers
            .entry(peer.to_owned())
            .and_modify(|p| {
                p.seen = Instant::now();
                p.listening = listening;
            })
            .or_insert(Peer {
                seen: Instant::now(),
                listening,
                acked: 0,
            });
    }

    fn acked(&mut self, peer: &str, key: &str) {
        let Some(&(position, _)) = self.keys.get(key) else {
            return;
        };
        let peer = self.peers.entry(peer.to_owned()).or_insert(Peer {
            seen: Instant::now(),
            listening: true,
            acked: 0,
        });
        peer.seen = Instant::now();
        peer.acked = peer.acked.max(position);
    }

    /// True once this instance has heard every key, and every other listening instance has
    /// acknowledged a position at or after the latest of them.
    fn everyone_has<'a>(&self, mut keys: impl Iterator<Item = &'a str>) -> bool {
        let mut latest = 0;
        let all_heard = keys.all(|k| match self.keys.get(k) {
            Some(&(position, _)) => {
                latest = latest.max(position);
                true
            }
            None => false,
        });
        all_heard
            && self
                .peers
                .values()
                .all(|p| !p.listening || p.seen.elapsed() >= PEER_GONE_AFTER || p.acked >= latest)
    }

    /// True when another instance pinged lately (listening or still connecting: one that has
    /// just started may already be waiting for an acknowledgement).
    fn others_known(&self) -> bool {
        self.peers
            .values()
            .any(|p| p.seen.elapsed() < PEER_GONE_AFTER)
    }
}

/// A page's wait for the end of its sign-in; stops watching when dropped.
pub struct Watch {
    rx: Option<watch::Receiver<Option<Option<EndReason>>>>,
    signin_id: String,
    owner: Arc<Revocations>,
}

impl Watch {
    /// Resolves when the sign-in ends, with the reason when known.
    pub async fn ended(&mut self) -> Option<EndReason> {
        let rx = self.rx.as_mut()?;
        let seen = rx.wait_for(Option::is_some).await.map(|v| v.flatten());
        match seen {
            Ok(reason) => reason,
            // The sender is only dropped once no watch is left; never while this one lives.
            Err(_) => std::future::pending().await,
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        drop(self.rx.take());
        let mut map = self
            .owner
            .watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if map
            .get(&self.signin_id)
            .is_some_and(|tx| tx.receiver_count() == 0)
        {
            map.remove(&self.signin_id);
        }
    }
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
            heard: Default::default(),
            announcement: tokio::sync::Notify::new(),
            applied: watch::channel(None).0,
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

    /// True when the in-memory denylist is complete: JWT checks may rely on it alone.
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
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

    fn wake(&self, signin_id: &str, reason: Option<EndReason>) {
        let map = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = map.get(signin_id) {
            tx.send_replace(Some(reason));
        }
    }

    fn set_healthy(&self, healthy: bool) {
        if healthy {
            // Whatever was learnt while it was incomplete is checked again.
            self.version.fetch_add(1, Ordering::Release);
        }
        if self.healthy.swap(healthy, Ordering::SeqCst) && !healthy {
            *self.down_since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        }
        self.announcement.notify_waiters();
    }

    fn heard(&self) -> std::sync::MutexGuard<'_, Heard> {
        self.heard.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// PostgreSQL: waits until this instance has heard the notifications of the revocations of
    /// `keys` (sign-in ids and `jti`s committed by this process) and every other listening
    /// instance has acknowledged applying them, at most [`WAIT_AT_MOST`].
    ///
    /// Then a token cached on another instance ([`super::opaque`]) or checked in its memory (a
    /// JWT) is refused there before the client that asked for the revocation can reach it. While
    /// this instance is connecting it waits for that first (its start, a lost connection); in an
    /// outage (unhealthy for [`OUTAGE_AFTER`]) there is nothing to hear and it does not wait.
    pub async fn everyone_heard<'a>(&self, keys: impl Iterator<Item = &'a str> + Clone) {
        // Nothing to collect on SQLite, where there is nothing to wait for.
        if !self.listens || keys.clone().next().is_none() {
            return;
        }
        let deadline = tokio::time::Instant::now() + WAIT_AT_MOST;
        loop {
            let notified = self.announcement.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if !self.is_healthy() {
                let down_since = *self.down_since.lock().unwrap_or_else(|e| e.into_inner());
                if down_since.elapsed() >= OUTAGE_AFTER {
                    return;
                }
            } else if self.heard().everyone_has(keys.clone()) {
                return;
            }
            // Woken by what is heard, and every heartbeat: a silent instance drops out.
            let wake = deadline.min(tokio::time::Instant::now() + HEARTBEAT);
            if tokio::time::timeout_at(wake, notified).await.is_err()
                && tokio::time::Instant::now() >= deadline
            {
                tracing::warn!(
                    revocations = keys.count(),
                    "a revocation was not acknowledged by every instance in time"
                );
                return;
            }
        }
    }

    /// Starts watching sign-in `signin_id` for its end; `None` when it already has
    /// [`MAX_WATCHERS_PER_SIGNIN`] watchers. The caller checks that the sign-in is active *after*
    /// this call, so that an ending between the check and the watch cannot be missed.
    pub fn watch(self: &Arc<Self>, signin_id: &str) -> Option<Watch> {
        let mut map = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
        let tx = map
            .entry(signin_id.to_owned())
            .or_insert_with(|| watch::channel(None).0);
        if tx.receiver_count() >= MAX_WATCHERS_PER_SIGNIN {
            return None;
        }
        let rx = tx.subscribe();
        Some(Watch {
            rx: Some(rx),
            signin_id: signin_id.to_owned(),
            owner: self.clone(),
        })
    }

    /// Tests: makes the listener hold every revocation for `delay` before applying it (a slow
    /// instance, as seen by the others).
    pub fn hold_notifications(&self, delay: Duration) {
        self.holding
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// How many sign-ins have open pages watching them.
    pub fn watched(&self) -> usize {
        self.watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
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
    async fn reload(&self, db: &Db) -> Result<()> {
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

    /// Tests: holds a revocation for [`Revocations::hold_notifications`]' delay.
    async fn hold(&self, payload: &str) -> &Self {
        let ms = self.holding.load(Ordering::Relaxed);
        if ms > 0 && (payload.starts_with("sid ") || payload.starts_with("jti ")) {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        self
    }

    /// Applies one notification; returns the generation when it is one of this instance's pings.
    fn apply(&self, payload: &str) -> Option<u64> {
        let mut parts = payload.split(' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("sid"), Some(id), reason) => {
                self.signin_ended(id, reason.and_then(EndReason::parse));
                self.heard().revoked(id);
                self.applied.send_replace(Some(id.to_owned()));
            }
            (Some("jti"), Some(jti), Some(exp)) => {
                self.insert(jti, exp.parse().unwrap_or(now() + ACCESS_TTL));
                self.heard().revoked(jti);
                self.applied.send_replace(Some(jti.to_owned()));
            }
            (Some("ping"), Some(instance), generation) if instance == self.instance => {
                return generation.and_then(|g| g.parse().ok());
            }
            // Another instance's ping (one without a generation takes no part in acknowledging).
            (Some("ping"), Some(instance), generation) => {
                self.heard().pinged(instance, generation.unwrap_or("0"))
            }
            (Some("ack"), Some(instance), Some(key)) if instance != self.instance => {
                self.heard().acked(instance, key)
            }
            (Some("ack"), _, _) => return None,
            _ => {
                tracing::warn!("ignoring a malformed revocation notification");
                return None;
            }
        }
        self.announcement.notify_waiters();
        None
    }

    async fn listen(
        self: Arc<Self>,
        pool: sqlx::PgPool,
        db: Db,
        retry: Duration,
        listen_url: Option<String>,
    ) {
        tokio::spawn(self.clone().heartbeat(pool.clone()));
        tokio::spawn(Self::acknowledge(Arc::downgrade(&self), pool.clone()));
        let mut generation = 0;
        loop {
            let connected = tokio::time::timeout(
                CONNECT_TIMEOUT,
                self.connect_and_catch_up(&pool, &db, listen_url.as_deref()),
            )
            .await;
            match connected {
                Ok(Ok(listener)) => {
                    generation += 1;
                    self.generation.store(generation, Ordering::SeqCst);
                    self.follow(listener, generation).await;
                    self.generation.store(0, Ordering::SeqCst);
                    self.set_healthy(false);
                }
                Ok(Err(err)) => tracing::warn!(error = %err, "revocation listener cannot connect"),
                Err(_) => tracing::warn!("revocation listener: connecting timed out"),
            }
            tokio::time::sleep(retry).await;
        }
    }

    /// Applies notifications until the connection is lost or stalls (no ping of ours heard for
    /// [`STALL_AFTER`]). Turns healthy once a ping of this `generation` has been heard and the
    /// listener has been up for two heartbeats (every other instance has pinged meanwhile).
    async fn follow(&self, mut listener: PgListener, generation: u64) {
        // The listener reads in a task of its own, so that the stall check never cancels a read
        // half-way.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(1024);
        let reader = tokio::spawn(async move {
            // `Ok(None)` or an error: the connection is gone, and notifications with it.
            while let Ok(Some(n)) = listener.try_recv().await {
                if tx.send(n.payload().to_owned()).await.is_err() {
                    return;
                }
            }
        });
        let up_at = Instant::now();
        let mut last_ping = up_at;
        let mut caught_up = false;
        let mut check = tokio::time::interval(HEARTBEAT / 2);
        loop {
            tokio::select! {
                payload = rx.recv() => match payload {
                    Some(p) => match self.hold(&p).await.apply(&p) {
                        Some(g) => {
                            last_ping = Instant::now();
                            caught_up |= g == generation;
                        }
                        None => continue,
                    },
                    None => {
                        tracing::warn!("revocation listener lost its connection: checking JWTs in the database");
                        break;
                    }
                },
                _ = check.tick() => if last_ping.elapsed() > STALL_AFTER {
                    tracing::warn!("revocation listener stalled (no heartbeat): checking JWTs in the database");
                    break;
                },
            }
            if caught_up && !self.is_healthy() && up_at.elapsed() >= 2 * HEARTBEAT {
                self.set_healthy(true);
                tracing::info!(entries = self.len(), "revocation listener up");
            }
        }
        reader.abort();
    }

    /// SQLite: another process on the same file (an operator's `signoff sessions end`) ends
    /// sign-ins without telling this one, so every [`SQLITE_POLL`] the recently ended sign-ins are
    /// read (by the `ended_at` index) and the unknown ones recorded.
    async fn follow_sqlite(self: Arc<Self>, pool: sqlx::SqlitePool) {
        let mut since = now() - 1;
        let mut tick = tokio::time::interval(SQLITE_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if pool.is_closed() {
                return;
            }
            let rows: std::result::Result<Vec<(String, i64, Option<String>)>, _> =
                sqlx::query_as("SELECT id, ended_at, end_reason FROM signins WHERE ended_at >= $1")
                    .bind(since)
                    .fetch_all(&pool)
                    .await;
            let Ok(rows) = rows else { continue };
            for (id, ended_at, reason) in rows {
                // Rows of the latest second are read again next time; the check skips them.
                since = since.max(ended_at);
                if !self.contains(&id) {
                    self.signin_ended(&id, reason.as_deref().and_then(EndReason::parse));
                }
            }
        }
    }

    /// `LISTEN` first, then reload: nothing revoked in between can be missed.
    async fn connect_and_catch_up(
        &self,
        pool: &sqlx::PgPool,
        db: &Db,
        listen_url: Option<&str>,
    ) -> Result<PgListener> {
        let mut listener = match listen_url {
            Some(url) => PgListener::connect(url).await?,
            None => PgListener::connect_with(pool).await?,
        };
        listener.listen(CHANNEL).await?;
        self.reload(db).await?;
        Ok(listener)
    }
}

impl Revocations {
    /// Pings this instance's own listener through the database every [`HEARTBEAT`], forever,
    /// saying which connection is listening (0: none).
    async fn heartbeat(self: Arc<Self>, pool: sqlx::PgPool) {
        let mut tick = tokio::time::interval(HEARTBEAT);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if pool.is_closed() {
                return;
            }
            let generation = self.generation.load(Ordering::SeqCst);
            let sent = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(format!("ping {} {generation}", self.instance))
                .execute(&pool)
                .await;
            if let Err(err) = sent {
                tracing::debug!(error = %err, "revocation heartbeat not sent");
            }
        }
    }

    /// Tells the other instances which revocation this one applied last, when there are others
    /// to tell (one acknowledgement covers every revocation applied since the previous one).
    /// (It holds the instance weakly: dropping the instance ends it.)
    async fn acknowledge(this: std::sync::Weak<Self>, pool: sqlx::PgPool) {
        let Some(mut applied) = this.upgrade().map(|t| t.applied.subscribe()) else {
            return;
        };
        while applied.changed().await.is_ok() {
            let Some(key) = applied.borrow_and_update().clone() else {
                continue;
            };
            let Some(this) = this.upgrade() else { return };
            if pool.is_closed() {
                return;
            }
            if !this.heard().others_known() {
                continue;
            }
            let sent = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(format!("ack {} {key}", this.instance))
                .execute(&pool)
                .await;
            if let Err(err) = sent {
                tracing::debug!(error = %err, "revocation acknowledgement not sent");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::domain::tests::auth;

    #[tokio::test]
    async fn the_version_changes_with_every_addition_and_only_then() {
        let auth = auth().await;
        let denylist = &auth.revocations;
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
