//! Opaque bearer tokens: login tokens (`so_at_`, seed 000 and the clients) and named personal
//! tokens (`so_pat_`, the `/tokens` page). Each is 256 random bits behind its prefix, stored only as
//! a SHA-256 digest, and belongs to one sign-in: ending the sign-in revokes it.
//!
//! Checking one needs no database read most of the time: [`super::cache::TokenCache`] keeps what a recent read
//! said, and every use checks it against the same in-memory denylist as JWTs
//! ([`super::revocations`]), so a token whose sign-in has ended is refused at once.

use std::{
    sync::{
        atomic::{AtomicI64, AtomicU64, Ordering},
        Arc,
    },
    time::Instant,
};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::{
    auth::Auth,
    cache::{Known, CACHE_FOR},
    logout::Ending,
    model::{AuthError, ClientMeta, EndReason, InputError, Result, SigninKind, User},
    principal::{Principal, Via},
    ttl::OPAQUE_TTL,
};
use crate::{server::db::now, with_pool};

const ACCESS_PREFIX: &str = "so_at_";
const PERSONAL_PREFIX: &str = "so_pat_";

/// A freshly issued opaque token; the clear text exists only here, once.
pub struct IssuedToken {
    /// The token to hand to the client.
    pub token: SecretString,
    /// Unix seconds, or `None` for a token that never expires.
    pub expires_at: Option<i64>,
    /// The sign-in it belongs to.
    pub signin_id: String,
}

/// A named personal token, as the `/tokens` page lists it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct PersonalToken {
    /// The token's sign-in id (used to revoke it).
    pub id: String,
    /// The name its owner gave it.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, if ever used.
    pub last_used_at: Option<i64>,
}

