//! The one place where sign-ins end.
//!
//! Every ending goes through [`Engine::end`]: the **Log out** button, every dialect and scope, the
//! `/sessions` buttons, revoking a personal token, a password change, refresh-token reuse, a sign-in
//! replaced by a new one in the same browser, pruning, and the one revocation that ends no sign-in:
//! a refresh token's rotation, which denies the access token issued with its predecessor. Each request is one [`Request`]: *what*
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
//! - **PostgreSQL**: `model::PG_WRITERS` writer tasks (`SIGNOFF_PG_WRITERS`, through
//!   `Options::pg_writers`) share the queue, each committing its own groups on
//!   a pooled connection, so instances and writers proceed in parallel under row locks.
//!
//! ```ignore
//! let caller = auth.caller_for_token(token)?;                     // no database read
//! let ended = auth.logout(caller, Scope::Global, "seed 001").await?;
//! assert!(ended.signins.len() >= 1);
//! ```
//!
//! Here: the vocabulary ([`Ending`], [`Caller`], [`Scope`], [`Ended`]), the queue and the
//! [`Engine`]; [`rules`] says what each ending does, in SQL over any transaction ([`tx`]), and
//! [`announce`] what it tells other services; the
//! writers are [`sqlite`] and [`postgres`].

mod announce;
mod postgres;
mod rules;
mod sqlite;
mod tx;

use std::sync::{
    atomic::{AtomicU64, AtomicU8, Ordering},
    Arc,
};

use tokio::sync::{mpsc, oneshot, Mutex};
use tracing::Instrument;

