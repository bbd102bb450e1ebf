//! The JWT signing keys: signing, verifying, and the per-thread cache of verified access tokens.

use std::path::Path;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    model::{AuthError, Result, User},
    principal::{Principal, Via},
};
use crate::{
    server::db::{now, Db},
    with_pool,
};

/// The `iss` of every JWT.
pub const ISSUER: &str = "signoff";

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Claims {
    pub(super) iss: String,
    pub(super) sub: String,
    /// The account's email, so that a JWT-authenticated request needs no database read.
    pub(super) email: String,
    pub(super) sid: String,
    pub(super) jti: String,
    pub(super) iat: i64,
    pub(super) exp: i64,
    pub(super) typ: String,
    /// The OpenID client the token was issued to (none: a seed 004 pair). Such tokens are refused by
    /// the seed APIs and accepted by the provider's endpoints (`super::oidc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) client_id: Option<String>,
    /// The scope granted to that client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) scope: Option<String>,
}

/// The JWT signing key, from configuration (required in production) or, in development, generated
/// once and kept in the database so that restarts and other instances agree; and the previous key,
/// still accepted after a rotation until the tokens it signed have expired.
///
/// Every token names its key in the header (`kid`: the first 8 bytes of the key's SHA-256, in
/// hex), so a token is checked against that key alone.
#[derive(Clone)]
pub struct Keys {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    previous: Option<(String, DecodingKey)>,
    validation: Validation,
    /// Access tokens verified lately, by the token itself, one cache per thread (see
    /// [`Keys::verify_access`]).
    verified: std::sync::Arc<thread_local::ThreadLocal<std::cell::RefCell<VerifiedCache>>>,
}

type VerifiedCache = quick_cache::unsync::Cache<TokenKey, std::sync::Arc<VerifiedAccess>>;

/// A verified access token's text, as [`VerifiedCache`]'s key: compared whole, but hashed by its
/// last 16 bytes only, the end of its signature. An HMAC makes those unpredictable, and only
/// verified tokens are ever stored, so they spread the keys as well as the whole text would; a
/// JWT is some 400 bytes, hashed on every request.
#[derive(PartialEq, Eq)]
struct TokenKey(Box<str>);

/// A presented token, looked up as a [`TokenKey`] without being copied.
struct TokenRef<'a>(&'a str);

/// What [`TokenKey`] and [`TokenRef`] hash.
fn token_tail(token: &str) -> &[u8] {
    let bytes = token.as_bytes();
    &bytes[bytes.len().saturating_sub(16)..]
}

impl std::hash::Hash for TokenKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        token_tail(&self.0).hash(state);
    }
}

impl std::hash::Hash for TokenRef<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        token_tail(self.0).hash(state);
    }
}

impl quick_cache::Equivalent<TokenKey> for TokenRef<'_> {
    fn equivalent(&self, key: &TokenKey) -> bool {
        *key.0 == *self.0
    }
}

/// How many verified access tokens [`Keys::verify_access`] remembers, per worker thread.
const VERIFIED_CAPACITY: usize = 16_384;

/// A verified access token: its claims, the caller it stands for, and the denylist's version at
/// which neither its sign-in nor its `jti` was on the denylist.
pub(super) struct VerifiedAccess {
    pub(super) claims: Claims,
    pub(super) principal: std::sync::Arc<Principal>,
    /// [`super::revocations::Revocations::version`] when last found absent from it (`u64::MAX`:
    /// not checked yet).
    pub(super) clean_at: std::sync::atomic::AtomicU64,
    /// Its sign-in was found in the database (active, of its `sub`): a token whose signature
    /// verifies but whose sign-in was never made (a leaked key's forgery) is refused.
    pub(super) known: std::sync::atomic::AtomicBool,
}

/// The development secret's file, in the directory of the OpenID keys (owner-only, shared by
/// the instances of one deployment as those keys are).
pub const SECRET_FILE: &str = "jwt-secret";

