//! Logout events for other services: a `session.ended` event per ended sign-in, written to the
//! `webhook_outbox` table by the logout engine in the same transaction as the ending (so no event
//! is lost on a crash and none exists for a rolled-back ending). Delivery is the job of
//! `server::webhooks`, which reads the table in the background.
//!
//! The body of each event is fixed at commit time, so every retry sends the same bytes:
//!
//! ```json
//! {"type":"session.ended","timestamp":"2026-11-23T10:00:00Z",
//!  "data":{"user_id":"…","signin_id":"…","kind":"jwt","reason":"logout_global",
//!          "ended_at":"2026-11-23T10:00:00Z","credentials_expire_at":"2026-12-23T09:58:12Z"}}
//! ```
//!
//! `credentials_expire_at` is the latest expiry of any credential of the sign-in (`null` when one
//! never expires, a personal token): how long a receiver must remember the sign-in as ended.
//!
//! Beside them, in the same table and transaction, the fixed claims of each Back-Channel Logout
//! token ([`LogoutToken`], kind `backchannel`): the OpenID Provider signs them at each delivery
//! attempt (`oidc::logout_tokens`).

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::Notify;

use super::{
    model::{Result, Role},
    ttl::ACCESS_TTL,
};
use crate::{
    server::db::{rfc3339, Db},
    with_pool,
};

/// Where events go, shared by the engine (which writes them) and the delivery worker.
#[derive(Clone, Debug, Default)]
pub struct Outbox {
    /// The receivers' URLs (`SIGNOFF_WEBHOOK_URLS`); none: no event is written.
    pub endpoints: Arc<[String]>,
    /// The idle lifetime of a browser session, in seconds (a browser sign-in's credential expiry).
    pub session_idle: i64,
    /// Woken after a commit that wrote events, so delivery starts at once.
    pub written: Arc<Notify>,
}

impl Outbox {
    /// True when events are written at all.
    pub fn enabled(&self) -> bool {
        !self.endpoints.is_empty()
    }
}

/// The receivers every process writes events for: a server's own (`SIGNOFF_WEBHOOK_URLS`),
/// which it records in the database (none: the record is cleared); an operator's command's own,
/// or else those recorded, so that a command run without the servers' environment still tells
/// the deployment's receivers of what it ends.
pub(super) async fn receivers(db: &Db, configured: &[String], role: Role) -> Result<Vec<String>> {
    const KEY: &str = "webhook_urls";
    match (role, configured.is_empty()) {
        (Role::Operator, true) => {
            let recorded: Option<String> = with_pool!(db, p => sqlx::query_scalar(
                "SELECT value FROM settings WHERE key = $1").bind(KEY).fetch_optional(p).await)?;
            Ok(recorded
                .map(|r| r.lines().map(str::to_owned).collect())
                .unwrap_or_default())
        }
        (Role::Operator, false) => Ok(configured.to_vec()),
        (Role::Server, true) => {
            with_pool!(db, p => sqlx::query("DELETE FROM settings WHERE key = $1")
                .bind(KEY).execute(p).await.map(|_| ()))?;
            Ok(Vec::new())
        }
        (Role::Server, false) => {
            with_pool!(db, p => sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = $2")
                .bind(KEY).bind(configured.join("\n")).execute(p).await.map(|_| ()))?;
            Ok(configured.to_vec())
        }
    }
}

/// What the engine reads of an ended sign-in to describe it.
#[derive(Clone, Debug, Default)]
pub struct SigninFacts {
    /// Its id.
    pub id: String,
    /// Its user.
    pub user_id: String,
    /// `browser`, `token`, `jwt` or `personal`.
    pub kind: String,
    /// When it was last used (Unix seconds).
    pub last_seen_at: i64,
    /// Whether one of its tokens never expires.
    pub has_unexpiring_token: bool,
    /// The latest expiry of its opaque tokens.
    pub token_expires_at: Option<i64>,
    /// The latest expiry of its refresh tokens.
    pub refresh_expires_at: Option<i64>,
}

