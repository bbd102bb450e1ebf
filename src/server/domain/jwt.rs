//! JWT pairs (seed 004): HS256 access and refresh tokens with `jti`, `sid` (the sign-in), `sub`,
//! `iat`, `exp`, `iss` and `typ`, signed by [`super::keys::Keys`]. A JWT is refused by its sign-in or its `jti`,
//! never by its text.
//!
//! Refresh tokens rotate on every use. A rotated one presented again within the grace window
//! (`SIGNOFF_REFRESH_GRACE_SECS`, 10 s) is a benign replay (a client retrying a refresh whose answer
//! it lost): it gets the very same successor pair again, recorded as `refresh_replay`. Presented
//! later, or when its successor was itself used, it is reuse: the whole sign-in ends
//! (`refresh_token_reuse`), through the logout engine like every other ending.

use std::sync::atomic::Ordering;

use secrecy::SecretString;

use super::{
    auth::Auth,
    keys::{Claims, VerifiedAccess, ISSUER},
    logout::{Caller, Ending},
    model::{audit, AuditKind, AuthError, ClientMeta, EndReason, Result, SigninKind, User},
    principal::{Principal, MAX_TOKEN_LEN},
};
use crate::{server::db::now, with_pool};

pub use super::ttl::{ACCESS_TTL, REFRESH_TTL};

/// A freshly issued JWT pair.
pub struct JwtPair {
    /// Access token, valid [`ACCESS_TTL`] seconds.
    pub access_token: SecretString,
    /// Refresh token, valid [`REFRESH_TTL`] seconds, usable once.
    pub refresh_token: SecretString,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// What an OpenID client was granted: carried by its tokens through every rotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub client_id: String,
    pub scope: String,
}

impl Grant {
    fn of(claims: &Claims) -> Option<Self> {
        Some(Self {
            client_id: claims.client_id.clone()?,
            scope: claims.scope.clone().unwrap_or_default(),
        })
    }
}

pub(super) fn new_jti() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[derive(sqlx::FromRow)]
struct RotatedRow {
    used_at: Option<i64>,
    successor_jti: Option<String>,
    successor_access_jti: Option<String>,
    successor_used_at: Option<i64>,
}

impl Auth {
    /// Starts a sign-in carrying a JWT pair (`POST /api/auth/login`).
    #[tracing::instrument(skip_all, fields(user.id = %user.id))]
    pub async fn issue_jwt_pair(&self, user: &User, meta: &ClientMeta) -> Result<JwtPair> {
        let signin = self
            .start_signin(user, SigninKind::Jwt, meta, "JWT sign-in (seed 004)")
            .await?;
        let (refresh_jti, access_jti) = (new_jti(), new_jti());
        let pair = self.sign_pair(user, &signin.id, now(), &refresh_jti, &access_jti, None)?;
        with_pool!(&self.db, p => sqlx::query(
            "INSERT INTO refresh_tokens (jti, signin_id, access_jti, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(&refresh_jti).bind(&signin.id).bind(&access_jti).bind(now() + REFRESH_TTL)
            .execute(p).await.map(|_| ()))?;
        Ok(pair)
    }

    /// Signs a pair. HS256 over the same claims gives the same text, so a pair can be handed out
    /// again (a benign refresh replay) from its ids and issue time alone, without ever storing it.
    pub(super) fn sign_pair(
        &self,
        user: &User,
        signin_id: &str,
        iat: i64,
        refresh_jti: &str,
        access_jti: &str,
        grant: Option<&Grant>,
    ) -> Result<JwtPair> {
        let claims = |typ: &str, jti: &str, ttl: i64| Claims {
            iss: ISSUER.into(),
            sub: user.id.clone(),
            email: user.email.clone(),
            sid: signin_id.into(),
            jti: jti.into(),
            iat,
            exp: iat + ttl,
            typ: typ.into(),
            client_id: grant.map(|g| g.client_id.clone()),
            scope: grant.map(|g| g.scope.clone()),
        };
        Ok(JwtPair {
            access_token: self.keys.sign(&claims("access", access_jti, ACCESS_TTL))?,
            refresh_token: self
                .keys
                .sign(&claims("refresh", refresh_jti, REFRESH_TTL))?,
            expires_in: ACCESS_TTL,
        })
    }

    /// Rotates a refresh token: the old one (and the access token issued with it) stops working and
    /// a new pair is returned. A rotated token presented again within the grace window gets the
    /// same successor pair (a benign replay); presented later, it is reuse and the whole sign-in
    /// ends.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, refresh_token: &str) -> Result<JwtPair> {
        Ok(self
            .rotate(refresh_token, None, "seed 004 refresh")
            .await?
            .0)
    }