/// The secret in `dir`'s [`SECRET_FILE`], written (owner-only) if there is none. An earlier
/// version kept it in the database, in clear: that one moves to the file (so its tokens stay
/// valid) and leaves the database.
async fn development_secret(db: &Db, dir: &Path) -> Result<Vec<u8>> {
    let stored: Option<String> = with_pool!(db, p => sqlx::query_scalar(
        "SELECT value FROM settings WHERE key = 'jwt_secret'").fetch_optional(p).await)?;
    let secret = secret_file(dir, stored.as_deref())?;
    if stored.is_some() {
        with_pool!(db, p => sqlx::query("DELETE FROM settings WHERE key = 'jwt_secret'")
            .execute(p).await.map(|_| ()))?;
        tracing::info!(file = %dir.join(SECRET_FILE).display(), "the JWT secret moved out of the database");
    }
    Ok(secret.into_bytes())
}

/// The secret in `dir`'s [`SECRET_FILE`]; when there is none, `stored` (or a fresh one) is
/// written there first. Instances starting at once on one directory all end with the same secret:
/// the first file to land wins, and none is ever read half-written ([`write_private_new`]).
fn secret_file(dir: &Path, stored: Option<&str>) -> Result<String> {
    let path = dir.join(SECRET_FILE);
    if !path.exists() {
        prepare_dir(dir)?;
        let secret = stored.map(str::to_owned).unwrap_or_else(|| {
            let mut fresh = [0u8; 64];
            rand::rngs::OsRng.fill_bytes(&mut fresh);
            URL_SAFE_NO_PAD.encode(fresh)
        });
        write_private_new(&path, secret.as_bytes())?;
    }
    let secret = std::fs::read_to_string(&path)
        .map_err(|e| io(&format!("reading {}", path.display()), e))?;
    let secret = secret.trim();
    if secret.len() < 32 {
        return Err(AuthError::Internal(format!(
            "{} holds no secret (32 characters at least)",
            path.display()
        )));
    }
    Ok(secret.to_owned())
}

/// Writes `contents` to `path`, owner-only, unless a file is there already; true when this call
/// wrote it. The file appears whole or not at all: it is written and synced under a temporary
/// name beside `path` (`tempfile` makes it 0600), then hard-linked into place, which fails rather
/// than replace a file (`persist_noclobber`). Creating `path` itself and then writing it would let
/// an instance starting at the same moment read it empty.
pub(in crate::server::domain) fn write_private_new(path: &Path, contents: &[u8]) -> Result<bool> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let failed = |e| io(&format!("writing {}", path.display()), e);
    let mut tmp = tempfile::Builder::new()
        .prefix(".new-")
        .tempfile_in(dir)
        .map_err(failed)?;
    tmp.write_all(contents)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(failed)?;
    match tmp.persist_noclobber(path) {
        Ok(_) => {
            // The new name is durable once the directory is synced too.
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(failed)?;
            Ok(true)
        }
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(failed(e.error)),
    }
}

/// A file-system failure doing `what`, as the domain reports it.
pub(in crate::server::domain) fn io(what: &str, err: std::io::Error) -> AuthError {
    AuthError::Internal(format!("{what}: {err}"))
}

/// Creates `dir` owner-only, or checks that an existing one is not readable by others.
pub(in crate::server::domain) fn prepare_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| io(&format!("creating {}", dir.display()), e))?;
    }
    let mode = std::fs::metadata(dir)
        .map_err(|e| io(&format!("reading {}", dir.display()), e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(AuthError::Internal(format!(
            "{} is open to other users (mode {:o}): chmod 700 it",
            dir.display(),
            mode & 0o777
        )));
    }
    Ok(())
}

fn key_id(secret: &[u8]) -> String {
    hex::encode(&Sha256::digest(secret)[..8])
}

