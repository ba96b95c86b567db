//! Users and their credentials.

use anyhow::Context as _;
use sqlx::any::AnyRow;

use super::changes::{record_change, RecordedChange};
use super::{classify_write_error, corrupt, int, opt_int, opt_text, text, Store, StoreError};
use crate::clock::UnixSeconds;
use crate::domain::{Change, Role, SessionsEndedReason, User};
use crate::telemetry::metrics::StoreOp;

pub(super) const USER_COLUMNS: &str =
    "id, handle, email, display_name, role, matrix_user_id, avatar_url, verified_at, \
     created_at, updated_at, session_generation";

pub struct NewUser<'a> {
    pub id: &'a str,
    pub handle: &'a str,
    pub email: &'a str,
    pub display_name: &'a str,
    /// `None` for users a platform backend provisions; they cannot log in with a password.
    pub password_hash: Option<&'a str>,
    pub role: Role,
    pub now: UnixSeconds,
}

pub(super) fn user_from_row(row: &AnyRow) -> Result<User, StoreError> {
    let role = text(row, "role")?;
    Ok(User {
        id: text(row, "id")?,
        handle: text(row, "handle")?,
        email: text(row, "email")?,
        display_name: text(row, "display_name")?,
        role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
        matrix_user_id: opt_text(row, "matrix_user_id")?,
        avatar_url: opt_text(row, "avatar_url")?,
        verified: opt_int(row, "verified_at")?.is_some(),
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
        session_generation: int(row, "session_generation")?,
    })
}

