//! Pruning: what is past its use is deleted in small batches (no long locks), by a background task
//! and by `signoff prune`. Never touches an active sign-in or a credential that could still work.
//!
//! | what | when it goes |
//! | --- | --- |
//! | sign-ins whose credentials all expired (opaque token past `expires_at`, JWT sign-in with no usable refresh token, browser sign-in idle past the session lifetime) | ended through the logout engine, reason `expired`, audited |
//! | browser sessions | past their expiry (deleted by their store: `server::sessions`) |
//! | refresh-token rows | past their expiry |
//! | JWT denylist rows (table and memory) | past the expiry of the token they refuse |
//! | ended sign-ins, with their token rows | ended longer ago than the retention period |

use std::time::Duration;

use serde::Serialize;

use super::{
    auth::Auth,
    logout::Ending,
    model::{EndReason, Result},
    ttl::ACCESS_TTL,
};
use crate::{
    server::db::{now, Db},
    with_pool,
};

/// Rows touched per statement.
pub const BATCH: i64 = 500;

/// What one pruning pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    /// Sign-ins ended because nothing of them could be used any more.
    pub signins_expired: u64,
    /// Browser sessions deleted.
    pub sessions: u64,
    /// Refresh-token rows deleted.
    pub refresh_tokens: u64,
    /// Denylist rows deleted.
    pub denylist: u64,
    /// Ended sign-ins deleted (past retention).
    pub signins_deleted: u64,
    /// In-memory denylist entries dropped.
    pub memory: u64,
    /// Webhook outbox rows delivered or given up longer ago than the retention period.
    pub webhooks: u64,
    /// Password-check counts that aged out.
    pub throttle: u64,
    /// OpenID authorization codes past their lifetime (used or not).
    pub codes: u64,
}

/// Runs `sql` (which binds `$1` = a time and `$2` = [`BATCH`]) until it touches fewer than a batch.
async fn batched(db: &Db, sql: &str, at: i64) -> Result<u64> {
    let mut total = 0;
    loop {
        let n = with_pool!(db, p => sqlx::query(sql).bind(at).bind(BATCH).execute(p).await.map(|r| r.rows_affected()))?;
        total += n;
        if n < BATCH as u64 {
            return Ok(total);
        }
        // Let other writers in between batches.
        tokio::task::yield_now().await;
    }
}

impl Auth {
    /// Ends, through the logout engine, the sign-ins that `select` (binding `$1` = `at` and
    /// `$2` = [`BATCH`]) finds, a batch at a time, until a batch comes back short (as [`batched`]
    /// does); returns how many ended.
    async fn end_expired(&self, select: &str, at: i64) -> Result<u64> {
        self.end_found(select, at, EndReason::Expired).await
    }

    /// [`Auth::end_expired`] for another reason.
    async fn end_found(&self, select: &str, at: i64, reason: EndReason) -> Result<u64> {
        let mut total = 0;
        loop {
            let ids: Vec<String> = with_pool!(&self.db, p => sqlx::query_scalar(select)
                .bind(at).bind(BATCH).fetch_all(p).await)?;
            if ids.is_empty() {
                return Ok(total);
            }
            let found = ids.len();
            let ending = Ending::Signins {
                ids,
                owner: None,
                reason,
            };
            let ended = self.end(ending, "pruner").await?.signins.len() as u64;
            // Every id found was active a moment ago; a racing logout may have ended some first.
            total += ended;
            if found < BATCH as usize || ended == 0 {
                return Ok(total);
            }
        }
    }

    /// Ends the sign-ins past their idle or absolute lifetime (not personal tokens, which are meant
    /// to live on): what a credential check would end when next used, ended now, so that
    /// webhooks and open pages hear of it without waiting for that use. Returns how many ended.
    /// The server sweeps every `SIGNOFF_SWEEP_SECS` ([`spawn_sweeper`]) and in every pruning pass.
    #[tracing::instrument(skip_all)]
    pub async fn sweep(&self) -> Result<u64> {
        let at = now();
        let idle = self.end_found(
            "SELECT id FROM signins WHERE ended_at IS NULL AND kind <> 'personal' AND last_seen_at <= $1 LIMIT $2",
            at - self.lifetime.idle, EndReason::Idle).await?;
        let absolute = self.end_found(
            "SELECT id FROM signins WHERE ended_at IS NULL AND kind <> 'personal' AND created_at <= $1 LIMIT $2",
            at - self.lifetime.absolute, EndReason::Absolute).await?;
        Ok(idle + absolute)
    }

