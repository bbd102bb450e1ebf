//! The one place where sign-ins end.
//!
//! Every ending goes through [`Engine::end`]: the **Log out** button, every dialect and scope, the
//! `/sessions` buttons, revoking a personal token, a password change, refresh-token reuse, a sign-in
//! replaced by a new one in the same browser, and pruning. Each request is one [`Request`]: *what*
//! ends ([`Ending`]) and *which page or API* asked (`via`, for the audit trail).
//!
//! ## One transaction per request, one commit per group
//! Each request runs inside one database transaction: the caller's credential is checked there
//! (so a credential revoked a moment earlier cannot act), the sign-in rows are ended (which revokes
//! every credential of them: each credential check joins its sign-in), the audit row is written,
//! and for a password change the new hash is stored. On PostgreSQL the triggers announce each ended
//! sign-in with `NOTIFY` inside the same transaction. After the commit, and before anyone is
//! answered, the ended sign-ins go into this process's in-memory denylist ([`Revocations`]).
//!
//! Requests are queued and committed in **groups**: a writer takes everything that arrived while
//! the previous group was committing and commits it as one transaction, so a burst of a thousand
//! logouts costs a handful of commits (and fsyncs), not a thousand lock waits. Every caller is
//! answered only after its group committed. If anything in a group fails (a statement, the commit),
//! the whole group rolls back and every caller in it gets the error (503 or 500 in its dialect):
//! nothing changes, and a retry starts again from scratch.
//!
//! - **SQLite**: one writer thread owns one connection (`BEGIN IMMEDIATE`, the configured
//!   `synchronous` mode: `FULL` by default, so an acknowledged logout survives a power cut). Reads
//!   keep their own pool; they are never blocked by the writer (WAL).
//! - **PostgreSQL**: [`PG_WRITERS`] writer tasks (`SIGNOFF_PG_WRITERS`) share the queue, each committing its own groups on
//!   a pooled connection, so instances and writers proceed in parallel under row locks.
//!
//! ```ignore
//! let caller = auth.caller_for_token(token)?;                     // no database read
//! let ended = auth.logout(caller, Scope::Global, "seed 001").await?;
//! assert!(ended.signins.len() >= 1);
//! ```

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicU8, Ordering},
        Arc,
    },
    time::Duration,
};

use tokio::sync::{mpsc, oneshot, Mutex};

use super::{
    outbox::{self, Outbox, SigninFacts},
    revocations::Revocations,
    AuditKind, AuthError, EndReason, Result,
};
use crate::server::db::{now, Db};

/// What a logout ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The caller's own sign-in.
    Local,
    /// Every other sign-in of the caller's user; the caller stays signed in.
    Others,
    /// Every sign-in of the caller's user, the caller's included.
    Global,
    /// One sign-in of the caller's user, by id.
    Signin(String),
}

/// How many requests one group commits at most.
pub const MAX_GROUP: usize = 512;
/// Requests waiting for a writer at most; more wait for room (back-pressure, not failure).
const QUEUE: usize = 8192;
/// Writer tasks per PostgreSQL instance, unless `SIGNOFF_PG_WRITERS` says otherwise. Fewer
/// writers make bigger groups (fewer round trips and commits per logout); more overlap one
/// group's commit with the next group's statements. Measured on 2 cores with two instances
/// (`docs/performance.md`): 1 writer 5,600 logouts/s, 2 writers 4,800.
pub const PG_WRITERS: usize = 1;

/// Who asks for a logout, by the credential they presented. It is checked inside the transaction
/// that ends the sign-ins, so a credential revoked by a racing request cannot act.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A sign-in the server itself vouches for: a browser session's, or an already resolved one.
    Signin(String),
    /// An opaque token, by its digest.
    Opaque(String),
    /// A JWT access token whose signature, issuer, type and expiry were verified.
    Jwt {
        /// Its sign-in (`sid`).
        sid: String,
        /// Its user (`sub`).
        sub: String,
        /// Its id, refused when on the denylist.
        jti: String,
    },
}

/// What ends.
#[derive(Clone, Debug)]
pub enum Ending {
    /// A caller logs out, with a scope: their own sign-in, the others, all, or one by id.
    Logout {
        /// Who asks.
        caller: Caller,
        /// What ends.
        scope: Scope,
    },
    /// Seed 004: a JWT access token (verified) with the refresh token of the same sign-in. A current
    /// pair ends the sign-in; a rotated pair ends it too (reason `refresh_reuse` when the rotation
    /// is older than the grace window: someone else holds the successor).
    JwtPair {
        /// The sign-in both tokens name.
        sid: String,
        /// The access token's user.
        sub: String,
        /// The access token's id.
        access_jti: String,
        /// The refresh token's id.
        refresh_jti: String,
    },
    /// Every active sign-in of a user ends, for `reason` (an operator's `signoff sessions end`).
    User {
        /// Whose.
        user_id: String,
        /// Why.
        reason: EndReason,
    },
    /// RFC 7009: the sign-in of a presented token ends, reason `revoked`. A credential that is no
    /// longer valid ends nothing and is no error (the RFC answers both the same).
    Revoke {
        /// The token's holder.
        caller: Caller,
    },
    /// Given sign-ins, for a reason: a personal token revoked, a sign-in replaced, refresh-token
    /// reuse, expiry (pruning). With `owner`, only that user's.
    Signins {
        /// Their ids.
        ids: Vec<String>,
        /// Only sign-ins of this user end.
        owner: Option<String>,
        /// Why.
        reason: EndReason,
    },
    /// A password change (the current password already checked): the new hash is stored and, with
    /// `end_others`, every other sign-in of the user ends, in one transaction.
    PasswordChange {
        /// Whose password.
        user_id: String,
        /// The sign-in that changed it (kept).
        keep: String,
        /// The new argon2 hash (PHC string).
        hash: String,
        /// End every other sign-in.
        end_others: bool,
    },
}

