//! Private calls: performers' per-minute prices, the calls, and their charged minutes.
//!
//! A minute is charged by one transaction that first inserts the slot's row (nothing
//! happens if it is there: a replay), then takes the viewer's balance row, checks the
//! credit still covers the minute, books the split and stores the change. Two charges of
//! one viewer therefore run one after the other on both backends, and one minute of credit
//! is never spent twice.

use std::collections::BTreeSet;

use anyhow::Context as _;
use sqlx::any::AnyRow;

use super::changes::{record_change, RecordedChange};
use super::entitlements::write_entitlement;
use super::rooms::{insert_room_on, update_room_on};
use super::{classify_write_error, corrupt, int, opt_int, opt_text, text, Store, StoreError};
use crate::clock::UnixSeconds;
use crate::domain::calls::CALL_MINUTES_CREDIT;
use crate::domain::{Call, CallState, CallTerms, Change, Entitlement, Room};
use crate::telemetry::metrics::StoreOp;

const CALL_COLUMNS: &str = "id, viewer_id, performer_id, room_id, state, price_minor, currency, \
     performer_share_bps, requested_at, accepted_at, ended_at, end_reason";

/// Minutes of call credit granted to user `$1` and in force at `$2`.
const GRANTED_MINUTES: &str = "SELECT CAST(COALESCE(SUM(e.quantity), 0) AS BIGINT) \
     FROM entitlements e LEFT JOIN entitlement_revocations r ON r.entitlement_id = e.id \
     WHERE e.user_id = $1 AND e.scope_kind = 'credit' AND e.scope_ref = $3 \
     AND r.entitlement_id IS NULL AND e.valid_from <= $2 \
     AND (e.valid_until IS NULL OR e.valid_until > $2)";

fn call_from_row(row: &AnyRow) -> Result<Call, StoreError> {
    let state = text(row, "state")?;
    Ok(Call {
        id: text(row, "id")?,
        viewer_id: text(row, "viewer_id")?,
        performer_id: text(row, "performer_id")?,
        room_id: opt_text(row, "room_id")?,
        state: CallState::parse(&state).ok_or_else(|| corrupt("call state", &state))?,
        price_minor: int(row, "price_minor")?,
        currency: text(row, "currency")?,
        performer_share_bps: int(row, "performer_share_bps")?,
        requested_at: int(row, "requested_at")?,
        accepted_at: opt_int(row, "accepted_at")?,
        ended_at: opt_int(row, "ended_at")?,
        end_reason: opt_text(row, "end_reason")?,
    })
}

/// What metering a viewer in a call room needs: the grid's anchor, whether the slot of
/// `now` is charged, and the minutes of credit left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterFacts {
    pub anchor: UnixSeconds,
    pub current_slot_charged: bool,
    pub remaining_minutes: i64,
}

/// How an attempt to charge one slot ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotCharge {
    Charged(Box<RecordedChange>),
    /// Charged before (a replayed or late report, or another instance's worker).
    AlreadyCharged,
    /// The viewer's credit is used up; nothing was written.
    NoCredit,
}

/// A call's charged minutes and what they earned, in the call's currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallTotals {
    pub minutes: i64,
    pub performer_minor: i64,
    pub platform_minor: i64,
}

