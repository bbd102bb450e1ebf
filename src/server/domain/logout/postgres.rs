//! The PostgreSQL writers: tasks sharing the queue, one transaction per group each.

use sqlx::{
    pool::PoolConnection, postgres::PgRow, Column, Connection, PgConnection, PgPool, Postgres, Row,
    TypeInfo,
};

use std::sync::Arc;

use tokio::sync::{mpsc, Mutex};
use tracing::Instrument;

use super::{
    group_span, next_group,
    rules::run_group,
    tx::{AuditRow, Ctx, DbResult, Tx, Val},
    Ended, Job, Shared,
};
use crate::server::{
    db::now,
    domain::model::{AuthError, Result},
};

/// A transaction, and whether a statement failed in a way a retry can cure.
struct PgTx<'t, 'c> {
    tx: &'t mut sqlx::Transaction<'c, Postgres>,
    retryable: bool,
}

/// Deadlock or serialization failure: the group is run again from the start.
fn is_retryable(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if matches!(e.code().as_deref(), Some("40P01" | "40001")))
}

/// How often a group is tried when PostgreSQL aborts it for a deadlock.
const ATTEMPTS: usize = 3;

fn query<'q>(
    sql: &'q str,
    args: &'q [Val],
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    let mut q = sqlx::query(sql);
    for arg in args {
        q = match arg {
            Val::Text(s) => q.bind(s.as_str()),
            Val::Int(n) => q.bind(*n),
            Val::Null => q.bind(None::<String>),
            Val::Texts(items) => q.bind(items.as_slice()),
        };
    }
    q
}

fn values(row: &PgRow) -> Vec<Val> {
    (0..row.len())
        .map(|i| {
            let int = match row.column(i).type_info().name() {
                "INT8" => Some(row.try_get::<Option<i64>, _>(i).ok().flatten()),
                "INT4" => Some(
                    row.try_get::<Option<i32>, _>(i)
                        .ok()
                        .flatten()
                        .map(i64::from),
                ),
                "INT2" => Some(
                    row.try_get::<Option<i16>, _>(i)
                        .ok()
                        .flatten()
                        .map(i64::from),
                ),
                _ => None,
            };
            if let Some(int) = int {
                int.map_or(Val::Null, Val::Int)
            } else {
                row.try_get::<Option<String>, _>(i)
                    .ok()
                    .flatten()
                    .map_or(Val::Null, Val::Text)
            }
        })
        .collect()
}

impl PgTx<'_, '_> {
    fn note(&mut self, err: sqlx::Error) -> AuthError {
        self.retryable |= is_retryable(&err);
        err.into()
    }
}

impl Tx for PgTx<'_, '_> {
    const LOCK: &'static str = " FOR UPDATE OF s";

    fn list(args: &mut Vec<Val>, items: Vec<String>) -> String {
        args.push(Val::Texts(items));
        format!("SELECT unnest(${}::text[])", args.len())
    }

    async fn audit_rows(&mut self, at: i64, rows: Vec<AuditRow>) -> DbResult<()> {
        // The bulk form of `model::AUDIT_INSERT`: one statement for the whole batch.
        let (mut ids, mut users, mut events, mut signins, mut details) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for r in rows {
            ids.push(r.id);
            users.push(r.user_id);
            events.push(r.event);
            signins.push(r.signin_id);
            details.push(r.detail);
        }
        let done = sqlx::query(
            "INSERT INTO audit_events (id, user_id, at, event, signin_id, detail) \
             SELECT r.id, r.user_id, $6, r.event, r.signin_id, r.detail \
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
               AS r(id, user_id, event, signin_id, detail)",
        )
        .bind(&ids)
        .bind(&users)
        .bind(&events)
        .bind(&signins)
        .bind(&details)
        .bind(at)
        .execute(&mut **self.tx)
        .await;
        match done {
            Ok(_) => Ok(()),
            Err(err) => Err(self.note(err)),
        }
    }

    async fn values(&mut self, sql: &str, args: &[Val]) -> DbResult<Vec<Vec<Val>>> {
        match query(sql, args).fetch_all(&mut **self.tx).await {
            Ok(rows) => Ok(rows.iter().map(values).collect()),
            Err(err) => Err(self.note(err)),
        }
    }

    async fn exec(&mut self, sql: &str, args: &[Val]) -> DbResult<u64> {
        match query(sql, args).execute(&mut **self.tx).await {
            Ok(done) => Ok(done.rows_affected()),
            Err(err) => Err(self.note(err)),
        }
    }
}

/// One attempt at a group: `Err((error, retryable))` rolls it back.
async fn attempt(
    conn: &mut PgConnection,
    ctx: &Ctx<'_>,
    jobs: &[Job],
) -> std::result::Result<Vec<Result<Ended>>, (AuthError, bool)> {
    let mut tx = conn
        .begin()
        .await
        .map_err(|e| (AuthError::from(e), false))?;
    let mut pg = PgTx {
        tx: &mut tx,
        retryable: false,
    };
    let answers = match run_group(&mut pg, ctx, jobs).await {
        Ok(answers) => answers,
        Err(err) => return Err((err, pg.retryable)),
    };
    match tx.commit().await {
        Ok(()) => Ok(answers),
        Err(err) => {
            let retry = is_retryable(&err);
            Err((err.into(), retry))
        }
    }
}

pub(super) async fn writer(pool: PgPool, rx: Arc<Mutex<mpsc::Receiver<Job>>>, shared: Shared) {
    // A connection of its own, kept between groups (its prepared statements stay warm);
    // replaced after any failure.
    let mut held: Option<PoolConnection<Postgres>> = None;
    loop {
        let Some(jobs) = next_group(&mut *rx.lock().await).await else {
            return;
        };
        let ctx = shared.ctx(now());
        let mut outcome = Err(AuthError::Internal("no attempt".into()));
        for n in 1..=ATTEMPTS {
            let conn = match held.take() {
                Some(conn) => conn,
                None => match pool.acquire().await {
                    Ok(conn) => conn,
                    Err(err) => {
                        outcome = Err(err.into());
                        break;
                    }
                },
            };
            let mut conn = conn;
            match attempt(&mut conn, &ctx, &jobs)
                .instrument(group_span(&jobs))
                .await
            {
                Ok(answers) => {
                    held = Some(conn);
                    outcome = Ok(answers);
                    break;
                }
                Err((err, retry)) => {
                    if retry && n < ATTEMPTS {
                        tracing::debug!(error = %err, "a group of endings deadlocked; trying again");
                        shared
                            .retries
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        metrics::counter!("signoff_logout_retries_total").increment(1);
                    }
                    outcome = Err(err);
                    if !retry {
                        break;
                    }
                }
            }
        }
        shared.answer(jobs, outcome);
    }
}
