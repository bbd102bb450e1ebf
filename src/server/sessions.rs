//! The browser-session store: tower-sessions' sqlx store on whichever database is configured, with
//! session ids stored only as hashes.

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
    /// Table `tower_sessions` in the SQLite file (and the pool, for pruning).
    Sqlite(SqliteStore, sqlx::SqlitePool),
    /// Table `tower_sessions.session` in PostgreSQL (and the pool, for pruning).
    Postgres(PostgresStore, sqlx::PgPool),
}

impl Sessions {
    /// The store on `db`, with its table created if missing.
    pub async fn new(db: &Db) -> Result<Self, sqlx::Error> {
        Ok(match db {
            Db::Sqlite(p) => {
                let store = SqliteStore::new(p.clone());
                store.migrate().await?;
                Self::Sqlite(store, p.clone())
            }
            Db::Postgres(p) => {
                let store = PostgresStore::new(p.clone());
                store.migrate().await?;
                Self::Postgres(store, p.clone())
            }
        })
    }
}

impl crate::server::domain::ExpiredSessions for Sessions {
    /// Deletes the expired sessions in batches of 500 (no long lock) and counts them for the
    /// pruner's report. Written here rather than with the store's `ExpiredDeletion`, which deletes
    /// in one statement and says nothing of how many rows went.
    fn delete_expired(
        &self,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = crate::server::domain::Result<u64>> + Send + '_>,
    > {
        Box::pin(async move {
            let at = crate::server::db::now();
            let mut total = 0;
            loop {
                let deleted = match self {
                    Self::Sqlite(_, pool) => sqlx::query(
                        "DELETE FROM tower_sessions WHERE id IN (SELECT id FROM tower_sessions \
                         WHERE unixepoch(expiry_date) < $1 LIMIT 500)",
                    )
                    .bind(at)
                    .execute(pool)
                    .await
                    .map(|r| r.rows_affected()),
                    Self::Postgres(_, pool) => sqlx::query(
                        "DELETE FROM tower_sessions.session WHERE id IN (SELECT id FROM tower_sessions.session \
                         WHERE expiry_date < to_timestamp($1) LIMIT 500)",
                    )
                    .bind(at)
                    .execute(pool)
                    .await
                    .map(|r| r.rows_affected()),
                }?;
                total += deleted;
                if deleted < 500 {
                    return Ok(total);
                }
                tokio::task::yield_now().await;
            }
        })
    }
}

macro_rules! delegate {
    ($self:expr, $s:ident => $body:expr) => {
        match $self {
            Sessions::Sqlite($s, _) => $body,
            Sessions::Postgres($s, _) => $body,
        }
    };
}

/// The id a session is stored under: the first 128 bits of SHA-256 of the id the cookie carries.
/// Someone who reads the session table (a backup, a replica, an SQL injection elsewhere) learns no
/// cookie that works.
fn stored_id(id: &Id) -> Id {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(id.0.to_le_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Id(i128::from_le_bytes(bytes))
}

/// The store's id for a cookie value (operators and tests: the row behind a cookie).
pub fn stored_id_of_cookie(value: &str) -> Option<String> {
    value
        .parse::<Id>()
        .ok()
        .map(|id| stored_id(&id).to_string())
}

fn to_store(record: &Record) -> Record {
    let mut stored = record.clone();
    stored.id = stored_id(&record.id);
    stored
}

/// Every id is hashed on its way into the store and the cookie's id put back on the way out.
#[async_trait]
impl SessionStore for Sessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        loop {
            let mut stored = to_store(record);
            let wanted = stored.id;
            delegate!(self, s => s.create(&mut stored).await)?;
            if stored.id == wanted {
                return Ok(());
            }
            // The store met a collision and chose another id, whose cookie id nobody knows: drop
            // it and start again from a fresh cookie id.
            delegate!(self, s => s.delete(&stored.id).await)?;
            record.id = Id::default();
        }
    }
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let stored = to_store(record);
        delegate!(self, s => s.save(&stored).await)
    }
    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let found = delegate!(self, s => s.load(&stored_id(id)).await)?;
        Ok(found.map(|mut record| {
            record.id = *id;
            record
        }))
    }
    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        delegate!(self, s => s.delete(&stored_id(id)).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_id_is_fixed_per_cookie_id_and_tells_nothing_of_it() {
        let id = Id::default();
        assert_eq!(stored_id(&id), stored_id(&id));
        assert_ne!(stored_id(&id), id);
        assert_ne!(stored_id(&id), stored_id(&Id::default()));
    }
}
