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
        version: 6,
        name: "events",
        sql: include_str!("../../migrations/sqlite/0006_events.sql"),
    },
    Migration {
        version: 7,
        name: "matrix_community",
        sql: include_str!("../../migrations/sqlite/0007_matrix_community.sql"),
    },
    Migration {
        version: 8,
        name: "stats",
        sql: include_str!("../../migrations/sqlite/0008_stats.sql"),
    },
    Migration {
        version: 9,
        name: "stats_kept",
        sql: include_str!("../../migrations/sqlite/0009_stats_kept.sql"),
    },
    Migration {
        version: 10,
        name: "sessions",
        sql: include_str!("../../migrations/sqlite/0010_sessions.sql"),
    },
    Migration {
        version: 11,
        name: "live_outbox",
        sql: include_str!("../../migrations/sqlite/0011_live_outbox.sql"),
    },
    Migration {
        version: 12,
        name: "change_outbox",
        sql: include_str!("../../migrations/sqlite/0012_change_outbox.sql"),
    },
    Migration {
        version: 13,
        name: "oidc",
        sql: include_str!("../../migrations/sqlite/0013_oidc.sql"),
    },
    Migration {
        version: 14,
        name: "oidc_logout_outbox",
        sql: include_str!("../../migrations/sqlite/0014_oidc_logout_outbox.sql"),
    },
    Migration {
        version: 15,
        name: "room_capacity",
        sql: include_str!("../../migrations/sqlite/0015_room_capacity.sql"),
    },
    Migration {
        version: 16,
        name: "calls",
        sql: include_str!("../../migrations/sqlite/0016_calls.sql"),
    },
    Migration {
        version: 17,
        name: "tip_messages",
        sql: include_str!("../../migrations/sqlite/0017_tip_messages.sql"),
    },
    Migration {
        version: 18,
        name: "oidc_consent",
        sql: include_str!("../../migrations/sqlite/0018_oidc_consent.sql"),
    },
    Migration {
        version: 19,
        name: "bans_by_end",
        sql: include_str!("../../migrations/sqlite/0019_bans_by_end.sql"),
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
        version: 6,
        name: "events",
        sql: include_str!("../../migrations/postgres/0006_events.sql"),
    },
    Migration {
        version: 7,
        name: "matrix_community",
        sql: include_str!("../../migrations/postgres/0007_matrix_community.sql"),
    },
    Migration {
        version: 8,
        name: "stats",
        sql: include_str!("../../migrations/postgres/0008_stats.sql"),
    },
    Migration {
        version: 9,
        name: "stats_kept",
        sql: include_str!("../../migrations/postgres/0009_stats_kept.sql"),
    },
    Migration {
        version: 10,
        name: "sessions",
        sql: include_str!("../../migrations/postgres/0010_sessions.sql"),
    },
    Migration {
        version: 11,
        name: "live_outbox",
        sql: include_str!("../../migrations/postgres/0011_live_outbox.sql"),
    },
    Migration {
        version: 12,
        name: "change_outbox",
        sql: include_str!("../../migrations/postgres/0012_change_outbox.sql"),
    },
    Migration {
        version: 13,
        name: "oidc",
        sql: include_str!("../../migrations/postgres/0013_oidc.sql"),
    },
    Migration {
        version: 14,
        name: "oidc_logout_outbox",
        sql: include_str!("../../migrations/postgres/0014_oidc_logout_outbox.sql"),
    },
    Migration {
        version: 15,
        name: "room_capacity",
        sql: include_str!("../../migrations/postgres/0015_room_capacity.sql"),
    },
    Migration {
        version: 16,
        name: "calls",
        sql: include_str!("../../migrations/postgres/0016_calls.sql"),
    },
    Migration {
        version: 17,
        name: "tip_messages",
        sql: include_str!("../../migrations/postgres/0017_tip_messages.sql"),
    },
    Migration {
        version: 18,
        name: "oidc_consent",
        sql: include_str!("../../migrations/postgres/0018_oidc_consent.sql"),
    },
    Migration {
        version: 19,
        name: "bans_by_end",
        sql: include_str!("../../migrations/postgres/0019_bans_by_end.sql"),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// 0017 rebuilds SQLite's shard command queue for `announce`: waiting commands keep
    /// their `seq`, and a `seq` once used is never handed out again.
    #[tokio::test]
    async fn the_command_queue_rebuild_keeps_waiting_commands_and_learns_announce() {
        sqlx::any::install_default_drivers();
        let mut conn: sqlx::AnyConnection =
            sqlx::Connection::connect("sqlite::memory:").await.unwrap();
        let before_0017 = SQLITE.iter().position(|m| m.version == 17).unwrap();
        apply(&mut conn, &SQLITE[..before_0017]).await.unwrap();
        sqlx::raw_sql(
            "INSERT INTO live_outbox (shard, kind, body, next_attempt_at, created_at) VALUES \
             ('http://a', 'kick', '{}', 10, 1), ('http://a', 'end_room', '{}', 11, 2); \
             DELETE FROM live_outbox WHERE seq = 2;",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        assert_eq!(
            apply(&mut conn, SQLITE).await.unwrap(),
            ["0017_tip_messages", "0018_oidc_consent", "0019_bans_by_end"]
        );
        sqlx::raw_sql(
            "INSERT INTO live_outbox (shard, kind, body, next_attempt_at, created_at) \
             VALUES ('http://a', 'announce', '{}', 12, 3)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let rows: Vec<(i64, String)> =
            sqlx::query("SELECT seq, kind FROM live_outbox ORDER BY seq")
                .fetch_all(&mut conn)
                .await
                .unwrap()
                .iter()
                .map(|row| (row.get("seq"), row.get("kind")))
                .collect();
        assert_eq!(rows, [(1, "kick".to_owned()), (3, "announce".to_owned())]);
    }

    /// 0007 rebuilds SQLite's outbox: every pending change survives with its `seq`, and a
    /// `seq` once used (even by a deleted row) is never handed out again.
    #[tokio::test]
    async fn the_outbox_rebuild_keeps_pending_changes_and_their_order() {
        sqlx::any::install_default_drivers();
        let mut conn: sqlx::AnyConnection =
            sqlx::Connection::connect("sqlite::memory:").await.unwrap();
        let before_0007 = SQLITE.iter().position(|m| m.version == 7).unwrap();
        apply(&mut conn, &SQLITE[..before_0007]).await.unwrap();
        sqlx::raw_sql(
            "INSERT INTO matrix_outbox (order_key, action, user_id, room_id, reason, attempts, \
             next_attempt_at, created_at) VALUES ('u/r', 'invite', 'u', 'r', 'paid', 2, 10, 1), \
             ('u/r', 'kick', 'u', 'r', 'refund', 0, 11, 2), ('v/r', 'ban', 'v', 'r', 'spam', 0, 12, 3); \
             DELETE FROM matrix_outbox WHERE seq = 3;",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let applied = apply(&mut conn, SQLITE).await.unwrap();
        assert_eq!(
            applied,
            [
                "0007_matrix_community",
                "0008_stats",
                "0009_stats_kept",
                "0010_sessions",
                "0011_live_outbox",
                "0012_change_outbox",
                "0013_oidc",
                "0014_oidc_logout_outbox",
                "0015_room_capacity",
                "0016_calls",
                "0017_tip_messages",
                "0018_oidc_consent",
                "0019_bans_by_end",
            ]
        );
        sqlx::raw_sql(
            "INSERT INTO matrix_outbox (order_key, action, user_id, matrix_user_id, \
             next_attempt_at, created_at) VALUES ('user/u', 'forget', 'u', '@old:hs', 13, 4)",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let rows: Vec<(i64, String, String, i64)> =
            sqlx::query("SELECT seq, action, reason, attempts FROM matrix_outbox ORDER BY seq")
                .fetch_all(&mut conn)
                .await
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r.try_get("seq").unwrap(),
                        r.try_get("action").unwrap(),
                        r.try_get("reason").unwrap(),
                        r.try_get("attempts").unwrap(),
                    )
                })
                .collect();
        assert_eq!(
            rows,
            [
                (1, "invite".into(), "paid".into(), 2),
                (2, "kick".into(), "refund".into(), 0),
                (4, "forget".into(), String::new(), 0),
            ]
        );
        let refused = sqlx::raw_sql(
            "INSERT INTO matrix_outbox (order_key, action, next_attempt_at, created_at) \
             VALUES ('x', 'bogus', 1, 1)",
        )
        .execute(&mut conn)
        .await;
        assert!(refused.is_err(), "the action list is still checked");
    }

    /// 0010 rebuilds SQLite's audit trail to accept `end_sessions`: every row survives, and
    /// the action list is still checked.
    #[tokio::test]
    async fn the_audit_rebuild_keeps_every_row_and_learns_end_sessions() {
        sqlx::any::install_default_drivers();
        let mut conn: sqlx::AnyConnection =
            sqlx::Connection::connect("sqlite::memory:").await.unwrap();
        let before_0010 = SQLITE.iter().position(|m| m.version == 10).unwrap();
        apply(&mut conn, &SQLITE[..before_0010]).await.unwrap();
        let insert = |id: &str, action: &str| {
            format!(
                "INSERT INTO moderation_audit (id, at, actor, action, user_id, details) \
                 VALUES ('{id}', 1, 'admin-key', '{action}', 'u', '{{}}')"
            )
        };
        sqlx::raw_sql(&insert("a1", "ban"))
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            apply(&mut conn, SQLITE).await.unwrap(),
            [
                "0010_sessions",
                "0011_live_outbox",
                "0012_change_outbox",
                "0013_oidc",
                "0014_oidc_logout_outbox",
                "0015_room_capacity",
                "0016_calls",
                "0017_tip_messages",
                "0018_oidc_consent",
                "0019_bans_by_end",
            ]
        );
        sqlx::raw_sql(&insert("a2", "end_sessions"))
            .execute(&mut conn)
            .await
            .unwrap();
        let actions: Vec<String> =
            sqlx::query_scalar("SELECT action FROM moderation_audit ORDER BY id")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        assert_eq!(actions, ["ban", "end_sessions"]);
        assert!(sqlx::raw_sql(&insert("a3", "bogus"))
            .execute(&mut conn)
            .await
            .is_err());
    }

    /// 0009 counts the attendance already there, and from then on its triggers count every
    /// change in the same statement.
    #[tokio::test]
    async fn the_attendance_tally_starts_from_what_is_there_and_follows_every_change() {
        async fn run(conn: &mut sqlx::AnyConnection, sql: &str) {
            sqlx::raw_sql(sql).execute(conn).await.unwrap();
        }
        async fn tally(conn: &mut sqlx::AnyConnection) -> (i64, i64) {
            sqlx::query_as("SELECT changes, open_stays FROM attendance_tally WHERE room_id = 'r'")
                .fetch_one(conn)
                .await
                .unwrap()
        }
        sqlx::any::install_default_drivers();
        let mut conn: sqlx::AnyConnection =
            sqlx::Connection::connect("sqlite::memory:").await.unwrap();
        let before_0009 = SQLITE.iter().position(|m| m.version == 9).unwrap();
        apply(&mut conn, &SQLITE[..before_0009]).await.unwrap();
        run(
            &mut conn,
            "INSERT INTO users (id, handle, email, display_name, role, created_at, updated_at) \
             VALUES ('p', 'p', 'p@x', 'P', 'performer', 0, 0), ('a', 'a', 'a@x', 'A', 'viewer', 0, 0), \
             ('b', 'b', 'b@x', 'B', 'viewer', 0, 0); \
             INSERT INTO rooms (id, name, title, owner_id, access, created_at, updated_at) \
             VALUES ('r', 'show', 'Show', 'p', 'free', 0, 0); \
             INSERT INTO attendance (occupant_id, shard, room_id, user_id, joined_at, left_at) \
             VALUES ('o1', 's', 'r', 'a', 10, 20), ('o2', 's', 'r', 'a', 15, NULL);",
        )
        .await;
        apply(&mut conn, SQLITE).await.unwrap();
        assert_eq!(tally(&mut conn).await, (2, 1));
        run(
            &mut conn,
            "UPDATE attendance SET left_at = 30 WHERE occupant_id = 'o2'; \
             INSERT INTO attendance (occupant_id, shard, room_id, user_id, joined_at) \
             VALUES ('o3', 's', 'r', 'b', 40);",
        )
        .await;
        assert_eq!(tally(&mut conn).await, (4, 1));
        run(&mut conn, "DELETE FROM attendance WHERE occupant_id = 'o3'").await;
        assert_eq!(tally(&mut conn).await, (5, 0));
        let viewers: Vec<(String,)> = sqlx::query_as(
            "SELECT user_id FROM performer_viewers WHERE performer_id = 'p' ORDER BY user_id",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert_eq!(viewers, [("a".to_owned(),), ("b".to_owned(),)]);
    }
}
