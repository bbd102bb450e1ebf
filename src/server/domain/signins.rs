//! The sign-in lifecycle: a sign-in starts (one login on one device), is used (each use slides its
//! idle lifetime, written at most once a minute), and ends, always through the logout engine
//! ([`super::logout`]): by a logout of any scope, or here when it is found past its idle or
//! absolute lifetime.

use super::{
    auth::Auth,
    logout::{Caller, Ended, Ending, Scope},
    model::{
        audit, AuditKind, AuthError, Authority, ClientMeta, EndReason, Result, Signin, SigninKind,
        SigninStatus, User, Verified,
    },
};
use crate::{
    server::db::{now, Db},
    with_pool,
};

#[derive(sqlx::FromRow)]
struct ActiveRow {
    id: String,
    user_id: String,
    kind: String,
    created_at: i64,
    last_seen_at: i64,
    email: String,
}

impl Auth {
    /// Ends sign-ins through the engine (see [`super::logout`]).
    pub async fn end(&self, ending: Ending, via: &str) -> Result<Ended> {
        self.engine.run(ending, via).await
    }

    /// A logout by `caller` with `scope`. A caller whose credential is no longer valid gets
    /// [`AuthError::InvalidToken`]: of racing logouts with one credential exactly one succeeds.
    #[tracing::instrument(skip_all)]
    pub async fn logout(&self, caller: Caller, scope: Scope, via: &str) -> Result<Ended> {
        self.end(Ending::Logout { caller, scope }, via).await
    }

    /// Ends one sign-in for `reason` (no owner check: the caller has done it). Returns false when
    /// it had already ended.
    pub async fn end_signin(&self, signin_id: &str, reason: EndReason, via: &str) -> Result<bool> {
        let ended = self
            .end(
                Ending::Signins {
                    ids: vec![signin_id.to_owned()],
                    owner: None,
                    reason,
                },
                via,
            )
            .await?;
        Ok(!ended.signins.is_empty())
    }

    /// Starts a sign-in for `user`, recording `detail` (what started it) in the audit trail.
    #[tracing::instrument(skip_all, fields(user.id = %user.id))]
    pub async fn start_signin(
        &self,
        user: &User,
        kind: SigninKind,
        meta: &ClientMeta,
        detail: &str,
    ) -> Result<Signin> {
        let at = now();
        let signin = Signin {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: user.id.clone(),
            created_at: at,
            last_seen_at: at,
        };
        let user_agent = meta.user_agent.as_deref().map(|ua| truncate(ua, 512));
        let event = if kind == SigninKind::Personal {
            AuditKind::TokenCreated
        } else {
            AuditKind::SignIn
        }
        .as_str();
        // What authorised it must still hold when it commits (see `Authority`). On PostgreSQL the
        // account's row is locked first: a password change and an ending of all the account's
        // sign-ins lock it too, so either they commit first and the check below sees them, or
        // they wait and then see this sign-in.
        let (check, arg) = match &meta.authorised_by {
            Authority::Unchecked => ("", None),
            Authority::Password(hash) => (
                " WHERE EXISTS (SELECT 1 FROM users WHERE id = $2 AND password_hash = $7)",
                Some(hash),
            ),
            Authority::Signin(id) => (
                " WHERE EXISTS (SELECT 1 FROM signins WHERE id = $7 AND user_id = $2 AND ended_at IS NULL)",
                Some(id),
            ),
        };
        let lock = matches!(self.db, Db::Postgres(_)) && arg.is_some();
        let insert = format!(
            "INSERT INTO signins (id, user_id, kind, created_at, last_seen_at, user_agent, ip) \
             SELECT $1, $2, $3, $4, $4, $5, $6{check}"
        );
        let inserted = with_pool!(&self.db, p => async {
            let mut tx = p.begin().await?;
            if lock {
                sqlx::query("SELECT id FROM users WHERE id = $1 FOR SHARE")
                    .bind(&user.id).execute(&mut *tx).await?;
            }
            let mut query = sqlx::query(&insert)
                .bind(&signin.id).bind(&signin.user_id).bind(kind.as_str()).bind(at)
                .bind(user_agent).bind(&meta.ip);
            if let Some(arg) = arg {
                query = query.bind(arg);
            }
            let inserted = query.execute(&mut *tx).await?.rows_affected();
            if inserted == 0 {
                return Ok(false);
            }
            audit!(&mut *tx, &user.id, event, &signin.id, detail)?;
            tx.commit().await.map(|_| true)
        }.await)?;
        if !inserted {
            tracing::info!(
                kind = kind.as_str(),
                "a sign-in's authority ended before it committed"
            );
            return Err(match meta.authorised_by {
                Authority::Signin(_) => AuthError::InvalidToken,
                _ => AuthError::InvalidCredentials,
            });
        }
        tracing::info!(signin.id = %signin.id, kind = kind.as_str(), "signed in");
        if kind != SigninKind::Personal {
            self.evict_over_limit(user, &signin.id).await?;
        }
        Ok(signin)
    }

