//! Payment intents, provider events (the dedupe record), performer terms and the ledger.
//!
//! A provider notification is applied inside one [`PaymentTx`]: the intent's row is locked
//! first (an UPDATE, which both backends serialise), the event id is claimed with
//! `ON CONFLICT DO NOTHING`, and the entitlement, ledger entries and new state are written
//! in the same transaction. Either all of it is durable or none of it is, so a retried
//! delivery after a crash or an outage finds exactly what it needs.

mod tx;

use anyhow::Context as _;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};

use super::batch::Batch;
use super::changes::{push_change, recorded, RecordedChange};
use super::entitlements::{
    entitlement_write_error, push_entitlement, read_entitlement, write_revocation,
};
use super::{
    classify_write_error, corrupt, int, opt_int, opt_text, text, Store, StoreError, WriteTurn,
};
use crate::clock::UnixSeconds;
use crate::domain::{
    Change, Entitlement, LedgerLine, Money, PaymentIntent, PaymentState, PerformerTerms,
    PurchaseKind, RevenueTotals, Revocation, TipNotice, TipperTotal,
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
    /// The entitlement this payment granted or revoked, for its `PaymentApplied` change.
    granted: Option<Entitlement>,
    revoked: Option<Entitlement>,
    /// A confirmed tip's notice, for the same change.
    tip: Option<TipNotice>,
    /// The closing writes, sent with the change record (see `tx`).
    pending: Batch,
    backend: super::Backend,
    /// Declared last so that it is dropped after the transaction ends: the next writer
    /// starts once this one has committed or rolled back.
    _turn: WriteTurn,
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
        let turn = self.write_turn().await;
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
            granted: None,
            revoked: None,
            tip: None,
            pending: Batch::default(),
            backend: self.backend,
            _turn: turn,
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

    /// The room's biggest tippers: confirmed tips (a reversed one no longer counts) summed
    /// per viewer and currency, largest first, at most `limit`.
    pub async fn room_top_tippers(
        &self,
        room_id: &str,
        limit: i64,
    ) -> Result<Vec<TipperTotal>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(
                "SELECT i.user_id, u.handle, u.display_name, i.currency, \
                 CAST(SUM(i.amount_minor) AS BIGINT) AS amount_minor, \
                 CAST(COUNT(*) AS BIGINT) AS tips \
                 FROM payment_intents i JOIN users u ON u.id = i.user_id \
                 WHERE i.room_id = $1 AND i.kind = $2 AND i.state = $3 \
                 GROUP BY i.user_id, u.handle, u.display_name, i.currency \
                 ORDER BY 5 DESC, 6 DESC, 2 LIMIT $4",
            )
            .bind(room_id)
            .bind(PurchaseKind::Tip.as_str())
            .bind(PaymentState::Accepted.as_str())
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .context("top tippers")?;
            rows.iter()
                .map(|row| {
                    Ok(TipperTotal {
                        user_id: text(row, "user_id")?,
                        handle: text(row, "handle")?,
                        display_name: text(row, "display_name")?,
                        currency: text(row, "currency")?,
                        amount_minor: int(row, "amount_minor")?,
                        tips: int(row, "tips")?,
                    })
                })
                .collect()
        })
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
