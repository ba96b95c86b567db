//! Several writes of one transaction, sent to the database in one round trip.
//!
//! A payment's transaction ends with four writes that depend on nothing read after them:
//! its entitlement, its ledger lines, its new state and the change to deliver. Sent one at
//! a time they are four round trips — between the async caller and SQLite's connection
//! thread while the file's one write lock is held, or to the PostgreSQL server — and the
//! payment rate is set by exactly that time. Sent as one batch they are one: on SQLite the
//! statements separated by `;` (sqlx runs them in order on its connection thread), on
//! PostgreSQL one statement whose leading writes are data-modifying `WITH` parts. Either
//! way they run in order inside the caller's transaction, and one failing fails the batch.
//!
//! Placeholders are numbered across the whole batch (`$1` … `$n`), which both drivers
//! bind by number. Only the batch's last statement may return rows: PostgreSQL returns
//! nothing from a `WITH` part.

use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use super::Backend;

/// A value bound to one placeholder.
enum Param {
    Text(Option<String>),
    Int(Option<i64>),
}

#[derive(Default)]
pub(super) struct Batch {
    statements: Vec<String>,
    params: Vec<Param>,
}

impl Batch {
    /// Binds a text value (or NULL); returns its placeholder.
    pub(super) fn text(&mut self, value: Option<&str>) -> String {
        self.params.push(Param::Text(value.map(str::to_owned)));
        format!("${}", self.params.len())
    }

    /// Binds an integer (or NULL); returns its placeholder.
    pub(super) fn int(&mut self, value: Option<i64>) -> String {
        self.params.push(Param::Int(value));
        format!("${}", self.params.len())
    }

    /// Appends a statement whose placeholders came from this batch.
    pub(super) fn push(&mut self, statement: String) {
        self.statements.push(statement);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    fn sql(&self, backend: Backend) -> String {
        let Some((last, leading)) = self.statements.split_last() else {
            return String::new();
        };
        match backend {
            Backend::Sqlite => self.statements.join(";\n"),
            Backend::Postgres if leading.is_empty() => last.clone(),
            Backend::Postgres => {
                let parts: Vec<String> = leading
                    .iter()
                    .enumerate()
                    .map(|(n, statement)| format!("write_{n} AS ({statement})"))
                    .collect();
                format!("WITH {} {last}", parts.join(", "))
            }
        }
    }

    /// Runs a batch of one statement, whose SQL is the same on both backends.
    pub(super) async fn run_one(
        self,
        conn: &mut AnyConnection,
    ) -> Result<Vec<AnyRow>, sqlx::Error> {
        debug_assert_eq!(self.statements.len(), 1, "run_one runs one statement");
        self.run(conn, Backend::Postgres).await
    }

    /// Runs every statement, in order, on `conn`; returns the last statement's rows.
    pub(super) async fn run(
        self,
        conn: &mut AnyConnection,
        backend: Backend,
    ) -> Result<Vec<AnyRow>, sqlx::Error> {
        if self.is_empty() {
            return Ok(Vec::new());
        }
        let sql = self.sql(backend);
        let mut query = sqlx::query(&sql);
        for param in self.params {
            query = match param {
                Param::Text(value) => query.bind(value),
                Param::Int(value) => query.bind(value),
            };
        }
        query.fetch_all(conn).await
    }
}

#[cfg(test)]
mod tests {
    use super::{Backend, Batch};

    fn two_writes() -> Batch {
        let mut batch = Batch::default();
        let (a, b) = (batch.text(Some("x")), batch.int(Some(1)));
        batch.push(format!("INSERT INTO t (a, b) VALUES ({a}, {b})"));
        let c = batch.text(None);
        batch.push(format!("UPDATE u SET c = {c} RETURNING id"));
        batch
    }

    #[test]
    fn placeholders_are_numbered_across_the_batch() {
        assert_eq!(
            two_writes().sql(Backend::Sqlite),
            "INSERT INTO t (a, b) VALUES ($1, $2);\nUPDATE u SET c = $3 RETURNING id"
        );
    }

    #[test]
    fn on_postgresql_the_leading_writes_are_with_parts_of_the_last() {
        assert_eq!(
            two_writes().sql(Backend::Postgres),
            "WITH write_0 AS (INSERT INTO t (a, b) VALUES ($1, $2)) UPDATE u SET c = $3 RETURNING id"
        );
    }
}