    /// [`Auth::refresh`] for the OpenID client `client_id`: only a refresh token issued to it.
    pub(super) async fn refresh_for_client(
        &self,
        refresh_token: &str,
        client_id: &str,
    ) -> Result<(JwtPair, Grant)> {
        let (pair, grant) = self
            .rotate(refresh_token, Some(client_id), "OpenID refresh grant")
            .await?;
        Ok((pair, grant.ok_or(AuthError::InvalidToken)?))
    }

    /// The rotation behind both: a refresh token of `client` (none: a seed 004 pair's), and the
    /// grant it carries over. `via` names the API for the audit trail.
    async fn rotate(
        &self,
        refresh_token: &str,
        client: Option<&str>,
        via: &str,
    ) -> Result<(JwtPair, Option<Grant>)> {
        let claims = self.keys.verify(refresh_token, "refresh")?;
        if claims.client_id.as_deref() != client {
            return Err(AuthError::InvalidToken);
        }
        if let Some(limit) = &self.refresh_limit {
            limit.check(&claims.sid)?;
        }
        let grant = Grant::of(&claims);
        // A sign-in past its idle or absolute lifetime ends here; the rotation below then finds
        // it ended and refuses.
        let seen = self.end_if_expired(&claims.sid).await?;
        let at = now();
        let user = User {
            id: claims.sub.clone(),
            email: claims.email.clone(),
        };
        let (refresh_jti, access_jti) = (new_jti(), new_jti());
        // Through the logout engine, like every revocation: the old access token is denied in the
        // rotation's transaction, and refused everywhere before its successor is handed out.
        let rotation = Ending::Rotate {
            sid: claims.sid.clone(),
            refresh_jti: claims.jti.clone(),
            successor_jti: refresh_jti.clone(),
            successor_access_jti: access_jti.clone(),
            access_expires_at: claims.iat + ACCESS_TTL,
            at,
        };
        match self.end(rotation, via).await {
            Ok(_) => {
                // Committed: a failure to record the use only lets the idle clock lag.
                if let Some(seen) = seen {
                    if let Err(err) = self.touch(&claims.sid, seen, at).await {
                        tracing::warn!(error = %err, "a sign-in's last use was not written");
                    }
                }
                let pair = self.sign_pair(
                    &user,
                    &claims.sid,
                    at,
                    &refresh_jti,
                    &access_jti,
                    grant.as_ref(),
                )?;
                return Ok((pair, grant));
            }
            Err(AuthError::InvalidToken) => {}
            Err(err) => return Err(err),
        }
        // Not rotated now: unknown, its sign-in ended, or rotated before (replay or reuse).
        let seen: Option<RotatedRow> = with_pool!(&self.db, p => sqlx::query_as(
            "SELECT r.used_at, n.jti AS successor_jti, n.access_jti AS successor_access_jti, \
                    n.used_at AS successor_used_at \
             FROM refresh_tokens r JOIN signins s ON s.id = r.signin_id \
             LEFT JOIN refresh_tokens n ON n.jti = r.successor_jti \
             WHERE r.jti = $1 AND r.signin_id = $2 AND s.ended_at IS NULL")
            .bind(&claims.jti).bind(&claims.sid).fetch_optional(p).await)?;
        let Some(RotatedRow {
            used_at: Some(used_at),
            successor_jti,
            successor_access_jti,
            successor_used_at,
        }) = seen
        else {
            return Err(AuthError::InvalidToken);
        };
        if let (Some(next), Some(next_access), None) =
            (successor_jti, successor_access_jti, successor_used_at)
        {
            if at - used_at < self.refresh_grace {
                with_pool!(&self.db, p => async {
                    let mut tx = p.begin().await?;
                    audit!(&mut *tx, &claims.sub, AuditKind::RefreshReplay.as_str(), &claims.sid,
                        &format!("a refresh repeated within the grace window got the same pair (via {via})"))?;
                    tx.commit().await
                }.await)?;
                tracing::info!(signin.id = %claims.sid, "benign refresh replay within the grace window");
                let pair = self.sign_pair(
                    &user,
                    &claims.sid,
                    used_at,
                    &next,
                    &next_access,
                    grant.as_ref(),
                )?;
                return Ok((pair, grant));
            }
        }
        tracing::warn!(signin.id = %claims.sid, "refresh token reuse: ending the sign-in");
        self.end(
            Ending::Signins {
                ids: vec![claims.sid.clone()],
                owner: Some(claims.sub.clone()),
                reason: EndReason::RefreshReuse,
            },
            via,
        )
        .await?;
        Err(AuthError::InvalidToken)
    }

