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
        Ok(Self {
            addr: leptos.site_addr,
            database_url,
            secure_cookies,
            jwt_secret: jwt_secret.map(secrecy::SecretString::from),
            session_idle: std::time::Duration::from_secs(14 * 24 * 3600),
            leptos,
        })
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
            session_idle: std::time::Duration::from_secs(14 * 24 * 3600),
            leptos,
        }
    }
}
