//! Which Mastodon account is a user's: learned after they sign in to Mastodon through
//! roomkey's OpenID Provider, used by the ban's account action.

use anyhow::Context as _;

use super::{text, Store, StoreError};
use crate::clock::UnixSeconds;
use crate::telemetry::metrics::StoreOp;

impl Store {
    /// The id of the Mastodon account linked to `user_id`, if one is.
    pub async fn find_mastodon_account(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query("SELECT account_id FROM mastodon_accounts WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await
                .context("find mastodon account")?;
            row.map(|row| text(&row, "account_id")).transpose()
        })
        .await
    }

    /// Links `account_id` to `user_id` (replacing an earlier link).
    pub async fn upsert_mastodon_account(
        &self,
        user_id: &str,
        account_id: &str,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            sqlx::query(
                "INSERT INTO mastodon_accounts (user_id, account_id, linked_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (user_id) DO UPDATE \
                 SET account_id = excluded.account_id, linked_at = excluded.linked_at",
            )
            .bind(user_id)
            .bind(account_id)
            .bind(now)
            .execute(&self.pool)
            .await
            .context("link mastodon account")?;
            Ok(())
        })
        .await
    }
}
