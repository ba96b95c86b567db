//! The OpenID Provider's records: sessions (one sign-in at one client, the family of its
//! tokens), single-use authorization codes, and access and refresh tokens, all by hash.
//!
//! Single use is decided by the database, not by a read-then-write: the exchange that
//! sets `used_at` on a row still unused wins, and every other one learns it lost.

use anyhow::Context as _;
use sqlx::any::AnyRow;

use super::users::{user_from_row, USER_COLUMNS};
use super::{int, opt_int, opt_text, text, Store, StoreError};
use crate::clock::UnixSeconds;
use crate::domain::User;
use crate::telemetry::metrics::StoreOp;

/// One sign-in of a user at a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSessionRecord {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub auth_time: UnixSeconds,
    /// The user's session generation at that sign-in (see [`crate::identity`]).
    pub session_generation: i64,
    pub ended_at: Option<UnixSeconds>,
    /// The roomkey browser session (its token's `jti`) the code was issued in; absent for
    /// sessions granted before it was recorded.
    pub browser_session: Option<String>,
}

/// A code to store, with the session it starts.
pub struct NewOidcCode<'a> {
    pub code_hash: &'a str,
    pub session: &'a OidcSessionRecord,
    pub redirect_uri: &'a str,
    pub code_challenge: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub expires_at: UnixSeconds,
    pub now: UnixSeconds,
}

/// What a code's binding says, as stored.
#[derive(Debug, Clone)]
pub struct StoredCode {
    pub session: OidcSessionRecord,
    pub redirect_uri: String,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub expires_at: UnixSeconds,
}

/// A code [`Store::exchange_oidc_code`] spent: what it was bound to, its user as they stood,
/// and the verdict on it (`Ok`: the tokens were stored with it).
#[derive(Debug)]
pub struct SpentCode<E> {
    pub code: StoredCode,
    pub user: Option<User>,
    pub verdict: Result<(), E>,
}

/// The outcome of presenting a single-use credential (a code or a refresh token).
#[derive(Debug)]
pub enum Claim<T> {
    /// First use: it is now spent.
    Fresh(T),
    /// Spent before: the session it belongs to, which the caller ends.
    Reused {
        session_id: String,
    },
    Unknown,
}

/// A token's kind, as the `kind` column spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OidcTokenKind {
    Access,
    Refresh,
}

impl OidcTokenKind {
    fn as_str(self) -> &'static str {
        match self {
            OidcTokenKind::Access => "access",
            OidcTokenKind::Refresh => "refresh",
        }
    }
}

fn session_from(row: &AnyRow) -> Result<OidcSessionRecord, StoreError> {
    Ok(OidcSessionRecord {
        id: text(row, "id")?,
        client_id: text(row, "client_id")?,
        user_id: text(row, "user_id")?,
        scope: text(row, "scope")?,
        auth_time: int(row, "auth_time")?,
        session_generation: int(row, "session_generation")?,
        ended_at: opt_int(row, "ended_at")?,
        browser_session: opt_text(row, "browser_session")?,
    })
}

const SESSION_COLUMNS: &str = "s.id, s.client_id, s.user_id, s.scope, s.auth_time, \
     s.session_generation, s.ended_at, s.browser_session";

impl Store {
    /// Stores a code and the session it starts, in one transaction.
    pub async fn insert_oidc_code(&self, new: &NewOidcCode<'_>) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            let mut tx = self.pool.begin().await.context("begin")?;
            let session = new.session;
            sqlx::query(
                "INSERT INTO oidc_sessions \
                 (id, client_id, user_id, scope, auth_time, session_generation, created_at, \
                  browser_session) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&session.id)
            .bind(&session.client_id)
            .bind(&session.user_id)
            .bind(&session.scope)
            .bind(session.auth_time)
            .bind(session.session_generation)
            .bind(new.now)
            .bind(session.browser_session.as_deref())
            .execute(&mut *tx)
            .await
            .context("insert oidc session")?;
            sqlx::query(
                "INSERT INTO oidc_codes \
                 (code_hash, session_id, redirect_uri, code_challenge, nonce, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(new.code_hash)
            .bind(&session.id)
            .bind(new.redirect_uri)
            .bind(new.code_challenge)
            .bind(new.nonce)
            .bind(new.expires_at)
            .execute(&mut *tx)
            .await
            .context("insert oidc code")?;
            tx.commit().await.context("commit")?;
            Ok(())
        })
        .await
    }

