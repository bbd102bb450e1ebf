//! [`Auth`], the account and sign-in service: its parts and how they start. Each file beside this
//! one adds what it is about to `Auth` ([`super::account`], [`super::signins`], the credentials in
//! [`super::opaque`], [`super::jwt`] and [`super::tokens`], [`super::prune`]); the parts below it
//! know nothing of `Auth`.

use std::sync::{Arc, OnceLock};

use super::{
    cache::TokenCache,
    keys::Keys,
    logout::Engine,
    model::{ExpiredSessions, Lifetime, Options, Readiness, Result},
    outbox::Outbox,
    password::Hasher,
    revocations::Revocations,
};
use crate::{server::db::Db, with_pool};

/// The account and sign-in service. Cheap to clone: every part is shared.
#[derive(Clone)]
pub struct Auth {
    pub(super) db: Db,
    pub(super) hasher: Hasher,
    pub(super) keys: Arc<Keys>,
    pub(super) revocations: Arc<Revocations>,
    /// Opaque tokens recently read from the database (see [`TokenCache`]).
    pub(super) token_cache: Arc<TokenCache>,
    pub(super) engine: Engine,
    pub(super) outbox: Outbox,
    /// How long after its rotation a refresh token may be presented again (seconds).
    pub(super) refresh_grace: i64,
    pub(super) lifetime: Lifetime,
    /// Active sign-ins per user at most (see `Options::max_signins_per_user`).
    pub(super) max_signins: Option<usize>,
    /// The browser sessions' store, which deletes its own expired rows when the pruner asks.
    pub(super) sessions: Arc<OnceLock<Arc<dyn ExpiredSessions>>>,
    /// The OpenID Provider: its issuer and RS256 keys (see [`super::oidc`]).
    pub(super) oidc: Arc<super::oidc::Provider>,
    /// Refreshes per sign-in (see [`Options::refresh_per_minute`]); `None`: no limit.
    pub(super) refresh_limit: Option<Arc<super::throttle::RefreshLimit>>,
}

impl Auth {
    /// A service over `db` (already migrated): loads the JWT key and the denylist and starts the
    /// logout engine's writer(s).
    pub async fn init(db: Db, options: Options) -> Result<Self> {
        let keys_dir = options
            .oidc_keys
            .clone()
            .unwrap_or_else(super::oidc::default_test_keys);
        let keys = Keys::load(
            &db,
            options.jwt_secret.clone(),
            options.jwt_previous_secret.clone(),
            &keys_dir,
        )
        .await?;
        let revocations =
            Revocations::start(&db, options.listen_retry, options.listen_url.clone()).await?;
        let receivers = super::outbox::receivers(&db, &options.webhook_urls, options.role).await?;
        let outbox = Outbox {
            endpoints: receivers.into(),
            session_idle: options.session_idle.as_secs() as i64,
            written: Default::default(),
        };
        let engine = Engine::start(&db, revocations.clone(), outbox.clone(), &options)?;
        let oidc = Arc::new(super::oidc::Provider::open(
            &options.oidc_issuer,
            &keys_dir,
        )?);
        Ok(Self {
            db,
            hasher: Hasher::new(),
            keys: Arc::new(keys),
            revocations,
            token_cache: Default::default(),
            engine,
            outbox,
            refresh_grace: options.refresh_grace.as_secs() as i64,
            lifetime: Lifetime::new(options.session_idle, options.session_absolute),
            max_signins: options.max_signins_per_user.filter(|&n| n > 0),
            sessions: Default::default(),
            oidc,
            refresh_limit: super::throttle::RefreshLimit::new(options.refresh_per_minute)
                .map(Arc::new),
        })
    }

    /// Hands the browser sessions' store to the pruner (once; later calls change nothing).
    pub fn prune_sessions_with(&self, store: Arc<dyn ExpiredSessions>) {
        let _ = self.sessions.set(store);
    }

    /// The logout engine: every ending of a sign-in goes through [`Engine::end`].
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The database this service uses.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// How sign-ins live.
    pub fn lifetime(&self) -> Lifetime {
        self.lifetime
    }

    /// Whether this instance can serve: the database answers, and the in-memory JWT denylist is
    /// complete (see [`Revocations::is_healthy`]).
    pub async fn readiness(&self) -> Readiness {
        let database = with_pool!(&self.db, p => sqlx::query("SELECT 1").execute(p).await.is_ok());
        Readiness {
            database,
            denylist: self.revocations.is_healthy(),
        }
    }

    /// The opaque tokens recently read from the database.
    pub fn token_cache(&self) -> &TokenCache {
        &self.token_cache
    }

    /// The in-memory denylist behind JWT checks, which also wakes the pages watching a sign-in.
    pub fn revocations(&self) -> &Arc<Revocations> {
        &self.revocations
    }

    /// Where `session.ended` events are written (read by the delivery worker).
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }
}

/// For the domain's unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Auth, Options};
    use crate::server::db::Db;

    /// A service on a fresh SQLite file (the logout writer needs a file of its own to open).
    pub(crate) async fn auth_with(options: Options) -> Auth {
        let dir = tempfile::tempdir().unwrap().keep();
        let url = format!("sqlite://{}/signoff.db?mode=rwc", dir.display());
        let db = Db::connect(&url).await.unwrap();
        db.migrate().await.unwrap();
        Auth::init(db, options).await.unwrap()
    }

    /// [`auth_with`] the default options.
    pub(crate) async fn auth() -> Auth {
        auth_with(Options::default()).await
    }

    /// The password of [`user`]'s accounts.
    pub(crate) const PASSWORD: &str = "correct horse";

    /// A new account with [`PASSWORD`].
    pub(crate) async fn user(auth: &Auth, email: &str) -> crate::server::domain::model::User {
        auth.register(email, PASSWORD.into()).await.unwrap()
    }

    /// Whether `token` (a bearer token) authenticates now.
    pub(crate) async fn accepted(auth: &Auth, token: &secrecy::SecretString) -> bool {
        auth.resolve(secrecy::ExposeSecret::expose_secret(token))
            .await
            .is_ok()
    }
}
