//! Bearer credentials, whichever kind: [`super::opaque`] tokens and [`super::jwt`] pairs, each
//! belonging to one sign-in. Here: who a bearer token names ([`Auth::resolve`],
//! [`Auth::caller_for_token`]). Ending the sign-in revokes every
//! credential of it at once.
//!
//! ```ignore
//! let issued = auth.issue_opaque(&user, &meta).await?;          // POST /api/v1/account/login
//! let me = auth.resolve(issued.token.expose_secret()).await?;    // any bearer-authenticated call
//! let caller = auth.caller_for_token(issued.token.expose_secret())?;
//! auth.logout(caller, Scope::Local, "test").await?;              // any dialect's logout
//! assert!(auth.resolve(issued.token.expose_secret()).await.is_err());
//! ```

use std::sync::Arc;

use super::{
    auth::Auth,
    logout::{Caller, Ending},
    model::{AuthError, EndReason, Result},
    opaque::{digest, digest_bytes, looks_opaque},
    principal::{Principal, MAX_TOKEN_LEN},
};

impl Auth {
    /// The caller behind a bearer token, for a logout, without a database read: an opaque token by
    /// its digest, a JWT access token by its verified claims. Whether it is still valid is checked
    /// inside the ending's transaction.
    pub fn caller_for_token(&self, token: &str) -> Result<Caller> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::InvalidToken);
        }
        if looks_opaque(token) {
            return Ok(Caller::Opaque(digest(token)));
        }
        let known = self.keys.verify_access(token)?;
        let claims = &known.claims;
        Ok(Caller::Jwt {
            sid: claims.sid.clone(),
            sub: claims.sub.clone(),
            jti: claims.jti.clone(),
        })
    }

    /// RFC 7009: revokes `token` (an opaque token, or a JWT access or refresh token) by ending its
    /// sign-in, reason `revoked`. Unknown, malformed, expired and already revoked tokens end
    /// nothing and are no error; `Ok(true)` when a sign-in ended. `hint` (`access_token` or
    /// `refresh_token`) only says which kind to try first.
    pub async fn revoke_token(&self, token: &str, hint: Option<&str>) -> Result<bool> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Ok(false);
        }
        let as_access = || self.caller_for_token(token).ok();
        let as_refresh = || {
            self.keys
                .verify(token, "refresh")
                .ok()
                .map(|claims| (claims.sid, claims.sub))
        };
        let ending = if hint == Some("refresh_token") {
            as_refresh()
                .map(refresh_ending)
                .or_else(|| as_access().map(|caller| Ending::Revoke { caller }))
        } else {
            as_access()
                .map(|caller| Ending::Revoke { caller })
                .or_else(|| as_refresh().map(refresh_ending))
        };
        let Some(ending) = ending else {
            return Ok(false);
        };
        let ended = self.end(ending, "RFC 7009 revocation").await?;
        Ok(!ended.signins.is_empty())
    }

    /// Authenticates a bearer token (opaque or JWT access token) and records its use (at most once a
    /// minute). Any failure, whatever its cause (unknown, expired, revoked, malformed), is
    /// [`AuthError::InvalidToken`]. The principal is shared (one per cached token), not copied for
    /// each request.
    pub async fn resolve(&self, token: &str) -> Result<Arc<Principal>> {
        self.resolve_with(token, true).await
    }

    /// [`Auth::resolve`] for a credential about to be logged out: recording its use first would
    /// only add writes to the logout.
    pub async fn resolve_for_logout(&self, token: &str) -> Result<Arc<Principal>> {
        self.resolve_with(token, false).await
    }

    /// Memory first, synchronously; the database only when memory cannot tell. The database's
    /// futures (a query, and for an opaque token past its lifetime the ending of its sign-in) are
    /// boxed: held inline, their state would be allocated and moved with every request's future,
    /// though almost every request is answered from memory.
    async fn resolve_with(&self, token: &str, record_use: bool) -> Result<Arc<Principal>> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::InvalidToken);
        }
        if looks_opaque(token) {
            let key = digest_bytes(token);
            match self.opaque_in_memory(&key, record_use) {
                Some(found) => found,
                None => Box::pin(self.opaque_from_db(key, record_use)).await,
            }
        } else {
            let known = self.keys.verify_access(token)?;
            // An OpenID client's access token is for the provider's endpoints only.
            if known.claims.client_id.is_some() {
                return Err(AuthError::InvalidToken);
            }
            match self.jwt_in_memory(&known) {
                Some(found) => found,
                None => Box::pin(self.jwt_from_db(known)).await,
            }
        }
    }
}

