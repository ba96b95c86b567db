//! Payment intents, provider events (the dedupe record), performer terms and the ledger.
//!
//! A provider notification is applied inside one [`PaymentTx`]: the intent's row is locked
//! first (an UPDATE, which both backends serialise), the event id is claimed with
//! `ON CONFLICT DO NOTHING`, and the entitlement, ledger entries and new state are written
//! in the same transaction. Either all of it is durable or none of it is, so a retried
//! delivery after a crash or an outage finds exactly what it needs.

use anyhow::Context as _;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

use super::changes::{record_change, RecordedChange};
use super::entitlements::{read_entitlement, write_entitlement, write_revocation};
use super::{classify_write_error, corrupt, int, opt_int, opt_text, text, Store, StoreError};
use crate::clock::UnixSeconds;
use crate::domain::{
    Change, Entitlement, LedgerLine, Money, PaymentIntent, PaymentState, PerformerTerms,
    PurchaseKind, RevenueTotals, Revocation,
};
use crate::telemetry::metrics::StoreOp;

const INTENT_COLUMNS: &str =
    "id, user_id, kind, room_id, performer_id, feature, amount_minor, currency, provider, \
     provider_ref, state, entitlement_id, created_at, updated_at";

fn intent_from_row(row: &AnyRow) -> Result<PaymentIntent, StoreError> {
    let kind = text(row, "kind")?;
    let state = text(row, "state")?;
    Ok(PaymentIntent {
        id: text(row, "id")?,
        user_id: text(row, "user_id")?,
        kind: PurchaseKind::parse(&kind).ok_or_else(|| corrupt("purchase kind", &kind))?,
        room_id: opt_text(row, "room_id")?,
        performer_id: opt_text(row, "performer_id")?,
        feature: opt_text(row, "feature")?,
        amount_minor: int(row, "amount_minor")?,
        currency: text(row, "currency")?,
        provider: text(row, "provider")?,
        provider_ref: opt_text(row, "provider_ref")?,
        state: PaymentState::parse(&state).ok_or_else(|| corrupt("payment state", &state))?,
        entitlement_id: opt_text(row, "entitlement_id")?,
        created_at: int(row, "created_at")?,
        updated_at: int(row, "updated_at")?,
    })
}

/// What a ledger transaction is about.
pub struct LedgerContext<'a> {
    pub transaction_id: &'a str,
    pub kind: &'static str,
    pub performer_id: Option<&'a str>,
    pub room_id: Option<&'a str>,
    pub currency: &'a str,
    pub now: UnixSeconds,
}

/// A notification being applied; dropping it without [`PaymentTx::commit`] rolls back.
pub struct PaymentTx {
    tx: Transaction<'static, Any>,
    pub intent: PaymentIntent,
    /// What this payment changed, stored in its transaction, delivered after its commit.
    changes: Vec<RecordedChange>,
}

