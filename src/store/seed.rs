//! Bulk loading for the load generator: users, rooms, entitlements and attendance by the
//! hundred thousand, fast enough to seed millions of rows before a benchmark run.
//!
//! Rows go in as multi-row `INSERT … VALUES (…), (…)` statements, each under SQLite's
//! limit of 32766 bound variables, and every call runs inside one transaction, so a batch
//! costs one commit (one fsync) however many statements it takes. Values stay bound
//! parameters. Schema names are identifiers, which cannot be bound: they are checked
//! against a strict alphabet instead. For tens of millions of rows PostgreSQL loads faster
//! through COPY ([`super::seed_copy`]). Compiled only with the `bench` feature.

use anyhow::Context as _;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::Any;

use super::{Backend, Store, StoreError};
use crate::domain::{Entitlement, PaymentIntent, Room, User};
use crate::telemetry::metrics::StoreOp;

/// SQLite's `SQLITE_MAX_VARIABLE_NUMBER` (PostgreSQL allows 65535, so this bounds both).
const MAX_BOUND_VARIABLES: usize = 32_766;

type AnyQuery<'q> = Query<'q, Any, AnyArguments<'q>>;

const USER_COLUMNS: &[&str] = &[
    "id",
    "handle",
    "email",
    "display_name",
    "role",
    "created_at",
    "updated_at",
];

const ROOM_COLUMNS: &[&str] = &[
    "id",
    "name",
    "title",
    "owner_id",
    "access",
    "price_minor",
    "currency",
    "plans",
    "starts_at",
    "ends_at",
    "created_at",
    "updated_at",
    "capacity",
];

const ENTITLEMENT_COLUMNS: &[&str] = &[
    "id",
    "user_id",
    "scope_kind",
    "scope_ref",
    "quantity",
    "valid_from",
    "valid_until",
    "source",
    "source_ref",
    "granted_by",
    "created_at",
];

const ATTENDANCE_COLUMNS: &[&str] = &[
    "occupant_id",
    "shard",
    "room_id",
    "user_id",
    "joined_at",
    "left_at",
];

/// One stay in a room, as a Prosody shard would have reported it.
#[derive(Debug, Clone)]
pub struct SeedStay {
    pub occupant_id: String,
    pub room_id: String,
    pub user_id: String,
    pub joined_at: i64,
    /// `None` while the viewer is still in the room.
    pub left_at: Option<i64>,
}

fn bind_stay<'q>(query: AnyQuery<'q>, stay: &'q SeedStay) -> AnyQuery<'q> {
    query
        .bind(stay.occupant_id.as_str())
        .bind("bench")
        .bind(stay.room_id.as_str())
        .bind(stay.user_id.as_str())
        .bind(stay.joined_at)
        .bind(stay.left_at)
}

const INTENT_COLUMNS: &[&str] = &[
    "id",
    "user_id",
    "kind",
    "room_id",
    "performer_id",
    "feature",
    "amount_minor",
    "currency",
    "provider",
    "provider_ref",
    "state",
    "entitlement_id",
    "created_at",
    "updated_at",
];

fn bind_intent<'q>(query: AnyQuery<'q>, i: &'q PaymentIntent) -> AnyQuery<'q> {
    query
        .bind(i.id.as_str())
        .bind(i.user_id.as_str())
        .bind(i.kind.as_str())
        .bind(i.room_id.as_deref())
        .bind(i.performer_id.as_deref())
        .bind(i.feature.as_deref())
        .bind(i.amount_minor)
        .bind(i.currency.as_str())
        .bind(i.provider.as_str())
        .bind(i.provider_ref.as_deref())
        .bind(i.state.as_str())
        .bind(i.entitlement_id.as_deref())
        .bind(i.created_at)
        .bind(i.updated_at)
}

fn bind_user<'q>(query: AnyQuery<'q>, user: &'q User) -> AnyQuery<'q> {
    query
        .bind(user.id.as_str())
        .bind(user.handle.as_str())
        .bind(user.email.as_str())
        .bind(user.display_name.as_str())
        .bind(user.role.as_str())
        .bind(user.created_at)
        .bind(user.updated_at)
}

