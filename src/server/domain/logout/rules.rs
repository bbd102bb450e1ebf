//! What each [`Ending`] does, in SQL over any transaction ([`Tx`]): the caller's credential is
//! checked, the sign-in rows are ended (which revokes every credential of them: each credential
//! check joins its sign-in), the audit rows and the outbox's events are written, and for a password
//! change the new hash is stored, all inside the group's one transaction.
//!
//! Here and wherever sign-ins are found by id or token, `+ended_at IS NULL` keeps SQLite's planner
//! from walking the `ended_at` index (every active sign-in matches `IS NULL`) instead of the key.

use std::collections::{BTreeMap, HashMap};

use super::{
    announce,
    tx::{AuditRow, Ctx, DbResult, Tx, Val},
    Caller, Ended, EndedSignin, Ending, FailPoint, Job, Request, Scope,
};
use crate::server::domain::model::{AuditKind, Audited, AuthError, EndReason, Result};

/// A request's answer: `Ok(Err(_))` is a refusal that changed nothing (401, 404, 409); the outer
/// `Err` is a failure that rolls the whole group back.
type Outcome = DbResult<Result<Ended>>;

/// Runs one group inside an open transaction; `Err` means: roll back, fail everyone.
///
/// The common case, a local logout by opaque token (seeds 000, 001 and 002), is done for the whole
/// group at once (a handful of statements whatever the group's size: find the live sign-ins, end
/// them, audit them); every other request runs on its own after it, in arrival order.
pub(super) async fn run_group<T: Tx>(
    tx: &mut T,
    ctx: &Ctx<'_>,
    jobs: &[Job],
) -> DbResult<Vec<Result<Ended>>> {
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
            ctx.set_trace(job.request.trace.clone());
            answers[i] = Some(apply(tx, ctx, &job.request).await?);
        }
    }
    Ok(answers.into_iter().flatten().collect())
}

/// One request, on its own.
async fn apply<T: Tx>(tx: &mut T, ctx: &Ctx<'_>, req: &Request) -> Outcome {
    let via = req.via.as_str();
    let ended = match &req.ending {
        Ending::Logout { caller, scope } => {
            let Some((me, user)) = resolve(tx, ctx, caller).await? else {
                return Ok(Err(AuthError::InvalidToken));
            };
            match logout(tx, ctx, &me, &user, scope, via).await? {
                Ok(ended) => ended,
                Err(refused) => return Ok(Err(refused)),
            }
        }
        Ending::JwtPair {
            sid,
            sub,
            access_jti,
            refresh_jti,
        } => match jwt_pair(tx, ctx, sid, sub, access_jti, refresh_jti, via).await? {
            Ok(ended) => ended,
            Err(refused) => return Ok(Err(refused)),
        },
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
        Ending::Grant { grant_id } => {
            let tokens: Vec<(String,)> = tx
                .rows(
                    "DELETE FROM refresh_tokens WHERE grant_id = $1 RETURNING access_jti",
                    &[grant_id.into()],
                )
                .await?;
            // An access token lives ACCESS_TTL at most from now.
            let until = ctx.at + crate::server::domain::ttl::ACCESS_TTL;
            let mut denied = Vec::with_capacity(tokens.len());
            for (access,) in tokens {
                deny(tx, &access, until).await?;
                denied.push((access, until));
            }
            Ended {
                signins: Vec::new(),
                denied,
            }
        }
        Ending::Rotate {
            sid,
            refresh_jti,
            successor_jti,
            successor_access_jti,
            access_expires_at,
            at,
        } => {
            let old: Vec<(String,)> = tx
                .rows(
                    "UPDATE refresh_tokens SET used_at = $1, successor_jti = $4 \
                     WHERE jti = $2 AND used_at IS NULL AND signin_id = $3 \
                     AND EXISTS (SELECT 1 FROM signins s WHERE s.id = $3 AND s.ended_at IS NULL) \
                     RETURNING access_jti",
                    &[
                        (*at).into(),
                        refresh_jti.into(),
                        sid.into(),
                        successor_jti.into(),
                    ],
                )
                .await?;
            let Some((old_access,)) = old.into_iter().next() else {
                return Ok(Err(AuthError::InvalidToken));
            };
            tx.exec(
                // An OpenID client's grant (its code) carries over to the successor.
                "INSERT INTO refresh_tokens (jti, signin_id, access_jti, expires_at, grant_id) \
                 VALUES ($1, $2, $3, $4, (SELECT grant_id FROM refresh_tokens WHERE jti = $5))",
                &[
                    successor_jti.into(),
                    sid.into(),
                    successor_access_jti.into(),
                    (at + crate::server::domain::ttl::REFRESH_TTL).into(),
                    refresh_jti.into(),
                ],
            )
            .await?;
            deny(tx, &old_access, *access_expires_at).await?;
            // The sign-in's row is not written here (its last use is, after the commit, once
            // a minute: `Auth::rotate`): two instances rotating grants of the same sign-ins would
            // lock those rows in opposite orders and deadlock, a second each.
            Ended {
                signins: Vec::new(),
                denied: vec![(old_access, *access_expires_at)],
            }
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
            let row = audit_row(user_id, AuditKind::PasswordChanged, Some(keep), detail);
            tx.audit_rows(ctx.at, vec![row]).await?;
            if *end_others {
                let reason = EndReason::PasswordChanged;
                end_user(tx, ctx, user_id, Some(keep), Some(keep), reason, via).await?
            } else {
                Ended::default()
            }
        }
    };
    ctx.checkpoint(FailPoint::BeforeCommit)?;
    Ok(Ok(ended))
}

