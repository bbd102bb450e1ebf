//! Configuration from the environment, with defaults that work on a fresh machine.

use std::net::SocketAddr;

use leptos::config::LeptosOptions;

use crate::server::domain::model::PG_WRITERS;

/// Everything the server needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen. Port 0 picks a free port (the tests use this).
    pub addr: SocketAddr,
    /// `sqlite://…` (the default, a file created on first run) or `postgres://…`.
    pub database_url: String,
    /// Set the `Secure` attribute on cookies. True when `SIGNOFF_PUBLIC_URL` is https.
    pub secure_cookies: bool,
    /// Idle lifetime of a sign-in (`SIGNOFF_SESSION_IDLE_SECS`): it ends when unused this long.
    pub session_idle: std::time::Duration,
    /// Absolute lifetime of a sign-in (`SIGNOFF_SESSION_ABSOLUTE_SECS`): it ends this long after
    /// it started, and the person signs in again.
    pub session_absolute: std::time::Duration,
    /// The JWT signing secret (`SIGNOFF_JWT_SECRET`); `None`: generated once and kept in the database
    /// (development only: in production, `LEPTOS_ENV=PROD`, it is required).
    pub jwt_secret: Option<secrecy::SecretString>,
    /// The secret before the last rotation (`SIGNOFF_JWT_PREVIOUS_SECRET`): tokens it signed are
    /// still accepted until they expire.
    pub jwt_previous_secret: Option<secrecy::SecretString>,
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
    /// Where `session.ended` events are delivered (`SIGNOFF_WEBHOOK_URLS`, comma-separated).
    pub webhook_urls: Vec<String>,
    /// The key that signs them (`SIGNOFF_WEBHOOK_SECRET`, `whsec_` and base64), required with URLs.
    pub webhook_secret: Option<WebhookSecret>,
    /// How SQLite commits (`SIGNOFF_SQLITE_SYNCHRONOUS`: `full`, the default, or `normal`).
    pub durability: crate::server::db::Durability,
    /// Logout writer tasks per PostgreSQL instance (`SIGNOFF_PG_WRITERS`, 1 to 64; default 1).
    pub pg_writers: usize,
    /// Where Prometheus metrics are served (`SIGNOFF_METRICS_ADDR`, `host:port`; unset: nowhere).
    pub metrics_addr: Option<SocketAddr>,
    /// Active sign-ins per user at most (`SIGNOFF_MAX_SIGNINS_PER_USER`; unset or 0: no limit).
    pub max_signins_per_user: Option<usize>,
    /// Refreshes per sign-in per minute on one instance (`SIGNOFF_REFRESH_PER_MINUTE`; 0: none).
    pub refresh_per_minute: u32,
    /// How often the server looks for sign-ins past their idle or absolute lifetime and ends them
    /// (`SIGNOFF_SWEEP_SECS`, default 30).
    pub sweep_every: std::time::Duration,
    /// Reverse proxies whose `X-Forwarded-For` is believed (`SIGNOFF_TRUSTED_PROXIES`,
    /// comma-separated CIDRs; default none: the TCP peer is the client).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How long a client may take to send a request's headers (`SIGNOFF_HEADER_TIMEOUT_SECS`,
    /// default 10); also how long an idle connection is kept open.
    pub header_timeout: std::time::Duration,
    /// Open connections at most (`SIGNOFF_MAX_CONNECTIONS`, default 10,000); more wait to be
    /// accepted.
    pub max_connections: usize,
    /// Open `/events` streams per user at most (`SIGNOFF_EVENTS_PER_USER`, default 256).
    pub events_per_user: usize,
    /// Open `/events` streams per instance at most (`SIGNOFF_EVENTS_MAX`, default 10,000).
    pub events_max: usize,
    /// The public URL (`SIGNOFF_PUBLIC_URL`, without a trailing slash): the OpenID issuer. Unset:
    /// `http://` and the address the server listens on (`http://127.0.0.1:3000` by default).
    pub public_url: Option<String>,
    /// Where the OpenID Provider's RS256 keys live (`SIGNOFF_OIDC_KEYS`, a directory; required in
    /// production). Unset: `signoff-oidc-keys` beside the SQLite database.
    pub oidc_keys: Option<std::path::PathBuf>,
    /// Leptos' own settings (site root, output name) as cargo-leptos passes them.
    pub leptos: LeptosOptions,
}