impl SigninFacts {
    /// The latest expiry of any credential of the sign-in, `None` for never. `ended_at` bounds it
    /// from below: a JWT access token issued just before the end lives [`ACCESS_TTL`] more.
    pub fn credentials_expire_at(&self, ended_at: i64, session_idle: i64) -> Option<i64> {
        if self.has_unexpiring_token {
            return None;
        }
        let mut latest = ended_at;
        if self.kind == "jwt" {
            latest = latest.max(ended_at + ACCESS_TTL);
        }
        if self.kind == "browser" {
            // The session record's expiry slides with use; `last_seen_at` is written at most once
            // a minute, hence the extra minute.
            latest = latest.max(self.last_seen_at + session_idle + super::model::TOUCH_EVERY_SECS);
        }
        for t in [self.token_expires_at, self.refresh_expires_at]
            .into_iter()
            .flatten()
        {
            latest = latest.max(t);
        }
        Some(latest)
    }
}

#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: String,
    data: Data<'a>,
}

#[derive(Serialize)]
struct Data<'a> {
    user_id: &'a str,
    signin_id: &'a str,
    kind: &'a str,
    reason: &'a str,
    ended_at: String,
    credentials_expire_at: Option<String>,
}

/// An event id in the form Standard Webhooks uses (`msg_…`), unique and time-ordered.
pub fn event_id() -> String {
    format!("msg_{}", uuid::Uuid::now_v7().simple())
}

/// The body of the `session.ended` event for `facts`, ended at `ended_at` for `reason`.
pub fn session_ended(
    facts: &SigninFacts,
    reason: &str,
    ended_at: i64,
    session_idle: i64,
) -> String {
    let event = Event {
        kind: "session.ended",
        timestamp: rfc3339(ended_at),
        data: Data {
            user_id: &facts.user_id,
            signin_id: &facts.id,
            kind: &facts.kind,
            reason,
            ended_at: rfc3339(ended_at),
            credentials_expire_at: facts
                .credentials_expire_at(ended_at, session_idle)
                .map(rfc3339),
        },
    };
    serde_json::to_string(&event).unwrap_or_default()
}

/// A logout token's claims fixed at commit: the client (`aud`), the user (`sub`), the sign-in
/// (`sid`) and why it ended (`reason`, the wire names of `/events` and webhooks).
#[derive(Serialize, serde::Deserialize)]
pub struct LogoutToken {
    pub aud: String,
    pub sub: String,
    pub sid: String,
    pub reason: String,
}

impl LogoutToken {
    /// The outbox row's payload for client `aud`, user `sub`, sign-in `sid`.
    pub fn payload(aud: &str, sub: &str, sid: &str, reason: crate::reasons::EndReason) -> String {
        serde_json::to_string(&LogoutToken {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(kind: &str) -> SigninFacts {
        SigninFacts {
            id: "s1".into(),
            user_id: "u1".into(),
            kind: kind.into(),
            last_seen_at: 1_000,
            ..Default::default()
        }
    }

    #[test]
    fn a_jwt_sign_in_is_remembered_until_its_last_refresh_token_expires() {
        let mut f = facts("jwt");
        assert_eq!(f.credentials_expire_at(2_000, 60), Some(2_000 + ACCESS_TTL));
        f.refresh_expires_at = Some(9_999_999);
        assert_eq!(f.credentials_expire_at(2_000, 60), Some(9_999_999));
    }

    #[test]
    fn a_browser_sign_in_until_its_session_could_expire_and_a_personal_token_forever() {
        let f = facts("browser");
        assert_eq!(
            f.credentials_expire_at(1_500, 3_600),
            Some(1_000 + 3_600 + 60)
        );
        let mut p = facts("personal");
        p.has_unexpiring_token = true;
        assert_eq!(p.credentials_expire_at(1_500, 3_600), None);
    }

    #[test]
    fn the_body_has_the_published_shape() {
        let body = session_ended(&facts("token"), "logout", 0, 60);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["type"], "session.ended");
        assert_eq!(v["timestamp"], "1970-01-01T00:00:00Z");
        assert_eq!(v["data"]["signin_id"], "s1");
        assert_eq!(v["data"]["user_id"], "u1");
        assert_eq!(v["data"]["kind"], "token");
        assert_eq!(v["data"]["reason"], "logout");
        assert_eq!(v["data"]["ended_at"], "1970-01-01T00:00:00Z");
        assert_eq!(v["data"]["credentials_expire_at"], "1970-01-01T00:00:00Z");
        assert!(event_id().starts_with("msg_"));
    }
}