/// A logout by sign-in `me` of `user`, with its scope.
async fn logout<T: Tx>(
    tx: &mut T,
    ctx: &Ctx<'_>,
    me: &str,
    user: &str,
    scope: &Scope,
    via: &str,
) -> Outcome {
    let ended = match scope {
        Scope::Local => {
            let ended = end_ids(tx, ctx, &[me.to_owned()], None, EndReason::Logout, via).await?;
            if ended.signins.is_empty() {
                return Ok(Err(AuthError::InvalidToken));
            }
            ended
        }
        Scope::Global => {
            let global = EndReason::LogoutGlobal;
            end_user(tx, ctx, user, None, Some(me), global, via).await?
        }
        Scope::Others => {
            let others = EndReason::LogoutOthers;
            end_user(tx, ctx, user, Some(me), Some(me), others, via).await?
        }
        Scope::Signin(id) => {
            let sql = format!(
                "SELECT s.ended_at FROM signins s WHERE s.id = $1 AND s.user_id = $2{}",
                T::LOCK
            );
            let state: Vec<(Option<i64>,)> = tx.rows(&sql, &[id.into(), user.into()]).await?;
            match state.first() {
                None => return Ok(Err(AuthError::NotFound)),
                Some((Some(_),)) => return Ok(Err(AuthError::AlreadyEnded)),
                Some((None,)) => {
                    let reason = EndReason::Logout;
                    let ids = std::slice::from_ref(id);
                    let ended = end_ids(tx, ctx, ids, Some(user), reason, via).await?;
                    if ended.signins.is_empty() {
                        return Ok(Err(AuthError::AlreadyEnded));
                    }
                    ended
                }
            }
        }
    };
    Ok(Ok(ended))
}

/// Seed 004's logout: see [`Ending::JwtPair`].
async fn jwt_pair<T: Tx>(
    tx: &mut T,
    ctx: &Ctx<'_>,
    sid: &String,
    sub: &String,
    access_jti: &String,
    refresh_jti: &String,
    via: &str,
) -> Outcome {
    let sql = format!(
        "SELECT r.used_at, s.ended_at FROM refresh_tokens r JOIN signins s ON s.id = r.signin_id \
         WHERE r.jti = $1 AND r.signin_id = $2 AND s.user_id = $3{}",
        T::LOCK
    );
    let rows: Vec<(Option<i64>, Option<i64>)> = tx
        .rows(&sql, &[refresh_jti.into(), sid.into(), sub.into()])
        .await?;
    let Some(&(used_at, ended_at)) = rows.first() else {
        return Ok(Err(AuthError::InvalidToken));
    };
    if ended_at.is_some() {
        return Ok(Err(AuthError::InvalidToken));
    }
    if used_at.is_none() {
        // The current pair: its access token must not have been denied on its own.
        let denied: Vec<(i64,)> = tx
            .rows(
                "SELECT COUNT(*) FROM jwt_denylist WHERE jti = $1",
                &[access_jti.into()],
            )
            .await?;
        if denied.first().is_some_and(|&(n,)| n > 0) {
            return Ok(Err(AuthError::InvalidToken));
        }
    }
    let reason = match used_at {
        None => EndReason::Logout,
        // A rotated pair: the client that refreshed moments ago is logging out (benign), or
        // somebody else refreshed with this token and holds the successor (reuse).
        Some(used_at) if ctx.at - used_at < ctx.grace => EndReason::Logout,
        Some(_) => EndReason::RefreshReuse,
    };
    let ids = std::slice::from_ref(sid);
    let ended = end_ids(tx, ctx, ids, Some(sub.as_str()), reason, via).await?;
    if ended.signins.is_empty() {
        return Ok(Err(AuthError::InvalidToken));
    }
    Ok(Ok(ended))
}