use super::{
    model::{AuthError, EndReason, Options, Result},
    outbox::Outbox,
    revocations::Revocations,
};
use crate::server::db::Db;

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
    /// An OpenID authorization code presented a second time: every token issued from it (its
    /// refresh tokens, through every rotation, and their access tokens) is revoked; its sign-in
    /// stays (RFC 6749 §4.1.2).
    Grant {
        /// The code's digest, which its refresh tokens carry as `grant_id`.
        grant_id: String,
    },
    /// Seed 004's refresh (the refresh token verified): the refresh token `refresh_jti` of sign-in
    /// `sid` is marked used at `at` with its successor stored, and the access token issued with it
    /// is denied until `access_expires_at`. Refused ([`AuthError::InvalidToken`], nothing changed)
    /// when the token was rotated before or its sign-in has ended: the caller then tells a replay
    /// from reuse.
    Rotate {
        /// The sign-in.
        sid: String,
        /// The refresh token presented.
        refresh_jti: String,
        /// The new refresh token's id.
        successor_jti: String,
        /// The new access token's id.
        successor_access_jti: String,
        /// When the old access token expires (its denial is kept until then).
        access_expires_at: i64,
        /// The time of the rotation, which the new pair carries.
        at: i64,
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
    /// The W3C `traceparent` of the span that asked, when traces are on: its outbox rows carry it,
    /// and their deliveries continue that trace ([`super::trace`]).
    pub trace: Option<String>,
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
    /// Access tokens denied on their own, `(jti, until)`: a refresh rotation's predecessor.
    pub denied: Vec<(String, i64)>,
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

/// A queued request and where its answer goes.
pub(super) struct Job {
    pub request: Request,
    pub reply: oneshot::Sender<Result<Ended>>,
}

/// What every writer of one engine shares.
#[derive(Clone)]
struct Shared {
    /// Where committed endings are recorded before anyone is answered.
    revocations: Arc<Revocations>,
    /// A failure a test asked for ([`FailPoint`]).
    fail: Arc<AtomicU8>,
    /// How long after its rotation a refresh token may be presented again (seconds).
    grace: i64,
    /// Where `session.ended` events go.
    outbox: Outbox,
    /// Groups PostgreSQL aborted (a deadlock, a serialization failure) and that ran again.
    retries: Arc<AtomicU64>,
}

impl Shared {
    /// The context of a group run at `at`.
    fn ctx(&self, at: i64) -> tx::Ctx<'_> {
        tx::Ctx {
            at,
            grace: self.grace,
            fail: &self.fail,
            outbox: &self.outbox,
            trace: std::sync::Mutex::new(None),
        }
    }

    /// Answers every job of a committed group (after recording the revocations in memory), or
    /// every job of a failed group with the same error.
    fn answer(&self, jobs: Vec<Job>, outcome: tx::DbResult<Vec<Result<Ended>>>) {
        let (revocations, outbox) = (&self.revocations, &self.outbox);
        match outcome {
            Ok(answers) => {
                // Webhook events or logout tokens may have been written: wake the delivery.
                if answers
                    .iter()
                    .any(|a| a.as_ref().is_ok_and(|e| !e.signins.is_empty()))
                {
                    outbox.written.notify_one();
                }
                for (job, answer) in jobs.into_iter().zip(answers) {
                    if let Ok(ended) = &answer {
                        for s in &ended.signins {
                            revocations.signin_ended(&s.id, Some(s.reason));
                            let reason = s.reason.as_str();
                            metrics::counter!("signoff_signins_ended_total", "reason" => reason)
                                .increment(1);
                        }
                        for (jti, until) in &ended.denied {
                            revocations.insert(jti, *until);
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
}

/// The logout engine: a queue in front of the writer(s) of one database.
#[derive(Clone)]
pub struct Engine {
    queue: mpsc::Sender<Job>,
    fail: Arc<AtomicU8>,
    revocations: Arc<Revocations>,
    retries: Arc<AtomicU64>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Engine")
    }
}

impl Engine {
    /// Starts the writer(s) for `db`, set up by `options`: `pg_writers` of them on PostgreSQL, one
    /// committing with `durability` on SQLite; `refresh_grace` is how long after its rotation a
    /// refresh token may be presented again without counting as reuse.
    pub fn start(
        db: &Db,
        revocations: Arc<Revocations>,
        outbox: Outbox,
        options: &Options,
    ) -> Result<Self> {
        let (grace, pg_writers) = (options.refresh_grace, options.pg_writers);
        let (queue, rx) = mpsc::channel(QUEUE);
        let fail = Arc::new(AtomicU8::new(0));
        let retries = Arc::new(AtomicU64::new(0));
        let shared = Shared {
            revocations: revocations.clone(),
            fail: fail.clone(),
            grace: grace.as_secs() as i64,
            outbox,
            retries: retries.clone(),
        };
        let this = Self {
            queue,
            fail: fail.clone(),
            revocations: revocations.clone(),
            retries,
        };
        match db {
            Db::Sqlite(pool) => {
                let synchronous = options.durability.pragma();
                sqlite::spawn(synchronous, pool.clone(), rx, shared)?
            }
            Db::Postgres(pool) => {
                let rx = Arc::new(Mutex::new(rx));
                for _ in 0..pg_writers.clamp(1, 64) {
                    tokio::spawn(postgres::writer(pool.clone(), rx.clone(), shared.clone()));
                }
            }
        }
        Ok(this)
    }

    /// How many groups PostgreSQL aborted (each abort of a deadlock costs its `deadlock_timeout`,
    /// a second by default) and this instance's writers ran again, since it started.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
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
        let keys = ended.signins.iter().map(|s| s.id.as_str());
        let denied = ended.denied.iter().map(|(jti, _)| jti.as_str());
        self.revocations.everyone_heard(keys.chain(denied)).await;
        Ok(ended)
    }

    /// Ends what `ending` names, on behalf of `via` (which page or API asked: audit detail, never a
    /// secret); see [`Engine::end`].
    pub async fn run(&self, ending: Ending, via: &str) -> Result<Ended> {
        // A span per ending: which page or API asked, why the sign-ins ended, how many.
        let span = tracing::info_span!(
            "logout.ending",
            logout.dialect = via,
            logout.reason = tracing::field::Empty,
            logout.ended = tracing::field::Empty,
        );
        async move {
            let trace = super::trace::current();
            let request = Request {
                ending,
                via: via.to_owned(),
                trace,
            };
            let ended = self.end(request).await?;
            if let Some(first) = ended.signins.first() {
                let span = tracing::Span::current();
                span.record("logout.reason", first.reason.as_str());
                span.record("logout.ended", ended.signins.len());
                tracing::info!(ended = ended.signins.len(), "sign-ins ended");
            }
            Ok(ended)
        }
        .instrument(span)
        .await
    }

    /// Makes the next request that reaches `point` fail there (tests of atomicity).
    #[doc(hidden)]
    pub fn inject_failure(&self, point: FailPoint) {
        self.fail.store(point as u8, Ordering::SeqCst);
    }
}

/// The span of one group's commit: in the trace of its first request, linked to the others'.
pub(super) fn group_span(jobs: &[Job]) -> tracing::Span {
    let span = tracing::info_span!("logout.group_commit", logout.requests = jobs.len());
    let mut traces = jobs.iter().filter_map(|job| job.request.trace.as_deref());
    super::trace::continue_from(&span, traces.next());
    for other in traces {
        super::trace::link(&span, other);
    }
    span
}

/// Takes the first waiting job (waiting for one) and whatever else is queued, up to [`MAX_GROUP`].
pub(super) async fn next_group(rx: &mut mpsc::Receiver<Job>) -> Option<Vec<Job>> {
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