impl Store {
    pub async fn insert_user(&self, new: &NewUser<'_>) -> Result<User, StoreError> {
        self.timed(StoreOp::Write, async {
            let row = sqlx::query(&format!(
                "INSERT INTO users (id, handle, email, display_name, password_hash, role, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {USER_COLUMNS}"
            ))
            .bind(new.id)
            .bind(new.handle)
            .bind(new.email)
            .bind(new.display_name)
            .bind(new.password_hash)
            .bind(new.role.as_str())
            .bind(new.now)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| classify_write_error(e, &["handle", "email"]))?;
            user_from_row(&row)
        })
        .await
    }

    pub async fn find_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.timed(StoreOp::FindUser, self.fetch_user(id)).await
    }

    /// [`Self::find_user`] without its own timing, for reads timed as part of a larger one.
    pub(super) async fn fetch_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .context("find user")?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// The user whose handle or e-mail is `login`, with the stored password hash.
    pub async fn find_credentials(
        &self,
        login: &str,
    ) -> Result<Option<(User, Option<String>)>, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query(&format!(
                "SELECT {USER_COLUMNS}, password_hash FROM users WHERE handle = $1 OR email = $1"
            ))
            .bind(login)
            .fetch_optional(&self.pool)
            .await
            .context("find credentials")?;
            match row {
                Some(row) => Ok(Some((
                    user_from_row(&row)?,
                    opt_text(&row, "password_hash")?,
                ))),
                None => Ok(None),
            }
        })
        .await
    }

    /// Gives the user `role` (they had `before`) and records the change with it.
    pub async fn update_user_role(
        &self,
        id: &str,
        role: Role,
        before: Role,
        now: UnixSeconds,
    ) -> Result<Option<(User, RecordedChange)>, StoreError> {
        self.timed(StoreOp::Write, async {
            let mut tx = self.pool.begin().await.context("begin")?;
            let row = sqlx::query(&format!(
                "UPDATE users SET role = $2, updated_at = $3 WHERE id = $1 RETURNING {USER_COLUMNS}"
            ))
            .bind(id)
            .bind(role.as_str())
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .context("update role")?;
            let Some(user) = row.as_ref().map(user_from_row).transpose()? else {
                return Ok(None);
            };
            let change = Change::RoleChanged {
                user: user.clone(),
                before,
            };
            let change = record_change(&mut tx, change, now).await?;
            tx.commit().await.context("commit")?;
            Ok(Some((user, change)))
        })
        .await
    }

    /// Rewrites the display name and avatar.
    pub async fn update_user_profile(
        &self,
        id: &str,
        display_name: &str,
        avatar_url: Option<&str>,
        now: UnixSeconds,
    ) -> Result<Option<User>, StoreError> {
        self.timed(StoreOp::Write, async {
            let row = sqlx::query(&format!(
                "UPDATE users SET display_name = $2, avatar_url = $3, updated_at = $4 WHERE id = $1 \
                 RETURNING {USER_COLUMNS}"
            ))
            .bind(id)
            .bind(display_name)
            .bind(avatar_url)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .context("update profile")?;
            row.as_ref().map(user_from_row).transpose()
        })
        .await
    }

    /// Ends every session `id` holds: bumps the session generation sessions carry, and
    /// records the change (for the caches and back-channel logout) in the same transaction.
    pub async fn bump_session_generation(
        &self,
        id: &str,
        reason: SessionsEndedReason,
        now: UnixSeconds,
    ) -> Result<Option<(User, RecordedChange)>, StoreError> {
        self.timed(StoreOp::Write, async {
            let mut tx = self.pool.begin().await.context("begin")?;
            let row = sqlx::query(&format!(
                "UPDATE users SET session_generation = session_generation + 1, updated_at = $2 \
                 WHERE id = $1 RETURNING {USER_COLUMNS}"
            ))
            .bind(id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .context("end sessions")?;
            let Some(user) = row.as_ref().map(user_from_row).transpose()? else {
                return Ok(None);
            };
            let change = sessions_ended(&mut tx, &user, reason, now).await?;
            tx.commit().await.context("commit")?;
            Ok(Some((user, change)))
        })
        .await
    }

    /// Replaces the password and ends every session in the same statement, so no session
    /// issued under the old password outlives the change; the change is recorded with it.
    pub async fn update_password(
        &self,
        id: &str,
        password_hash: &str,
        now: UnixSeconds,
    ) -> Result<Option<(User, RecordedChange)>, StoreError> {
        self.timed(StoreOp::Write, async {
            let mut tx = self.pool.begin().await.context("begin")?;
            let row = sqlx::query(&format!(
                "UPDATE users SET password_hash = $2, session_generation = session_generation + 1, \
                 updated_at = $3 WHERE id = $1 RETURNING {USER_COLUMNS}"
            ))
            .bind(id)
            .bind(password_hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .context("update password")?;
            let Some(user) = row.as_ref().map(user_from_row).transpose()? else {
                return Ok(None);
            };
            let reason = SessionsEndedReason::PasswordChanged;
            let change = sessions_ended(&mut tx, &user, reason, now).await?;
            tx.commit().await.context("commit")?;
            Ok(Some((user, change)))
        })
        .await
    }

    /// The stored password hash of `id` (`None` for a provisioned user without one).
    pub async fn find_password_hash(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .context("find password hash")?;
            match row {
                Some(row) => opt_text(&row, "password_hash"),
                None => Ok(None),
            }
        })
        .await
    }

    /// Ends one session by its id; kept until `expires_at`, when the token dies anyway.
    /// Ending it twice is not an error.
    pub async fn insert_session_revocation(
        &self,
        jti: &str,
        user_id: &str,
        expires_at: UnixSeconds,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            sqlx::query(
                "INSERT INTO session_revocations (jti, user_id, expires_at, revoked_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (jti) DO NOTHING",
            )
            .bind(jti)
            .bind(user_id)
            .bind(expires_at)
            .bind(now)
            .execute(&self.pool)
            .await
            .context("end a session")?;
            Ok(())
        })
        .await
    }

    /// The ids of `user_id`'s ended sessions whose tokens have not expired yet.
    pub(super) async fn fetch_revoked_sessions(
        &self,
        user_id: &str,
        now: UnixSeconds,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT jti FROM session_revocations s WHERE {REVOKED_SESSIONS_OF_USER} ORDER BY jti"
        ))
        .bind(user_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .context("find ended sessions")?;
        rows.iter().map(|row| text(row, "jti")).collect()
    }
}

/// The filter for a user's ended sessions still worth remembering, with `$1` the user and
/// `$2` now; shared with the one-statement facts read.
pub(super) const REVOKED_SESSIONS_OF_USER: &str = "s.user_id = $1 AND s.expires_at > $2";

/// Records that every session of `user` ended, inside the caller's transaction.
async fn sessions_ended(
    conn: &mut sqlx::AnyConnection,
    user: &User,
    reason: SessionsEndedReason,
    now: UnixSeconds,
) -> Result<RecordedChange, StoreError> {
    let change = Change::SessionsEnded {
        user_id: user.id.clone(),
        reason,
    };
    record_change(conn, change, now).await
}