/// Denies access token `jti` on its own until `until` (announced to the other instances by the
/// table's trigger on PostgreSQL).
async fn deny<T: Tx>(tx: &mut T, jti: &str, until: i64) -> DbResult<()> {
    tx.exec(
        "INSERT INTO jwt_denylist (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) DO NOTHING",
        &[jti.into(), until.into()],
    )
    .await?;
    Ok(())
}

/// The caller's sign-in and user, if its credential is valid right now.
async fn resolve<T: Tx>(
    tx: &mut T,
    ctx: &Ctx<'_>,
    caller: &Caller,
) -> DbResult<Option<(String, String)>> {
    let rows: Vec<(String, String)> = match caller {
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
    Ok(rows.into_iter().next())
}

/// Ends the given active sign-ins (only `owner`'s, when given), one audit row per user.
async fn end_ids<T: Tx>(
    tx: &mut T,
    ctx: &Ctx<'_>,
    ids: &[String],
    owner: Option<&str>,
    reason: EndReason,
    via: &str,
) -> DbResult<Ended> {
    let rows = end_rows(tx, ctx, ids, owner, reason).await?;
    ended(tx, ctx, rows, None, reason, via).await
}

/// `UPDATE … RETURNING id, user_id` over the given active sign-ins (only `owner`'s, when given),
/// in bounded statements: SQLite allows at most 32,766 parameters.
async fn end_rows<T: Tx>(
    tx: &mut T,
    ctx: &Ctx<'_>,
    ids: &[String],
    owner: Option<&str>,
    reason: EndReason,
) -> DbResult<Vec<(String, String)>> {
    let mut ended = Vec::new();
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
        ended.extend(tx.rows::<(String, String)>(&sql, &args).await?);
    }
    Ok(ended)
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
    // The account's row first (PostgreSQL): a sign-in starting meanwhile locks it to re-check what
    // authorised it, so it either commits before this statement's snapshot or sees this ending
    // (`Auth::start_signin`).
    let _: Vec<(String,)> = tx
        .rows(
            &format!("SELECT s.id FROM users s WHERE s.id = $1{}", T::LOCK),
            &[user.into()],
        )
        .await?;
    let rows: Vec<(String, String)> = tx
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
    ended(tx, ctx, rows, actor, reason, via).await
}

/// One request's ended rows `(id, user_id)`, finished ([`finish`]) and answered.
async fn ended<T: Tx>(
    tx: &mut T,
    ctx: &Ctx<'_>,
    rows: Vec<(String, String)>,
    actor: Option<&str>,
    reason: EndReason,
    via: &str,
) -> DbResult<Ended> {
    let signins = signins(rows, reason);
    let trace = ctx.trace();
    finish(tx, ctx, &[(&signins, via, trace.as_deref())], actor, reason).await?;
    Ok(Ended {
        signins,
        denied: Vec::new(),
    })
}

fn signins(rows: Vec<(String, String)>, reason: EndReason) -> Vec<EndedSignin> {
    rows.into_iter()
        .map(|(id, user_id)| EndedSignin {
            id,
            user_id,
            reason,
        })
        .collect()
}

