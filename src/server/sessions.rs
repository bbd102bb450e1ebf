//! The browser-session store: tower-sessions' sqlx store on whichever database is configured.

use async_trait::async_trait;
use tower_sessions::{
    session::{Id, Record},
    session_store::{self, SessionStore},
};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use crate::server::db::Db;

/// One store type for both engines, so the rest of the server is not generic over it.
#[derive(Clone, Debug)]
pub enum Sessions {
    /// Table `tower_sessions` in the SQLite file.
    Sqlite(SqliteStore),
    /// Table `tower_sessions.session` in PostgreSQL.
    Postgres(PostgresStore),
}

impl Sessions {
    /// The store on `db`, with its table created if missing.
    pub async fn new(db: &Db) -> Result<Self, sqlx::Error> {
        Ok(match db {
            Db::Sqlite(p) => {
                let store = SqliteStore::new(p.clone());
                store.migrate().await?;
                Self::Sqlite(store)
            }
            Db::Postgres(p) => {
                let store = PostgresStore::new(p.clone());
                store.migrate().await?;
                Self::Postgres(store)
            }
        })
    }
}

macro_rules! delegate {
    ($self:expr, $s:ident => $body:expr) => {
        match $self {
            Sessions::Sqlite($s) => $body,
            Sessions::Postgres($s) => $body,
        }
    };
}

#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        delegate!(self, s => s.create(record).await)
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        delegate!(self, s => s.save(record).await)
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        delegate!(self, s => s.load(id).await)
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        delegate!(self, s => s.delete(id).await)
    }
}
