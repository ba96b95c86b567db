//! Applying a confirmed state to an intent, in one transaction: dedupe, entitlement
//! granted or revoked, ledger lines, the changes to deliver.

use super::*;

impl PaymentService {
    /// What granting and booking need besides the intent, read before the transaction so
    /// it holds exactly one connection while it holds the intent's lock.
    pub(super) async fn purchase_context(
        &self,
        intent: &PaymentIntent,
    ) -> Result<PurchaseContext, PaymentError> {
        let facts = self
            .store
            .find_purchase_facts(intent.room_id.as_deref(), intent.performer_id.as_deref())
            .await?;
        if intent.room_id.is_some() && !facts.room_exists {
            return Err(PaymentError::UnknownRoom);
        }
        Ok(PurchaseContext {
            room_ends_at: facts.room_ends_at,
            share_bps: facts
                .performer_share_bps
                .unwrap_or(self.config.performer_share_bps),
        })
    }

    /// What a tip's room is told once it is confirmed, read before the transaction like
    /// the purchase context; `None` for anything but a tip.
    pub(super) async fn tip_notice(
        &self,
        intent: &PaymentIntent,
    ) -> Result<Option<TipNotice>, PaymentError> {
        if intent.kind != PurchaseKind::Tip {
            return Ok(None);
        }
        Ok(self.store.find_tip_notice(&intent.id).await?)
    }

    /// Applies one state notification to an intent, exactly once.
    pub(super) async fn apply(
        &self,
        intent: &PaymentIntent,
        notice: &Notice<'_>,
    ) -> Result<Applied, PaymentError> {
        let Notice {
            provider_ref,
            event_id,
            class,
            actor,
        } = *notice;
        let context = self.purchase_context(intent).await?;
        let tip = self.tip_notice(intent).await?;
        let now = self.clock.now();
        let mut tx = self
            .store
            .begin_payment(&intent.id)
            .await?
            .ok_or(PaymentError::UnknownReference)?;
        // The provider's reference is bound with the state change, in the same statement; a
        // reference bound to another intent makes that statement fail and nothing is applied.
        let binding = match (provider_ref, tx.intent.provider_ref.as_deref()) {
            (Some(incoming), None) => Some(incoming),
            // A new attempt after a failed one takes the reference over.
            (Some(incoming), Some(bound))
                if bound != incoming && tx.intent.state == PaymentState::Denied =>
            {
                Some(incoming)
            }
            (Some(incoming), Some(bound)) if bound != incoming => {
                return Err(PaymentError::UnknownReference)
            }
            _ => None,
        };
        let not_ours = |error: StoreError| match error {
            StoreError::Conflict(_) => PaymentError::UnknownReference,
            other => other.into(),
        };
        let next = transition(tx.intent.state, class);
        let applied = match (next, class) {
            (None, _) => Applied::Ignored,
            (Some(PaymentState::Accepted), _) if tx.intent.kind == PurchaseKind::Tip => {
                Applied::Recorded
            }
            (Some(PaymentState::Accepted), _) => Applied::Granted,
            (Some(PaymentState::Reversed), _) if tx.intent.state == PaymentState::Accepted => {
                Applied::Revoked
            }
            (Some(PaymentState::Pending), _) => Applied::Held,
            (Some(_), _) => Applied::Denied,
        };
        let outcome = serde_json::to_value(applied)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let state_text = format!("{class:?}").to_ascii_lowercase();
        if !tx
            .claim_event(event_id, &state_text, &outcome, actor, now)
            .await?
        {
            return Ok(Applied::Duplicate);
        }
        let Some(next) = next else {
            if let Some(provider_ref) = binding {
                tx.bind_provider_ref(provider_ref).await.map_err(not_ours)?;
            }
            tx.commit().await?;
            return Ok(Applied::Ignored);
        };
        let mut entitlement_id = None;
        match applied {
            Applied::Granted | Applied::Recorded => {
                if applied == Applied::Granted {
                    let entitlement = self.entitlement_for(&mut tx, &context, now).await?;
                    tx.insert_entitlement(&entitlement);
                    entitlement_id = Some(entitlement.id);
                }
                if let Some(notice) = tip.filter(|_| applied == Applied::Recorded) {
                    tx.announce_tip(TipNotice {
                        confirmed_at: now,
                        ..notice
                    });
                }
                self.book_receipt(&mut tx, &context, now);
            }
            Applied::Revoked => {
                if let Some(id) = tx.intent.entitlement_id.clone() {
                    let revocation = Revocation {
                        revoked_at: now,
                        revoked_by: Some(actor.map_or_else(
                            || format!("payment:{}", tx.intent.provider),
                            str::to_owned,
                        )),
                        reason: "payment reversed".into(),
                    };
                    tx.insert_revocation(&id, &revocation).await?;
                }
                let kind = if class == StateClass::ChargedBack {
                    "chargeback"
                } else {
                    "refund"
                };
                self.book_reversal(&mut tx, kind, now).await?;
            }
            _ => {}
        }
        tx.set_state(next, entitlement_id.as_deref(), binding, now);
        // The closing writes go with the change record; a reference bound to another intent
        // fails them here.
        tx.record_applied(next.as_str(), now)
            .await
            .map_err(not_ours)?;
        // The entitlement granted or revoked is delivered with it: caches, shards, Matrix.
        let changes = tx.commit().await?;
        self.changes.deliver_all(changes).await;
        Ok(applied)
    }

