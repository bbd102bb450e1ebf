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
//! The same path tells open pages: an `/events` stream [`Revocations::watch`]es its sign-in, and
//! every ending this process learns of (its own commits, other instances' notifications, a reload
//! after the listener reconnects) wakes the streams of that sign-in with the reason.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
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

/// Open streams per sign-in at most (one per tab of one browser).
pub const MAX_WATCHERS_PER_SIGNIN: usize = 32;

/// Revoked sign-in ids and `jti`s, each with its expiry (Unix seconds), and the open pages waiting
/// to hear of an ending.
pub struct Revocations {
    entries: RwLock<HashMap<String, i64>>,
    healthy: AtomicBool,
    /// Per watched sign-in: a channel whose value becomes `Some(reason)` when it ends (`None`
    /// inside: ended, reason unknown).
    watchers: std::sync::Mutex<HashMap<String, watch::Sender<Option<Option<EndReason>>>>>,
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
            entries: RwLock::new(HashMap::new()),
            healthy: AtomicBool::new(false),
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
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(key)
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
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_owned(), expires_at);
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
        let mut map = HashMap::with_capacity(ended.len() + denied.len());
        map.extend(
            ended
                .into_iter()
                .map(|(id, ended_at, _)| (id, ended_at + ACCESS_TTL)),
        );
        map.extend(denied);
        *self.entries.write().unwrap_or_else(|e| e.into_inner()) = map;
        for (id, reason) in watched {
            self.wake(&id, reason);
        }
        Ok(())
    }

    fn apply(&self, payload: &str) {
        let mut parts = payload.split(' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("sid"), Some(id), reason) => {
                self.signin_ended(id, reason.and_then(EndReason::parse))
            }
            (Some("jti"), Some(jti), Some(exp)) => {
                self.insert(jti, exp.parse().unwrap_or(now() + ACCESS_TTL))
            }
            _ => tracing::warn!("ignoring a malformed revocation notification"),
        }
    }

    async fn listen(
        self: Arc<Self>,
        pool: sqlx::PgPool,
        db: Db,
        retry: Duration,
        listen_url: Option<String>,
    ) {
        let ping = format!("ping {}", uuid::Uuid::now_v7());
        tokio::spawn(heartbeat(pool.clone(), ping.clone()));
        loop {
            let connected = tokio::time::timeout(
                CONNECT_TIMEOUT,
                self.connect_and_catch_up(&pool, &db, listen_url.as_deref()),
            )
            .await;
            match connected {
                Ok(Ok(listener)) => {
                    self.healthy.store(true, Ordering::SeqCst);
                    tracing::info!(entries = self.len(), "revocation listener up");
                    self.follow(listener, &ping).await;
                    self.healthy.store(false, Ordering::SeqCst);
                }
                Ok(Err(err)) => tracing::warn!(error = %err, "revocation listener cannot connect"),
                Err(_) => tracing::warn!("revocation listener: connecting timed out"),
            }
            tokio::time::sleep(retry).await;
        }
    }

    /// Applies notifications until the connection is lost or stalls (no ping of ours heard for
    /// [`STALL_AFTER`]).
    async fn follow(&self, mut listener: PgListener, ping: &str) {
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
        let mut last_ping = Instant::now();
        let mut check = tokio::time::interval(HEARTBEAT / 2);
        loop {
            tokio::select! {
                payload = rx.recv() => match payload {
                    Some(p) if p == ping => last_ping = Instant::now(),
                    Some(p) if p.starts_with("ping ") => {}
                    Some(p) => self.apply(&p),
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

/// Pings this instance's own listener through the database every [`HEARTBEAT`], forever.
async fn heartbeat(pool: sqlx::PgPool, ping: String) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(&ping)
            .execute(&pool)
            .await;
        if let Err(err) = sent {
            tracing::debug!(error = %err, "revocation heartbeat not sent");
        }
    }
}
