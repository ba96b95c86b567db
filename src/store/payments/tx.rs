//! The transaction that applies one payment notification: everything it writes, and the
//! changes it records for delivery after its commit.

use super::*;

impl PaymentTx {
    /// Binds the provider's reference to this intent; a reference already bound to another
    /// intent is a conflict.
    pub async fn bind_provider_ref(&mut self, provider_ref: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE payment_intents SET provider_ref = $2 WHERE id = $1")
            .bind(&self.intent.id)
            .bind(provider_ref)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| classify_write_error(e, &["provider_ref"]))?;
        self.intent.provider_ref = Some(provider_ref.to_owned());
        Ok(())
    }

    /// Claims `(provider, event_id)`; `false` means it was delivered before. `actor` names
    /// who recorded it when a person did (manual payments, e-mailed chargebacks).
    pub async fn claim_event(
        &mut self,
        event_id: &str,
        state: &str,
        outcome: &str,
        actor: Option<&str>,
        now: UnixSeconds,
    ) -> Result<bool, StoreError> {
        let claimed = sqlx::query(
            "INSERT INTO payment_events (provider, event_id, intent_id, state, outcome, actor, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (provider, event_id) DO NOTHING",
        )
        .bind(&self.intent.provider)
        .bind(event_id)
        .bind(&self.intent.id)
        .bind(state)
        .bind(outcome)
        .bind(actor)
        .bind(now)
        .execute(&mut *self.tx)
        .await
        .context("claim event")?;
        Ok(claimed.rows_affected() == 1)
    }

    pub async fn insert_entitlement(
        &mut self,
        entitlement: &Entitlement,
    ) -> Result<(), StoreError> {
        write_entitlement(&mut *self.tx, entitlement).await?;
        self.granted = Some(entitlement.clone());
        Ok(())
    }

    /// Revokes the intent's entitlement (a second revocation is ignored).
    pub async fn insert_revocation(
        &mut self,
        entitlement_id: &str,
        revocation: &Revocation,
    ) -> Result<(), StoreError> {
        if write_revocation(&mut *self.tx, entitlement_id, revocation).await? {
            self.revoked = read_entitlement(&mut self.tx, entitlement_id).await?;
        }
        Ok(())
    }

    /// Stores this payment's change — its new state, with the entitlement it granted or
    /// revoked — in its transaction.
    pub async fn record_applied(
        &mut self,
        state: &str,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        let change = Change::PaymentApplied {
            payment_id: self.intent.id.clone(),
            user_id: self.intent.user_id.clone(),
            state: state.to_owned(),
            granted: self.granted.take().map(Box::new),
            revoked: self.revoked.take().map(Box::new),
        };
        let recorded = record_change(&mut self.tx, change, now).await?;
        self.changes.push(recorded);
        Ok(())
    }

    /// The latest end among `user_id`'s live entitlements with this scope (`None` if none, or
    /// one is lifetime), so a renewal starts where the current period ends.
    pub async fn latest_entitlement_end(
        &mut self,
        user_id: &str,
        scope_kind: &str,
        scope_ref: &str,
        now: UnixSeconds,
    ) -> Result<Option<UnixSeconds>, StoreError> {
        let row = sqlx::query(
            "SELECT MAX(e.valid_until) AS latest FROM entitlements e \
             LEFT JOIN entitlement_revocations r ON r.entitlement_id = e.id \
             WHERE e.user_id = $1 AND e.scope_kind = $2 AND e.scope_ref = $3 AND r.entitlement_id IS NULL \
             AND e.valid_until > $4",
        )
        .bind(user_id)
        .bind(scope_kind)
        .bind(scope_ref)
        .bind(now)
        .fetch_one(&mut *self.tx)
        .await
        .context("latest entitlement end")?;
        opt_int(&row, "latest")
    }

    pub async fn insert_ledger(
        &mut self,
        context: &LedgerContext<'_>,
        lines: &[LedgerLine],
    ) -> Result<(), StoreError> {
        if lines.is_empty() {
            return Ok(());
        }
        // One statement for the whole balanced set: one round trip however many lines.
        let mut sql = String::from(
            "INSERT INTO ledger_entries (id, transaction_id, intent_id, kind, account, performer_id, room_id, \
             amount_minor, currency, created_at) VALUES ",
        );
        for (n, _) in lines.iter().enumerate() {
            let p = n * 10;
            if n > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5,
                p + 6,
                p + 7,
                p + 8,
                p + 9,
                p + 10
            ));
        }
        let mut query = sqlx::query(&sql);
        for line in lines {
            query = query
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(context.transaction_id)
                .bind(&self.intent.id)
                .bind(context.kind)
                .bind(&line.account)
                .bind(context.performer_id)
                .bind(context.room_id)
                .bind(line.amount_minor)
                .bind(context.currency)
                .bind(context.now);
        }
        query
            .execute(&mut *self.tx)
            .await
            .context("insert ledger entries")?;
        Ok(())
    }

    /// The entries this intent's money was booked with (payment or tip), to reverse them.
    pub async fn receipt_lines(&mut self) -> Result<Vec<LedgerLine>, StoreError> {
        let rows = sqlx::query(
            "SELECT account, amount_minor FROM ledger_entries WHERE intent_id = $1 AND kind IN ('payment', 'tip') ORDER BY id",
        )
        .bind(&self.intent.id)
        .fetch_all(&mut *self.tx)
        .await
        .context("read receipt")?;
        rows.iter()
            .map(|row| {
                Ok(LedgerLine {
                    account: text(row, "account")?,
                    amount_minor: int(row, "amount_minor")?,
                })
            })
            .collect()
    }

    /// Moves the intent to `state`, recording the entitlement it granted and binding the
    /// provider's reference when given (a reference bound to another intent is a conflict).
    pub async fn set_state(
        &mut self,
        state: PaymentState,
        entitlement_id: Option<&str>,
        provider_ref: Option<&str>,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE payment_intents SET state = $2, entitlement_id = COALESCE($3, entitlement_id), \
             provider_ref = COALESCE($5, provider_ref), updated_at = $4 WHERE id = $1",
        )
        .bind(&self.intent.id)
        .bind(state.as_str())
        .bind(entitlement_id)
        .bind(now)
        .bind(provider_ref)
        .execute(&mut *self.tx)
        .await
        .map_err(|e| classify_write_error(e, &["provider_ref"]))?;
        self.intent.state = state;
        if let Some(provider_ref) = provider_ref {
            self.intent.provider_ref = Some(provider_ref.to_owned());
        }
        Ok(())
    }

    /// Commits, handing back the changes to deliver.
    pub async fn commit(self) -> Result<Vec<RecordedChange>, StoreError> {
        self.tx.commit().await.context("commit payment")?;
        Ok(self.changes)
    }
}