/// After sign-ins ended: the outbox's events, and the audit rows, one per user and request. Each
/// request is what it ended with the page or API that asked. A reason that ends one sign-in names
/// it; one that ends many counts them and names `actor`, the sign-in that asked (if any).
async fn finish<T: Tx>(
    tx: &mut T,
    ctx: &Ctx<'_>,
    requests: &[(&Vec<EndedSignin>, &str, Option<&str>)],
    actor: Option<&str>,
    reason: EndReason,
) -> DbResult<()> {
    ctx.checkpoint(FailPoint::AfterEnding)?;
    let all: Vec<&EndedSignin> = requests.iter().flat_map(|(e, ..)| e.iter()).collect();
    // Each sign-in's outbox rows carry the trace of the request that ended it.
    let traces: announce::Traces = requests
        .iter()
        .flat_map(|(e, _, trace)| {
            e.iter()
                .filter_map(move |s| Some((s.id.as_str(), (*trace)?)))
        })
        .collect();
    announce::webhook_events(tx, ctx, &all, &traces).await?;
    announce::logout_tokens(tx, ctx, &all, &traces).await?;
    let mut rows = Vec::new();
    for (ended, via, _) in requests {
        let mut by_user: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for e in ended.iter() {
            by_user.entry(&e.user_id).or_default().push(&e.id);
        }
        for (user, ids) in by_user {
            let (signin, detail) = match ids.as_slice() {
                [one] if !reason.counts() => {
                    (Some(*one), format!("{} (via {via})", reason.scope()))
                }
                _ => {
                    let n = ids.len();
                    let plural = if n == 1 { "" } else { "s" };
                    (
                        actor.or((n == 1).then(|| ids[0])),
                        format!("{} ({n} sign-in{plural}, via {via})", reason.scope()),
                    )
                }
            };
            rows.push(audit_row(user, reason.event(), signin, &detail));
        }
    }
    // Bounded statements: at most 100 audit rows (of six values) each.
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        tx.audit_rows(ctx.at, rows.by_ref().take(100).collect())
            .await?;
    }
    Ok(())
}

/// An audit row for [`Tx::audit_rows`]. Never pass a token or a password here.
fn audit_row(user: &str, event: AuditKind, signin: Option<&str>, detail: &str) -> AuditRow {
    AuditRow {
        id: uuid::Uuid::now_v7().to_string(),
        user_id: user.to_owned(),
        event: event.as_str(),
        signin_id: signin.map(str::to_owned),
        detail: detail.to_owned(),
    }
}

/// Local logouts by opaque token, `(job index, digest)`, in bulk: found and ended in a few
/// statements for the whole group, then finished as every ending is. Of several requests with one
/// token, the first in the group succeeds and the others are refused, as if they came after it.
async fn local_logouts<T: Tx>(
    tx: &mut T,
    ctx: &Ctx<'_>,
    jobs: &[Job],
    bulk: &[(usize, &str)],
) -> DbResult<Vec<(usize, Result<Ended>)>> {
    let mut live: HashMap<String, (String, String)> = HashMap::new();
    for chunk in bulk.chunks(500) {
        let mut args: Vec<Val> = vec![ctx.at.into()];
        let digests = chunk.iter().map(|(_, d)| d.to_string()).collect();
        let list = T::list(&mut args, digests);
        let sql = format!(
            "SELECT t.digest, s.id, s.user_id FROM tokens t JOIN signins s ON s.id = t.signin_id \
             WHERE t.digest IN ({list}) AND +s.ended_at IS NULL \
             AND (t.expires_at IS NULL OR t.expires_at > $1){}",
            T::LOCK
        );
        let rows: Vec<(String, String, String)> = tx.rows(&sql, &args).await?;
        live.extend(rows.into_iter().map(|(d, id, user)| (d, (id, user))));
    }
    // Each live sign-in goes to the first request naming it.
    let mut claimed: Vec<(usize, String)> = Vec::new();
    let mut answers: Vec<(usize, Result<Ended>)> = Vec::new();
    for (i, digest) in bulk {
        match live.remove(*digest) {
            Some((id, _)) => claimed.push((*i, id)),
            None => answers.push((*i, Err(AuthError::InvalidToken))),
        }
    }
    let ids: Vec<String> = claimed.iter().map(|(_, id)| id.clone()).collect();
    let reason = EndReason::Logout;
    let ended: HashMap<String, EndedSignin> =
        signins(end_rows(tx, ctx, &ids, None, reason).await?, reason)
            .into_iter()
            .map(|e| (e.id.clone(), e))
            .collect();
    let mut done: Vec<(usize, Vec<EndedSignin>)> = Vec::new();
    for (i, id) in claimed {
        match ended.get(&id) {
            Some(signin) => done.push((i, vec![signin.clone()])),
            // Claimed but not ended: a racing ending on another PostgreSQL writer got there first.
            None => answers.push((i, Err(AuthError::InvalidToken))),
        }
    }
    let requests: Vec<(&Vec<EndedSignin>, &str, Option<&str>)> = done
        .iter()
        .map(|(i, e)| {
            let request = &jobs[*i].request;
            (e, request.via.as_str(), request.trace.as_deref())
        })
        .collect();
    finish(tx, ctx, &requests, None, reason).await?;
    ctx.checkpoint(FailPoint::BeforeCommit)?;
    answers.extend(done.into_iter().map(|(i, signins)| {
        let ended = Ended {
            signins,
            denied: Vec::new(),
        };
        (i, Ok(ended))
    }));
    Ok(answers)
}