fn bind_room<'q>(query: AnyQuery<'q>, room: &'q Room) -> AnyQuery<'q> {
    query
        .bind(room.id.as_str())
        .bind(room.name.as_str())
        .bind(room.title.as_str())
        .bind(room.owner_id.as_str())
        .bind(room.access.as_str())
        .bind(room.price.as_ref().map(|p| p.amount_minor))
        .bind(room.price.as_ref().map(|p| p.currency.as_str()))
        .bind(room.plans.join(","))
        .bind(room.starts_at)
        .bind(room.ends_at)
        .bind(room.created_at)
        .bind(room.updated_at)
        .bind(room.capacity.map(i64::from))
}

fn bind_entitlement<'q>(query: AnyQuery<'q>, e: &'q Entitlement) -> AnyQuery<'q> {
    query
        .bind(e.id.as_str())
        .bind(e.user_id.as_str())
        .bind(e.scope.kind())
        .bind(e.scope.reference())
        .bind(e.quantity)
        .bind(e.valid_from)
        .bind(e.valid_until)
        .bind(e.source.as_str())
        .bind(e.source_ref.as_deref())
        .bind(e.granted_by.as_deref())
        .bind(e.created_at)
}

/// `INSERT INTO table (columns) VALUES ($1, …), ($n, …)` for `rows` rows.
///
/// SQLite gets anonymous `?` placeholders instead: it resolves a named or numbered one
/// (`$n`) by a linear scan of the statement's variables, which makes binding thousands of
/// them quadratic, while `?` binds by position.
fn multi_row_insert(backend: Backend, table: &str, columns: &[&str], rows: usize) -> String {
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
    sql.reserve(rows * columns.len() * 7);
    let mut n = 0;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns.len() {
            if column > 0 {
                sql.push_str(", ");
            }
            n += 1;
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    sql.push('$');
                    sql.push_str(&n.to_string());
                }
            }
        }
        sql.push(')');
    }
    sql
}

/// A schema name safe to splice into DDL: a lowercase letter, then `[a-z0-9_]`, ≤ 63 bytes.
pub(super) fn checked_schema_name(name: &str) -> Result<&str, StoreError> {
    let ok = (1..=63).contains(&name.len())
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(name)
    } else {
        Err(StoreError::Unexpected(anyhow::anyhow!(
            "{name:?} is not a plain lowercase schema name"
        )))
    }
}

impl Store {
    /// Inserts `users` (without passwords: they cannot log in) in one transaction.
    pub async fn seed_users(&self, users: &[User]) -> Result<u64, StoreError> {
        self.seed_rows("users", USER_COLUMNS, users, bind_user)
            .await
    }

    /// Inserts `rooms` in one transaction; their owners must already exist.
    pub async fn seed_rooms(&self, rooms: &[Room]) -> Result<u64, StoreError> {
        self.seed_rows("rooms", ROOM_COLUMNS, rooms, bind_room)
            .await
    }

    /// Inserts `entitlements` (revocations are ignored) in one transaction; their users
    /// must already exist.
    pub async fn seed_entitlements(&self, entitlements: &[Entitlement]) -> Result<u64, StoreError> {
        self.seed_rows(
            "entitlements",
            ENTITLEMENT_COLUMNS,
            entitlements,
            bind_entitlement,
        )
        .await
    }

    /// Inserts checkout intents (awaiting their provider's confirmation) in one transaction.
    pub async fn seed_payment_intents(&self, intents: &[PaymentIntent]) -> Result<u64, StoreError> {
        self.seed_rows("payment_intents", INTENT_COLUMNS, intents, bind_intent)
            .await
    }

    /// Inserts attendance stays in one transaction; rooms and users must already exist.
    pub async fn seed_attendance(&self, stays: &[SeedStay]) -> Result<u64, StoreError> {
        self.seed_rows("attendance", ATTENDANCE_COLUMNS, stays, bind_stay)
            .await
    }

