//! Embedded migrations, one set per backend, applied in order and recorded in
//! `schema_migrations`. On PostgreSQL an advisory lock keeps concurrent instances from
//! migrating at once; SQLite's write lock does the same for the embedded file.

use anyhow::Context as _;
use sqlx::{AnyPool, Row as _};

use super::Backend;

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "core",
        sql: include_str!("../../migrations/sqlite/0001_core.sql"),
    },
    Migration {
        version: 2,
        name: "payments",
        sql: include_str!("../../migrations/sqlite/0002_payments.sql"),
    },
    Migration {
        version: 3,
        name: "attendance",
        sql: include_str!("../../migrations/sqlite/0003_attendance.sql"),
    },
    Migration {
        version: 4,
        name: "matrix",
        sql: include_str!("../../migrations/sqlite/0004_matrix.sql"),
    },
    Migration {
        version: 5,
        name: "moderation_audit",
        sql: include_str!("../../migrations/sqlite/0005_moderation_audit.sql"),
    },
    Migration {
        version: 8,
        name: "stats",
        sql: include_str!("../../migrations/sqlite/0008_stats.sql"),
    },
];

const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "core",
        sql: include_str!("../../migrations/postgres/0001_core.sql"),
    },
    Migration {
        version: 2,
        name: "payments",
        sql: include_str!("../../migrations/postgres/0002_payments.sql"),
    },
    Migration {
        version: 3,
        name: "attendance",
        sql: include_str!("../../migrations/postgres/0003_attendance.sql"),
    },
    Migration {
        version: 4,
        name: "matrix",
        sql: include_str!("../../migrations/postgres/0004_matrix.sql"),
    },
    Migration {
        version: 5,
        name: "moderation_audit",
        sql: include_str!("../../migrations/postgres/0005_moderation_audit.sql"),
    },
    Migration {
        version: 8,
        name: "stats",
        sql: include_str!("../../migrations/postgres/0008_stats.sql"),
    },
];

/// Arbitrary, fixed key for `pg_advisory_lock`.
const PG_MIGRATION_LOCK: i64 = 0x0072_6f6f_6d6b_6579;

pub(super) async fn run(pool: &AnyPool, backend: Backend) -> anyhow::Result<Vec<String>> {
    let migrations = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    let mut conn = pool
        .acquire()
        .await
        .context("no connection for migrations")?;
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(PG_MIGRATION_LOCK)
            .execute(&mut *conn)
            .await
            .context("taking the migration lock")?;
    }
    let result = apply(&mut conn, migrations).await;
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(PG_MIGRATION_LOCK)
            .execute(&mut *conn)
            .await
            .context("releasing the migration lock")?;
    }
    result
}

async fn apply(
    conn: &mut sqlx::AnyConnection,
    migrations: &[Migration],
) -> anyhow::Result<Vec<String>> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (\
            version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .execute(&mut *conn)
    .await
    .context("creating schema_migrations")?;
    let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations")
        .fetch_all(&mut *conn)
        .await
        .context("reading schema_migrations")?
        .iter()
        .map(|row| row.try_get::<i64, _>("version"))
        .collect::<Result<_, _>>()?;
    let mut names = Vec::new();
    for migration in migrations.iter().filter(|m| !applied.contains(&m.version)) {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        sqlx::raw_sql(migration.sql)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("migration {:04}_{}", migration.version, migration.name))?;
        sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, CURRENT_TIMESTAMP)")
            .bind(migration.version)
            .bind(migration.name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        names.push(format!("{:04}_{}", migration.version, migration.name));
    }
    Ok(names)
}