    /// The entitlement a paid intent grants, and for how long.
    pub(super) async fn entitlement_for(
        &self,
        tx: &mut PaymentTx,
        context: &PurchaseContext,
        now: UnixSeconds,
    ) -> Result<Entitlement, PaymentError> {
        let intent = tx.intent.clone();
        let mut quantity = None;
        let (scope, valid_from, valid_until) = match intent.kind {
            PurchaseKind::Room => {
                let room_id = intent.room_id.clone().unwrap_or_default();
                let until = match context.room_ends_at {
                    Some(end) => end + self.config.ticket_grace_secs,
                    None => now + self.config.unscheduled_ticket_secs,
                };
                (EntitlementScope::Room(room_id), now, until.max(now + 60))
            }
            PurchaseKind::Subscription => {
                let performer = intent.performer_id.clone().unwrap_or_default();
                let start = tx
                    .latest_entitlement_end(&intent.user_id, "performer", &performer, now)
                    .await?
                    .unwrap_or(now)
                    .max(now);
                (
                    EntitlementScope::Performer(performer),
                    start,
                    start + self.config.subscription_period_days * 86_400,
                )
            }
            PurchaseKind::Feature
                if self
                    .config
                    .features
                    .get(intent.feature.as_deref().unwrap_or_default())
                    .is_some_and(|f| f.call_minutes.is_some()) =>
            {
                // Minutes of private-call credit: a top-up, counted from now.
                let feature = &self.config.features[intent.feature.as_deref().unwrap_or_default()];
                quantity = feature.call_minutes;
                (
                    EntitlementScope::Credit(crate::domain::calls::CALL_MINUTES_CREDIT.to_owned()),
                    now,
                    now + feature.days * 86_400,
                )
            }
            PurchaseKind::Feature => {
                let name = intent.feature.clone().unwrap_or_default();
                let days = self.config.features.get(&name).map_or(30, |f| f.days);
                let start = tx
                    .latest_entitlement_end(&intent.user_id, "plan", &name, now)
                    .await?
                    .unwrap_or(now)
                    .max(now);
                (EntitlementScope::Plan(name), start, start + days * 86_400)
            }
            PurchaseKind::Tip => return Err(PaymentError::NotForSale),
        };
        Ok(Entitlement {
            id: uuid::Uuid::now_v7().to_string(),
            user_id: intent.user_id,
            scope,
            quantity,
            valid_from,
            valid_until: Some(valid_until),
            source: EntitlementSource::Payment,
            source_ref: Some(intent.id),
            granted_by: None,
            created_at: now,
            revocation: None,
        })
    }

    pub(super) fn book_receipt(
        &self,
        tx: &mut PaymentTx,
        context: &PurchaseContext,
        now: UnixSeconds,
    ) {
        let intent = tx.intent.clone();
        let lines = ledger::receipt(
            &intent.provider,
            intent.performer_id.as_deref(),
            intent.amount_minor,
            context.share_bps,
        );
        let kind = if intent.kind == PurchaseKind::Tip {
            "tip"
        } else {
            "payment"
        };
        Self::book(tx, kind, &lines, now);
    }

    pub(super) async fn book_reversal(
        &self,
        tx: &mut PaymentTx,
        kind: &'static str,
        now: UnixSeconds,
    ) -> Result<(), PaymentError> {
        let original = tx.receipt_lines().await?;
        let lines = ledger::reversal(&original);
        Self::book(tx, kind, &lines, now);
        Ok(())
    }

    /// Books `lines` as one ledger transaction of `kind`, with the payment's closing writes.
    pub(super) fn book(
        tx: &mut PaymentTx,
        kind: &'static str,
        lines: &[LedgerLine],
        now: UnixSeconds,
    ) {
        let intent = tx.intent.clone();
        let transaction_id = uuid::Uuid::now_v7().to_string();
        let context = LedgerContext {
            transaction_id: &transaction_id,
            kind,
            performer_id: intent.performer_id.as_deref(),
            room_id: intent.room_id.as_deref(),
            currency: &intent.currency,
            now,
        };
        tx.insert_ledger(&context, lines);
    }
}