    /// Over the concurrent sign-in limit, the user's least recently used sign-ins (but `newest`,
    /// and personal tokens, which are named credentials the user manages on `/tokens`) end, reason
    /// `limit`, through the logout engine like every ending.
    async fn evict_over_limit(&self, user: &User, newest: &str) -> Result<()> {
        let Some(limit) = self.max_signins else {
            return Ok(());
        };
        let active: Vec<String> = with_pool!(&self.db, p => sqlx::query_scalar(
            "SELECT id FROM signins WHERE user_id = $1 AND ended_at IS NULL AND kind <> 'personal' \
             AND id <> $2 ORDER BY last_seen_at DESC, id DESC")
            .bind(&user.id).bind(newest).fetch_all(p).await)?;
        // The newest counts as one of the limit.
        let keep = limit.saturating_sub(1);
        if active.len() <= keep {
            return Ok(());
        }
        let ending = Ending::Signins {
            ids: active[keep..].to_vec(),
            owner: Some(user.id.clone()),
            reason: EndReason::Limit,
        };
        let ended = self.end(ending, "a new sign-in over the limit").await?;
        tracing::info!(
            ended = ended.signins.len(),
            limit,
            "sign-ins over the limit ended"
        );
        Ok(())
    }

    /// The sign-in and its user, if the sign-in exists and has not ended. Records the use.
    pub async fn active_signin(&self, signin_id: &str) -> Result<Option<(User, Signin)>> {
        Ok(self
            .use_signin(signin_id)
            .await?
            .map(|(user, signin, _)| (user, signin)))
    }

    /// [`Auth::active_signin`], also saying whether the use was written down this time (the
    /// browser session's expiry slides then). A sign-in past its idle or absolute lifetime is
    /// ended here, through the logout engine, and is not active.
    pub async fn use_signin(&self, signin_id: &str) -> Result<Option<(User, Signin, bool)>> {
        let row: Option<ActiveRow> = with_pool!(&self.db, p => sqlx::query_as(
            "SELECT s.id, s.user_id, s.kind, s.created_at, s.last_seen_at, u.email \
             FROM signins s JOIN users u ON u.id = s.user_id \
             WHERE s.id = $1 AND s.ended_at IS NULL")
            .bind(signin_id).fetch_optional(p).await)?;
        let Some(row) = row else { return Ok(None) };
        let at = now();
        if let Some(reason) = self
            .lifetime
            .expired(&row.kind, row.created_at, row.last_seen_at, at)
        {
            self.end_signin(&row.id, reason, "lifetime check").await?;
            return Ok(None);
        }
        let touched = at - row.last_seen_at >= self.lifetime.touch_every;
        if touched {
            with_pool!(&self.db, p => sqlx::query(
                "UPDATE signins SET last_seen_at = $1 WHERE id = $2 AND ended_at IS NULL")
                .bind(at).bind(&row.id).execute(p).await.map(|r| r.rows_affected()))?;
        }
        Ok(Some((
            User {
                id: row.user_id.clone(),
                email: row.email,
            },
            Signin {
                id: row.id,
                user_id: row.user_id,
                created_at: row.created_at,
                last_seen_at: if touched { at } else { row.last_seen_at },
            },
            touched,
        )))
    }