/// `SIGNOFF_TRUSTED_PROXIES`: comma-separated CIDRs (`10.0.0.0/8`, `::1/128`); a bare address is
/// one host (`/32`, `/128`).
pub fn trusted_proxies(text: &str) -> Result<Vec<ipnet::IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse::<ipnet::IpNet>()
                .or_else(|_| t.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| {
                    format!(
                        "SIGNOFF_TRUSTED_PROXIES must be comma-separated CIDRs (10.0.0.0/8, ::1/128), not {t:?}"
                    )
                })
        })
        .collect()
}

/// A Standard Webhooks signing key: the bytes behind `whsec_<base64>`. Never printed.
#[derive(Clone)]
pub struct WebhookSecret(pub std::sync::Arc<[u8]>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    /// Parses `whsec_<base64>` (the prefix may be left out); at least 16 bytes.
    pub fn parse(text: &str) -> Result<Self, String> {
        use base64::Engine as _;
        let b64 = text.trim().strip_prefix("whsec_").unwrap_or(text.trim());
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| "SIGNOFF_WEBHOOK_SECRET must be whsec_ followed by base64".to_owned())?;
        if bytes.len() < 16 {
            return Err("SIGNOFF_WEBHOOK_SECRET must hold at least 16 bytes".into());
        }
        Ok(Self(bytes.into()))
    }
}

