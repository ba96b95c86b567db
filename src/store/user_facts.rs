//! What the access decision needs to know about one user — the profile, the bans in force
//! and the entitlements that can still grant access — read at once.
//!
//! How depends on the backend. On PostgreSQL every statement carries a round trip,
//! executor start-up and locks, and on a cold token request those fixed costs outweigh the
//! index lookups themselves; so the three selects are one statement, joined with
//! `UNION ALL` into rows of one shape: a `kind` column says which record a row is, and each
//! row fills only its own record's columns, named as the single-record readers
//! ([`super::users`], [`super::bans`], [`super::entitlements`]) expect them, so those
//! readers decode it. On SQLite a statement is a function call, the three run at once on
//! three pooled connections, and the union was slower (SQLite re-plans a statement whose
//! bound values meet an indexed column once the tables are analysed, and re-planning the
//! union costs more than re-planning three small selects). Figures: `bench/README.md`, "a
//! slower AMD EPYC machine". Both ways share the filters ([`ACTIVE_BANS_OF_USER`],
//! [`LIVE_ENTITLEMENTS_OF_USER`], both joined by [`union_of`]), and the test suite runs on
//! both backends.

use std::sync::LazyLock;

use anyhow::Context as _;

use super::bans::{ban_from_row, ACTIVE_BANS_OF_USER};
use super::entitlements::{entitlement_from_row, LIVE_ENTITLEMENTS_OF_USER};
use super::users::{user_from_row, REVOKED_SESSIONS_OF_USER};
use super::{corrupt, text, union_of, Backend, Store, StoreError};
use crate::clock::UnixSeconds;
use crate::domain::{Ban, Entitlement, User};
use crate::telemetry::metrics::StoreOp;

/// A user with the bans in force, the entitlements that can still grant access, and the
/// sessions ended one by one whose tokens have not expired yet.
#[derive(Debug)]
pub struct UserRecords {
    pub user: User,
    pub bans: Vec<Ban>,
    pub entitlements: Vec<Entitlement>,
    pub ended_sessions: Vec<String>,
}

/// The columns only one kind of record has: (name, SQL type, where that kind's branch
/// reads it).
const USER_ONLY: &[(&str, &str, &str)] = &[
    ("handle", "TEXT", "handle"),
    ("email", "TEXT", "email"),
    ("display_name", "TEXT", "display_name"),
    ("role", "TEXT", "role"),
    ("matrix_user_id", "TEXT", "matrix_user_id"),
    ("avatar_url", "TEXT", "avatar_url"),
    ("verified_at", "BIGINT", "verified_at"),
    ("updated_at", "BIGINT", "updated_at"),
    ("session_generation", "BIGINT", "session_generation"),
];
const BAN_ONLY: &[(&str, &str, &str)] = &[
    ("reason", "TEXT", "b.reason"),
    ("until", "BIGINT", "b.until"),
    ("banned_by", "TEXT", "b.banned_by"),
    ("lifted_at", "BIGINT", "l.lifted_at"),
    ("lifted_by", "TEXT", "l.lifted_by"),
    ("lift_reason", "TEXT", "l.reason"),
];
const ENTITLEMENT_ONLY: &[(&str, &str, &str)] = &[
    ("quantity", "BIGINT", "e.quantity"),
    ("valid_from", "BIGINT", "e.valid_from"),
    ("valid_until", "BIGINT", "e.valid_until"),
    ("source", "TEXT", "e.source"),
    ("source_ref", "TEXT", "e.source_ref"),
    ("granted_by", "TEXT", "e.granted_by"),
    ("revoked_at", "BIGINT", "r.revoked_at"),
    ("revoked_by", "TEXT", "r.revoked_by"),
    ("revoke_reason", "TEXT", "r.reason"),
];

/// An ended session's id is the shared `id` column; it has no columns of its own.
const ENDED_SESSION_ONLY: &[(&str, &str, &str)] = &[];

/// The kinds' own columns, in the order every row of the union carries them.
const OWN_COLUMNS: [&[(&str, &str, &str)]; 4] =
    [USER_ONLY, BAN_ONLY, ENTITLEMENT_ONLY, ENDED_SESSION_ONLY];
const USER: usize = 0;
const BAN: usize = 1;
const ENTITLEMENT: usize = 2;
const ENDED_SESSION: usize = 3;