/// One request to the engine.
#[derive(Clone, Debug)]
pub struct Request {
    /// What ends.
    pub ending: Ending,
    /// Which page or API asked (audit detail; never a secret).
    pub via: String,
}

/// One sign-in a request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndedSignin {
    /// Its id.
    pub id: String,
    /// Its user.
    pub user_id: String,
    /// Why it ended.
    pub reason: EndReason,
}

/// What a request ended (possibly nothing: scope `others` with no others, or sign-ins that had
/// already ended).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ended {
    /// The sign-ins this request ended.
    pub signins: Vec<EndedSignin>,
}

/// Where a failure can be injected (tests of atomicity): between the steps of one request.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FailPoint {
    /// After the sign-in rows were ended, before the audit row.
    AfterEnding = 1,
    /// After every statement of the request, before the group commits.
    BeforeCommit = 2,
}

/// A value bound to, or read from, a statement: the two engines' common ground.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Val {
    Text(String),
    Int(i64),
    Null,
    /// A list of texts; bound as one array parameter (PostgreSQL only: see [`Tx::list`]).
    Texts(Vec<String>),
}

impl Val {
    fn text(&self) -> Option<&str> {
        match self {
            Val::Text(s) => Some(s),
            _ => None,
        }
    }
    fn int(&self) -> Option<i64> {
        match self {
            Val::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl From<&str> for Val {
    fn from(s: &str) -> Self {
        Val::Text(s.to_owned())
    }
}
impl From<&String> for Val {
    fn from(s: &String) -> Self {
        Val::Text(s.clone())
    }
}
impl From<i64> for Val {
    fn from(i: i64) -> Self {
        Val::Int(i)
    }
}
impl From<Option<&str>> for Val {
    fn from(s: Option<&str>) -> Self {
        s.map_or(Val::Null, Val::from)
    }
}

/// A statement failed. [`AuthError::Unavailable`] when the database cannot be reached, else
/// [`AuthError::Internal`].
type DbResult<T> = std::result::Result<T, AuthError>;

/// One open transaction, on either engine. Statements use `$1`, `$2`… placeholders.
pub(crate) trait Tx {
    /// `FOR UPDATE` (of the table aliased `s`) where several writers run at once (PostgreSQL), so a
    /// sign-in read as active stays so until this transaction ends it; nothing where one writer
    /// runs alone (SQLite, where `BEGIN IMMEDIATE` already serialises every ending).
    const LOCK: &'static str;

    /// Binds `items` for `IN (…)` and returns what goes between the parentheses: one placeholder
    /// each on SQLite, one array parameter on PostgreSQL (one statement text whatever the count,
    /// so its prepared statement is reused).
    fn list(args: &mut Vec<Val>, items: Vec<String>) -> String;

    /// Appends audit rows `[id, user_id, event, signin_id, detail]`, all at `at`, in one statement.
    async fn audit_rows(&mut self, at: i64, rows: Vec<[String; 5]>) -> DbResult<()>;
    /// Runs a query and returns its rows.
    async fn rows(&mut self, sql: &str, args: &[Val]) -> DbResult<Vec<Vec<Val>>>;
    /// Runs a statement and returns how many rows it changed.
    async fn exec(&mut self, sql: &str, args: &[Val]) -> DbResult<u64>;
}

/// What every request in a group shares.
struct Ctx<'a> {
    at: i64,
    grace: i64,
    fail: &'a AtomicU8,
    outbox: &'a Outbox,
}

impl Ctx<'_> {
    /// Fails here when a test asked for a failure at `point` (once).
    fn checkpoint(&self, point: FailPoint) -> DbResult<()> {
        if self
            .fail
            .compare_exchange(point as u8, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return Err(AuthError::Internal(format!("injected failure {point:?}")));
        }
        Ok(())
    }
}

/// A request's answer: `Ok(Err(_))` is a refusal that changed nothing (401, 404, 409); the outer
/// `Err` is a failure that rolls the whole group back.
type Outcome = DbResult<Result<Ended>>;

async fn apply<T: Tx>(tx: &mut T, ctx: &Ctx<'_>, req: &Request) -> Outcome {
    let via = req.via.as_str();
    let ended = match &req.ending {
        Ending::Logout { caller, scope } => {
            let Some((me, user)) = resolve(tx, ctx, caller).await? else {
                return Ok(Err(AuthError::InvalidToken));
            };
            match scope {
                Scope::Local => {
                    let ended = end_ids(tx, ctx, &[me], None, EndReason::Logout, via).await?;
                    if ended.signins.is_empty() {
                        return Ok(Err(AuthError::InvalidToken));
                    }
                    ended
                }
                Scope::Global => {
                    let global = EndReason::LogoutGlobal;
                    end_user(tx, ctx, &user, None, Some(&me), global, via).await?
                }
                Scope::Others => {
                    let others = EndReason::LogoutOthers;
                    end_user(tx, ctx, &user, Some(me.as_str()), Some(&me), others, via).await?
                }
                Scope::Signin(id) => {
                    let sql = format!(
                        "SELECT s.ended_at FROM signins s WHERE s.id = $1 AND s.user_id = $2{}",
                        T::LOCK
                    );
                    let state = tx.rows(&sql, &[id.into(), (&user).into()]).await?;
                    match state.first().map(|r| r[0].int()) {
                        None => return Ok(Err(AuthError::NotFound)),
                        Some(Some(_)) => return Ok(Err(AuthError::AlreadyEnded)),
                        Some(None) => {
                            let owner = Some(user.as_str());
                            let reason = EndReason::Logout;
                            let ended =
                                end_ids(tx, ctx, std::slice::from_ref(id), owner, reason, via)
                                    .await?;
                            if ended.signins.is_empty() {
                                return Ok(Err(AuthError::AlreadyEnded));
                            }
                            ended
                        }
                    }
                }
            }
        }
        Ending::JwtPair {
            sid,
            sub,
            access_jti,
            refresh_jti,
        } => {
            let sql = format!(
                "SELECT r.used_at, s.ended_at FROM refresh_tokens r JOIN signins s ON s.id = r.signin_id \
                 WHERE r.jti = $1 AND r.signin_id = $2 AND s.user_id = $3{}",
                T::LOCK
            );
            let rows = tx
                .rows(&sql, &[refresh_jti.into(), sid.into(), sub.into()])
                .await?;
            let Some(row) = rows.first() else {
                return Ok(Err(AuthError::InvalidToken));
            };
            if row[1].int().is_some() {
                return Ok(Err(AuthError::InvalidToken));
            }
            let used_at = row[0].int();
            if used_at.is_none() {
                // The current pair: its access token must not have been denied on its own.
                let denied = tx
                    .rows(
                        "SELECT COUNT(*) FROM jwt_denylist WHERE jti = $1",
                        &[access_jti.into()],
                    )
                    .await?;
                if denied.first().and_then(|r| r[0].int()).unwrap_or(0) > 0 {
                    return Ok(Err(AuthError::InvalidToken));
                }
            }
            let reason = match used_at {
                None => EndReason::Logout,
                // A rotated pair: the client that refreshed moments ago is logging out (benign),
                // or somebody else refreshed with this token and holds the successor (reuse).
                Some(used_at) if ctx.at - used_at < ctx.grace => EndReason::Logout,
                Some(_) => EndReason::RefreshReuse,
            };
            let ended = end_ids(
                tx,
                ctx,
                std::slice::from_ref(sid),
                Some(sub.as_str()),
                reason,
                via,
            )
            .await?;
            if ended.signins.is_empty() {
                return Ok(Err(AuthError::InvalidToken));
            }
            ended
        }
        Ending::User { user_id, reason } => {
            end_user(tx, ctx, user_id, None, None, *reason, via).await?
        }
        Ending::Revoke { caller } => match resolve(tx, ctx, caller).await? {
            Some((me, _)) => end_ids(tx, ctx, &[me], None, EndReason::Revoked, via).await?,
            None => Ended::default(),
        },
        Ending::Signins { ids, owner, reason } => {
            end_ids(tx, ctx, ids, owner.as_deref(), *reason, via).await?
        }
        Ending::PasswordChange {
            user_id,
            keep,
            hash,
            end_others,
        } => {
            tx.exec(
                "UPDATE users SET password_hash = $1 WHERE id = $2",
                &[hash.into(), user_id.into()],
            )
            .await?;
            let detail = if *end_others {
                "other sign-ins ended"
            } else {
                "other sign-ins kept"
            };
            audit(
                tx,
                ctx,
                user_id,
                AuditKind::PasswordChanged.as_str(),
                Some(keep.as_str()),
                detail,
            )
            .await?;
            if *end_others {
                let reason = EndReason::PasswordChanged;
                end_user(
                    tx,
                    ctx,
                    user_id,
                    Some(keep.as_str()),
                    Some(keep),
                    reason,
                    via,
                )
                .await?
            } else {
                Ended::default()
            }
        }
    };
    ctx.checkpoint(FailPoint::BeforeCommit)?;
    Ok(Ok(ended))
}

/// The caller's sign-in and user, if its credential is valid right now.
async fn resolve<T: Tx>(
    tx: &mut T,
    ctx: &Ctx<'_>,
    caller: &Caller,
) -> DbResult<Option<(String, String)>> {
    let rows = match caller {
        Caller::Signin(id) => {
            let sql = format!(
                "SELECT s.id, s.user_id FROM signins s WHERE s.id = $1 AND +s.ended_at IS NULL{}",
                T::LOCK
            );
            tx.rows(&sql, &[id.into()]).await?
        }
        Caller::Opaque(digest) => {
            let sql = format!(
                "SELECT s.id, s.user_id FROM tokens t JOIN signins s ON s.id = t.signin_id \
                 WHERE t.digest = $1 AND +s.ended_at IS NULL \
                 AND (t.expires_at IS NULL OR t.expires_at > $2){}",
                T::LOCK
            );
            tx.rows(&sql, &[digest.into(), ctx.at.into()]).await?
        }
        Caller::Jwt { sid, sub, jti } => {
            let sql = format!(
                "SELECT s.id, s.user_id FROM signins s WHERE s.id = $1 AND s.user_id = $2 \
                 AND +s.ended_at IS NULL AND NOT EXISTS (SELECT 1 FROM jwt_denylist d WHERE d.jti = $3){}",
                T::LOCK
            );
            tx.rows(&sql, &[sid.into(), sub.into(), jti.into()]).await?
        }
    };
    Ok(rows.into_iter().next().and_then(|r| {
        let id = r[0].text()?.to_owned();
        let user = r[1].text()?.to_owned();
        Some((id, user))
    }))
}

/// Ends the given active sign-ins (only `owner`'s, when given), one audit row per user.
///
/// Here and wherever sign-ins are found by id or token, `+ended_at IS NULL` keeps SQLite's planner
/// from walking the `ended_at` index (every active sign-in matches `IS NULL`) instead of the key.
async fn end_ids<T: Tx>(
    tx: &mut T,
    ctx: &Ctx<'_>,
    ids: &[String],
    owner: Option<&str>,
    reason: EndReason,
    via: &str,
) -> DbResult<Ended> {
    let mut ended = Vec::new();
    // Bounded statements: SQLite allows at most 32,766 parameters.
    for chunk in ids.chunks(500) {
        let mut args: Vec<Val> = vec![ctx.at.into(), reason.as_str().into()];
        let list = T::list(&mut args, chunk.to_vec());
        let mut sql = format!(
            "UPDATE signins SET ended_at = $1, end_reason = $2 WHERE +ended_at IS NULL AND id IN ({list})"
        );
        if let Some(owner) = owner {
            args.push(owner.into());
            sql.push_str(&format!(" AND user_id = ${}", args.len()));
        }
        sql.push_str(" RETURNING id, user_id");
        ended.extend(tx.rows(&sql, &args).await?);
    }
    finish(tx, ctx, ended, None, reason, via).await
}

/// Ends every active sign-in of `user` except `keep`, on behalf of sign-in `actor`.
async fn end_user<T: Tx>(
    tx: &mut T,
    ctx: &Ctx<'_>,
    user: &str,
    keep: Option<&str>,
    actor: Option<&str>,
    reason: EndReason,
    via: &str,
) -> DbResult<Ended> {
    let rows = tx
        .rows(
            "UPDATE signins SET ended_at = $1, end_reason = $2 \
             WHERE user_id = $3 AND ended_at IS NULL AND id <> $4 RETURNING id, user_id",
            &[
                ctx.at.into(),
                reason.as_str().into(),
                user.into(),
                keep.unwrap_or("").into(),
            ],
        )
        .await?;
    finish(tx, ctx, rows, actor, reason, via).await
}

/// Audits what was ended, one row per user, and returns it. A reason that ends one sign-in names
/// it; one that ends many counts them and names `actor`, the sign-in that asked (if any).
async fn finish<T: Tx>(
    tx: &mut T,
    ctx: &Ctx<'_>,
    rows: Vec<Vec<Val>>,
    actor: Option<&str>,
    reason: EndReason,
    via: &str,
) -> DbResult<Ended> {
    ctx.checkpoint(FailPoint::AfterEnding)?;
    let ended: Vec<EndedSignin> = rows
        .into_iter()
        .filter_map(|r| {
            Some(EndedSignin {
                id: r[0].text()?.to_owned(),
                user_id: r[1].text()?.to_owned(),
                reason,
            })
        })
        .collect();
    write_events(tx, ctx, &ended).await?;
    let mut by_user: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for e in &ended {
        by_user.entry(&e.user_id).or_default().push(&e.id);
    }
    for (user, ids) in by_user {
        let (signin, detail) = match ids.as_slice() {
            [one] if !reason.counts() => (Some(*one), format!("{} (via {via})", reason.scope())),
            _ => {
                let n = ids.len();
                let plural = if n == 1 { "" } else { "s" };
                (
                    actor.or((n == 1).then(|| ids[0])),
                    format!("{} ({n} sign-in{plural}, via {via})", reason.scope()),
                )
            }
        };
        audit(tx, ctx, user, reason.event().as_str(), signin, &detail).await?;
    }
    Ok(Ended { signins: ended })
}

/// Writes a `session.ended` event per ended sign-in and receiver to the webhook outbox (nothing
/// when no receiver is configured), in the transaction that ends them.
async fn write_events<T: Tx>(tx: &mut T, ctx: &Ctx<'_>, ended: &[EndedSignin]) -> DbResult<()> {
    if !ctx.outbox.enabled() || ended.is_empty() {
        return Ok(());
    }
    let reasons: std::collections::HashMap<&str, EndReason> =
        ended.iter().map(|e| (e.id.as_str(), e.reason)).collect();
    for chunk in ended.chunks(500) {
        let mut args: Vec<Val> = Vec::new();
        let list = T::list(&mut args, chunk.iter().map(|e| e.id.clone()).collect());
        let sql = format!(
            "SELECT s.id, s.user_id, s.kind, s.last_seen_at, \
             (SELECT COUNT(*) FROM tokens t WHERE t.signin_id = s.id AND t.expires_at IS NULL), \
             (SELECT MAX(t.expires_at) FROM tokens t WHERE t.signin_id = s.id), \
             (SELECT MAX(r.expires_at) FROM refresh_tokens r WHERE r.signin_id = s.id) \
             FROM signins s WHERE s.id IN ({list})"
        );
        for row in tx.rows(&sql, &args).await? {
            let facts = SigninFacts {
                id: row[0].text().unwrap_or_default().to_owned(),
                user_id: row[1].text().unwrap_or_default().to_owned(),
                kind: row[2].text().unwrap_or_default().to_owned(),
                last_seen_at: row[3].int().unwrap_or(ctx.at),
                has_unexpiring_token: row[4].int().unwrap_or(0) > 0,
                token_expires_at: row[5].int(),
                refresh_expires_at: row[6].int(),
            };
            let reason = reasons
                .get(facts.id.as_str())
                .copied()
                .unwrap_or(EndReason::Logout);
            let body =
                outbox::session_ended(&facts, reason.as_str(), ctx.at, ctx.outbox.session_idle);
            let id = outbox::event_id();
            for endpoint in ctx.outbox.endpoints.iter() {
                tx.exec(
                    "INSERT INTO webhook_outbox (event_id, endpoint, payload, created_at, next_attempt_at, attempts) \
                     VALUES ($1, $2, $3, $4, $4, 0)",
                    &[id.as_str().into(), endpoint.into(), body.as_str().into(), ctx.at.into()],
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// Appends an audit row. Never pass a token or a password here.
async fn audit<T: Tx>(
    tx: &mut T,
    ctx: &Ctx<'_>,
    user: &str,
    event: &str,
    signin: Option<&str>,
    detail: &str,
) -> DbResult<()> {
    tx.exec(
        "INSERT INTO audit_events (id, user_id, at, event, signin_id, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            uuid::Uuid::now_v7().to_string().as_str().into(),
            user.into(),
            ctx.at.into(),
            event.into(),
            signin.into(),
            detail.into(),
        ],
    )
    .await?;
    Ok(())
}

/// A queued request and where its answer goes.
struct Job {
    request: Request,
    reply: oneshot::Sender<Result<Ended>>,
}

/// Runs one group inside an open transaction; `Err` means: roll back, fail everyone.
///
/// The common case, a local logout by opaque token (seeds 000, 001 and 002), is done for the whole
/// group at once (three statements whatever the group's size: find the live sign-ins, end them,
/// audit them); every other request runs on its own after it, in arrival order.
async fn run_group<T: Tx>(tx: &mut T, ctx: &Ctx<'_>, jobs: &[Job]) -> DbResult<Vec<Result<Ended>>> {
    let mut answers: Vec<Option<Result<Ended>>> = vec![None; jobs.len()];
    let bulk: Vec<(usize, &str)> = jobs
        .iter()
        .enumerate()
        .filter_map(|(i, job)| match &job.request.ending {
            Ending::Logout {
                caller: Caller::Opaque(digest),
                scope: Scope::Local,
            } => Some((i, digest.as_str())),
            _ => None,
        })
        .collect();
    if !bulk.is_empty() {
        for (i, answer) in local_logouts(tx, ctx, jobs, &bulk).await? {
            answers[i] = Some(answer);
        }
    }
    for (i, job) in jobs.iter().enumerate() {
        if answers[i].is_none() {
            answers[i] = Some(apply(tx, ctx, &job.request).await?);
        }
    }
    Ok(answers.into_iter().flatten().collect())
}

/// Local logouts by opaque token, `(job index, digest)`, in bulk. Of several requests with one
/// token, the first in the group succeeds and the others are refused, as if they came after it.
async fn local_logouts<T: Tx>(
    tx: &mut T,
    ctx: &Ctx<'_>,
    jobs: &[Job],
    bulk: &[(usize, &str)],
) -> DbResult<Vec<(usize, Result<Ended>)>> {
    // Bounded statements: at most 500 tokens (or 100 audit rows of 6 values) each.
    let mut live: std::collections::HashMap<String, (String, String)> = Default::default();
    for chunk in bulk.chunks(500) {
        let mut args: Vec<Val> = vec![ctx.at.into()];
        let list = T::list(
            &mut args,
            chunk.iter().map(|(_, d)| d.to_string()).collect(),
        );
        let sql = format!(
            "SELECT t.digest, s.id, s.user_id FROM tokens t JOIN signins s ON s.id = t.signin_id \
             WHERE t.digest IN ({list}) AND +s.ended_at IS NULL \
             AND (t.expires_at IS NULL OR t.expires_at > $1){}",
            T::LOCK
        );
        for row in tx.rows(&sql, &args).await? {
            if let (Some(d), Some(id), Some(user)) = (row[0].text(), row[1].text(), row[2].text()) {
                live.insert(d.to_owned(), (id.to_owned(), user.to_owned()));
            }
        }
    }
    // Each live sign-in goes to the first request naming it.
    let mut claimed: Vec<(usize, String, String)> = Vec::new();
    let mut refused: Vec<usize> = Vec::new();
    for (i, digest) in bulk {
        match live.remove(*digest) {
            Some((id, user)) => claimed.push((*i, id, user)),
            None => refused.push(*i),
        }
    }
    let mut ended: std::collections::HashSet<String> = Default::default();
    for chunk in claimed.chunks(500) {
        let mut args: Vec<Val> = vec![ctx.at.into(), EndReason::Logout.as_str().into()];
        let list = T::list(
            &mut args,
            chunk.iter().map(|(_, id, _)| id.clone()).collect(),
        );
        let sql = format!(
            "UPDATE signins SET ended_at = $1, end_reason = $2 WHERE +ended_at IS NULL AND id IN ({list}) RETURNING id"
        );
        for row in tx.rows(&sql, &args).await? {
            if let Some(id) = row[0].text() {
                ended.insert(id.to_owned());
            }
        }
    }
    ctx.checkpoint(FailPoint::AfterEnding)?;
    let done: Vec<&(usize, String, String)> = claimed
        .iter()
        .filter(|(_, id, _)| ended.contains(id))
        .collect();
    if ctx.outbox.enabled() {
        let signins: Vec<EndedSignin> = done
            .iter()
            .map(|(_, id, user)| EndedSignin {
                id: id.clone(),
                user_id: user.clone(),
                reason: EndReason::Logout,
            })
            .collect();
        write_events(tx, ctx, &signins).await?;
    }
    let scope = EndReason::Logout.scope();
    for chunk in done.chunks(100) {
        let rows = chunk
            .iter()
            .map(|(i, id, user)| {
                [
                    uuid::Uuid::now_v7().to_string(),
                    user.clone(),
                    EndReason::Logout.event().as_str().to_owned(),
                    id.clone(),
                    format!("{scope} (via {})", jobs[*i].request.via),
                ]
            })
            .collect();
        tx.audit_rows(ctx.at, rows).await?;
    }
    ctx.checkpoint(FailPoint::BeforeCommit)?;
    let mut answers: Vec<(usize, Result<Ended>)> = done
        .into_iter()
        .map(|(i, id, user)| {
            let signin = EndedSignin {
                id: id.clone(),
                user_id: user.clone(),
                reason: EndReason::Logout,
            };
            (
                *i,
                Ok(Ended {
                    signins: vec![signin],
                }),
            )
        })
        .collect();
    // Claimed but not ended (a racing ending on another PostgreSQL writer got there first).
    answers.extend(
        claimed
            .iter()
            .filter(|(_, id, _)| !ended.contains(id))
            .map(|(i, _, _)| (*i, Err(AuthError::InvalidToken))),
    );
    answers.extend(
        refused
            .into_iter()
            .map(|i| (i, Err(AuthError::InvalidToken))),
    );
    Ok(answers)
}

/// Answers every job of a committed group (after recording the revocations in memory), or every
/// job of a failed group with the same error.
fn answer(
    jobs: Vec<Job>,
    outcome: DbResult<Vec<Result<Ended>>>,
    revocations: &Revocations,
    outbox: &Outbox,
) {
    match outcome {
        Ok(answers) => {
            if outbox.enabled()
                && answers
                    .iter()
                    .any(|a| a.as_ref().is_ok_and(|e| !e.signins.is_empty()))
            {
                outbox.written.notify_one();
            }
            for (job, answer) in jobs.into_iter().zip(answers) {
                if let Ok(ended) = &answer {
                    for s in &ended.signins {
                        revocations.signin_ended(&s.id, Some(s.reason));
                    }
                }
                let _ = job.reply.send(answer);
            }
        }
        Err(err) => {
            tracing::error!(error = %err, requests = jobs.len(), "a group of endings failed and was rolled back");
            for job in jobs {
                let _ = job.reply.send(Err(err.clone()));
            }
        }
    }
}

/// The logout engine: a queue in front of the writer(s) of one database.
#[derive(Clone)]
pub struct Engine {
    queue: mpsc::Sender<Job>,
    fail: Arc<AtomicU8>,
    revocations: Arc<Revocations>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Engine")
    }
}

impl Engine {
    /// Starts the writer(s) for `db`. `grace` is how long after its rotation a refresh token may be
    /// presented again without counting as reuse.
    pub fn start(
        db: &Db,
        revocations: Arc<Revocations>,
        grace: Duration,
        outbox: Outbox,
    ) -> Result<Self> {
        let (queue, rx) = mpsc::channel(QUEUE);
        let fail = Arc::new(AtomicU8::new(0));
        let grace = grace.as_secs() as i64;
        let this = Self {
            queue,
            fail: fail.clone(),
            revocations: revocations.clone(),
        };
        match db {
            Db::Sqlite(pool) => {
                sqlite::spawn(pool.clone(), rx, revocations, fail.clone(), grace, outbox)?
            }
            Db::Postgres(pool) => {
                let rx = Arc::new(Mutex::new(rx));
                let writers = std::env::var("SIGNOFF_PG_WRITERS")
                    .ok()
                    .and_then(|n| n.parse::<usize>().ok())
                    .filter(|n| (1..=64).contains(n))
                    .unwrap_or(PG_WRITERS);
                for _ in 0..writers {
                    tokio::spawn(postgres::writer(
                        pool.clone(),
                        rx.clone(),
                        revocations.clone(),
                        fail.clone(),
                        grace,
                        outbox.clone(),
                    ));
                }
            }
        }
        Ok(this)
    }

    /// Queues `request` and waits until its group has committed (or failed) and, on PostgreSQL,
    /// until every instance has applied the endings ([`Revocations::everyone_heard`]).
    pub async fn end(&self, request: Request) -> Result<Ended> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Job { request, reply })
            .await
            .map_err(|_| AuthError::Unavailable("the logout writer has stopped".into()))?;
        let ended = answer
            .await
            .map_err(|_| AuthError::Internal("the logout writer dropped a request".into()))??;
        self.revocations
            .everyone_heard(ended.signins.iter().map(|s| s.id.as_str()))
            .await;
        Ok(ended)
    }

    /// Makes the next request that reaches `point` fail there (tests of atomicity).
    #[doc(hidden)]
    pub fn inject_failure(&self, point: FailPoint) {
        self.fail.store(point as u8, Ordering::SeqCst);
    }
}

/// Takes the first waiting job (waiting for one) and whatever else is queued, up to [`MAX_GROUP`].
async fn next_group(rx: &mut mpsc::Receiver<Job>) -> Option<Vec<Job>> {
    let first = rx.recv().await?;
    let mut jobs = vec![first];
    while jobs.len() < MAX_GROUP {
        match rx.try_recv() {
            Ok(job) => jobs.push(job),
            Err(_) => break,
        }
    }
    Some(jobs)
}

mod sqlite {
    //! The SQLite writer: one thread, one connection, one transaction per group.

    use rusqlite::{types::ValueRef, Connection, TransactionBehavior};

    use super::*;

    impl From<rusqlite::Error> for AuthError {
        fn from(err: rusqlite::Error) -> Self {
            use rusqlite::ErrorCode::*;
            match err.sqlite_error_code() {
                Some(DatabaseBusy | DatabaseLocked | CannotOpen | SystemIoFailure | DiskFull) => {
                    AuthError::Unavailable(err.to_string())
                }
                _ => AuthError::Internal(err.to_string()),
            }
        }
    }

    struct SqliteTx<'c>(&'c rusqlite::Transaction<'c>);

    impl SqliteTx<'_> {
        fn prepare(&self, sql: &str, args: &[Val]) -> DbResult<rusqlite::CachedStatement<'_>> {
            let mut stmt = self.0.prepare_cached(sql)?;
            for (i, arg) in args.iter().enumerate() {
                // Bound by name: SQLite numbers `$N` parameters in order of appearance.
                let Some(index) = stmt.parameter_index(&format!("${}", i + 1))? else {
                    continue;
                };
                match arg {
                    Val::Text(s) => stmt.raw_bind_parameter(index, s)?,
                    Val::Int(n) => stmt.raw_bind_parameter(index, n)?,
                    Val::Null | Val::Texts(_) => {
                        stmt.raw_bind_parameter(index, rusqlite::types::Null)?
                    }
                }
            }
            Ok(stmt)
        }
    }