    /// Seed 004's logout: a JWT access token with the refresh token of the same sign-in. Both
    /// are verified here; the pair is checked and the sign-in ended in one transaction (a rotated
    /// pair ends it too: see [`Ending::JwtPair`]). A refresh token of another sign-in is
    /// [`AuthError::InvalidToken`] and ends nothing.
    pub async fn logout_jwt_pair(
        &self,
        access: &Caller,
        refresh_token: &str,
        via: &str,
    ) -> Result<()> {
        let Caller::Jwt { sid, sub, jti } = access else {
            return Err(AuthError::InvalidToken);
        };
        if refresh_token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::InvalidToken);
        }
        let refresh = self.keys.verify(refresh_token, "refresh")?;
        if refresh.sid != *sid || refresh.sub != *sub {
            return Err(AuthError::InvalidToken);
        }
        let ending = Ending::JwtPair {
            sid: sid.clone(),
            sub: sub.clone(),
            access_jti: jti.clone(),
            refresh_jti: refresh.jti,
        };
        self.end(ending, via).await?;
        Ok(())
    }

    /// A verified access token's caller, when the in-memory denylist can tell whether it was
    /// revoked (it is complete): `None` sends it to [`Auth::jwt_from_db`].
    pub(super) fn jwt_in_memory(
        &self,
        known: &VerifiedAccess,
    ) -> Option<Result<std::sync::Arc<Principal>>> {
        // The first use of a token (by this thread's cache) looks its sign-in up in the database.
        if !self.revocations.is_healthy() || !known.known.load(Ordering::Relaxed) {
            return None;
        }
        let claims = &known.claims;
        if self
            .revocations
            .revoked_since(&known.clean_at, &[&claims.sid, &claims.jti])
        {
            return Some(Err(AuthError::InvalidToken));
        }
        Some(Ok(known.principal.clone()))
    }

    /// A verified access token's caller while the in-memory denylist may be incomplete, or the
    /// first time the token is seen: its sign-in (which must exist, be active and be its `sub`'s)
    /// and `jti` are checked in the database.
    pub(super) async fn jwt_from_db(
        &self,
        known: std::sync::Arc<VerifiedAccess>,
    ) -> Result<std::sync::Arc<Principal>> {
        let claims = &known.claims;
        let found: Option<(i32,)> = with_pool!(&self.db, p => sqlx::query_as(
            "SELECT 1 FROM signins s JOIN users u ON u.id = s.user_id \
             WHERE s.id = $1 AND s.user_id = $2 AND s.ended_at IS NULL \
             AND NOT EXISTS (SELECT 1 FROM jwt_denylist d WHERE d.jti = $3)")
            .bind(&claims.sid).bind(&claims.sub).bind(&claims.jti).fetch_optional(p).await)?;
        found.ok_or(AuthError::InvalidToken)?;
        known.known.store(true, Ordering::Relaxed);
        Ok(known.principal.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::domain::{
        auth::testing::{accepted, auth, user},
        principal::Via,
    };
    use secrecy::ExposeSecret;

    /// A new user's first JWT pair.
    async fn ada_pair(auth: &Auth) -> JwtPair {
        let ada = user(auth, "ada@example.com").await;
        auth.issue_jwt_pair(&ada, &ClientMeta::default())
            .await
            .unwrap()
    }

    /// `token` with its last character changed (its signature no longer matches).
    fn tampered(token: &str) -> String {
        let mut tampered = token.to_owned();
        tampered.pop();
        tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
        tampered
    }

    #[tokio::test]
    async fn a_verified_access_token_is_remembered_and_still_refused_once_revoked() {
        let auth = auth().await;
        let pair = ada_pair(&auth).await;
        let token = pair.access_token.expose_secret();
        let first = auth.keys.verify_access(token).unwrap();
        let again = auth.keys.verify_access(token).unwrap();
        assert!(std::sync::Arc::ptr_eq(&first, &again), "decoded once");
        // A token that differs by one character is decoded (and refused) on its own.
        assert!(auth.keys.verify_access(&tampered(token)).is_err());
        // So is one that differs only before its last 16 bytes (what the cache hashes).
        let mut middle = token.as_bytes().to_vec();
        let at = middle.len() / 2;
        middle[at] = if middle[at] == b'A' { b'B' } else { b'A' };
        assert!(auth
            .keys
            .verify_access(std::str::from_utf8(&middle).unwrap())
            .is_err());
        // Remembered or not, an ended sign-in's token is refused.
        let who = auth.resolve(token).await.unwrap();
        auth.logout(
            Caller::from(&*who),
            crate::server::domain::logout::Scope::Local,
            "test",
        )
        .await
        .unwrap();
        assert!(
            auth.keys.verify_access(token).is_ok(),
            "still a valid signature"
        );
        assert!(matches!(
            auth.resolve(token).await,
            Err(AuthError::InvalidToken)
        ));
    }

    #[tokio::test]
    async fn a_token_found_clean_is_refused_once_its_signin_or_jti_is_denied() {
        let auth = auth().await;
        let ada = user(&auth, "ada@example.com").await;
        for deny_jti in [false, true] {
            let pair = auth
                .issue_jwt_pair(&ada, &ClientMeta::default())
                .await
                .unwrap();
            let token = pair.access_token.expose_secret();
            let who = auth.resolve(token).await.unwrap();
            // Again: the denylist has not changed, so it is not looked at.
            assert!(std::sync::Arc::ptr_eq(
                &who,
                &auth.resolve(token).await.unwrap()
            ));
            // An ending announced by another instance, as its notification is applied here.
            match &who.via {
                Via::Jwt { jti } if deny_jti => auth.revocations.insert(jti, now() + 60),
                _ => auth.revocations.signin_ended(&who.signin_id, None),
            }
            assert!(matches!(
                auth.resolve(token).await,
                Err(AuthError::InvalidToken)
            ));
        }
    }

    #[tokio::test]
    async fn jwt_refresh_rotates_and_reuse_ends_the_signin() {
        // No grace window: presenting a rotated token again is reuse at once.
        let auth = crate::server::domain::auth::testing::auth_with(
            crate::server::domain::model::Options {
                refresh_grace: std::time::Duration::ZERO,
                ..Default::default()
            },
        )
        .await;
        let ada = user(&auth, "ada@example.com").await;
        let first = auth
            .issue_jwt_pair(&ada, &ClientMeta::default())
            .await
            .unwrap();
        assert!(accepted(&auth, &first.access_token).await);
        let second = auth
            .refresh(first.refresh_token.expose_secret())
            .await
            .unwrap();
        // The old access token is denied by its jti; the new one works.
        assert!(!accepted(&auth, &first.access_token).await);
        assert!(accepted(&auth, &second.access_token).await);
        // Reuse of the rotated refresh token ends the whole sign-in.
        assert!(matches!(
            auth.refresh(first.refresh_token.expose_secret()).await,
            Err(AuthError::InvalidToken)
        ));
        assert!(!accepted(&auth, &second.access_token).await);
        assert!(auth
            .refresh(second.refresh_token.expose_secret())
            .await
            .is_err());
    }

    #[tokio::test]
    async fn a_token_signed_with_the_key_for_a_signin_never_made_is_refused() {
        let auth = auth().await;
        let ada = user(&auth, "ada@example.com").await;
        let at = now();
        // What someone holding the signing key could mint: a well-formed token for a real user
        // and a sign-in that does not exist.
        let forged = auth
            .keys
            .sign(&Claims {
                iss: ISSUER.into(),
                sub: ada.id.clone(),
                email: ada.email.clone(),
                sid: uuid::Uuid::now_v7().to_string(),
                jti: uuid::Uuid::now_v7().to_string(),
                iat: at,
                exp: at + 60,
                typ: "access".into(),
                client_id: None,
                scope: None,
            })
            .unwrap();
        assert!(auth.keys.verify_access(forged.expose_secret()).is_ok());
        assert!(matches!(
            auth.resolve(forged.expose_secret()).await,
            Err(AuthError::InvalidToken)
        ));
        // A real one is accepted, from memory after its first use.
        let real = auth
            .issue_jwt_pair(&ada, &ClientMeta::default())
            .await
            .unwrap();
        assert!(accepted(&auth, &real.access_token).await);
        assert!(accepted(&auth, &real.access_token).await);
    }

    #[tokio::test]
    async fn a_tampered_or_foreign_jwt_is_refused() {
        let auth = auth().await;
        let pair = ada_pair(&auth).await;
        let access = pair.access_token.expose_secret();
        assert!(auth.resolve(&tampered(access)).await.is_err());
        // A refresh token is not an access token, and the reverse.
        assert!(auth
            .resolve(pair.refresh_token.expose_secret())
            .await
            .is_err());
        assert!(auth.refresh(access).await.is_err());
        // Signed with another key.
        let other = auth_with_secret("another secret").await;
        assert!(other.resolve(access).await.is_err());
    }

    async fn auth_with_secret(secret: &str) -> Auth {
        crate::server::domain::auth::testing::auth_with(crate::server::domain::model::Options {
            jwt_secret: Some(SecretString::from(secret)),
            ..Default::default()
        })
        .await
    }
}