/// A verified refresh token `(sid, sub)` ends its whole sign-in (rotated or not: whoever presents
/// it wants it dead).
fn refresh_ending((sid, sub): (String, String)) -> Ending {
    Ending::Signins {
        ids: vec![sid],
        owner: Some(sub),
        reason: EndReason::Revoked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::domain::{
        auth::testing::{accepted, auth, user},
        logout::Scope,
        model::{ClientMeta, User},
    };
    use secrecy::ExposeSecret;

    /// A service with two accounts, and the client details of a test.
    async fn ada_and_bob() -> (Auth, User, User, ClientMeta) {
        let auth = auth().await;
        let ada = user(&auth, "ada@example.com").await;
        let bob = user(&auth, "bob@example.com").await;
        (auth, ada, bob, ClientMeta::default())
    }

    #[tokio::test]
    async fn a_logged_out_token_is_refused_and_a_second_logout_fails() {
        let auth = auth().await;
        let ada = user(&auth, "ada@example.com").await;
        let t = auth
            .issue_opaque(&ada, &ClientMeta::default())
            .await
            .unwrap();
        let who = auth.resolve(t.token.expose_secret()).await.unwrap();
        auth.logout(Caller::from(&*who), Scope::Local, "test")
            .await
            .unwrap();
        assert!(matches!(
            auth.resolve(t.token.expose_secret()).await,
            Err(AuthError::InvalidToken)
        ));
        assert!(matches!(
            auth.logout(Caller::from(&*who), Scope::Local, "test").await,
            Err(AuthError::InvalidToken)
        ));
    }

    #[tokio::test]
    async fn scopes_end_the_right_signins() {
        let (auth, ada, bob, m) = ada_and_bob().await;
        let a1 = auth.issue_opaque(&ada, &m).await.unwrap();
        let a2 = auth.issue_jwt_pair(&ada, &m).await.unwrap();
        let a3 = auth.issue_opaque(&ada, &m).await.unwrap();
        let b1 = auth.issue_opaque(&bob, &m).await.unwrap();
        let who = auth.resolve(a1.token.expose_secret()).await.unwrap();
        auth.logout(Caller::from(&*who), Scope::Others, "test")
            .await
            .unwrap();
        assert!(accepted(&auth, &a1.token).await);
        assert!(!accepted(&auth, &a2.access_token).await);
        assert!(!accepted(&auth, &a3.token).await);
        assert!(accepted(&auth, &b1.token).await);
        auth.logout(Caller::from(&*who), Scope::Global, "test")
            .await
            .unwrap();
        assert!(!accepted(&auth, &a1.token).await);
        assert!(accepted(&auth, &b1.token).await);
    }

    #[tokio::test]
    async fn ending_one_signin_by_id_checks_owner_and_state() {
        let (auth, ada, bob, m) = ada_and_bob().await;
        let me = auth
            .resolve(
                auth.issue_opaque(&ada, &m)
                    .await
                    .unwrap()
                    .token
                    .expose_secret(),
            )
            .await
            .unwrap();
        let other = auth.issue_opaque(&ada, &m).await.unwrap();
        let bobs = auth.issue_opaque(&bob, &m).await.unwrap();
        assert!(matches!(
            auth.logout(
                Caller::from(&*me),
                Scope::Signin(bobs.signin_id.clone()),
                "test"
            )
            .await,
            Err(AuthError::NotFound)
        ));
        assert!(matches!(
            auth.logout(Caller::from(&*me), Scope::Signin("nope".into()), "test")
                .await,
            Err(AuthError::NotFound)
        ));
        auth.logout(
            Caller::from(&*me),
            Scope::Signin(other.signin_id.clone()),
            "test",
        )
        .await
        .unwrap();
        assert!(matches!(
            auth.logout(Caller::from(&*me), Scope::Signin(other.signin_id), "test")
                .await,
            Err(AuthError::AlreadyEnded)
        ));
        assert!(auth.resolve(bobs.token.expose_secret()).await.is_ok());
    }
}
