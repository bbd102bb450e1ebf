//! The authorization code flow with PKCE, the refresh and client-credentials grants: what the
//! authorization and token endpoints do.
//!
//! A code is single-use and lives [`CODE_TTL`]: it is marked used by the one `UPDATE` that finds it
//! unused, so of two racing exchanges one wins; a second use fails with `invalid_grant` and revokes
//! everything the first issued ([`Ending::Grant`]). The exchange locks the sign-in's row (PostgreSQL:
//! `FOR SHARE`; SQLite: its one writer) while it records which client received an ID token in it, so
//! an ending committing at the same moment either sees that client (and sends it a logout token) or
//! makes the exchange fail.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{
    clients::{self, Client},
    granted_scope, has_scope, CODE_TTL, ID_TOKEN_TTL,
};
use crate::{
    server::{
        db::now,
        domain::{
            auth::Auth,
            jwt::{new_jti, Grant},
            keys::{Claims, ISSUER},
            logout::Ending,
            model::{AuditKind, AuthError, Result, SigninStatus, User},
            opaque::{digest, random_token},
            ttl::{ACCESS_TTL, REFRESH_TTL},
        },
    },
    with_pool,
};

/// Why a grant is refused, as RFC 6749 §5.2 names it.
#[derive(Debug)]
pub enum GrantError {
    /// The code or refresh token is unknown, used, expired, another client's, or its sign-in ended.
    InvalidGrant,
    /// The client could not be authenticated.
    InvalidClient,
    /// A parameter is missing or wrong (the text says which).
    InvalidRequest(&'static str),
    /// This client may not use this grant (a public client and `client_credentials`).
    UnauthorizedClient,
    /// The service failed (503 or 500).
    Failed(AuthError),
}

impl From<AuthError> for GrantError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::InvalidToken => Self::InvalidGrant,
            other => Self::Failed(other),
        }
    }
}

/// What the token endpoint answers.
pub struct Tokens {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub id_token: Option<String>,
    pub expires_in: i64,
    pub scope: String,
}

/// A validated authorization request, ready for a code.
pub struct AuthorizeRequest {
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    /// The S256 challenge, when one was sent (required of public clients).
    pub code_challenge: Option<String>,
}

#[derive(sqlx::FromRow)]
struct CodeRow {
    client_id: String,
    signin_id: String,
    redirect_uri: String,
    scope: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    expires_at: i64,
}

/// A code exchanged: what it was for, whose sign-in, and when that sign-in started.
struct Granted {
    code: CodeRow,
    user: User,
    auth_time: i64,
}

/// What the exchange's transaction found.
enum Exchange {
    Granted(Box<Granted>),
    Refused,
    /// The code was used before: what it issued is revoked.
    Replayed,
}

#[derive(Serialize)]
struct IdClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    sid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email_verified: Option<bool>,
}

/// RFC 7636 §4.6: `BASE64URL(SHA256(verifier)) == challenge`, for a verifier of 43 to 128 allowed
/// characters.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "-._~".contains(c);
    (43..=128).contains(&verifier.len())
        && verifier.chars().all(allowed)
        && URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge
}

impl Auth {
    /// The OpenID provider of this service.
    pub fn oidc_provider(&self) -> &std::sync::Arc<super::Provider> {
        &self.oidc
    }

    /// A registered client by id.
    pub async fn oidc_client(&self, client_id: &str) -> Result<Option<Client>> {
        clients::find(&self.db, client_id).await
    }

    /// The client a token request authenticates as: a confidential client by its secret, a public
    /// one by its id alone (and PKCE).
    pub async fn authenticate_client(
        &self,
        client_id: &str,
        secret: Option<&str>,
    ) -> std::result::Result<Client, GrantError> {
        let client = match self.oidc.recent_client(client_id) {
            Some(client) => client,
            None => {
                let client = self
                    .oidc_client(client_id)
                    .await
                    .map_err(GrantError::Failed)?
                    .ok_or(GrantError::InvalidClient)?;
                self.oidc.remember_client(&client);
                client
            }
        };
        let ok = match secret {
            Some(secret) => client.secret_matches(secret),
            None => client.public,
        };
        if ok {
            Ok(client)
        } else {
            Err(GrantError::InvalidClient)
        }
    }