    impl Tx for SqliteTx<'_> {
        const LOCK: &'static str = "";

        fn list(args: &mut Vec<Val>, items: Vec<String>) -> String {
            let first = args.len() + 1;
            let n = items.len();
            args.extend(items.into_iter().map(Val::Text));
            (first..first + n)
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ")
        }

        async fn audit_rows(&mut self, at: i64, rows: Vec<[String; 5]>) -> DbResult<()> {
            // Prepared once, run per row: no statement text per group size.
            let mut stmt = self.0.prepare_cached(
                "INSERT INTO audit_events (id, user_id, at, event, signin_id, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for [id, user, event, signin, detail] in rows {
                stmt.execute(rusqlite::params![id, user, at, event, signin, detail])?;
            }
            Ok(())
        }

        async fn rows(&mut self, sql: &str, args: &[Val]) -> DbResult<Vec<Vec<Val>>> {
            let mut stmt = self.prepare(sql, args)?;
            let width = stmt.column_count();
            let mut rows = stmt.raw_query();
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                let mut values = Vec::with_capacity(width);
                for i in 0..width {
                    values.push(match row.get_ref(i)? {
                        ValueRef::Integer(n) => Val::Int(n),
                        ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                        _ => Val::Null,
                    });
                }
                out.push(values);
            }
            Ok(out)
        }

        async fn exec(&mut self, sql: &str, args: &[Val]) -> DbResult<u64> {
            Ok(self.prepare(sql, args)?.raw_execute()? as u64)
        }
    }

    /// Opens the writer's connection (same file and settings as the pool) and starts its thread.
    pub(super) fn spawn(
        pool: sqlx::SqlitePool,
        mut rx: mpsc::Receiver<Job>,
        revocations: Arc<Revocations>,
        fail: Arc<AtomicU8>,
        grace: i64,
        outbox: Outbox,
    ) -> Result<()> {
        let path = pool.connect_options().get_filename().to_owned();
        if path.as_os_str() == ":memory:" || path.as_os_str().is_empty() {
            return Err(AuthError::Internal(
                "the logout writer needs a database file, not :memory:".into(),
            ));
        }
        let conn = Connection::open(&path)?;
        conn.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
            crate::server::db::sqlite_synchronous_pragma()
        ))?;
        conn.set_prepared_statement_cache_capacity(64);
        std::thread::Builder::new()
            .name("signoff-logout-writer".into())
            .spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
                    tracing::error!("the logout writer could not start its runtime");
                    return;
                };
                let mut conn = conn;
                rt.block_on(async move {
                    while let Some(jobs) = next_group(&mut rx).await {
                        let outcome = if pool.is_closed() {
                            // The server's database handle was shut down: so is its writer.
                            Err(AuthError::Unavailable("the database is closed".into()))
                        } else {
                            commit_group(&mut conn, &fail, grace, &outbox, &jobs).await
                        };
                        answer(jobs, outcome, &revocations, &outbox);
                    }
                });
            })
            .map_err(|e| AuthError::Internal(format!("starting the logout writer: {e}")))?;
        Ok(())
    }

    async fn commit_group(
        conn: &mut Connection,
        fail: &AtomicU8,
        grace: i64,
        outbox: &Outbox,
        jobs: &[Job],
    ) -> DbResult<Vec<Result<Ended>>> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let ctx = Ctx {
            at: now(),
            grace,
            fail,
            outbox,
        };
        // Dropping `tx` without committing rolls it back.
        let answers = run_group(&mut SqliteTx(&tx), &ctx, jobs).await?;
        tx.commit()?;
        Ok(answers)
    }
}