    /// Settles a bulk load as autovacuum (PostgreSQL) or `PRAGMA optimize` (SQLite)
    /// eventually would: the planner's statistics and, on PostgreSQL, the rows' visibility
    /// (`VACUUM (ANALYZE)` of the current schema's tables). Inserted rows (and rows copied
    /// without `FREEZE`) carry no hint bits, so without the vacuum the first read of every
    /// page sets them and dirties the page, and whatever is measured next shares the disk
    /// with writing those pages out: reads that behave like writes until each page has
    /// been read once.
    pub async fn vacuum_analyze(&self) -> Result<(), StoreError> {
        let statement = match self.backend {
            Backend::Sqlite => "ANALYZE".to_owned(),
            Backend::Postgres => {
                let tables: Option<String> = sqlx::query_scalar(
                    "SELECT string_agg(quote_ident(tablename), ', ') \
                     FROM pg_tables WHERE schemaname = current_schema()",
                )
                .fetch_one(&self.pool)
                .await
                .context("list the schema's tables")?;
                match tables {
                    Some(tables) => format!("VACUUM (ANALYZE) {tables}"),
                    None => return Ok(()),
                }
            }
        };
        sqlx::query(&statement)
            .execute(&self.pool)
            .await
            .context("vacuum and analyze")?;
        Ok(())
    }

    /// Creates an empty PostgreSQL schema to seed into (see [`Store::drop_schema`]).
    pub async fn create_schema(&self, name: &str) -> Result<(), StoreError> {
        self.require_postgres()?;
        let name = checked_schema_name(name)?;
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&self.pool)
            .await
            .with_context(|| format!("create schema {name}"))?;
        Ok(())
    }

    /// Drops a PostgreSQL schema and everything in it.
    pub async fn drop_schema(&self, name: &str) -> Result<(), StoreError> {
        self.require_postgres()?;
        let name = checked_schema_name(name)?;
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
            .execute(&self.pool)
            .await
            .with_context(|| format!("drop schema {name}"))?;
        Ok(())
    }

    fn require_postgres(&self) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            Ok(())
        } else {
            Err(StoreError::Unexpected(anyhow::anyhow!(
                "schemas exist only on PostgreSQL"
            )))
        }
    }

    async fn seed_rows<T>(
        &self,
        table: &'static str,
        columns: &[&str],
        rows: &[T],
        bind: for<'q> fn(AnyQuery<'q>, &'q T) -> AnyQuery<'q>,
    ) -> Result<u64, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        self.timed(StoreOp::Write, async {
            let per_statement = MAX_BOUND_VARIABLES / columns.len();
            let backend = self.backend;
            let full_sql = multi_row_insert(backend, table, columns, per_statement.min(rows.len()));
            let mut tx = self.pool.begin().await.context("begin")?;
            let mut inserted = 0;
            for chunk in rows.chunks(per_statement) {
                let tail_sql;
                let sql = if chunk.len() == per_statement.min(rows.len()) {
                    &full_sql
                } else {
                    tail_sql = multi_row_insert(backend, table, columns, chunk.len());
                    &tail_sql
                };
                let query = chunk.iter().fold(sqlx::query(sql), bind);
                inserted += query
                    .execute(&mut *tx)
                    .await
                    .with_context(|| format!("seed {table}"))?
                    .rows_affected();
            }
            tx.commit().await.context("commit")?;
            Ok(inserted)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_backend() {
        assert_eq!(
            multi_row_insert(Backend::Postgres, "t", &["a", "b"], 2),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
        );
        assert_eq!(
            multi_row_insert(Backend::Sqlite, "t", &["a", "b"], 2),
            "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)"
        );
    }

    #[test]
    fn schema_names_are_plain() {
        assert!(checked_schema_name("rk_bench_0a1b").is_ok());
        for bad in ["", "Rk", "1abc", "a;drop", "a b", "a\"b"] {
            assert!(checked_schema_name(bad).is_err(), "{bad}");
        }
    }
}