    /// Records a use of the sign-in now, whenever it was last recorded ("Stay signed in").
    pub async fn touch_signin(&self, signin_id: &str) -> Result<()> {
        with_pool!(&self.db, p => sqlx::query(
            "UPDATE signins SET last_seen_at = $1 WHERE id = $2 AND ended_at IS NULL")
            .bind(now()).bind(signin_id).execute(p).await.map(|_| ()))?;
        Ok(())
    }

    /// Seconds until sign-in `signin_id` ends for want of use (or reaches its absolute limit,
    /// whichever comes first), read without recording a use; `None` when it is not active.
    pub async fn remaining(&self, signin_id: &str) -> Result<Option<i64>> {
        let row: Option<(i64, i64)> = with_pool!(&self.db, p => sqlx::query_as(
            "SELECT created_at, last_seen_at FROM signins WHERE id = $1 AND ended_at IS NULL")
            .bind(signin_id).fetch_optional(p).await)?;
        Ok(row.map(|(created, seen)| {
            let at = now();
            (seen + self.lifetime.idle - at).min(created + self.lifetime.absolute - at)
        }))
    }

    /// Where sign-in `signin_id` stands, ending it first if it is past its lifetime.
    pub async fn enforce_lifetime(&self, signin_id: &str) -> Result<SigninStatus> {
        self.end_if_expired(signin_id).await?;
        self.signin_status(signin_id).await
    }

    /// The check of [`Auth::enforce_lifetime`] alone: ends sign-in `signin_id` if it outlived its
    /// idle or absolute lifetime. Its last use (`last_seen_at`) when it lives on; `None` when it
    /// is missing or ended (now or before).
    pub(super) async fn end_if_expired(&self, signin_id: &str) -> Result<Option<i64>> {
        let row: Option<(String, i64, i64)> = with_pool!(&self.db, p => sqlx::query_as(
            "SELECT kind, created_at, last_seen_at FROM signins WHERE id = $1 AND ended_at IS NULL")
            .bind(signin_id).fetch_optional(p).await)?;
        let Some((kind, created, seen)) = row else {
            return Ok(None);
        };
        if let Some(reason) = self.lifetime.expired(&kind, created, seen, now()) {
            self.end_signin(signin_id, reason, "lifetime check").await?;
            return Ok(None);
        }
        Ok(Some(seen))
    }

    /// Records a use of sign-in `signin_id` at `at` when the one recorded (`seen`) is at least
    /// [`touch_every`](super::model::Lifetime::touch_every) old: the sign-in's idle clock
    /// restarts, and its row is written once a minute, not on every use. On its own, outside any
    /// ending's transaction.
    pub(super) async fn touch(&self, signin_id: &str, seen: i64, at: i64) -> Result<()> {
        if at - seen < self.lifetime.touch_every {
            return Ok(());
        }
        with_pool!(&self.db, p => sqlx::query(
            "UPDATE signins SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1")
            .bind(at).bind(signin_id).execute(p).await.map(|_| ()))?;
        Ok(())
    }

    /// When the person behind active sign-in `signin_id` last proved who they are (OpenID's
    /// `auth_time`): when it started, or their latest password check within it
    /// ([`Auth::reauthenticate`]). `None` when the sign-in is not active.
    pub async fn authenticated_at(&self, signin_id: &str) -> Result<Option<i64>> {
        Ok(with_pool!(&self.db, p => sqlx::query_scalar(
            "SELECT COALESCE(authenticated_at, created_at) FROM signins \
             WHERE id = $1 AND ended_at IS NULL")
            .bind(signin_id).fetch_optional(p).await)?)
    }

