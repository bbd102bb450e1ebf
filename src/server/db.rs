//! The database: SQLite (embedded default) or PostgreSQL, chosen by the URL alone.
//!
//! Queries are written once, with `$1` placeholders that both engines accept, and run on whichever
//! pool is configured through [`with_pool!`]. Times are Unix seconds in integer columns.

use std::{str::FromStr, time::Duration};

use sqlx::{
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    PgPool, SqlitePool,
};

/// A connection pool for one of the two supported databases.
#[derive(Clone, Debug)]
pub enum Db {
    /// The embedded default.
    Sqlite(SqlitePool),
    /// For more than one server.
    Postgres(PgPool),
}

/// Runs the same expression against whichever pool `$db` holds: `with_pool!(db, p => query.fetch_one(p))`.
#[macro_export]
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::server::db::Db::Sqlite($pool) => $body,
            $crate::server::db::Db::Postgres($pool) => $body,
        }
    };
}

/// How SQLite commits (`PRAGMA synchronous`, in WAL mode): `SIGNOFF_SQLITE_SYNCHRONOUS`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// An acknowledged change survives a power cut, not only a process crash, at the price of one
    /// fsync per commit (the default).
    #[default]
    Full,
    /// Survives process crashes only, and commits far faster.
    Normal,
}

impl Durability {
    /// From the setting's text: `normal` (any case) or anything else for `FULL`.
    pub fn parse(text: &str) -> Self {
        if text.eq_ignore_ascii_case("normal") {
            Self::Normal
        } else {
            Self::Full
        }
    }

    /// The `PRAGMA synchronous` value, shared by the pool and the logout writer's own connection.
    pub fn pragma(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

impl Db {
    /// Connects (creating a SQLite file if needed) without running migrations; SQLite commits
    /// with [`Durability::Full`].
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        Self::connect_with(url, Durability::Full).await
    }

    /// [`Db::connect`] with SQLite committing as `durability` says (PostgreSQL ignores it).
    pub async fn connect_with(url: &str, durability: Durability) -> Result<Self, sqlx::Error> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(match durability {
                    Durability::Full => SqliteSynchronous::Full,
                    Durability::Normal => SqliteSynchronous::Normal,
                })
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                // Each connection to `:memory:` would be a database of its own.
                .max_connections(if url.contains(":memory:") { 1 } else { 8 })
                .acquire_timeout(Duration::from_secs(3))
                .connect_with(options)
                .await?;
            Ok(Self::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(3))
                .connect(url)
                .await?;
            Ok(Self::Postgres(pool))
        } else {
            Err(sqlx::Error::Configuration(
                "DATABASE_URL must start with sqlite: or postgres:".into(),
            ))
        }
    }

    /// Applies the migrations of this database's engine.
    pub async fn migrate(&self) -> Result<(), sqlx::migrate::MigrateError> {
        match self {
            Self::Sqlite(p) => sqlx::migrate!("./migrations/sqlite").run(p).await,
            Self::Postgres(p) => sqlx::migrate!("./migrations/postgres").run(p).await,
        }
    }

    /// The engine's name, for logs.
    pub fn engine(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

/// True when an error means the database cannot be reached (answered with 503), rather than a bug:
/// no connection, or the server saying it is going away or cannot serve now. PostgreSQL's SQLSTATE
/// classes 08 (connection exception), 53 (insufficient resources) and 57 (operator intervention:
/// `57P01` admin shutdown, `57P02` crash shutdown, `57P03` cannot connect now, what a stopping or
/// starting server answers); SQLite's busy and locked (a lock held past the busy timeout).
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(e) => {
            let code = e.code();
            if e.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some()
            {
                code.is_some_and(|c| ["08", "53", "57"].iter().any(|class| c.starts_with(class)))
            } else {
                // SQLite: the primary result code, the extended one's low byte.
                code.and_then(|c| c.parse::<u32>().ok())
                    .is_some_and(|c| matches!(c & 0xff, 5 | 6))
            }
        }
        _ => false,
    }
}

/// Unix seconds as RFC 3339 in UTC (`2026-11-23T10:00:00Z`).
pub fn rfc3339(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
