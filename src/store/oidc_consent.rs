//! Remembered consent: which scopes a user approved for a client, under which of their
//! session generations.

use anyhow::Context as _;

use super::{int, text, Store, StoreError};
use crate::clock::UnixSeconds;
use crate::telemetry::metrics::StoreOp;

/// An approval as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcConsent {
    /// Space-separated scopes.
    pub scope: String,
    pub session_generation: i64,
}

impl Store {
    pub async fn find_oidc_consent(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<Option<OidcConsent>, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query(
                "SELECT scope, session_generation FROM oidc_consents \
                 WHERE user_id = $1 AND client_id = $2",
            )
            .bind(user_id)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .context("find oidc consent")?;
            row.map(|row| {
                Ok(OidcConsent {
                    scope: text(&row, "scope")?,
                    session_generation: int(&row, "session_generation")?,
                })
            })
            .transpose()
        })
        .await
    }

    /// Records (or replaces) the user's approval of `client_id`.
    pub async fn upsert_oidc_consent(
        &self,
        user_id: &str,
        client_id: &str,
        consent: &OidcConsent,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            sqlx::query(
                "INSERT INTO oidc_consents \
                 (user_id, client_id, scope, session_generation, granted_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, \
                 session_generation = excluded.session_generation, \
                 granted_at = excluded.granted_at",
            )
            .bind(user_id)
            .bind(client_id)
            .bind(&consent.scope)
            .bind(consent.session_generation)
            .bind(now)
            .execute(&self.pool)
            .await
            .context("upsert oidc consent")?;
            Ok(())
        })
        .await
    }

    /// Forgets the user's approval of `client_id` (the client revoked their grant).
    pub async fn delete_oidc_consent(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            sqlx::query("DELETE FROM oidc_consents WHERE user_id = $1 AND client_id = $2")
                .bind(user_id)
                .bind(client_id)
                .execute(&self.pool)
                .await
                .context("delete oidc consent")?;
            Ok(())
        })
        .await
    }
}