impl Store {
    pub async fn upsert_call_terms(&self, terms: &CallTerms) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            sqlx::query(
                "INSERT INTO call_terms (performer_id, price_minor, currency, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (performer_id) DO UPDATE SET \
                 price_minor = excluded.price_minor, currency = excluded.currency, \
                 updated_at = excluded.updated_at",
            )
            .bind(&terms.performer_id)
            .bind(terms.price_minor)
            .bind(&terms.currency)
            .bind(terms.updated_at)
            .execute(&self.pool)
            .await
            .map_err(|e| classify_write_error(e, &[]))?;
            Ok(())
        })
        .await
    }

    pub async fn find_call_terms(
        &self,
        performer_id: &str,
    ) -> Result<Option<CallTerms>, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query(
                "SELECT performer_id, price_minor, currency, updated_at FROM call_terms \
                 WHERE performer_id = $1",
            )
            .bind(performer_id)
            .fetch_optional(&self.pool)
            .await
            .context("find call terms")?;
            row.map(|row| {
                Ok(CallTerms {
                    performer_id: text(&row, "performer_id")?,
                    price_minor: int(&row, "price_minor")?,
                    currency: text(&row, "currency")?,
                    updated_at: int(&row, "updated_at")?,
                })
            })
            .transpose()
        })
        .await
    }

    pub async fn insert_call(&self, call: &Call) -> Result<(), StoreError> {
        self.timed(StoreOp::Write, async {
            sqlx::query(&format!(
                "INSERT INTO calls ({CALL_COLUMNS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ))
            .bind(&call.id)
            .bind(&call.viewer_id)
            .bind(&call.performer_id)
            .bind(call.room_id.as_deref())
            .bind(call.state.as_str())
            .bind(call.price_minor)
            .bind(&call.currency)
            .bind(call.performer_share_bps)
            .bind(call.requested_at)
            .bind(call.accepted_at)
            .bind(call.ended_at)
            .bind(call.end_reason.as_deref())
            .execute(&self.pool)
            .await
            .map_err(|e| classify_write_error(e, &[]))?;
            Ok(())
        })
        .await
    }

    pub async fn find_call(&self, id: &str) -> Result<Option<Call>, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query(&format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .context("find call")?;
            row.as_ref().map(call_from_row).transpose()
        })
        .await
    }

    /// Calls to meter: those under way, and those that ended within `since` (a report of
    /// their last minutes may still arrive).
    pub async fn calls_to_meter(&self, since: UnixSeconds) -> Result<Vec<Call>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(&format!(
                "SELECT {CALL_COLUMNS} FROM calls WHERE state = 'accepted' \
                 OR (state = 'ended' AND accepted_at IS NOT NULL AND ended_at >= $1) ORDER BY id"
            ))
            .bind(since)
            .fetch_all(&self.pool)
            .await
            .context("calls to meter")?;
            rows.iter().map(call_from_row).collect()
        })
        .await
    }

    /// Accepts a requested call: its room, the viewer's invitation into it and the call's
    /// new state go in one transaction with their changes. `None` if the call was not
    /// waiting for an answer.
    pub async fn accept_call(
        &self,
        call_id: &str,
        room: &Room,
        invitation: &Entitlement,
        now: UnixSeconds,
    ) -> Result<Option<(Call, Vec<RecordedChange>)>, StoreError> {
        self.timed(StoreOp::Write, async {
            let mut tx = self.pool.begin().await.context("begin")?;
            let room = insert_room_on(&mut tx, room).await?;
            let row = sqlx::query(&format!(
                "UPDATE calls SET state = 'accepted', room_id = $1, accepted_at = $2 \
                 WHERE id = $3 AND state = 'requested' RETURNING {CALL_COLUMNS}"
            ))
            .bind(&room.id)
            .bind(now)
            .bind(call_id)
            .fetch_optional(&mut *tx)
            .await
            .context("accept call")?;
            let Some(row) = row else {
                return Ok(None);
            };
            let call = call_from_row(&row)?;
            write_entitlement(&mut tx, invitation).await?;
            let created = record_change(&mut tx, Change::RoomCreated { room }, now).await?;
            let granted = Change::EntitlementGranted {
                entitlement: invitation.clone(),
            };
            let granted = record_change(&mut tx, granted, now).await?;
            tx.commit().await.context("commit")?;
            Ok(Some((call, vec![created, granted])))
        })
        .await
    }

    /// Moves a call from one of `from` to `to` (declined or ended), and ends its room if
    /// it has one. `None` if the call was in none of those states.
    pub async fn close_call(
        &self,
        call_id: &str,
        from: &[CallState],
        to: CallState,
        reason: &str,
        now: UnixSeconds,
    ) -> Result<Option<(Call, Option<RecordedChange>)>, StoreError> {
        self.timed(StoreOp::Write, async {
            let mut tx = self.pool.begin().await.context("begin")?;
            let row = sqlx::query(&format!(
                "UPDATE calls SET state = $1, ended_at = $2, end_reason = $3 \
                 WHERE id = $4 AND state IN ($5, $6) RETURNING {CALL_COLUMNS}"
            ))
            .bind(to.as_str())
            .bind(now)
            .bind(reason)
            .bind(call_id)
            .bind(from.first().map(|s| s.as_str()))
            .bind(from.last().map(|s| s.as_str()))
            .fetch_optional(&mut *tx)
            .await
            .context("close call")?;
            let Some(row) = row else {
                return Ok(None);
            };
            let call = call_from_row(&row)?;
            let mut change = None;
            if let Some(room_id) = &call.room_id {
                let room = sqlx::query(&format!(
                    "SELECT {} FROM rooms WHERE id = $1",
                    super::rooms::ROOM_COLUMNS
                ))
                .bind(room_id)
                .fetch_one(&mut *tx)
                .await
                .context("read call room")?;
                let mut room = super::rooms::room_from_row(&room)?;
                room.ends_at = Some(now);
                room.updated_at = now;
                if let Some(room) = update_room_on(&mut tx, &room).await? {
                    let ended = Change::RoomEnded {
                        room,
                        reason: reason.to_owned(),
                    };
                    change = Some(record_change(&mut tx, ended, now).await?);
                }
            }
            tx.commit().await.context("commit")?;
            Ok(Some((call, change)))
        })
        .await
    }

    /// Minutes of call credit the user has left at `now`.
    pub async fn call_credit_left(
        &self,
        user_id: &str,
        now: UnixSeconds,
    ) -> Result<i64, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query(&format!(
                "SELECT ({GRANTED_MINUTES}) - COALESCE((SELECT debited_minutes FROM call_balances \
                 WHERE user_id = $1), 0) AS remaining"
            ))
            .bind(user_id)
            .bind(now)
            .bind(CALL_MINUTES_CREDIT)
            .fetch_one(&self.pool)
            .await
            .context("call credit left")?;
            Ok(int(&row, "remaining")?.max(0))
        })
        .await
    }

    /// The metering facts for `user_id` in call room `room_id` at `now`; `None` when the
    /// user is not the viewer of a call under way there.
    pub async fn call_meter(
        &self,
        room_id: &str,
        user_id: &str,
        now: UnixSeconds,
    ) -> Result<Option<MeterFacts>, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query(&format!(
                "SELECT c.id, c.accepted_at, \
                 ({GRANTED_MINUTES}) - COALESCE((SELECT debited_minutes FROM call_balances \
                 WHERE user_id = $1), 0) AS remaining \
                 FROM calls c WHERE c.room_id = $4 AND c.viewer_id = $1 AND c.state = 'accepted'"
            ))
            .bind(user_id)
            .bind(now)
            .bind(CALL_MINUTES_CREDIT)
            .bind(room_id)
            .fetch_optional(&self.pool)
            .await
            .context("call meter")?;
            let Some(row) = row else {
                return Ok(None);
            };
            let anchor = opt_int(&row, "accepted_at")?.unwrap_or(now);
            let slot = crate::domain::calls::slot_of(anchor, now);
            let charged =
                sqlx::query("SELECT slot FROM call_minutes WHERE call_id = $1 AND slot = $2")
                    .bind(text(&row, "id")?)
                    .bind(slot)
                    .fetch_optional(&self.pool)
                    .await
                    .context("call meter slot")?;
            Ok(Some(MeterFacts {
                anchor,
                current_slot_charged: charged.is_some(),
                remaining_minutes: int(&row, "remaining")?.max(0),
            }))
        })
        .await
    }

    /// The viewer's stays in the call's room, as `(joined_at, left_at)`.
    pub async fn call_stays(
        &self,
        call: &Call,
    ) -> Result<Vec<(UnixSeconds, Option<UnixSeconds>)>, StoreError> {
        let Some(room_id) = &call.room_id else {
            return Ok(Vec::new());
        };
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(
                "SELECT joined_at, left_at FROM attendance WHERE room_id = $1 AND user_id = $2 \
                 ORDER BY joined_at",
            )
            .bind(room_id)
            .bind(&call.viewer_id)
            .fetch_all(&self.pool)
            .await
            .context("call stays")?;
            rows.iter()
                .map(|row| Ok((int(row, "joined_at")?, opt_int(row, "left_at")?)))
                .collect()
        })
        .await
    }

    /// Whether `user_id` has an open stay in `room_id`, and when they last left it.
    pub async fn presence_in(
        &self,
        room_id: &str,
        user_id: &str,
    ) -> Result<(bool, Option<UnixSeconds>), StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query(
                "SELECT COUNT(*) - COUNT(left_at) AS open, MAX(left_at) AS last_left \
                 FROM attendance WHERE room_id = $1 AND user_id = $2",
            )
            .bind(room_id)
            .bind(user_id)
            .fetch_one(&self.pool)
            .await
            .context("presence in room")?;
            Ok((int(&row, "open")? > 0, opt_int(&row, "last_left")?))
        })
        .await
    }

    pub async fn charged_slots(&self, call_id: &str) -> Result<BTreeSet<i64>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query("SELECT slot FROM call_minutes WHERE call_id = $1")
                .bind(call_id)
                .fetch_all(&self.pool)
                .await
                .context("charged slots")?;
            rows.iter().map(|row| int(row, "slot")).collect()
        })
        .await
    }

    pub async fn call_totals(&self, call_id: &str) -> Result<CallTotals, StoreError> {
        self.timed(StoreOp::Other, async {
            let row = sqlx::query(
                "SELECT COUNT(*) AS minutes, \
                 CAST(COALESCE(SUM(performer_minor), 0) AS BIGINT) AS performer_minor, \
                 CAST(COALESCE(SUM(platform_minor), 0) AS BIGINT) AS platform_minor \
                 FROM call_minutes WHERE call_id = $1",
            )
            .bind(call_id)
            .fetch_one(&self.pool)
            .await
            .context("call totals")?;
            Ok(CallTotals {
                minutes: int(&row, "minutes")?,
                performer_minor: int(&row, "performer_minor")?,
                platform_minor: int(&row, "platform_minor")?,
            })
        })
        .await
    }

    /// Sum of the call ledger's entries per account, for the books' checks.
    pub async fn call_ledger_balances(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.timed(StoreOp::Other, async {
            let rows = sqlx::query(
                "SELECT account, CAST(SUM(amount_minor) AS BIGINT) AS total \
                 FROM call_ledger_entries GROUP BY account ORDER BY account",
            )
            .fetch_all(&self.pool)
            .await
            .context("call ledger balances")?;
            rows.iter()
                .map(|row| Ok((text(row, "account")?, int(row, "total")?)))
                .collect()
        })
        .await
    }

    /// Charges slot `slot` of `call` to the viewer's credit, once (see the module's doc).
    pub async fn charge_call_slot(
        &self,
        call: &Call,
        slot: i64,
        split: (i64, i64),
        now: UnixSeconds,
    ) -> Result<SlotCharge, StoreError> {
        self.timed(StoreOp::Write, async {
            let mut tx = self.pool.begin().await.context("begin")?;
            let inserted = sqlx::query(
                "INSERT INTO call_minutes (call_id, slot, viewer_id, performer_minor, \
                 platform_minor, charged_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (call_id, slot) DO NOTHING",
            )
            .bind(&call.id)
            .bind(slot)
            .bind(&call.viewer_id)
            .bind(split.0)
            .bind(split.1)
            .bind(now)
            .execute(&mut *tx)
            .await
            .context("claim call slot")?;
            if inserted.rows_affected() == 0 {
                return Ok(SlotCharge::AlreadyCharged);
            }
            let debited = sqlx::query(
                "INSERT INTO call_balances (user_id, debited_minutes) VALUES ($1, 1) \
                 ON CONFLICT (user_id) DO UPDATE SET \
                 debited_minutes = call_balances.debited_minutes + 1 RETURNING debited_minutes",
            )
            .bind(&call.viewer_id)
            .fetch_one(&mut *tx)
            .await
            .context("debit call balance")?;
            let debited = int(&debited, "debited_minutes")?;
            let granted = sqlx::query(&format!("SELECT ({GRANTED_MINUTES}) AS granted"))
                .bind(&call.viewer_id)
                .bind(now)
                .bind(CALL_MINUTES_CREDIT)
                .fetch_one(&mut *tx)
                .await
                .context("granted call minutes")?;
            if debited > int(&granted, "granted")? {
                return Ok(SlotCharge::NoCredit);
            }
            let entries = [
                (format!("credit:{}", call.viewer_id), -call.price_minor),
                (format!("performer:{}", call.performer_id), split.0),
                ("platform".to_owned(), split.1),
            ];
            for (account, amount) in entries {
                sqlx::query(
                    "INSERT INTO call_ledger_entries (call_id, slot, account, performer_id, \
                     amount_minor, currency, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&call.id)
                .bind(slot)
                .bind(account)
                .bind(&call.performer_id)
                .bind(amount)
                .bind(&call.currency)
                .bind(now)
                .execute(&mut *tx)
                .await
                .context("book call minute")?;
            }
            let change = Change::CallMinuteCharged {
                call_id: call.id.clone(),
                user_id: call.viewer_id.clone(),
                slot,
            };
            let change = record_change(&mut tx, change, now).await?;
            tx.commit().await.context("commit")?;
            Ok(SlotCharge::Charged(Box::new(change)))
        })
        .await
    }
}