/// One `SELECT` list of the union: the shared columns, then every kind's own columns, read
/// for kind `this` and NULL for the others. The user's branch comes first and names and
/// types every column (`CAST(NULL AS …)` is valid in both backends).
fn select_list(shared: &str, this: usize) -> String {
    let first = this == USER;
    let mut columns = vec![shared.to_owned()];
    for (kind, kind_columns) in OWN_COLUMNS.iter().enumerate() {
        for (name, sql_type, source) in kind_columns.iter() {
            let value = if kind == this {
                source.to_string()
            } else if first {
                format!("CAST(NULL AS {sql_type})")
            } else {
                "NULL".to_owned()
            };
            columns.push(if first {
                format!("{value} AS {name}")
            } else {
                value
            });
        }
    }
    columns.join(", ")
}

static USER_FACTS_SQL: LazyLock<String> = LazyLock::new(|| {
    let user = select_list(
        "'user' AS kind, id, CAST(NULL AS TEXT) AS user_id, CAST(NULL AS TEXT) AS scope_kind, \
         CAST(NULL AS TEXT) AS scope_ref, created_at",
        USER,
    );
    let bans = union_of(
        &format!(
            "SELECT {} FROM bans b LEFT JOIN ban_lifts l ON l.ban_id = b.id",
            select_list(
                "'ban', b.id, b.user_id, b.scope_kind, b.scope_ref, b.created_at",
                BAN,
            )
        ),
        &ACTIVE_BANS_OF_USER,
    );
    let entitlements = union_of(
        &format!(
            "SELECT {} FROM entitlements e \
             LEFT JOIN entitlement_revocations r ON r.entitlement_id = e.id",
            select_list(
                "'entitlement', e.id, e.user_id, e.scope_kind, e.scope_ref, e.created_at",
                ENTITLEMENT,
            )
        ),
        &LIVE_ENTITLEMENTS_OF_USER,
    );
    let ended_session = select_list(
        "'session', s.jti, s.user_id, NULL, NULL, s.revoked_at",
        ENDED_SESSION,
    );
    format!(
        "SELECT {user} FROM users WHERE id = $1 \
         UNION ALL {bans} \
         UNION ALL {entitlements} \
         UNION ALL SELECT {ended_session} FROM session_revocations s \
         WHERE {REVOKED_SESSIONS_OF_USER} \
         ORDER BY kind, created_at, id"
    )
});

impl Store {
    /// `user_id`'s profile, the bans in force at `now` and the entitlements that can still
    /// grant access at or after it; `None` for an unknown user.
    pub async fn find_user_facts(
        &self,
        user_id: &str,
        now: UnixSeconds,
    ) -> Result<Option<UserRecords>, StoreError> {
        self.timed(StoreOp::FindUserFacts, async {
            match self.backend {
                Backend::Postgres => self.user_facts_in_one_statement(user_id, now).await,
                Backend::Sqlite => self.user_facts_side_by_side(user_id, now).await,
            }
        })
        .await
    }

    async fn user_facts_in_one_statement(
        &self,
        user_id: &str,
        now: UnixSeconds,
    ) -> Result<Option<UserRecords>, StoreError> {
        let rows = sqlx::query(&USER_FACTS_SQL)
            .bind(user_id)
            .bind(now)
            .fetch_all(&self.facts_pool)
            .await
            .context("find user facts")?;
        let mut user = None;
        let mut bans = Vec::new();
        let mut entitlements = Vec::new();
        let mut ended_sessions = Vec::new();
        for row in &rows {
            match text(row, "kind")?.as_str() {
                "user" => user = Some(user_from_row(row)?),
                "ban" => bans.push(ban_from_row(row)?),
                "entitlement" => entitlements.push(entitlement_from_row(row)?),
                "session" => ended_sessions.push(text(row, "id")?),
                other => return Err(corrupt("user facts kind", other)),
            }
        }
        Ok(user.map(|user| UserRecords {
            user,
            bans,
            entitlements,
            ended_sessions,
        }))
    }

    async fn user_facts_side_by_side(
        &self,
        user_id: &str,
        now: UnixSeconds,
    ) -> Result<Option<UserRecords>, StoreError> {
        let (user, bans, entitlements, ended_sessions) = tokio::try_join!(
            self.fetch_user(user_id),
            self.fetch_active_bans(user_id, now),
            self.fetch_live_entitlements(user_id, now),
            self.fetch_revoked_sessions(user_id, now),
        )?;
        Ok(user.map(|user| UserRecords {
            user,
            bans,
            entitlements,
            ended_sessions,
        }))
    }
}
