//! The cross-instance protocol: on PostgreSQL, each instance `LISTEN`s to the revocations every
//! other instance commits, pings itself to notice a stalled connection, and acknowledges what it
//! applied so that an ending is answered only once everyone has it; on SQLite, a poll for sign-ins
//! ended by another process on the same file. See [`super`] for the whole story.

use std::{
    collections::HashMap,
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use sqlx::postgres::PgListener;

use super::Revocations;
use crate::server::{
    db::{now, Db},
    domain::{
        model::{EndReason, Result},
        ttl::ACCESS_TTL,
    },
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

/// What this instance heard of the stream of notifications.
#[derive(Default)]
pub(super) struct Heard {
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

    /// Another instance's ping: listening (a generation other than 0) and not behind.
    fn pinged(&mut self, peer: &str, generation: &str, behind: bool) {
        self.prune();
        let listening = generation != "0" && !behind;
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

impl Revocations {
    pub(super) fn heard(&self) -> std::sync::MutexGuard<'_, Heard> {
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

    /// Tests: makes the listener hold every revocation for `delay` before applying it (a slow
    /// instance, as seen by the others).
    pub fn hold_notifications(&self, delay: Duration) {
        self.holding
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    /// Tests: holds a revocation for [`Revocations::hold_notifications`]' delay.
    async fn hold(&self, payload: &str) -> &Self {
        let ms = self.holding.load(Ordering::Relaxed);
        if ms > 0 && (payload.starts_with("sid ") || payload.starts_with("jti ")) {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        self
    }

    /// Applies one notification; returns the generation and the age when it is one of this
    /// instance's pings.
    fn apply(&self, payload: &str) -> Option<(u64, Option<Duration>)> {
        let mut parts = payload.split(' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("sid"), Some(id), reason) => {
                self.signin_ended(id, reason.and_then(EndReason::parse));
                self.heard().revoked(id);
                self.applied.send_replace(Some(id.to_owned()));
                lag(parts.next());
            }
            (Some("jti"), Some(jti), Some(exp)) => {
                self.insert(jti, exp.parse().unwrap_or(now() + ACCESS_TTL));
                self.heard().revoked(jti);
                self.applied.send_replace(Some(jti.to_owned()));
                lag(parts.next());
            }
            (Some("ping"), Some(instance), generation) if instance == self.instance => {
                let sent = parts.next().and_then(|ms| ms.parse::<u64>().ok());
                let age = sent.map(|ms| {
                    self.born
                        .elapsed()
                        .saturating_sub(Duration::from_millis(ms))
                });
                return generation.and_then(|g| g.parse().ok()).map(|g| (g, age));
            }
            // Another instance's ping (one without a generation takes no part in acknowledging,
            // nor one that says it is behind).
            (Some("ping"), Some(instance), generation) => {
                let behind = parts.nth(1) == Some("behind");
                self.heard()
                    .pinged(instance, generation.unwrap_or("0"), behind)
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

    pub(super) async fn listen(
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
                        Some((g, age)) => {
                            last_ping = Instant::now();
                            caught_up |= g == generation;
                            self.judge_lag(age);
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
            let behind = self.behind.load(Ordering::SeqCst);
            if caught_up && !behind && !self.is_healthy() && up_at.elapsed() >= 2 * HEARTBEAT {
                self.set_healthy(true);
                tracing::info!(entries = self.len(), "revocation listener up");
            }
        }
        reader.abort();
    }

    /// Judges the lag of the notification stream by the age of one of this instance's own pings
    /// (sent and timed by this process: no clock but its own). Older than [`STALL_AFTER`]: the
    /// stream runs late, however steadily it flows, so this instance is behind: it checks in the
    /// database (unhealthy) and its pings say so, so no ending waits for its acknowledgement. It
    /// is caught up again once a ping arrives within half of that.
    fn judge_lag(&self, age: Option<Duration>) {
        let Some(age) = age else { return };
        if age <= STALL_AFTER {
            let at = self.born.elapsed().as_millis() as u64;
            self.fresh_ping_ms.fetch_max(at, Ordering::AcqRel);
        }
        let behind = self.behind.load(Ordering::SeqCst);
        if !behind && age > STALL_AFTER {
            self.behind.store(true, Ordering::SeqCst);
            self.set_healthy(false);
            tracing::warn!(
                lag_ms = age.as_millis() as u64,
                "revocation notifications arrive late: checking JWTs in the database until caught up"
            );
        } else if behind && age <= STALL_AFTER / 2 {
            self.behind.store(false, Ordering::SeqCst);
            tracing::info!(
                lag_ms = age.as_millis() as u64,
                "revocation notifications caught up"
            );
        }
    }

    /// SQLite: another process on the same file (an operator's `signoff sessions end`) ends
    /// sign-ins without telling this one, so every [`SQLITE_POLL`] the recently ended sign-ins are
    /// read (by the `ended_at` index) and the unknown ones recorded.
    pub(super) async fn follow_sqlite(self: Arc<Self>, pool: sqlx::SqlitePool) {
        let mut since = now() - 1;
        let mut tick = every(SQLITE_POLL);
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

    /// Pings this instance's own listener through the database every [`HEARTBEAT`], forever,
    /// saying which connection is listening (0: none).
    async fn heartbeat(self: Arc<Self>, pool: sqlx::PgPool) {
        let mut tick = every(HEARTBEAT);
        loop {
            tick.tick().await;
            if pool.is_closed() {
                return;
            }
            let generation = self.generation.load(Ordering::SeqCst);
            let sent = self.born.elapsed().as_millis();
            let state = if self.behind.load(Ordering::SeqCst) {
                "behind"
            } else {
                "current"
            };
            let ping = format!("ping {} {generation} {sent} {state}", self.instance);
            notify(&pool, &ping, "heartbeat").await;
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
            let ack = format!("ack {} {key}", this.instance);
            notify(&pool, &ack, "acknowledgement").await;
        }
    }
}

/// Sends `payload` on [`CHANNEL`]; a failure is only logged (the next heartbeat or acknowledgement
/// says it again).
async fn notify(pool: &sqlx::PgPool, payload: &str, what: &str) {
    let sent = sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(pool)
        .await;
    if let Err(err) = sent {
        tracing::debug!(error = %err, "revocation {what} not sent");
    }
}

/// Records how long a revocation took from its transaction (`sent_ms`, Unix milliseconds, the
/// notification's last field) to being applied here.
fn lag(sent_ms: Option<&str>) {
    let Some(sent_ms) = sent_ms.and_then(|t| t.parse::<i64>().ok()) else {
        return;
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let seconds = (now_ms - sent_ms).max(0) as f64 / 1000.0;
    metrics::histogram!("signoff_revocation_lag_seconds").record(seconds);
}

/// A tick every `period`, the first at once; a late tick delays the next rather than bunching up.
fn every(period: Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}