/// `SIGNOFF_WEBHOOK_URLS` split on commas; each must be an http(s) URL.
fn webhook_urls(text: &str) -> Result<Vec<String>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(|u| {
            if (u.starts_with("http://") || u.starts_with("https://"))
                && !u.contains(char::is_whitespace)
            {
                Ok(u.to_owned())
            } else {
                Err(
                    "SIGNOFF_WEBHOOK_URLS must be comma-separated http:// or https:// URLs"
                        .to_owned(),
                )
            }
        })
        .collect()
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
        let mut leptos = conf.leptos_options;
        // A binary built by cargo-leptos with `hash-files` serves bundle files renamed by that same
        // build: unless the environment says otherwise, it names them as its build did. Built by
        // plain cargo, it follows the hash file cargo-leptos left beside it, if any.
        if std::env::var_os("LEPTOS_HASH_FILES").is_none() {
            leptos.hash_files = match option_env!("LEPTOS_HASH_FILES") {
                Some(baked) => baked == "true",
                None => std::env::current_exe()
                    .ok()
                    .and_then(|exe| Some(exe.parent()?.join(leptos.hash_file.as_ref())))
                    .is_some_and(|file| file.is_file()),
            };
        }
        let database_url =
            std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
        let public_url = std::env::var("SIGNOFF_PUBLIC_URL").unwrap_or_default();
        // What the operator said, if anything; else what the public URL implies.
        let said_secure = match std::env::var("SIGNOFF_SECURE_COOKIES").ok().as_deref() {
            Some("true" | "1") => Some(true),
            Some("false" | "0") => Some(false),
            Some(other) => {
                return Err(format!(
                    "SIGNOFF_SECURE_COOKIES must be true or false, not {other:?}"
                ))
            }
            None => None,
        };
        let secure_cookies = said_secure.unwrap_or_else(|| public_url.starts_with("https://"));
        // Production serves over https: its cookies are `Secure` (and `__Host-`), unless the
        // operator says in so many words that this deployment is plain http.
        if said_secure.is_none() && !secure_cookies && leptos.env == leptos::config::Env::PROD {
            return Err(
                "production (LEPTOS_ENV=PROD) serves over https: set SIGNOFF_PUBLIC_URL=https://… \
                 (cookies are then Secure and __Host-), or SIGNOFF_SECURE_COOKIES=false for a \
                 deployment on plain http"
                    .into(),
            );
        }
        let jwt_secret = std::env::var("SIGNOFF_JWT_SECRET")
            .ok()
            .filter(|s| !s.is_empty());
        if jwt_secret.as_ref().is_some_and(|s| s.len() < 32) {
            return Err("SIGNOFF_JWT_SECRET must be at least 32 characters".into());
        }
        if jwt_secret.is_none() && leptos.env == leptos::config::Env::PROD {
            return Err(
                "SIGNOFF_JWT_SECRET is required in production (LEPTOS_ENV=PROD): \
                 32 or more random characters, the same on every instance"
                    .into(),
            );
        }
        let oidc_keys = std::env::var_os("SIGNOFF_OIDC_KEYS")
            .filter(|s| !s.is_empty())
            .map(std::path::PathBuf::from);
        if oidc_keys.is_none() && leptos.env == leptos::config::Env::PROD {
            return Err(
                "SIGNOFF_OIDC_KEYS is required in production (LEPTOS_ENV=PROD): the directory of \
                 the OpenID signing keys, owner-only, the same keys on every instance \
                 (`signoff keys rotate` creates one)"
                    .into(),
            );
        }
        let jwt_previous_secret = std::env::var("SIGNOFF_JWT_PREVIOUS_SECRET")
            .ok()
            .filter(|s| !s.is_empty());
        if jwt_previous_secret.as_ref().is_some_and(|s| s.len() < 32) {
            return Err("SIGNOFF_JWT_PREVIOUS_SECRET must be at least 32 characters".into());
        }
        let number = |name: &str, default: u64| -> Result<u64, String> {
            match std::env::var(name) {
                Ok(v) => v
                    .parse()
                    .map_err(|_| format!("{name} must be a whole number, not {v:?}")),
                Err(_) => Ok(default),
            }
        };
        let webhook_urls =
            webhook_urls(&std::env::var("SIGNOFF_WEBHOOK_URLS").unwrap_or_default())?;
        let webhook_secret = match std::env::var("SIGNOFF_WEBHOOK_SECRET")
            .ok()
            .filter(|s| !s.is_empty())
        {
            Some(text) => Some(WebhookSecret::parse(&text)?),
            None if !webhook_urls.is_empty() => {
                return Err(
                    "SIGNOFF_WEBHOOK_URLS needs SIGNOFF_WEBHOOK_SECRET (whsec_…) to sign with"
                        .into(),
                )
            }
            None => None,
        };
        let pg_writers = number("SIGNOFF_PG_WRITERS", PG_WRITERS as u64)?;
        if !(1..=64).contains(&pg_writers) {
            return Err(format!(
                "SIGNOFF_PG_WRITERS must be from 1 to 64, not {pg_writers}"
            ));
        }
        let positive = |name: &str, default: u64| -> Result<u64, String> {
            match number(name, default)? {
                0 => Err(format!("{name} must be at least 1")),
                n => Ok(n),
            }
        };
        Ok(Self {
            trusted_proxies: trusted_proxies(
                &std::env::var("SIGNOFF_TRUSTED_PROXIES").unwrap_or_default(),
            )?,
            header_timeout: std::time::Duration::from_secs(positive(
                "SIGNOFF_HEADER_TIMEOUT_SECS",
                10,
            )?),
            max_connections: positive("SIGNOFF_MAX_CONNECTIONS", 10_000)? as usize,
            events_per_user: positive("SIGNOFF_EVENTS_PER_USER", 256)? as usize,
            events_max: positive("SIGNOFF_EVENTS_MAX", 10_000)? as usize,
            webhook_urls,
            webhook_secret,
            durability: crate::server::db::Durability::parse(
                &std::env::var("SIGNOFF_SQLITE_SYNCHRONOUS").unwrap_or_default(),
            ),
            pg_writers: pg_writers as usize,
            max_signins_per_user: match number("SIGNOFF_MAX_SIGNINS_PER_USER", 0)? {
                0 => None,
                n => Some(n as usize),
            },
            refresh_per_minute: number(
                "SIGNOFF_REFRESH_PER_MINUTE",
                crate::server::domain::model::REFRESH_PER_MINUTE as u64,
            )?
            .min(u32::MAX as u64) as u32,
            sweep_every: std::time::Duration::from_secs(number("SIGNOFF_SWEEP_SECS", 30)?.max(1)),
            metrics_addr: match std::env::var("SIGNOFF_METRICS_ADDR") {
                Ok(v) if !v.is_empty() => Some(v.parse().map_err(|_| {
                    format!(
                        "SIGNOFF_METRICS_ADDR must be host:port (e.g. 127.0.0.1:9100), not {v:?}"
                    )
                })?),
                _ => None,
            },
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
            public_url: Some(public_url.trim_end_matches('/').to_owned()).filter(|u| !u.is_empty()),
            oidc_keys,
            database_url,
            secure_cookies,
            jwt_secret: jwt_secret.map(secrecy::SecretString::from),
            jwt_previous_secret: jwt_previous_secret.map(secrecy::SecretString::from),
            session_idle: std::time::Duration::from_secs(number(
                "SIGNOFF_SESSION_IDLE_SECS",
                14 * 24 * 3600,
            )?)
            .max(std::time::Duration::from_secs(1)),
            session_absolute: std::time::Duration::from_secs(number(
                "SIGNOFF_SESSION_ABSOLUTE_SECS",
                30 * 24 * 3600,
            )?)
            .max(std::time::Duration::from_secs(1)),
            leptos,
        })
    }

    /// The domain's options from this configuration.
    pub fn auth_options(&self) -> crate::server::domain::Options {
        crate::server::domain::Options {
            jwt_secret: self.jwt_secret.clone(),
            jwt_previous_secret: self.jwt_previous_secret.clone(),
            listen_retry: self.listen_retry,
            listen_url: self.listen_url.clone(),
            refresh_grace: self.refresh_grace,
            webhook_urls: self.webhook_urls.clone(),
            session_idle: self.session_idle,
            session_absolute: self.session_absolute,
            pg_writers: self.pg_writers,
            durability: self.durability,
            max_signins_per_user: self.max_signins_per_user,
            oidc_issuer: self
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{}", self.addr)),
            oidc_keys: Some(self.oidc_keys_dir()),
            refresh_per_minute: self.refresh_per_minute,
            role: crate::server::domain::Role::Server,
        }
    }

    /// Where the OpenID keys live: `SIGNOFF_OIDC_KEYS`, else beside the SQLite database file (for
    /// an in-memory or PostgreSQL database in development: the working directory).
    pub fn oidc_keys_dir(&self) -> std::path::PathBuf {
        if let Some(dir) = &self.oidc_keys {
            return dir.clone();
        }
        const NAME: &str = "signoff-oidc-keys";
        let file = self
            .database_url
            .strip_prefix("sqlite://")
            .or_else(|| self.database_url.strip_prefix("sqlite:"))
            .map(|rest| rest.split('?').next().unwrap_or_default());
        match file {
            Some(f) if !f.is_empty() && !f.contains(":memory:") => std::path::Path::new(f)
                .parent()
                .map(|p| p.join(NAME))
                .unwrap_or_else(|| NAME.into()),
            Some(_) => crate::server::domain::oidc::default_test_keys(),
            None => NAME.into(),
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
            jwt_previous_secret: None,
            listen_retry: std::time::Duration::from_millis(100),
            listen_url: None,
            refresh_grace: std::time::Duration::from_secs(10),
            retention: std::time::Duration::from_secs(90 * 86_400),
            prune_every: std::time::Duration::from_secs(600),
            session_idle: std::time::Duration::from_secs(14 * 24 * 3600),
            session_absolute: std::time::Duration::from_secs(30 * 24 * 3600),
            webhook_urls: Vec::new(),
            webhook_secret: None,
            durability: crate::server::db::Durability::Full,
            pg_writers: PG_WRITERS,
            max_signins_per_user: None,
            refresh_per_minute: crate::server::domain::model::REFRESH_PER_MINUTE,
            sweep_every: std::time::Duration::from_secs(30),
            metrics_addr: None,
            trusted_proxies: Vec::new(),
            header_timeout: std::time::Duration::from_secs(10),
            max_connections: 10_000,
            events_per_user: 256,
            events_max: 10_000,
            public_url: None,
            // One key per test process, generated once (2048-bit RSA takes a moment).
            oidc_keys: Some(crate::server::domain::oidc::default_test_keys()),
            leptos,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn trusted_proxies_are_cidrs_or_addresses() {
        let nets = super::trusted_proxies(" 10.0.0.0/8, ::1 ,192.168.1.7/24,").unwrap();
        let shown: Vec<String> = nets.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["10.0.0.0/8", "::1/128", "192.168.1.0/24"]);
        assert!(super::trusted_proxies("").unwrap().is_empty());
        for bad in ["10.0.0.0/33", "proxy.local", "10.0.0.0/8;1.2.3.4"] {
            let err = super::trusted_proxies(bad).unwrap_err();
            assert!(err.starts_with("SIGNOFF_TRUSTED_PROXIES"), "{err}");
        }
    }
}