    /// One pruning pass. `retention` is how long ended sign-ins are kept; `_session_idle` (the
    /// browser session lifetime) is no longer needed: each browser session carries its expiry.
    #[tracing::instrument(skip_all)]
    pub async fn prune(&self, _session_idle: Duration, retention: Duration) -> Result<PruneReport> {
        let at = now();
        let mut report = PruneReport::default();
        // Found here, ended by the logout engine (which requires `ended_at IS NULL`): whichever of
        // a racing logout and this pass commits first ends the sign-in, and the other changes
        // nothing.
        report.signins_expired += self
            .end_expired(
                "SELECT DISTINCT s.id FROM signins s JOIN tokens t ON t.signin_id = s.id \
             WHERE s.ended_at IS NULL AND t.expires_at IS NOT NULL AND t.expires_at <= $1 LIMIT $2",
                at,
            )
            .await?;
        report.signins_expired += self.end_expired(
            "SELECT s.id FROM signins s WHERE s.ended_at IS NULL AND s.kind = 'jwt' AND NOT EXISTS ( \
               SELECT 1 FROM refresh_tokens r WHERE r.signin_id = s.id AND r.used_at IS NULL AND r.expires_at > $1) \
             LIMIT $2", at).await?;
        report.signins_expired += self.sweep().await?;
        // The browser sessions' store deletes its own expired rows.
        if let Some(sessions) = self.sessions.get() {
            report.sessions = sessions.delete_expired().await?;
        }
        report.refresh_tokens = batched(&self.db,
            "DELETE FROM refresh_tokens WHERE jti IN (SELECT jti FROM refresh_tokens WHERE expires_at <= $1 LIMIT $2)", at).await?;
        report.denylist = batched(&self.db,
            "DELETE FROM jwt_denylist WHERE jti IN (SELECT jti FROM jwt_denylist WHERE expires_at <= $1 LIMIT $2)", at).await?;
        // Kept at least as long as a JWT of theirs could live, whatever the retention says.
        let keep_since = at - (retention.as_secs() as i64).max(ACCESS_TTL);
        report.signins_deleted = batched(&self.db,
            "DELETE FROM signins WHERE id IN (SELECT id FROM signins WHERE ended_at IS NOT NULL AND ended_at < $1 LIMIT $2)",
            keep_since).await?;
        report.webhooks = batched(&self.db,
            "DELETE FROM webhook_outbox WHERE event_id IN (SELECT event_id FROM webhook_outbox \
             WHERE COALESCE(delivered_at, failed_at) < $1 LIMIT $2) AND COALESCE(delivered_at, failed_at) < $1",
            at - retention.as_secs() as i64).await?;
        report.throttle = super::throttle::prune(&self.db).await?;
        report.codes = batched(&self.db,
            "DELETE FROM oidc_codes WHERE digest IN (SELECT digest FROM oidc_codes WHERE expires_at <= $1 LIMIT $2)",
            at).await?;
        report.memory = self.revocations.prune() as u64;
        if let Some(limit) = &self.refresh_limit {
            limit.prune();
        }
        tracing::info!(?report, "pruned");
        Ok(report)
    }
}

/// Prunes every `every`, forever (the server's background task).
pub fn spawn(auth: Auth, every: Duration, session_idle: Duration, retention: Duration) {
    repeat(every, "pruning", move || {
        let auth = auth.clone();
        async move { auth.prune(session_idle, retention).await.map(drop) }
    });
}

/// Ends the sign-ins past their lifetime every `every`, forever (the server's background task),
/// so that an idle or absolute ending reaches every channel on time even if nobody comes back.
pub fn spawn_sweeper(auth: Auth, every: Duration) {
    repeat(every, "sweeping expired sign-ins", move || {
        let auth = auth.clone();
        async move { auth.sweep().await.map(drop) }
    });
}

/// Runs `task` every `every` (the first time at once), forever; a failure is logged and tried
/// again at the next tick.
fn repeat<F, Fut>(every: Duration, what: &'static str, mut task: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<()>> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(err) = task().await {
                tracing::warn!(error = %err, "{what} failed; will try again");
            }
        }
    });
}