    /// A password check (`verified`) in the browser of active sign-in `signin_id`, for the same
    /// account: the sign-in stays (with every application signed in through it) and its
    /// authentication time is now. False, and nothing written, when the sign-in is another
    /// account's or not active, or when the password changed after the check (the same re-check
    /// at commit as a new sign-in's, [`Authority`](super::model::Authority)).
    pub async fn reauthenticate(&self, signin_id: &str, verified: &Verified) -> Result<bool> {
        let (check, hash) = match &verified.authority {
            Authority::Password(hash) => (
                " AND EXISTS (SELECT 1 FROM users WHERE id = $3 AND password_hash = $4)",
                Some(hash.as_str()),
            ),
            Authority::Unchecked | Authority::Signin(_) => ("", None),
        };
        let sql = format!(
            "UPDATE signins SET authenticated_at = $1 \
             WHERE id = $2 AND user_id = $3 AND ended_at IS NULL{check}"
        );
        let done = with_pool!(&self.db, p => async {
            let mut tx = p.begin().await?;
            let mut q = sqlx::query(&sql).bind(now()).bind(signin_id).bind(&verified.user.id);
            if let Some(hash) = hash {
                q = q.bind(hash);
            }
            let done = q.execute(&mut *tx).await?.rows_affected() == 1;
            if done {
                audit!(&mut *tx, &verified.user.id, AuditKind::SignInConfirmed.as_str(), signin_id,
                    "password entered again (an application asked)")?;
            }
            tx.commit().await?;
            Ok::<_, sqlx::Error>(done)
        }.await)?;
        if done {
            tracing::info!(signin.id = %signin_id, "the person signed in again within their sign-in");
        }
        Ok(done)
    }

    /// Where sign-in `signin_id` stands, read from the database (no use is recorded).
    pub async fn signin_status(&self, signin_id: &str) -> Result<SigninStatus> {
        Ok(self.signin_state(signin_id).await?.0)
    }

    /// [`Auth::signin_status`] and whose sign-in it is (`None` when missing), in one read that
    /// records no use (an open page's event stream is no use: it must not keep an idle sign-in
    /// alive).
    pub async fn signin_state(&self, signin_id: &str) -> Result<(SigninStatus, Option<String>)> {
        let row: Option<(String, Option<i64>, Option<String>)> = with_pool!(&self.db, p => sqlx::query_as(
            "SELECT user_id, ended_at, end_reason FROM signins WHERE id = $1")
            .bind(signin_id).fetch_optional(p).await)?;
        Ok(match row {
            None => (SigninStatus::Missing, None),
            Some((user, None, _)) => (SigninStatus::Active, Some(user)),
            Some((user, Some(_), reason)) => (
                SigninStatus::Ended(reason.as_deref().and_then(EndReason::parse)),
                Some(user),
            ),
        })
    }

    /// Why the sign-in of `caller`'s credential ended, if it did.
    pub async fn end_reason_of(&self, caller: &Caller) -> Result<Option<EndReason>> {
        let reason: Option<Option<String>> = match caller {
            Caller::Opaque(digest) => with_pool!(&self.db, p => sqlx::query_scalar(
                "SELECT s.end_reason FROM tokens t JOIN signins s ON s.id = t.signin_id WHERE t.digest = $1")
                .bind(digest).fetch_optional(p).await)?,
            Caller::Jwt { sid, .. } | Caller::Signin(sid) => {
                return Ok(match self.signin_status(sid).await? {
                    SigninStatus::Ended(reason) => reason,
                    _ => None,
                });
            }
        };
        Ok(reason.flatten().as_deref().and_then(EndReason::parse))
    }
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}
