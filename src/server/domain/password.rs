//! Password hashing with argon2id at OWASP's recommended parameters (19 MiB, 2 passes, 1 lane),
//! always off the async runtime and with a bound on how many hashes run at once.
//!
//! ```ignore
//! let hasher = Hasher::new();
//! let hash = hasher.hash(SecretString::from("correct horse")).await?;
//! assert!(hasher.verify(SecretString::from("correct horse"), Some(hash)).await?);
//! ```

use std::sync::Arc;

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Semaphore;

use super::model::AuthError;

/// A PHC-format argon2 hash. Not `Serialize`, and its `Debug` does not print it.
#[derive(Clone)]
pub struct PasswordHashString(pub String);

impl std::fmt::Debug for PasswordHashString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHashString(<redacted>)")
    }
}

/// Hashing failed for a reason that is not the caller's (a bug or a panicked worker).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

impl HashError {
    /// True when the check was refused because too many were waiting.
    pub fn is_busy(&self) -> bool {
        self.0 == BUSY
    }
}

const BUSY: &str = "too many password checks waiting";

/// Password hashes waiting or running at most, per core; more are refused at once (a flood of
/// logins is turned away instead of slowing every real one down).
pub const QUEUE_PER_CORE: usize = 16;

fn argon2() -> Argon2<'static> {
    // OWASP Password Storage Cheat Sheet: argon2id, m=19456 KiB, t=2, p=1.
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes and verifies passwords on the blocking pool.
#[derive(Clone)]
pub struct Hasher {
    /// Each hash holds 19 MiB; this keeps a burst of logins from exhausting memory.
    permits: Arc<Semaphore>,
    /// Checks waiting or running: bounded, see [`QUEUE_PER_CORE`].
    queue: Arc<Semaphore>,
    /// Verified against when the email is unknown, so both failures take the same time.
    dummy: PasswordHashString,
}

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

impl Hasher {
    /// A hasher allowing two concurrent hashes per core.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let salt = SaltString::generate(&mut OsRng);
        let dummy = argon2()
            .hash_password(b"no account has this password", &salt)
            .expect("hashing a constant succeeds")
            .to_string();
        Self {
            permits: Arc::new(Semaphore::new(cores * 2)),
            queue: Arc::new(Semaphore::new(cores * QUEUE_PER_CORE)),
            dummy: PasswordHashString(dummy),
        }
    }

    /// A place in the bounded queue (refused at once when it is full), then one of the running
    /// slots (waited for). Both are held until the hash is done.
    async fn admit(
        &self,
    ) -> Result<
        (
            tokio::sync::SemaphorePermit<'_>,
            tokio::sync::SemaphorePermit<'_>,
        ),
        HashError,
    > {
        let queued = self
            .queue
            .try_acquire()
            .map_err(|_| HashError(BUSY.into()))?;
        let running = self
            .permits
            .acquire()
            .await
            .map_err(|e| HashError(e.to_string()))?;
        Ok((queued, running))
    }

    /// Hashes a password with a fresh random salt.
    pub async fn hash(&self, password: SecretString) -> Result<PasswordHashString, HashError> {
        let _admitted = self.admit().await?;
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(password.expose_secret().as_bytes(), &salt)
                .map(|h| PasswordHashString(h.to_string()))
                .map_err(|e| HashError(e.to_string()))
        })
        .await
        .map_err(|e| HashError(e.to_string()))?
    }

    /// Verifies `password` against `hash`; with `None` (unknown account) it verifies against a dummy
    /// hash and returns false, taking the same time as a wrong password.
    pub async fn verify(
        &self,
        password: SecretString,
        hash: Option<PasswordHashString>,
    ) -> Result<bool, HashError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy.clone());
        let _admitted = self.admit().await?;
        tokio::task::spawn_blocking(move || {
            let parsed = PasswordHash::new(&hash.0).map_err(|e| HashError(e.to_string()))?;
            let ok = argon2()
                .verify_password(password.expose_secret().as_bytes(), &parsed)
                .is_ok();
            Ok(ok && known)
        })
        .await
        .map_err(|e| HashError(e.to_string()))?
    }
}

impl From<HashError> for AuthError {
    fn from(err: HashError) -> Self {
        if err.is_busy() {
            Self::Throttled(1)
        } else {
            Self::Internal(err.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_own_password_and_no_other() {
        let hasher = Hasher::new();
        let hash = hasher
            .hash(SecretString::from("correct horse"))
            .await
            .unwrap();
        assert!(hash.0.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(hasher
            .verify(SecretString::from("correct horse"), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!hasher
            .verify(SecretString::from("wrong horse"), Some(hash))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        let hasher = Hasher::new();
        assert!(!hasher
            .verify(SecretString::from("no account has this password"), None)
            .await
            .unwrap());
    }

    #[test]
    fn debug_does_not_print_the_hash() {
        let h = PasswordHashString("$argon2id$secret".into());
        assert!(!format!("{h:?}").contains("secret"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_of_checks_is_refused_at_once_beyond_the_queue() {
        let hasher = Hasher::new();
        let hash = hasher.hash("correct horse".into()).await.unwrap();
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let flood = cores * QUEUE_PER_CORE * 3;
        let checks = (0..flood).map(|_| {
            let (hasher, hash) = (hasher.clone(), hash.clone());
            tokio::spawn(async move { hasher.verify("wrong horse".into(), Some(hash)).await })
        });
        let mut busy = 0;
        for check in checks.collect::<Vec<_>>() {
            match check.await.unwrap() {
                Ok(false) => {}
                Err(e) if e.is_busy() => busy += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(
            busy >= flood - cores * QUEUE_PER_CORE,
            "{busy} of {flood} refused"
        );
        // Once the flood has passed, checks are served again.
        assert!(hasher
            .verify("correct horse".into(), Some(hash))
            .await
            .unwrap());
    }
}