impl Keys {
    /// Uses `configured`, or (in development) the secret kept in `dir`'s [`SECRET_FILE`], made on
    /// first start; accepts tokens signed with `previous` too. Never in the database: a read of a
    /// backup must not let anyone mint tokens.
    pub async fn load(
        db: &Db,
        configured: Option<SecretString>,
        previous: Option<SecretString>,
        dir: &Path,
    ) -> Result<Self> {
        let secret = match configured {
            Some(s) => s.expose_secret().as_bytes().to_vec(),
            None => development_secret(db, dir).await?,
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub", "iat"]);
        validation.leeway = 0;
        let previous = previous.map(|p| {
            let bytes = p.expose_secret().as_bytes();
            (key_id(bytes), DecodingKey::from_secret(bytes))
        });
        Ok(Self {
            kid: key_id(&secret),
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            previous,
            validation,
            verified: std::sync::Arc::new(thread_local::ThreadLocal::new()),
        })
    }

    pub(super) fn sign(&self, claims: &Claims) -> Result<SecretString> {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        encode(&header, claims, &self.encoding)
            .map(SecretString::from)
            .map_err(|e| AuthError::Internal(format!("signing a JWT: {e}")))
    }

    /// [`Keys::verify`] for an access token, remembered: the same token verifies the same way
    /// until it expires, so a token seen lately is not decoded and its signature not checked again
    /// (its expiry still is, on every use; whether it was revoked is the caller's check, as for any
    /// verified token).
    ///
    /// Remembered by the token's text rather than a digest of it (as opaque tokens are): the key
    /// that signs every token sits in the same memory, so holding the tokens gives someone who can
    /// read it nothing more, and hashing a 400-byte token cost a tenth of the whole request.
    ///
    /// One cache per thread (`thread_local`), not one shared: nothing about a verified token ever
    /// changes, so the caches need not agree, and a shared one made every request write to memory
    /// that every core reads (the cache's lock, the claims' reference count). Under load, those
    /// writes moved cache lines between cores on each request. A thread that has not seen a token
    /// verifies it once (about 2 µs).
    pub(super) fn verify_access(&self, token: &str) -> Result<std::sync::Arc<VerifiedAccess>> {
        let cache = self
            .verified
            .get_or(|| std::cell::RefCell::new(VerifiedCache::new(VERIFIED_CAPACITY)));
        let known = cache.borrow().get(&TokenRef(token)).cloned();
        if let Some(known) = known {
            if known.claims.exp >= now() {
                return Ok(known);
            }
            cache.borrow_mut().remove(&TokenRef(token));
            return Err(AuthError::InvalidToken);
        }
        let claims = self.verify(token, "access")?;
        let principal = std::sync::Arc::new(Principal {
            user: User {
                id: claims.sub.clone(),
                email: claims.email.clone(),
            },
            signin_id: claims.sid.clone(),
            via: Via::Jwt {
                jti: claims.jti.clone(),
            },
        });
        let known = std::sync::Arc::new(VerifiedAccess {
            claims,
            principal,
            clean_at: std::sync::atomic::AtomicU64::new(u64::MAX),
            known: std::sync::atomic::AtomicBool::new(false),
        });
        cache
            .borrow_mut()
            .insert(TokenKey(token.into()), known.clone());
        Ok(known)
    }

    pub(super) fn verify(&self, token: &str, typ: &str) -> Result<Claims> {
        let kid = jsonwebtoken::decode_header(token)
            .map_err(|_| AuthError::InvalidToken)?
            .kid;
        let key = match (&self.previous, kid) {
            (Some((previous, key)), Some(kid)) if kid == *previous => key,
            _ => &self.decoding,
        };
        let claims = decode::<Claims>(token, key, &self.validation)
            .map_err(|_| AuthError::InvalidToken)?
            .claims;
        if claims.typ != typ {
            return Err(AuthError::InvalidToken);
        }
        Ok(claims)
    }
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_starting_at_once_all_read_the_one_whole_secret() {
        for _ in 0..40 {
            let base = tempfile::tempdir().unwrap();
            let dir = base.path().join("keys");
            let barrier = std::sync::Barrier::new(8);
            let secrets: Vec<String> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            secret_file(&dir, None)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap().expect("a whole secret"))
                    .collect()
            });
            assert!(secrets.iter().all(|s| s == &secrets[0]), "{secrets:?}");
            let names: Vec<_> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(names, [SECRET_FILE], "no temporary file is left behind");
            let mode = std::os::unix::fs::PermissionsExt::mode(
                &std::fs::metadata(dir.join(SECRET_FILE))
                    .unwrap()
                    .permissions(),
            );
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_secret_kept_in_the_database_moves_to_the_file_unchanged() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("keys");
        let stored = "s".repeat(40);
        assert_eq!(secret_file(&dir, Some(&stored)).unwrap(), stored);
        // Once the file is there, it wins.
        assert_eq!(secret_file(&dir, Some("other")).unwrap(), stored);
    }
}
