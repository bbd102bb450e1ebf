//! Back-Channel Logout 1.0 logout tokens. The logout engine writes each token's fixed claims
//! ([`payload`]) to the outbox in the transaction that ends the sign-in; the delivery worker signs
//! them at each attempt ([`sign`]) with a fresh `iat`, `exp` (`iat` + [`super::LOGOUT_TOKEN_TTL`]) and
//! `jti`, so that a retry an hour later still carries a token its receiver accepts.

use serde::{Deserialize, Serialize};

use super::{keys::KeySet, LOGOUT_TOKEN_TTL};
use crate::{reasons::EndReason, server::domain::model::Result};

/// The event a logout token carries (Back-Channel Logout 1.0, 2.4).
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// What is fixed at commit.
#[derive(Serialize, Deserialize)]
struct Fixed {
    aud: String,
    sub: String,
    sid: String,
    /// Why the sign-in ended (the same wire names as `/events` and webhooks).
    reason: String,
}

/// The outbox row's payload for client `aud`, user `sub`, sign-in `sid`.
pub fn payload(aud: &str, sub: &str, sid: &str, reason: EndReason) -> String {
    serde_json::to_string(&Fixed {
        aud: aud.into(),
        sub: sub.into(),
        sid: sid.into(),
        reason: reason.as_str().into(),
    })
    .unwrap_or_default()
}

/// An outbox id for one logout token (the same for every attempt; not the token's `jti`).
pub fn event_id() -> String {
    format!("lt_{}", uuid::Uuid::now_v7().simple())
}

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
    let fixed: Fixed = serde_json::from_str(payload).map_err(|e| {
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