impl Store {
    pub async fn insert_intent(&self, intent: &PaymentIntent) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            sqlx::query(&format!(
                "INSERT INTO payment_intents ({INTENT_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
            ))
            .bind(&intent.id)
            .bind(&intent.user_id)
            .bind(intent.kind.as_str())
            .bind(intent.room_id.as_deref())
            .bind(intent.performer_id.as_deref())
            .bind(intent.feature.as_deref())
            .bind(intent.amount_minor)
            .bind(&intent.currency)
            .bind(&intent.provider)
            .bind(intent.provider_ref.as_deref())
            .bind(intent.state.as_str())
            .bind(intent.entitlement_id.as_deref())
            .bind(intent.created_at)
            .bind(intent.updated_at)
            .execute(&self.pool)
            .await
            .map_err(|e| classify_write_error(e, &["provider_ref"]))?;
            Ok(())
        })
        .await
    }

    pub async fn find_intent(&self, id: &str) -> Result<Option<PaymentIntent>, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query(&format!(
                "SELECT {INTENT_COLUMNS} FROM payment_intents WHERE id = $1"
            ))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .context("find intent")?;
            row.as_ref().map(intent_from_row).transpose()
        })
        .await
    }

    /// The intent a provider reference was bound to.
    pub async fn find_intent_by_provider_ref(
        &self,
        provider: &str,
        provider_ref: &str,
    ) -> Result<Option<PaymentIntent>, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query(&format!(
                "SELECT {INTENT_COLUMNS} FROM payment_intents WHERE provider = $1 AND provider_ref = $2"
            ))
            .bind(provider)
            .bind(provider_ref)
            .fetch_optional(&self.pool)
            .await
            .context("find intent by provider reference")?;
            row.as_ref().map(intent_from_row).transpose()
        })
        .await
    }

    /// In one round trip: the intent already bound to `provider_ref`, and the intent whose
    /// id is `our_reference` (the same one, another, or none).
    pub async fn find_intents_for_notification(
        &self,
        provider: &str,
        provider_ref: &str,
        our_reference: Option<&str>,
    ) -> Result<(Option<PaymentIntent>, Option<PaymentIntent>), StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(&format!(
                "SELECT {INTENT_COLUMNS} FROM payment_intents \
                 WHERE provider = $1 AND provider_ref = $2 \
                 UNION SELECT {INTENT_COLUMNS} FROM payment_intents WHERE id = $3"
            ))
            .bind(provider)
            .bind(provider_ref)
            .bind(our_reference)
            .fetch_all(&self.pool)
            .await
            .context("find intents for a notification")?;
            let mut by_ref = None;
            let mut by_id = None;
            for row in &rows {
                let intent = intent_from_row(row)?;
                if Some(intent.id.as_str()) == our_reference {
                    by_id = Some(intent.clone());
                }
                if intent.provider == provider
                    && intent.provider_ref.as_deref() == Some(provider_ref)
                {
                    by_ref = Some(intent);
                }
            }
            Ok((by_ref, by_id))
        })
        .await
    }

    /// Payments of `provider` still pending (bound to a provider reference) whose last change
    /// lies between `changed_after` and `changed_before`, oldest first.
    pub async fn find_stale_pending_intents(
        &self,
        provider: &str,
        changed_after: UnixSeconds,
        changed_before: UnixSeconds,
        limit: i64,
    ) -> Result<Vec<PaymentIntent>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(&format!(
                "SELECT {INTENT_COLUMNS} FROM payment_intents \
                 WHERE state = 'pending' AND provider = $1 AND provider_ref IS NOT NULL \
                 AND updated_at > $2 AND updated_at <= $3 \
                 ORDER BY updated_at LIMIT $4"
            ))
            .bind(provider)
            .bind(changed_after)
            .bind(changed_before)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .context("find stale pending intents")?;
            rows.iter().map(intent_from_row).collect()
        })
        .await
    }

    /// Opens the transaction that applies one notification to `intent_id`, holding the
    /// intent's row lock. `None` if there is no such intent.
    pub async fn begin_payment(&self, intent_id: &str) -> Result<Option<PaymentTx>, StoreError> {
        let mut tx = self.pool.begin().await.context("begin payment")?;
        // The first statement writes, so SQLite takes its write lock before reading and
        // PostgreSQL locks the row: concurrent notifications for one intent queue here. It
        // changes no indexed column, so PostgreSQL can update in place (a HOT update).
        let row = sqlx::query(&format!(
            "UPDATE payment_intents SET state = state WHERE id = $1 RETURNING {INTENT_COLUMNS}"
        ))
        .bind(intent_id)
        .fetch_optional(&mut *tx)
        .await
        .context("lock intent")?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(PaymentTx {
            intent: intent_from_row(&row)?,
            tx,
            changes: Vec::new(),
        }))
    }

    /// What applying a payment needs besides the intent, in one round trip: whether its
    /// room exists and when it ends, and the performer's own revenue share if they have one.
    pub async fn find_purchase_facts(
        &self,
        room_id: Option<&str>,
        performer_id: Option<&str>,
    ) -> Result<PurchaseFacts, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query(
                "SELECT (SELECT COUNT(*) FROM rooms WHERE id = $1) AS rooms_found, \
                 (SELECT ends_at FROM rooms WHERE id = $1) AS room_ends_at, \
                 (SELECT performer_share_bps FROM performer_terms WHERE performer_id = $2) AS share_bps",
            )
            .bind(room_id)
            .bind(performer_id)
            .fetch_one(&self.pool)
            .await
            .context("find purchase facts")?;
            Ok(PurchaseFacts {
                room_exists: int(&row, "rooms_found")? > 0,
                room_ends_at: opt_int(&row, "room_ends_at")?,
                performer_share_bps: opt_int(&row, "share_bps")?,
            })
        })
        .await
    }

    pub async fn find_performer_terms(
        &self,
        performer_id: &str,
    ) -> Result<Option<PerformerTerms>, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query(
                "SELECT performer_id, performer_share_bps, subscription_price_minor, subscription_currency, updated_at \
                 FROM performer_terms WHERE performer_id = $1",
            )
            .bind(performer_id)
            .fetch_optional(&self.pool)
            .await
            .context("find performer terms")?;
            row.as_ref().map(terms_from_row).transpose()
        })
        .await
    }

    pub async fn upsert_performer_terms(&self, terms: &PerformerTerms) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            sqlx::query(
                "INSERT INTO performer_terms (performer_id, performer_share_bps, subscription_price_minor, \
                 subscription_currency, updated_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (performer_id) DO UPDATE SET performer_share_bps = excluded.performer_share_bps, \
                 subscription_price_minor = excluded.subscription_price_minor, \
                 subscription_currency = excluded.subscription_currency, updated_at = excluded.updated_at",
            )
            .bind(&terms.performer_id)
            .bind(terms.performer_share_bps)
            .bind(terms.subscription_price.as_ref().map(|p| p.amount_minor))
            .bind(terms.subscription_price.as_ref().map(|p| p.currency.clone()))
            .bind(terms.updated_at)
            .execute(&self.pool)
            .await
            .map_err(|e| classify_write_error(e, &[]))?;
            Ok(())
        })
        .await
    }

    /// Revenue per currency of one performer's ledger transactions.
    pub async fn performer_revenue(
        &self,
        performer_id: &str,
    ) -> Result<Vec<RevenueTotals>, StoreError> {
        self.revenue(
            "performer_id",
            performer_id,
            UnixSeconds::MIN,
            UnixSeconds::MAX,
        )
        .await
    }

    /// The same, for entries booked in `[from, until)`: a refund counts when it happened.
    pub async fn performer_revenue_between(
        &self,
        performer_id: &str,
        from: UnixSeconds,
        until: UnixSeconds,
    ) -> Result<Vec<RevenueTotals>, StoreError> {
        self.revenue("performer_id", performer_id, from, until)
            .await
    }

    /// Revenue per currency of one room's ledger transactions.
    pub async fn room_revenue(&self, room_id: &str) -> Result<Vec<RevenueTotals>, StoreError> {
        self.revenue("room_id", room_id, UnixSeconds::MIN, UnixSeconds::MAX)
            .await
    }

    async fn revenue(
        &self,
        column: &'static str,
        id: &str,
        from: UnixSeconds,
        until: UnixSeconds,
    ) -> Result<Vec<RevenueTotals>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(&format!(
                "SELECT currency, \
                 CAST(COALESCE(SUM(CASE WHEN account LIKE 'provider:%' AND kind IN ('payment', 'tip') THEN -amount_minor ELSE 0 END), 0) AS BIGINT) AS gross, \
                 CAST(COALESCE(SUM(CASE WHEN account LIKE 'performer:%' THEN amount_minor ELSE 0 END), 0) AS BIGINT) AS performer_share, \
                 CAST(COALESCE(SUM(CASE WHEN account = 'platform' THEN amount_minor ELSE 0 END), 0) AS BIGINT) AS platform_share, \
                 CAST(COALESCE(SUM(CASE WHEN account LIKE 'provider:%' AND kind IN ('refund', 'chargeback') THEN amount_minor ELSE 0 END), 0) AS BIGINT) AS refunded, \
                 CAST(COALESCE(SUM(CASE WHEN account LIKE 'provider:%' AND kind = 'tip' THEN -amount_minor ELSE 0 END), 0) AS BIGINT) AS tips \
                 FROM ledger_entries WHERE {column} = $1 AND created_at >= $2 AND created_at < $3 \
                 GROUP BY currency ORDER BY currency"
            ))
            .bind(id)
            .bind(from)
            .bind(until)
            .fetch_all(&self.pool)
            .await
            .context("revenue")?;
            rows.iter()
                .map(|row| {
                    Ok(RevenueTotals {
                        currency: text(row, "currency")?,
                        gross_minor: int(row, "gross")?,
                        performer_share_minor: int(row, "performer_share")?,
                        platform_share_minor: int(row, "platform_share")?,
                        refunded_minor: int(row, "refunded")?,
                        tips_minor: int(row, "tips")?,
                    })
                })
                .collect()
        })
        .await
    }

    /// Sum of every ledger entry per currency: zero when the books balance.
    pub async fn ledger_imbalance(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT currency, CAST(SUM(amount_minor) AS BIGINT) AS total FROM ledger_entries GROUP BY currency ORDER BY currency",
        )
        .fetch_all(&self.pool)
        .await
        .context("ledger balance")?;
        rows.iter()
            .map(|row| Ok((text(row, "currency")?, int(row, "total")?)))
            .collect()
    }
}