    /// A code for `client` in sign-in `signin_id`, valid [`CODE_TTL`] seconds.
    pub async fn issue_code(
        &self,
        client: &Client,
        signin_id: &str,
        req: &AuthorizeRequest,
    ) -> Result<String> {
        let code = random_token("soc_");
        let code = code.expose_secret();
        with_pool!(&self.db, p => sqlx::query(
            "INSERT INTO oidc_codes (digest, client_id, signin_id, redirect_uri, scope, nonce, \
             code_challenge, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(digest(code)).bind(&client.client_id).bind(signin_id)
            .bind(&req.redirect_uri).bind(&req.scope).bind(&req.nonce).bind(&req.code_challenge)
            .bind(now() + CODE_TTL)
            .execute(p).await.map(|_| ()))?;
        Ok(code.to_owned())
    }

    /// The `authorization_code` grant.
    #[tracing::instrument(skip_all, fields(client.id = %client.client_id))]
    pub async fn exchange_code(
        &self,
        client: &Client,
        code: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
    ) -> std::result::Result<Tokens, GrantError> {
        if code.is_empty() || code.len() > 200 {
            return Err(GrantError::InvalidGrant);
        }
        let digest = digest(code);
        let at = now();
        let lock = if self.db.engine() == "postgres" {
            " FOR SHARE OF s"
        } else {
            ""
        };
        let signin_sql = format!(
            "SELECT s.user_id, u.email, s.created_at, s.kind, s.last_seen_at, \
                    COALESCE(s.authenticated_at, s.created_at) FROM signins s \
             JOIN users u ON u.id = s.user_id WHERE s.id = $1 AND s.ended_at IS NULL{lock}"
        );
        let lifetime = self.lifetime;
        let (refresh_jti, access_jti) = (new_jti(), new_jti());
        let outcome = with_pool!(&self.db, p => async {
            let mut tx = p.begin().await?;
            let found: Option<CodeRow> = sqlx::query_as(
                "UPDATE oidc_codes SET used_at = $1 WHERE digest = $2 AND used_at IS NULL \
                 RETURNING client_id, signin_id, redirect_uri, scope, nonce, code_challenge, expires_at")
                .bind(at).bind(&digest).fetch_optional(&mut *tx).await?;
            let Some(code) = found else {
                let seen: Option<i64> = sqlx::query_scalar(
                    "SELECT used_at FROM oidc_codes WHERE digest = $1")
                    .bind(&digest).fetch_optional(&mut *tx).await?.flatten();
                tx.rollback().await?;
                return Ok::<_, sqlx::Error>(if seen.is_some() { Exchange::Replayed } else { Exchange::Refused });
            };
            let pkce = match (&code.code_challenge, verifier) {
                (Some(challenge), Some(v)) => pkce_matches(v, challenge),
                (Some(_), None) => false,
                // A verifier with no challenge sent: the client is confused or an attacker.
                (None, Some(_)) => false,
                (None, None) => !client.public,
            };
            let valid = code.client_id == client.client_id
                && redirect_uri == Some(code.redirect_uri.as_str())
                && code.expires_at > at
                && pkce;
            // The code is used up either way.
            if !valid {
                tx.commit().await?;
                return Ok(Exchange::Refused);
            }
            let signin: Option<(String, String, i64, String, i64, i64)> = sqlx::query_as(&signin_sql)
                .bind(&code.signin_id).fetch_optional(&mut *tx).await?;
            let Some((user_id, email, created_at, kind, last_seen, authenticated_at)) = signin else {
                tx.commit().await?;
                return Ok(Exchange::Refused);
            };
            if lifetime.expired(&kind, created_at, last_seen, at).is_some() {
                tx.commit().await?;
                return Ok(Exchange::Refused);
            }
            if has_scope(&code.scope, "openid") {
                sqlx::query(
                    "INSERT INTO oidc_signin_clients (signin_id, client_id, sub, first_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (signin_id, client_id) DO NOTHING")
                    .bind(&code.signin_id).bind(&client.client_id).bind(&user_id).bind(at)
                    .execute(&mut *tx).await?;
            }
            sqlx::query(
                "INSERT INTO refresh_tokens (jti, signin_id, access_jti, expires_at, grant_id) \
                 VALUES ($1, $2, $3, $4, $5)")
                .bind(&refresh_jti).bind(&code.signin_id).bind(&access_jti)
                .bind(at + REFRESH_TTL).bind(&digest)
                .execute(&mut *tx).await?;
            let detail = format!("tokens for OpenID client {:?} ({})", client.name, client.client_id);
            crate::server::domain::model::audit!(&mut *tx, &user_id, AuditKind::OidcTokens.as_str(),
                &code.signin_id, &detail)?;
            tx.commit().await?;
            Ok(Exchange::Granted(Box::new(Granted {
                code,
                user: User { id: user_id, email },
                auth_time: authenticated_at,
            })))
        }.await)
        .map_err(AuthError::from)?;
        let Granted {
            code,
            user,
            auth_time,
        } = match outcome {
            Exchange::Granted(granted) => *granted,
            Exchange::Refused => return Err(GrantError::InvalidGrant),
            Exchange::Replayed => {
                tracing::warn!("an authorization code was used twice: revoking what it issued");
                self.end(Ending::Grant { grant_id: digest }, "OpenID code used twice")
                    .await?;
                return Err(GrantError::InvalidGrant);
            }
        };
        let grant = Grant {
            client_id: client.client_id.clone(),
            scope: code.scope.clone(),
        };
        let pair = self.sign_pair(
            &user,
            &code.signin_id,
            at,
            &refresh_jti,
            &access_jti,
            Some(&grant),
        )?;
        let id_token = if has_scope(&code.scope, "openid") {
            let email = has_scope(&code.scope, "email");
            let claims = IdClaims {
                iss: &self.oidc.issuer,
                sub: &user.id,
                aud: &client.client_id,
                exp: at + ID_TOKEN_TTL,
                iat: at,
                auth_time,
                nonce: code.nonce.as_deref(),
                sid: &code.signin_id,
                email: email.then_some(user.email.as_str()),
                email_verified: email.then_some(false),
            };
            Some(self.oidc.keys.current().sign("JWT", &claims)?)
        } else {
            None
        };
        tracing::info!(signin.id = %code.signin_id, "OpenID tokens issued");
        Ok(Tokens {
            access_token: pair.access_token,
            refresh_token: Some(pair.refresh_token),
            id_token,
            expires_in: pair.expires_in,
            scope: code.scope,
        })
    }

    /// The `refresh_token` grant: rotation and reuse detection as seed 004's (a rotated token
    /// presented again after the grace window ends the whole sign-in).
    pub async fn refresh_grant(
        &self,
        client: &Client,
        refresh_token: &str,
    ) -> std::result::Result<Tokens, GrantError> {
        let (pair, grant) = self
            .refresh_for_client(refresh_token, &client.client_id)
            .await?;
        Ok(Tokens {
            access_token: pair.access_token,
            refresh_token: Some(pair.refresh_token),
            id_token: None,
            expires_in: pair.expires_in,
            scope: grant.scope,
        })
    }

    /// The `client_credentials` grant: an access token for the client itself, with no sign-in
    /// behind it (confidential clients only).
    pub fn client_credentials(
        &self,
        client: &Client,
        requested: &str,
    ) -> std::result::Result<Tokens, GrantError> {
        if client.public {
            return Err(GrantError::UnauthorizedClient);
        }
        let scope = granted_scope(requested)
            .split(' ')
            .filter(|s| !s.is_empty() && *s != "openid" && *s != "offline_access")
            .collect::<Vec<_>>()
            .join(" ");
        let at = now();
        let claims = Claims {
            iss: ISSUER.into(),
            sub: client.client_id.clone(),
            email: String::new(),
            sid: String::new(),
            jti: new_jti(),
            iat: at,
            exp: at + ACCESS_TTL,
            typ: super::inspect::CLIENT_ACCESS.into(),
            client_id: Some(client.client_id.clone()),
            scope: Some(scope.clone()),
        };
        Ok(Tokens {
            access_token: self.keys.sign(&claims)?,
            refresh_token: None,
            id_token: None,
            expires_in: ACCESS_TTL,
            scope,
        })
    }

    /// Whether sign-in `signin_id` is active, ending it first when it is past its lifetime.
    pub async fn signin_is_active(&self, signin_id: &str) -> Result<bool> {
        Ok(self.enforce_lifetime(signin_id).await? == SigninStatus::Active)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_as_in_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(verifier, challenge));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx",
            challenge
        ));
        assert!(!pkce_matches("short", challenge));
    }

    #[test]
    fn only_known_scopes_are_granted() {
        assert_eq!(granted_scope("email openid bogus"), "openid email");
        assert_eq!(granted_scope(""), "");
    }
}
