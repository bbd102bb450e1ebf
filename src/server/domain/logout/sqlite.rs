//! The SQLite writer: one thread, one connection, one transaction per group.

use rusqlite::{types::ValueRef, Connection, TransactionBehavior};

use tokio::sync::mpsc;
use tracing::Instrument;

use super::{
    group_span, next_group,
    rules::run_group,
    tx::{AuditRow, DbResult, Tx, Val},
    Ended, Job, Shared,
};
use crate::server::{
    db::now,
    domain::model::{AuthError, Result, AUDIT_INSERT},
};

impl From<rusqlite::Error> for AuthError {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode::*;
        match err.sqlite_error_code() {
            Some(DatabaseBusy | DatabaseLocked | CannotOpen | SystemIoFailure | DiskFull) => {
                AuthError::Unavailable(err.to_string())
            }
            _ => AuthError::Internal(err.to_string()),
        }
    }
}

struct SqliteTx<'c>(&'c rusqlite::Transaction<'c>);

impl SqliteTx<'_> {
    fn prepare(&self, sql: &str, args: &[Val]) -> DbResult<rusqlite::CachedStatement<'_>> {
        let mut stmt = self.0.prepare_cached(sql)?;
        for (i, arg) in args.iter().enumerate() {
            // Bound by name: SQLite numbers `$N` parameters in order of appearance.
            let Some(index) = stmt.parameter_index(&format!("${}", i + 1))? else {
                continue;
            };
            match arg {
                Val::Text(s) => stmt.raw_bind_parameter(index, s)?,
                Val::Int(n) => stmt.raw_bind_parameter(index, n)?,
                Val::Null | Val::Texts(_) => {
                    stmt.raw_bind_parameter(index, rusqlite::types::Null)?
                }
            }
        }
        Ok(stmt)
    }
}

impl Tx for SqliteTx<'_> {
    const LOCK: &'static str = "";

    fn list(args: &mut Vec<Val>, items: Vec<String>) -> String {
        let first = args.len() + 1;
        let n = items.len();
        args.extend(items.into_iter().map(Val::Text));
        (first..first + n)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    async fn audit_rows(&mut self, at: i64, rows: Vec<AuditRow>) -> DbResult<()> {
        // Prepared once, run per row: no statement text per group size. Its `$N` parameters are
        // numbered in order of appearance, so they bind by position.
        let mut stmt = self.0.prepare_cached(AUDIT_INSERT)?;
        for r in rows {
            stmt.execute(rusqlite::params![
                r.id,
                r.user_id,
                at,
                r.event,
                r.signin_id,
                r.detail
            ])?;
        }
        Ok(())
    }

    async fn values(&mut self, sql: &str, args: &[Val]) -> DbResult<Vec<Vec<Val>>> {
        let mut stmt = self.prepare(sql, args)?;
        let width = stmt.column_count();
        let mut rows = stmt.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(match row.get_ref(i)? {
                    ValueRef::Integer(n) => Val::Int(n),
                    ValueRef::Text(t) => Val::Text(String::from_utf8_lossy(t).into_owned()),
                    _ => Val::Null,
                });
            }
            out.push(values);
        }
        Ok(out)
    }

    async fn exec(&mut self, sql: &str, args: &[Val]) -> DbResult<u64> {
        Ok(self.prepare(sql, args)?.raw_execute()? as u64)
    }
}

/// Opens the writer's connection (same file and settings as the pool) and starts its thread.
pub(super) fn spawn(
    synchronous: &str,
    pool: sqlx::SqlitePool,
    mut rx: mpsc::Receiver<Job>,
    shared: Shared,
) -> Result<()> {
    let path = pool.connect_options().get_filename().to_owned();
    if path.as_os_str() == ":memory:" || path.as_os_str().is_empty() {
        return Err(AuthError::Internal(
            "the logout writer needs a database file, not :memory:".into(),
        ));
    }
    let conn = Connection::open(&path)?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {}; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
        synchronous
    ))?;
    conn.set_prepared_statement_cache_capacity(64);
    std::thread::Builder::new()
        .name("signoff-logout-writer".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
                tracing::error!("the logout writer could not start its runtime");
                return;
            };
            let mut conn = conn;
            rt.block_on(async move {
                while let Some(jobs) = next_group(&mut rx).await {
                    let outcome = if pool.is_closed() {
                        // The server's database handle was shut down: so is its writer.
                        Err(AuthError::Unavailable("the database is closed".into()))
                    } else {
                        commit_group(&mut conn, &shared, &jobs)
                            .instrument(group_span(&jobs))
                            .await
                    };
                    shared.answer(jobs, outcome);
                }
            });
        })
        .map_err(|e| AuthError::Internal(format!("starting the logout writer: {e}")))?;
    Ok(())
}

async fn commit_group(
    conn: &mut Connection,
    shared: &Shared,
    jobs: &[Job],
) -> DbResult<Vec<Result<Ended>>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let ctx = shared.ctx(now());
    // Dropping `tx` without committing rolls it back.
    let answers = run_group(&mut SqliteTx(&tx), &ctx, jobs).await?;
    tx.commit()?;
    Ok(answers)
}