    /// A credential that did not claim: spent before (its session), or never issued.
    async fn spent<T>(&self, hash: &str, sql: &'static str) -> Result<Claim<T>, StoreError> {
        let row = sqlx::query(sql)
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .context("find spent credential")?;
        Ok(match row {
            Some(row) => Claim::Reused {
                session_id: text(&row, "session_id")?,
            },
            None => Claim::Unknown,
        })
    }

    pub async fn find_oidc_session(
        &self,
        id: &str,
    ) -> Result<Option<OidcSessionRecord>, StoreError> {
        self.timed(StoreOp::Other, async {
            let sql = format!("SELECT {SESSION_COLUMNS} FROM oidc_sessions s WHERE s.id = $1");
            let row = sqlx::query(&sql)
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .context("find oidc session")?;
            row.as_ref().map(session_from).transpose()
        })
        .await
    }

    /// The sessions of `user_id` not yet ended, oldest first: the clients a back-channel
    /// logout must reach.
    pub async fn find_active_oidc_sessions(
        &self,
        user_id: &str,
    ) -> Result<Vec<OidcSessionRecord>, StoreError> {
        self.timed(StoreOp::Other, async {
            let sql = format!(
                "SELECT {SESSION_COLUMNS} FROM oidc_sessions s \
                 WHERE s.user_id = $1 AND s.ended_at IS NULL ORDER BY s.created_at, s.id"
            );
            let rows = sqlx::query(&sql)
                .bind(user_id)
                .fetch_all(&self.pool)
                .await
                .context("find active oidc sessions")?;
            rows.iter().map(session_from).collect()
        })
        .await
    }

