//! The transaction that applies one payment notification: everything it writes, and the
//! changes it records for delivery after its commit.
//!
//! Its closing writes — entitlement, ledger lines, new state — wait in a [`Batch`] and go
//! to the database with its change record, in one round trip (see `store::batch`). Every
//! statement that runs on its own sends what waits first, so the transaction reads its own
//! writes as before.

use super::*;

impl PaymentTx {
    /// Binds the provider's reference to this intent; a reference already bound to another
    /// intent is a conflict.
    pub async fn bind_provider_ref(&mut self, provider_ref: &str) -> Result<(), StoreError> {
        self.flush().await?;
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
        self.flush().await?;
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

    /// Writes `entitlement` with the transaction's closing batch.
    pub fn insert_entitlement(&mut self, entitlement: &Entitlement) {
        push_entitlement(&mut self.pending, entitlement);
        self.granted = Some(entitlement.clone());
    }

    /// Sends the writes waiting in the closing batch, if any.
    async fn flush(&mut self) -> Result<Vec<AnyRow>, StoreError> {
        std::mem::take(&mut self.pending)
            .run(&mut self.tx, self.backend)
            .await
            .map_err(|error| entitlement_write_error(error, &["provider_ref"]))
    }

    /// Announces a confirmed tip with this payment's change: its room and the room's chat
    /// are told once the transaction has committed.
    pub fn announce_tip(&mut self, notice: TipNotice) {
        self.tip = Some(notice);
    }

    /// Revokes the intent's entitlement (a second revocation is ignored).
    pub async fn insert_revocation(
        &mut self,
        entitlement_id: &str,
        revocation: &Revocation,
    ) -> Result<(), StoreError> {
        self.flush().await?;
        if write_revocation(&mut *self.tx, entitlement_id, revocation).await? {
            self.revoked = read_entitlement(&mut self.tx, entitlement_id).await?;
        }
        Ok(())
    }

    /// Stores this payment's change — its new state, with the entitlement it granted or
    /// revoked — in its transaction, with the writes waiting in the closing batch. A
    /// provider reference bound to another intent fails here (`Conflict("provider_ref")`).
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
            tip: self.tip.take().map(Box::new),
        };
        push_change(&mut self.pending, &change, now)?;
        let rows = self.flush().await?;
        self.changes.push(recorded(&rows, change)?);
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
        self.flush().await?;
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

    /// Books `lines` with the transaction's closing batch, in one statement however many.
    pub fn insert_ledger(&mut self, context: &LedgerContext<'_>, lines: &[LedgerLine]) {
        if lines.is_empty() {
            return;
        }
        let batch = &mut self.pending;
        let rows: Vec<String> = lines
            .iter()
            .map(|line| {
                let values = [
                    batch.text(Some(&uuid::Uuid::now_v7().to_string())),
                    batch.text(Some(context.transaction_id)),
                    batch.text(Some(&self.intent.id)),
                    batch.text(Some(context.kind)),
                    batch.text(Some(&line.account)),
                    batch.text(context.performer_id),
                    batch.text(context.room_id),
                    batch.int(Some(line.amount_minor)),
                    batch.text(Some(context.currency)),
                    batch.int(Some(context.now)),
                ];
                format!("({})", values.join(", "))
            })
            .collect();
        batch.push(format!(
            "INSERT INTO ledger_entries (id, transaction_id, intent_id, kind, account, performer_id, \
             room_id, amount_minor, currency, created_at) VALUES {}",
            rows.join(", ")
        ));
    }

    /// The entries this intent's money was booked with (payment or tip), to reverse them.
    pub async fn receipt_lines(&mut self) -> Result<Vec<LedgerLine>, StoreError> {
        self.flush().await?;
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

    /// Moves the intent to `state` with the closing batch, recording the entitlement it
    /// granted and binding the provider's reference when given.
    pub fn set_state(
        &mut self,
        state: PaymentState,
        entitlement_id: Option<&str>,
        provider_ref: Option<&str>,
        now: UnixSeconds,
    ) {
        let batch = &mut self.pending;
        let (id, new_state) = (
            batch.text(Some(&self.intent.id)),
            batch.text(Some(state.as_str())),
        );
        let (entitlement, reference) = (batch.text(entitlement_id), batch.text(provider_ref));
        let updated_at = batch.int(Some(now));
        batch.push(format!(
            "UPDATE payment_intents SET state = {new_state}, \
             entitlement_id = COALESCE({entitlement}, entitlement_id), \
             provider_ref = COALESCE({reference}, provider_ref), updated_at = {updated_at} \
             WHERE id = {id}"
        ));
        self.intent.state = state;
        if let Some(provider_ref) = provider_ref {
            self.intent.provider_ref = Some(provider_ref.to_owned());
        }
    }

    /// Commits, handing back the changes to deliver.
    pub async fn commit(mut self) -> Result<Vec<RecordedChange>, StoreError> {
        self.flush().await?;
        self.tx.commit().await.context("commit payment")?;
        Ok(self.changes)
    }
}
