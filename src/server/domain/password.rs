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

/// Password checks waiting or running at most, per core; more are refused at once (a flood of
/// logins is turned away instead of slowing every real one down).
pub const QUEUE_PER_CORE: usize = 16;
/// New hashes (registrations, password changes) waiting or running at most, per core.
pub const NEW_QUEUE_PER_CORE: usize = 4;

fn argon2() -> Argon2<'static> {
    // OWASP Password Storage Cheat Sheet: argon2id, m=19456 KiB, t=2, p=1.
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// One lane of the hasher: how many hashes may run, and how many may wait or run.
#[derive(Clone)]
struct Lane {
    /// Each hash holds 19 MiB; this keeps a burst from exhausting memory.
    running: Arc<Semaphore>,
    /// Waiting or running: bounded, refused at once past it.
    queue: Arc<Semaphore>,
}

impl Lane {
    fn new(running: usize, queue: usize) -> Self {
        Self {
            running: Arc::new(Semaphore::new(running)),
            queue: Arc::new(Semaphore::new(queue)),
        }
    }

    /// A place in the queue (refused at once when it is full), then one of the running slots
    /// (waited for). Both are held until the hash is done.
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
            .running
            .acquire()
            .await
            .map_err(|e| HashError(e.to_string()))?;
        Ok((queued, running))
    }
}

/// Hashes and verifies passwords on the blocking pool, in two lanes: password checks (sign-ins),
/// and new hashes (registrations, password changes). A flood of registrations fills its own lane
/// and is refused there; it never takes a sign-in's place in the queue, and holds at most one
/// running slot per core.
#[derive(Clone)]
pub struct Hasher {
    /// Password checks: two running per core, [`QUEUE_PER_CORE`] waiting or running.
    checks: Lane,
    /// New hashes: one running per core, [`NEW_QUEUE_PER_CORE`] waiting or running.
    new: Lane,
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
            checks: Lane::new(cores * 2, cores * QUEUE_PER_CORE),
            new: Lane::new(cores, cores * NEW_QUEUE_PER_CORE),
            dummy: PasswordHashString(dummy),
        }
    }

    /// Hashes a password with a fresh random salt (in the lane of new hashes).
    pub async fn hash(&self, password: SecretString) -> Result<PasswordHashString, HashError> {
        let _admitted = self.new.admit().await?;
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
        let _admitted = self.checks.admit().await?;
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
    async fn a_flood_of_new_hashes_never_takes_a_password_checks_place() {
        let hasher = Hasher::new();
        let hash = hasher.hash("correct horse".into()).await.unwrap();
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        // Registrations, more than the whole queue of sign-ins holds: some are refused at once…
        let flood: Vec<_> = (0..cores * QUEUE_PER_CORE * 2)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.hash("a new password".into()).await })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        // …and meanwhile a whole queue of sign-ins is served, not one refused as busy.
        let checks: Vec<_> = (0..cores * QUEUE_PER_CORE)
            .map(|_| {
                let (hasher, hash) = (hasher.clone(), hash.clone());
                tokio::spawn(async move { hasher.verify("correct horse".into(), Some(hash)).await })
            })
            .collect();
        for check in checks {
            assert!(check.await.unwrap().unwrap(), "a sign-in was refused");
        }
        let mut busy = 0;
        for new in flood {
            if new.await.unwrap().is_err_and(|e| e.is_busy()) {
                busy += 1;
            }
        }
        assert!(busy > 0, "the registrations' lane was never full");
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
