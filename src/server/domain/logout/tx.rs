//! The writers' common ground: one open transaction on either engine ([`Tx`]), the values bound to
//! its statements ([`Val`]), and rows read back as typed tuples ([`FromRow`]).

use std::sync::atomic::{AtomicU8, Ordering};

use super::FailPoint;
use crate::server::domain::{model::AuthError, outbox::Outbox};

/// A statement failed. [`AuthError::Unavailable`] when the database cannot be reached, else
/// [`AuthError::Internal`].
pub(super) type DbResult<T> = std::result::Result<T, AuthError>;

/// A value bound to, or read from, a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Val {
    Text(String),
    Int(i64),
    Null,
    /// A list of texts; bound as one array parameter (PostgreSQL only: see [`Tx::list`]).
    Texts(Vec<String>),
}

impl From<&str> for Val {
    fn from(s: &str) -> Self {
        Val::Text(s.to_owned())
    }
}
impl From<&String> for Val {
    fn from(s: &String) -> Self {
        Val::Text(s.clone())
    }
}
impl From<i64> for Val {
    fn from(i: i64) -> Self {
        Val::Int(i)
    }
}
impl From<Option<&str>> for Val {
    fn from(s: Option<&str>) -> Self {
        s.map_or(Val::Null, Val::from)
    }
}

/// One audit row, written by [`Tx::audit_rows`] with the domain's one audit statement
/// (`model::AUDIT_INSERT`) or its bulk form.
pub(crate) struct AuditRow {
    pub id: String,
    pub user_id: String,
    pub event: &'static str,
    pub signin_id: Option<String>,
    pub detail: String,
}

/// A column's value as a Rust type: `String`, `i64`, or an `Option` of either for a nullable one.
pub(crate) trait FromVal: Sized {
    fn from_val(v: Val) -> Option<Self>;
}

impl FromVal for String {
    fn from_val(v: Val) -> Option<Self> {
        match v {
            Val::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl FromVal for i64 {
    fn from_val(v: Val) -> Option<Self> {
        match v {
            Val::Int(n) => Some(n),
            _ => None,
        }
    }
}

impl<T: FromVal> FromVal for Option<T> {
    fn from_val(v: Val) -> Option<Self> {
        match v {
            Val::Null => Some(None),
            v => T::from_val(v).map(Some),
        }
    }
}

/// A row as a tuple of [`FromVal`] columns, in the statement's order.
pub(crate) trait FromRow: Sized {
    fn from_row(row: Vec<Val>) -> Option<Self>;
}

macro_rules! tuple_rows {
    ($($t:ident),+) => {
        impl<$($t: FromVal),+> FromRow for ($($t,)+) {
            fn from_row(row: Vec<Val>) -> Option<Self> {
                let mut columns = row.into_iter();
                let row = ($($t::from_val(columns.next()?)?,)+);
                columns.next().is_none().then_some(row)
            }
        }
    };
}
tuple_rows!(A);
tuple_rows!(A, B);
tuple_rows!(A, B, C);
tuple_rows!(A, B, C, D);
tuple_rows!(A, B, C, D, E, F, G);

/// One open transaction, on either engine. Statements use `$1`, `$2`… placeholders.
pub(crate) trait Tx {
    /// `FOR UPDATE` (of the table aliased `s`) where several writers run at once (PostgreSQL), so a
    /// sign-in read as active stays so until this transaction ends it; nothing where one writer
    /// runs alone (SQLite, where `BEGIN IMMEDIATE` already serialises every ending).
    const LOCK: &'static str;

    /// Binds `items` for `IN (…)` and returns what goes between the parentheses: one placeholder
    /// each on SQLite, one array parameter on PostgreSQL (one statement text whatever the count,
    /// so its prepared statement is reused).
    fn list(args: &mut Vec<Val>, items: Vec<String>) -> String;

    /// Appends audit rows, all at `at`.
    async fn audit_rows(&mut self, at: i64, rows: Vec<AuditRow>) -> DbResult<()>;
    /// Runs a query and returns its rows, column by column.
    async fn values(&mut self, sql: &str, args: &[Val]) -> DbResult<Vec<Vec<Val>>>;
    /// Runs a statement and returns how many rows it changed.
    async fn exec(&mut self, sql: &str, args: &[Val]) -> DbResult<u64>;

    /// Runs a query and returns its rows as `R`; a row of another shape is an internal error.
    async fn rows<R: FromRow>(&mut self, sql: &str, args: &[Val]) -> DbResult<Vec<R>> {
        self.values(sql, args)
            .await?
            .into_iter()
            .map(|row| {
                R::from_row(row).ok_or_else(|| {
                    AuthError::Internal(format!("a row of another shape than expected: {sql}"))
                })
            })
            .collect()
    }
}

/// What every request in a group shares.
pub(super) struct Ctx<'a> {
    /// When the group runs (Unix seconds): every row it writes carries this time.
    pub at: i64,
    /// How long after its rotation a refresh token may be presented again without counting as
    /// reuse (seconds).
    pub grace: i64,
    pub fail: &'a AtomicU8,
    pub outbox: &'a Outbox,
    /// The trace of the request being applied on its own (`rules::apply`), which its outbox rows
    /// carry; the bulk path passes each request's own to `finish`.
    pub trace: std::sync::Mutex<Option<String>>,
}

impl Ctx<'_> {
    /// The trace of the request being applied (see [`Ctx::trace`](Ctx#structfield.trace)).
    pub fn trace(&self) -> Option<String> {
        self.trace.lock().map(|t| t.clone()).unwrap_or(None)
    }

    pub fn set_trace(&self, trace: Option<String>) {
        if let Ok(mut t) = self.trace.lock() {
            *t = trace;
        }
    }

    /// Fails here when a test asked for a failure at `point` (once).
    pub fn checkpoint(&self, point: FailPoint) -> DbResult<()> {
        if self
            .fail
            .compare_exchange(point as u8, 0, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return Err(AuthError::Internal(format!("injected failure {point:?}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_as_typed_tuples_of_their_exact_width() {
        let row = || vec![Val::Text("a".into()), Val::Int(3), Val::Null];
        let typed: Option<(String, i64, Option<i64>)> = FromRow::from_row(row());
        assert_eq!(typed, Some(("a".into(), 3, None)));
        // Another type, or another width, is no row.
        assert_eq!(<(i64, i64, Option<i64>)>::from_row(row()), None);
        assert_eq!(<(String, i64)>::from_row(row()), None);
        assert_eq!(<(String, i64, String)>::from_row(row()), None);
    }
}