mod postgres {
    //! The PostgreSQL writers: tasks sharing the queue, one transaction per group each.

    use sqlx::{
        pool::PoolConnection, postgres::PgRow, Column, Connection, PgConnection, PgPool, Postgres,
        Row, TypeInfo,
    };

    use super::*;

    /// A transaction, and whether a statement failed in a way a retry can cure.
    struct PgTx<'t, 'c> {
        tx: &'t mut sqlx::Transaction<'c, Postgres>,
        retryable: bool,
    }

    /// Deadlock or serialization failure: the group is run again from the start.
    fn is_retryable(err: &sqlx::Error) -> bool {
        matches!(err, sqlx::Error::Database(e) if matches!(e.code().as_deref(), Some("40P01" | "40001")))
    }

    /// How often a group is tried when PostgreSQL aborts it for a deadlock.
    const ATTEMPTS: usize = 3;

    fn query<'q>(
        sql: &'q str,
        args: &'q [Val],
    ) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
        let mut q = sqlx::query(sql);
        for arg in args {
            q = match arg {
                Val::Text(s) => q.bind(s.as_str()),
                Val::Int(n) => q.bind(*n),
                Val::Null => q.bind(None::<String>),
                Val::Texts(items) => q.bind(items.as_slice()),
            };
        }
        q
    }

    fn values(row: &PgRow) -> Vec<Val> {
        (0..row.len())
            .map(|i| {
                let int = match row.column(i).type_info().name() {
                    "INT8" => Some(row.try_get::<Option<i64>, _>(i).ok().flatten()),
                    "INT4" => Some(
                        row.try_get::<Option<i32>, _>(i)
                            .ok()
                            .flatten()
                            .map(i64::from),
                    ),
                    "INT2" => Some(
                        row.try_get::<Option<i16>, _>(i)
                            .ok()
                            .flatten()
                            .map(i64::from),
                    ),
                    _ => None,
                };
                if let Some(int) = int {
                    int.map_or(Val::Null, Val::Int)
                } else {
                    row.try_get::<Option<String>, _>(i)
                        .ok()
                        .flatten()
                        .map_or(Val::Null, Val::Text)
                }
            })
            .collect()
    }

    impl PgTx<'_, '_> {
        fn note(&mut self, err: sqlx::Error) -> AuthError {
            self.retryable |= is_retryable(&err);
            err.into()
        }
    }

    impl Tx for PgTx<'_, '_> {
        const LOCK: &'static str = " FOR UPDATE OF s";

        fn list(args: &mut Vec<Val>, items: Vec<String>) -> String {
            args.push(Val::Texts(items));
            format!("SELECT unnest(${}::text[])", args.len())
        }

        async fn audit_rows(&mut self, at: i64, rows: Vec<[String; 5]>) -> DbResult<()> {
            let mut columns: [Vec<String>; 5] = Default::default();
            for row in rows {
                for (column, value) in columns.iter_mut().zip(row) {
                    column.push(value);
                }
            }
            let [ids, users, events, signins, details] = columns;
            let done = sqlx::query(
                "INSERT INTO audit_events (id, user_id, at, event, signin_id, detail) \
                 SELECT r.id, r.user_id, $6, r.event, r.signin_id, r.detail \
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
                   AS r(id, user_id, event, signin_id, detail)",
            )
            .bind(&ids)
            .bind(&users)
            .bind(&events)
            .bind(&signins)
            .bind(&details)
            .bind(at)
            .execute(&mut **self.tx)
            .await;
            match done {
                Ok(_) => Ok(()),
                Err(err) => Err(self.note(err)),
            }
        }

        async fn rows(&mut self, sql: &str, args: &[Val]) -> DbResult<Vec<Vec<Val>>> {
            match query(sql, args).fetch_all(&mut **self.tx).await {
                Ok(rows) => Ok(rows.iter().map(values).collect()),
                Err(err) => Err(self.note(err)),
            }
        }

        async fn exec(&mut self, sql: &str, args: &[Val]) -> DbResult<u64> {
            match query(sql, args).execute(&mut **self.tx).await {
                Ok(done) => Ok(done.rows_affected()),
                Err(err) => Err(self.note(err)),
            }
        }
    }

    /// One attempt at a group: `Err((error, retryable))` rolls it back.
    async fn attempt(
        conn: &mut PgConnection,
        ctx: &Ctx<'_>,
        jobs: &[Job],
    ) -> std::result::Result<Vec<Result<Ended>>, (AuthError, bool)> {
        let mut tx = conn
            .begin()
            .await
            .map_err(|e| (AuthError::from(e), false))?;
        let mut pg = PgTx {
            tx: &mut tx,
            retryable: false,
        };
        let answers = match run_group(&mut pg, ctx, jobs).await {
            Ok(answers) => answers,
            Err(err) => return Err((err, pg.retryable)),
        };
        match tx.commit().await {
            Ok(()) => Ok(answers),
            Err(err) => {
                let retry = is_retryable(&err);
                Err((err.into(), retry))
            }
        }
    }

    pub(super) async fn writer(
        pool: PgPool,
        rx: Arc<Mutex<mpsc::Receiver<Job>>>,
        revocations: Arc<Revocations>,
        fail: Arc<AtomicU8>,
        grace: i64,
        outbox: Outbox,
    ) {
        // A connection of its own, kept between groups (its prepared statements stay warm);
        // replaced after any failure.
        let mut held: Option<PoolConnection<Postgres>> = None;
        loop {
            let Some(jobs) = next_group(&mut *rx.lock().await).await else {
                return;
            };
            let ctx = Ctx {
                at: now(),
                grace,
                fail: &fail,
                outbox: &outbox,
            };
            let mut outcome = Err(AuthError::Internal("no attempt".into()));
            for n in 1..=ATTEMPTS {
                let conn = match held.take() {
                    Some(conn) => conn,
                    None => match pool.acquire().await {
                        Ok(conn) => conn,
                        Err(err) => {
                            outcome = Err(err.into());
                            break;
                        }
                    },
                };
                let mut conn = conn;
                match attempt(&mut conn, &ctx, &jobs).await {
                    Ok(answers) => {
                        held = Some(conn);
                        outcome = Ok(answers);
                        break;
                    }
                    Err((err, retry)) => {
                        if retry && n < ATTEMPTS {
                            tracing::debug!(error = %err, "a group of endings deadlocked; trying again");
                        }
                        outcome = Err(err);
                        if !retry {
                            break;
                        }
                    }
                }
            }
            answer(jobs, outcome, &revocations, &outbox);
        }
    }
}