    /// Stores tokens (by hash) for a session.
    pub async fn insert_oidc_tokens(
        &self,
        session_id: &str,
        tokens: &[(&str, OidcTokenKind, UnixSeconds)],
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            let mut tx = self.pool.begin().await.context("begin")?;
            insert_tokens_on(&mut tx, session_id, tokens, now).await?;
            tx.commit().await.context("commit")?;
            Ok(())
        })
        .await
    }

    /// The code exchange in one write transaction: spends the code at `now`, reads its
    /// session and user, and stores `tokens` for the session if `accept` approves what it
    /// read. The code is spent whether or not it is accepted (a code buys one attempt); a
    /// code spent before answers [`Claim::Reused`] with its session, for the caller to end.
    pub async fn exchange_oidc_code<E: Send>(
        &self,
        code_hash: &str,
        now: UnixSeconds,
        tokens: &[(&str, OidcTokenKind, UnixSeconds)],
        accept: impl FnOnce(&StoredCode, Option<&User>) -> Result<(), E> + Send,
    ) -> Result<Claim<SpentCode<E>>, StoreError> {
        self.timed(StoreOp::Write, async {
            let mut tx = self.pool.begin().await.context("begin")?;
            let claimed = sqlx::query(
                "UPDATE oidc_codes SET used_at = $2 WHERE code_hash = $1 AND used_at IS NULL \
                 RETURNING session_id, redirect_uri, code_challenge, nonce, expires_at",
            )
            .bind(code_hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .context("claim oidc code")?;
            let Some(row) = claimed else {
                tx.rollback().await.context("rollback")?;
                let sql = "SELECT session_id FROM oidc_codes WHERE code_hash = $1";
                return self.spent(code_hash, sql).await;
            };
            let sql = format!("SELECT {SESSION_COLUMNS} FROM oidc_sessions s WHERE s.id = $1");
            let session = sqlx::query(&sql)
                .bind(text(&row, "session_id")?)
                .fetch_optional(&mut *tx)
                .await
                .context("find oidc session")?
                .context("a code's session is missing")?;
            let code = StoredCode {
                session: session_from(&session)?,
                redirect_uri: text(&row, "redirect_uri")?,
                code_challenge: opt_text(&row, "code_challenge")?,
                nonce: opt_text(&row, "nonce")?,
                expires_at: int(&row, "expires_at")?,
            };
            let user = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
                .bind(&code.session.user_id)
                .fetch_optional(&mut *tx)
                .await
                .context("find user")?;
            let user = user.as_ref().map(user_from_row).transpose()?;
            let verdict = accept(&code, user.as_ref());
            if verdict.is_ok() {
                insert_tokens_on(&mut tx, &code.session.id, tokens, now).await?;
            }
            tx.commit().await.context("commit")?;
            Ok(Claim::Fresh(SpentCode {
                code,
                user,
                verdict,
            }))
        })
        .await
    }

    /// Spends a refresh token at `now` (rotation): the first caller gets its session and
    /// expiry; a second presentation learns the session, to end the family.
    pub async fn claim_oidc_refresh_token(
        &self,
        token_hash: &str,
        now: UnixSeconds,
    ) -> Result<Claim<(OidcSessionRecord, UnixSeconds)>, StoreError> {
        self.timed(StoreOp::Write, async {
            let claimed = sqlx::query(
                "UPDATE oidc_tokens SET used_at = $2 \
                 WHERE token_hash = $1 AND kind = 'refresh' AND used_at IS NULL \
                 RETURNING session_id, expires_at",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .context("claim refresh token")?;
            let Some(row) = claimed else {
                // Only a refresh token can have been spent: an access token offered here is
                // merely unknown, and must not end its session.
                let sql = "SELECT session_id FROM oidc_tokens \
                           WHERE token_hash = $1 AND kind = 'refresh'";
                return self.spent(token_hash, sql).await;
            };
            let session = self
                .find_oidc_session(&text(&row, "session_id")?)
                .await?
                .context("a token's session is missing")?;
            Ok(Claim::Fresh((session, int(&row, "expires_at")?)))
        })
        .await
    }

    /// A token of `kind` by hash, with its session and expiry.
    pub async fn find_oidc_token(
        &self,
        token_hash: &str,
        kind: OidcTokenKind,
    ) -> Result<Option<(OidcSessionRecord, UnixSeconds)>, StoreError> {
        self.timed(StoreOp::Other, async {
            let sql = format!(
                "SELECT {SESSION_COLUMNS}, t.expires_at AS token_expires_at \
                 FROM oidc_tokens t JOIN oidc_sessions s ON s.id = t.session_id \
                 WHERE t.token_hash = $1 AND t.kind = $2"
            );
            let row = sqlx::query(&sql)
                .bind(token_hash)
                .bind(kind.as_str())
                .fetch_optional(&self.pool)
                .await
                .context("find oidc token")?;
            row.map(|row| Ok((session_from(&row)?, int(&row, "token_expires_at")?)))
                .transpose()
        })
        .await
    }
}

async fn insert_tokens_on(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    session_id: &str,
    tokens: &[(&str, OidcTokenKind, UnixSeconds)],
    now: UnixSeconds,
) -> Result<(), StoreError> {
    for (hash, kind, expires_at) in tokens {
        sqlx::query(
            "INSERT INTO oidc_tokens (token_hash, session_id, kind, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(*hash)
        .bind(session_id)
        .bind(kind.as_str())
        .bind(*expires_at)
        .bind(now)
        .execute(&mut **tx)
        .await
        .context("insert oidc token")?;
    }
    Ok(())
}
