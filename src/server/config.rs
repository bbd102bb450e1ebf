//! Configuration from the environment, with defaults that work on a fresh machine.

use std::net::SocketAddr;

use leptos::config::LeptosOptions;

/// Everything the server needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen. Port 0 picks a free port (the tests use this).
    pub addr: SocketAddr,
    /// `sqlite://…` (the default, a file created on first run) or `postgres://…`.
    pub database_url: String,
    /// Set the `Secure` attribute on cookies. True when `SIGNOFF_PUBLIC_URL` is https.
    pub secure_cookies: bool,
    /// Idle lifetime of a browser session.
    pub session_idle: std::time::Duration,
    /// The JWT signing secret (`SIGNOFF_JWT_SECRET`); `None`: generated once and kept in the database.
    pub jwt_secret: Option<secrecy::SecretString>,
    /// How long the revocation listener waits before reconnecting (`SIGNOFF_LISTEN_RETRY_MS`).
    pub listen_retry: std::time::Duration,
    /// Where the revocation listener connects when not through `database_url`
    /// (`SIGNOFF_LISTEN_DATABASE_URL`; PostgreSQL, e.g. past a transaction-pooling proxy).
    pub listen_url: Option<String>,
    /// How long after its rotation a refresh token may be presented again as a benign replay
    /// (`SIGNOFF_REFRESH_GRACE_SECS`).
    pub refresh_grace: std::time::Duration,
    /// How long ended sign-ins (and their audit context) are kept (`SIGNOFF_RETENTION_DAYS`).
    pub retention: std::time::Duration,
    /// How often the pruner runs (`SIGNOFF_PRUNE_EVERY_SECS`).
    pub prune_every: std::time::Duration,
    /// Leptos' own settings (site root, output name) as cargo-leptos passes them.
    pub leptos: LeptosOptions,
}

/// The default database: a SQLite file in the working directory, created when missing.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://signoff.db?mode=rwc";

impl Config {
    /// Reads `DATABASE_URL`, `SIGNOFF_PUBLIC_URL` and the `LEPTOS_*` variables cargo-leptos sets.
    pub fn from_env() -> Result<Self, String> {
        // Built by cargo-leptos, the LEPTOS_* variables are baked in; run by hand (or by `cargo run`)
        // the project's Cargo.toml holds the same settings.
        let conf = if std::env::var("LEPTOS_OUTPUT_NAME").is_ok()
            || option_env!("LEPTOS_OUTPUT_NAME").is_some()
        {
            leptos::config::get_configuration(None)
        } else {
            leptos::config::get_configuration(Some("Cargo.toml"))
        }
        .map_err(|e| format!("reading the Leptos configuration: {e}"))?;
        let leptos = conf.leptos_options;
        let database_url =
            std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
        let public_url = std::env::var("SIGNOFF_PUBLIC_URL").unwrap_or_default();
        let secure_cookies = match std::env::var("SIGNOFF_SECURE_COOKIES").ok().as_deref() {
            Some("true" | "1") => true,
            Some("false" | "0") => false,
            Some(other) => {
                return Err(format!(
                    "SIGNOFF_SECURE_COOKIES must be true or false, not {other:?}"
                ))
            }
            None => public_url.starts_with("https://"),
        };
        let jwt_secret = std::env::var("SIGNOFF_JWT_SECRET")
            .ok()
            .filter(|s| !s.is_empty());
        if jwt_secret.as_ref().is_some_and(|s| s.len() < 32) {
            return Err("SIGNOFF_JWT_SECRET must be at least 32 characters".into());
        }
        let number = |name: &str, default: u64| -> Result<u64, String> {
            match std::env::var(name) {
                Ok(v) => v
                    .parse()
                    .map_err(|_| format!("{name} must be a whole number, not {v:?}")),
                Err(_) => Ok(default),
            }
        };
        Ok(Self {
            listen_retry: std::time::Duration::from_millis(number("SIGNOFF_LISTEN_RETRY_MS", 250)?),
            listen_url: std::env::var("SIGNOFF_LISTEN_DATABASE_URL")
                .ok()
                .filter(|s| !s.is_empty()),
            refresh_grace: std::time::Duration::from_secs(number(
                "SIGNOFF_REFRESH_GRACE_SECS",
                10,
            )?),
            retention: std::time::Duration::from_secs(
                number("SIGNOFF_RETENTION_DAYS", 90)? * 86_400,
            ),
            prune_every: std::time::Duration::from_secs(number("SIGNOFF_PRUNE_EVERY_SECS", 600)?),
            addr: leptos.site_addr,
            database_url,
            secure_cookies,
            jwt_secret: jwt_secret.map(secrecy::SecretString::from),
            session_idle: std::time::Duration::from_secs(14 * 24 * 3600),
            leptos,
        })
    }

    /// The domain's options from this configuration.
    pub fn auth_options(&self) -> crate::server::domain::Options {
        crate::server::domain::Options {
            jwt_secret: self.jwt_secret.clone(),
            listen_retry: self.listen_retry,
            listen_url: self.listen_url.clone(),
            refresh_grace: self.refresh_grace,
        }
    }

    /// A configuration for tests and tools: the given database, port 0, plain http.
    pub fn for_tests(database_url: impl Into<String>) -> Self {
        let leptos = LeptosOptions::builder()
            .output_name("signoff")
            .site_root("target/site")
            .site_pkg_dir("pkg")
            .build();
        Self {
            addr: "127.0.0.1:0".parse().expect("a valid address"),
            database_url: database_url.into(),
            secure_cookies: false,
            jwt_secret: None,
            listen_retry: std::time::Duration::from_millis(100),
            listen_url: None,
            refresh_grace: std::time::Duration::from_secs(10),
            retention: std::time::Duration::from_secs(90 * 86_400),
            prune_every: std::time::Duration::from_secs(600),
            session_idle: std::time::Duration::from_secs(14 * 24 * 3600),
            leptos,
        }
    }
}
