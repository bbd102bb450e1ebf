//! What clients ask about tokens: userinfo, introspection (RFC 7662), an `id_token_hint`'s sign-in
//! (RP-Initiated Logout), and which clients are signed in through each sign-in (`/sessions`).
//!
//! An access token is checked as every JWT is (signature and expiry, then its sign-in and `jti`
//! against the in-memory denylist, which every instance keeps current): the moment its sign-in
//! ends, userinfo refuses it and introspection calls it inactive.

use std::{collections::HashMap, sync::Arc};

use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{clients, has_scope};
use crate::{
    server::domain::{
        auth::Auth,
        keys::VerifiedAccess,
        model::{AuthError, Result},
        principal::MAX_TOKEN_LEN,
    },
    with_pool,
};

/// The `typ` of a `client_credentials` access token.
pub const CLIENT_ACCESS: &str = "client_access";

/// What a verified `id_token_hint` says.
#[derive(Clone, Debug)]
pub struct Hint {
    /// The sign-in it was issued in.
    pub sid: String,
    /// The client it was issued to.
    pub client_id: String,
}

#[derive(Deserialize)]
struct HintClaims {
    sid: Option<String>,
    aud: Value,
}

impl Auth {
    /// A live access token issued to an OpenID client: its verified claims.
    async fn client_access(&self, token: &str) -> Result<Arc<VerifiedAccess>> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::InvalidToken);
        }
        let known = self.keys.verify_access(token)?;
        if known.claims.client_id.is_none() {
            return Err(AuthError::InvalidToken);
        }
        match self.jwt_in_memory(&known) {
            Some(found) => {
                found?;
            }
            None => {
                self.jwt_from_db(known.clone()).await?;
            }
        }
        Ok(known)
    }

    /// OpenID Connect Core 5.3: the claims of the access token's user.
    pub async fn userinfo(&self, token: &str) -> Result<Value> {
        let known = self.client_access(token).await?;
        let claims = &known.claims;
        let mut info = json!({ "sub": claims.sub });
        if has_scope(claims.scope.as_deref().unwrap_or_default(), "email") {
            info["email"] = json!(claims.email);
            info["email_verified"] = json!(false);
        }
        Ok(info)
    }

    /// RFC 7662: whether `token` is active, and if so what it is. Anything unknown, expired, ended
    /// or not issued to an OpenID client is `{"active":false}`, with no other member.
    pub async fn introspect(&self, token: &str) -> Result<Value> {
        let inactive = || json!({ "active": false });
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Ok(inactive());
        }
        match self.client_access(token).await {
            Ok(known) => {
                let c = &known.claims;
                return Ok(json!({
                    "active": true,
                    "client_id": c.client_id,
                    "sub": c.sub,
                    "sid": c.sid,
                    "scope": c.scope.clone().unwrap_or_default(),
                    "exp": c.exp,
                    "iat": c.iat,
                    "token_type": "Bearer",
                    "iss": self.oidc.issuer,
                }));
            }
            Err(AuthError::InvalidToken) => {}
            Err(other) => return Err(other),
        }
        if let Ok(c) = self.keys.verify(token, "refresh") {
            let Some(client_id) = c.client_id.as_deref() else {
                return Ok(inactive());
            };
            let live: Option<i32> = with_pool!(&self.db, p => sqlx::query_scalar(
                "SELECT 1 FROM refresh_tokens r JOIN signins s ON s.id = r.signin_id \
                 WHERE r.jti = $1 AND r.signin_id = $2 AND r.used_at IS NULL AND s.ended_at IS NULL")
                .bind(&c.jti).bind(&c.sid).fetch_optional(p).await)?;
            if live.is_none() || !self.signin_is_active(&c.sid).await? {
                return Ok(inactive());
            }
            return Ok(json!({
                "active": true,
                "client_id": client_id,
                "sub": c.sub,
                "sid": c.sid,
                "scope": c.scope.clone().unwrap_or_default(),
                "exp": c.exp,
                "iat": c.iat,
                "token_type": "refresh_token",
                "iss": self.oidc.issuer,
            }));
        }
        if let Ok(c) = self.keys.verify(token, CLIENT_ACCESS) {
            let client_id = c.client_id.clone().unwrap_or_default();
            if clients::find(&self.db, &client_id).await?.is_none() {
                return Ok(inactive());
            }
            return Ok(json!({
                "active": true,
                "client_id": client_id,
                "sub": c.sub,
                "scope": c.scope.clone().unwrap_or_default(),
                "exp": c.exp,
                "iat": c.iat,
                "token_type": "Bearer",
                "iss": self.oidc.issuer,
            }));
        }
        Ok(inactive())
    }

    /// An `id_token_hint`: an ID token this provider signed (expired ones count), or `None` for
    /// anything else (altered, foreign, malformed).
    pub fn logout_hint(&self, hint: &str) -> Option<Hint> {
        if hint.is_empty() || hint.len() > MAX_TOKEN_LEN {
            return None;
        }
        let kid = jsonwebtoken::decode_header(hint).ok()?.kid?;
        let keys = self.oidc.keys.current();
        let key = keys.decoding(&kid)?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.oidc.issuer]);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["iss", "sub", "aud"]);
        let claims = jsonwebtoken::decode::<HintClaims>(hint, key, &validation)
            .ok()?
            .claims;
        let client_id = match claims.aud {
            Value::String(one) => one,
            Value::Array(many) if many.len() == 1 => many[0].as_str()?.to_owned(),
            _ => return None,
        };
        Some(Hint {
            sid: claims.sid?,
            client_id,
        })
    }

    /// The names of the applications signed in through each active sign-in of `user_id`.
    pub async fn apps_by_signin(&self, user_id: &str) -> Result<HashMap<String, Vec<String>>> {
        let rows: Vec<(String, String)> = with_pool!(&self.db, p => sqlx::query_as(
            "SELECT g.signin_id, c.name FROM oidc_signin_clients g \
             JOIN oidc_clients c ON c.client_id = g.client_id \
             JOIN signins s ON s.id = g.signin_id \
             WHERE s.user_id = $1 AND s.ended_at IS NULL ORDER BY g.first_at, c.name")
            .bind(user_id).fetch_all(p).await)?;
        let mut apps: HashMap<String, Vec<String>> = HashMap::new();
        for (sid, name) in rows {
            apps.entry(sid).or_default().push(name);
        }
        Ok(apps)
    }
}