pub(super) fn random_token(prefix: &str) -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    SecretString::from(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// The stored form of an opaque token.
pub fn digest(token: &str) -> String {
    hex::encode(digest_bytes(token))
}

/// A token's SHA-256: [`digest`] before its hex encoding, and the key under which the in-memory
/// cache of opaque tokens ([`super::cache::TokenCache`]) remembers a token without its text.
pub(super) fn digest_bytes(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

pub(super) fn looks_opaque(token: &str) -> bool {
    token.starts_with(ACCESS_PREFIX) || token.starts_with(PERSONAL_PREFIX)
}

#[derive(sqlx::FromRow)]
struct OpaqueRow {
    signin_id: String,
    user_id: String,
    email: String,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    kind: String,
    created_at: i64,
    last_seen_at: i64,
}

impl Auth {
    async fn store_opaque(
        &self,
        signin_id: &str,
        token: &SecretString,
        name: Option<&str>,
        expires_at: Option<i64>,
    ) -> Result<()> {
        with_pool!(&self.db, p => sqlx::query(
            "INSERT INTO tokens (digest, signin_id, name, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(digest(token.expose_secret())).bind(signin_id).bind(name).bind(now()).bind(expires_at)
            .execute(p).await.map(|_| ()))?;
        Ok(())
    }

    /// Starts a sign-in carrying one opaque login token (`POST /api/v1/account/login`).
    #[tracing::instrument(skip_all, fields(user.id = %user.id))]
    pub async fn issue_opaque(&self, user: &User, meta: &ClientMeta) -> Result<IssuedToken> {
        let signin = self
            .start_signin(
                user,
                SigninKind::Token,
                meta,
                "API token sign-in (seed 000)",
            )
            .await?;
        let token = random_token(ACCESS_PREFIX);
        let expires_at = now() + OPAQUE_TTL;
        self.store_opaque(&signin.id, &token, None, Some(expires_at))
            .await?;
        Ok(IssuedToken {
            token,
            expires_at: Some(expires_at),
            signin_id: signin.id,
        })
    }

    /// Creates a named personal token that never expires (the `/tokens` page).
    #[tracing::instrument(skip_all, fields(user.id = %user.id))]
    pub async fn create_personal_token(
        &self,
        user: &User,
        name: &str,
        meta: &ClientMeta,
    ) -> Result<IssuedToken> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AuthError::Input(InputError::InvalidTokenName));
        }
        let signin = self
            .start_signin(
                user,
                SigninKind::Personal,
                meta,
                &format!("personal token “{name}”"),
            )
            .await?;
        let token = random_token(PERSONAL_PREFIX);
        self.store_opaque(&signin.id, &token, Some(name), None)
            .await?;
        Ok(IssuedToken {
            token,
            expires_at: None,
            signin_id: signin.id,
        })
    }

    /// Revokes personal token `id` (the id of its sign-in, as `/tokens` lists it) of user
    /// `user_id`: its sign-in ends, reason `revoked`. `Ok(false)` when it is not an active personal
    /// token of this user (another's, another kind of sign-in, already revoked).
    pub async fn revoke_personal_token(&self, user_id: &str, id: &str, via: &str) -> Result<bool> {
        let personal: Option<(i32,)> = with_pool!(&self.db, p => sqlx::query_as(
            "SELECT 1 FROM signins WHERE id = $1 AND user_id = $2 AND kind = 'personal' AND ended_at IS NULL")
            .bind(id).bind(user_id).fetch_optional(p).await)?;
        if personal.is_none() {
            return Ok(false);
        }
        let ending = Ending::Signins {
            ids: vec![id.to_owned()],
            owner: Some(user_id.to_owned()),
            reason: EndReason::Revoked,
        };
        Ok(!self.end(ending, via).await?.signins.is_empty())
    }

    /// The user's personal tokens that are still active, newest first.
    pub async fn personal_tokens(&self, user_id: &str) -> Result<Vec<PersonalToken>> {
        Ok(with_pool!(&self.db, p => sqlx::query_as(
            "SELECT s.id, t.name, t.created_at, t.last_used_at FROM tokens t JOIN signins s ON s.id = t.signin_id \
             WHERE s.user_id = $1 AND s.kind = 'personal' AND s.ended_at IS NULL ORDER BY t.created_at DESC, s.id DESC")
            .bind(user_id).fetch_all(p).await)?)
    }

    /// An opaque token (by its digest `key`) answered from memory, when the cache can answer:
    /// `None` sends it to [`Auth::opaque_from_db`].
    pub(super) fn opaque_in_memory(
        &self,
        key: &[u8; 32],
        record_use: bool,
    ) -> Option<Result<Arc<Principal>>> {
        let at = now();
        if self.revocations.is_healthy() {
            if let Some(known) = self.token_cache.map.get(key) {
                if self
                    .revocations
                    .revoked_since(&known.clean_at, &[known.signin_id()])
                {
                    self.token_cache.map.remove(key);
                    return Some(Err(AuthError::InvalidToken));
                }
                let usable = known.read_at.elapsed() < CACHE_FOR
                    && known.expires_at.is_none_or(|e| e > at)
                    && self
                        .lifetime
                        .expired(
                            &known.kind,
                            known.created_at,
                            known.last_seen_at.load(Ordering::Relaxed),
                            at,
                        )
                        .is_none();
                if usable {
                    if record_use {
                        self.record_use(&known, key, at);
                    }
                    return Some(Ok(known.principal.clone()));
                }
                // Stale, or perhaps ended by its lifetime: the database decides.
                self.token_cache.map.remove(key);
            }
        }
        None
    }

    /// An opaque token (by its digest `key`) read from the database, and cached.
    pub(super) async fn opaque_from_db(
        &self,
        key: [u8; 32],
        record_use: bool,
    ) -> Result<Arc<Principal>> {
        let at = now();
        let digest = hex::encode(key);
        let read_at = Instant::now();
        let row: Option<OpaqueRow> = with_pool!(&self.db, p => sqlx::query_as(
            "SELECT t.signin_id, s.user_id, u.email, t.expires_at, t.last_used_at, \
                    s.kind, s.created_at, s.last_seen_at \
             FROM tokens t JOIN signins s ON s.id = t.signin_id JOIN users u ON u.id = s.user_id \
             WHERE t.digest = $1 AND s.ended_at IS NULL")
            .bind(&digest).fetch_optional(p).await)?;
        let row = row.ok_or(AuthError::InvalidToken)?;
        if row.expires_at.is_some_and(|e| e <= at) {
            return Err(AuthError::InvalidToken);
        }
        if let Some(reason) = self
            .lifetime
            .expired(&row.kind, row.created_at, row.last_seen_at, at)
        {
            self.end_signin(&row.signin_id, reason, "lifetime check")
                .await?;
            return Err(AuthError::InvalidToken);
        }
        // Cached even while the denylist is incomplete: a hit is used only once it is complete
        // again, and an ending in between is on it by then (reloaded from the database).
        let known = Arc::new(Known {
            principal: Arc::new(Principal {
                user: User {
                    id: row.user_id,
                    email: row.email,
                },
                signin_id: row.signin_id,
                via: Via::Opaque,
            }),
            clean_at: AtomicU64::new(u64::MAX),
            kind: row.kind,
            created_at: row.created_at,
            expires_at: row.expires_at,
            read_at,
            last_seen_at: AtomicI64::new(row.last_seen_at),
            last_used_at: AtomicI64::new(row.last_used_at.unwrap_or(0)),
        });
        if record_use {
            self.record_use(&known, &key, at);
        }
        let principal = known.principal.clone();
        self.token_cache.map.insert(key, known);
        Ok(principal)
    }

    /// Writes down that a token was used at `at`, at most once per `touch_every` per token and
    /// process, in a task of its own: the request does not wait for the write. (A lost write only
    /// makes "last used" and the idle clock lag by one interval.)
    fn record_use(&self, known: &Known, key: &[u8; 32], at: i64) {
        let last = known.last_used_at.load(Ordering::Relaxed);
        if at - last < self.lifetime.touch_every {
            return;
        }
        // Only the request that moves the time on writes.
        if known
            .last_used_at
            .compare_exchange(last, at, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        known.last_seen_at.fetch_max(at, Ordering::Relaxed);
        let (db, digest, signin_id) = (
            self.db.clone(),
            hex::encode(key),
            known.signin_id().to_owned(),
        );
        tokio::spawn(async move {
            let written: std::result::Result<(), sqlx::Error> = async {
                with_pool!(&db, p => sqlx::query(
                    "UPDATE tokens SET last_used_at = $1 WHERE digest = $2")
                    .bind(at).bind(&digest).execute(p).await.map(|_| ()))?;
                with_pool!(&db, p => sqlx::query(
                    "UPDATE signins SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $1")
                    .bind(at).bind(&signin_id).execute(p).await.map(|_| ()))?;
                Ok(())
            }
            .await;
            if let Err(err) = written {
                tracing::warn!(error = %err, "a token's last use was not written");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::domain::{
        auth::testing::{auth, user},
        logout::{Caller, Scope},
    };

    /// Ada, and a fresh opaque token of hers.
    async fn ada_token(auth: &Auth) -> (User, IssuedToken) {
        let ada = user(auth, "ada@example.com").await;
        let issued = auth
            .issue_opaque(&ada, &ClientMeta::default())
            .await
            .unwrap();
        (ada, issued)
    }

    #[tokio::test]
    async fn a_cached_token_is_refused_once_its_signin_is_denied() {
        let auth = auth().await;
        let (_, issued) = ada_token(&auth).await;
        let token = issued.token.expose_secret();
        let who = auth.resolve(token).await.unwrap();
        // From the cache, the same principal, the denylist not looked at again.
        assert!(Arc::ptr_eq(&who, &auth.resolve(token).await.unwrap()));
        assert_eq!(auth.token_cache.len(), 1);
        // An ending announced by another instance, as its notification is applied here.
        auth.revocations.signin_ended(&who.signin_id, None);
        assert!(matches!(
            auth.resolve(token).await,
            Err(AuthError::InvalidToken)
        ));
        assert!(auth.token_cache.is_empty(), "dropped from the cache");
    }

    #[tokio::test]
    async fn opaque_tokens_are_prefixed_256_bit_and_stored_as_digests() {
        let auth = auth().await;
        let (ada, issued) = ada_token(&auth).await;
        let token = issued.token.expose_secret();
        assert!(token.starts_with("so_at_"));
        assert_eq!(URL_SAFE_NO_PAD.decode(&token[6..]).unwrap().len(), 32);
        let stored: Vec<String> = with_pool!(auth.db(), p => sqlx::query_scalar("SELECT digest FROM tokens").fetch_all(p).await).unwrap();
        assert_eq!(stored, vec![digest(token)]);
        assert_eq!(auth.resolve(token).await.unwrap().user, ada);
    }

    #[tokio::test]
    async fn personal_tokens_are_listed_until_revoked() {
        let auth = auth().await;
        let ada = user(&auth, "ada@example.com").await;
        let t = auth
            .create_personal_token(&ada, " CI deploy ", &ClientMeta::default())
            .await
            .unwrap();
        assert!(t.token.expose_secret().starts_with("so_pat_"));
        assert!(t.expires_at.is_none());
        let listed = auth.personal_tokens(&ada.id).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].name, "CI deploy");
        let who = auth.resolve(t.token.expose_secret()).await.unwrap();
        assert_eq!(who.via, Via::Opaque);
        auth.logout(Caller::from(&*who), Scope::Local, "test")
            .await
            .unwrap();
        assert!(auth.personal_tokens(&ada.id).await.unwrap().is_empty());
        assert!(auth
            .create_personal_token(&ada, "   ", &ClientMeta::default())
            .await
            .is_err());
    }
}
