//! Back-Channel Logout 1.0 logout tokens. The logout engine writes each token's fixed claims
//! ([`LogoutToken`]) to the outbox in the transaction that ends the sign-in; the delivery worker
//! signs them at each attempt ([`sign`]) with a fresh `iat`, `exp` (`iat` +
//! [`super::LOGOUT_TOKEN_TTL`]) and `jti`, so that a retry an hour later still carries a token its
//! receiver accepts.

use serde::Serialize;

use super::{keys::KeySet, LOGOUT_TOKEN_TTL};
use crate::server::domain::{model::Result, outbox::LogoutToken};

/// The event a logout token carries (Back-Channel Logout 1.0, 2.4).
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
    sub: &'a str,
    sid: &'a str,
    events: serde_json::Value,
    reason: &'a str,
}

/// The logout token for `payload`, signed now by `keys` for `issuer` (header `typ: logout+jwt`).
pub fn sign(keys: &KeySet, issuer: &str, payload: &str, at: i64) -> Result<String> {
    let fixed: LogoutToken = serde_json::from_str(payload).map_err(|e| {
        crate::server::domain::model::AuthError::Internal(format!("a logout token's claims: {e}"))
    })?;
    let claims = Claims {
        iss: issuer,
        aud: &fixed.aud,
        iat: at,
        exp: at + LOGOUT_TOKEN_TTL,
        jti: uuid::Uuid::now_v7().to_string(),
        sub: &fixed.sub,
        sid: &fixed.sid,
        events: serde_json::json!({ EVENT: {} }),
        reason: &fixed.reason,
    };
    keys.sign("logout+jwt", &claims)
}