fn terms_from_row(row: &AnyRow) -> Result<PerformerTerms, StoreError> {
    let price = match (
        opt_int(row, "subscription_price_minor")?,
        opt_text(row, "subscription_currency")?,
    ) {
        (Some(amount_minor), Some(currency)) => Some(Money {
            amount_minor,
            currency,
        }),
        _ => None,
    };
    Ok(PerformerTerms {
        performer_id: text(row, "performer_id")?,
        performer_share_bps: int(row, "performer_share_bps")?,
        subscription_price: price,
        updated_at: int(row, "updated_at")?,
    })
}

/// See [`Store::find_purchase_facts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurchaseFacts {
    pub room_exists: bool,
    pub room_ends_at: Option<UnixSeconds>,
    pub performer_share_bps: Option<i64>,
}

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
        let change = Change::EntitlementGranted {
            entitlement: entitlement.clone(),
        };
        self.record(change, entitlement.created_at).await
    }

    /// Revokes the intent's entitlement; `public_reason` is what the user is told.
    pub async fn insert_revocation(
        &mut self,
        entitlement_id: &str,
        revocation: &Revocation,
        public_reason: &str,
    ) -> Result<(), StoreError> {
        if !write_revocation(&mut *self.tx, entitlement_id, revocation).await? {
            return Ok(());
        }
        if let Some(entitlement) = read_entitlement(&mut self.tx, entitlement_id).await? {
            let change = Change::EntitlementRevoked {
                entitlement,
                reason: public_reason.to_owned(),
            };
            self.record(change, revocation.revoked_at).await?;
        }
        Ok(())
    }

    /// Stores a change of this payment's in its transaction.
    pub async fn record(&mut self, change: Change, now: UnixSeconds) -> Result<(), StoreError> {
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
