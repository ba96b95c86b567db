//! Confirmations: ePayco's (checked against its own transaction record), the signed
//! webhooks of the other providers, payments recorded by hand, chargebacks, and the
//! reconcile that settles what no confirmation reached.

use super::*;

/// The state to apply for a signed ePayco notification: ePayco's own record of the
/// transaction (`record`, from its lookup), provided it is the same transaction — the same
/// reference, transaction id, amount and currency as the signed fields. Our reference comes
/// from the record too; the notification's (unsigned) copy is used only when the record
/// carries none.
/// A lookup answer read as a notification. Lookups carry no signature of their own: the
/// answer is authenticated by TLS to ePayco's host (see [`reconcile`]).
fn record_as_notification(
    record: &mut BTreeMap<String, String>,
) -> Result<epayco::Notification, epayco::NotificationError> {
    record
        .entry("x_signature".to_owned())
        .or_insert_with(|| "lookup".to_owned());
    epayco::Notification::from_fields(record)
}

fn settled_by_record(
    claimed: &epayco::Notification,
    mut record: BTreeMap<String, String>,
) -> Result<epayco::Notification, PaymentError> {
    let found = record_as_notification(&mut record)
        .map_err(|e| PaymentError::LookupUnavailable(format!("unusable record: {e}")))?;
    let same_amount = amount::parse_major(&found.amount, &found.currency).is_some()
        && amount::parse_major(&found.amount, &found.currency)
            == amount::parse_major(&claimed.amount, &claimed.currency);
    if found.ref_payco != claimed.ref_payco
        || found.transaction_id != claimed.transaction_id
        || found.currency != claimed.currency
        || !same_amount
    {
        return Err(PaymentError::RecordMismatch);
    }
    Ok(epayco::Notification {
        our_reference: found
            .our_reference
            .clone()
            .or_else(|| claimed.our_reference.clone()),
        ..found
    })
}

impl PaymentService {
    /// Applies an ePayco confirmation given as its raw fields (form, query or JSON).
    pub async fn confirm_epayco(
        &self,
        fields: &BTreeMap<String, String>,
    ) -> Result<Applied, PaymentError> {
        let result = self.confirm_epayco_inner(fields).await;
        self.metrics.webhook(match &result {
            Ok(applied) => applied.metric(),
            Err(PaymentError::Store(_) | PaymentError::LookupUnavailable(_)) => {
                WebhookOutcome::Failed
            }
            Err(_) => WebhookOutcome::Rejected,
        });
        if let Err(error) = &result {
            tracing::warn!(provider = "epayco", ref_payco = fields.get("x_ref_payco").map(String::as_str).unwrap_or(""), %error, "payment notification refused");
        }
        result
    }

    pub(super) async fn confirm_epayco_inner(
        &self,
        fields: &BTreeMap<String, String>,
    ) -> Result<Applied, PaymentError> {
        let (customer_id, p_key) = self.epayco()?;
        let claimed = epayco::Notification::from_fields(fields)
            .map_err(|e| PaymentError::Malformed(e.to_string()))?;
        claimed
            .verify(customer_id, p_key.expose())
            .map_err(|_| PaymentError::BadSignature)?;
        // The signature covers the reference, transaction, amount and currency only: the
        // state, the test flag and the extras are whatever the sender wrote. So the
        // signature only earns the notification a lookup (an unsigned request never makes
        // roomkey call ePayco), and what is applied is ePayco's own record.
        match self.epayco_lookup.transaction(&claimed.ref_payco).await {
            Ok(record) => {
                let settled = settled_by_record(&claimed, record)?;
                self.apply_epayco(&settled).await
            }
            Err(error) => {
                tracing::warn!(ref_payco = %claimed.ref_payco, %error, "ePayco lookup failed; asking ePayco to retry");
                self.hold_for_lookup(&claimed).await?;
                Err(PaymentError::LookupUnavailable(error.to_string()))
            }
        }
    }

    /// Binds a signed notification whose state could not be looked up to its intent as
    /// pending (which grants and revokes nothing), so the reconcile pass finds it even if
    /// ePayco stops retrying. A notification that cannot bind is refused as usual.
    pub(super) async fn hold_for_lookup(
        &self,
        claimed: &epayco::Notification,
    ) -> Result<(), PaymentError> {
        let held = epayco::Notification {
            state_code: epayco::PENDING,
            is_test: false,
            ..claimed.clone()
        };
        self.apply_epayco(&held).await.map(|_| ())
    }

    /// Applies an authenticated ePayco transaction state (a verified confirmation, or a
    /// lookup answer over TLS) to the intent it is bound to.
    pub(super) async fn apply_epayco(
        &self,
        notification: &epayco::Notification,
    ) -> Result<Applied, PaymentError> {
        if notification.is_test && !self.config.epayco.test_mode {
            return Err(PaymentError::TestTransaction);
        }
        let (by_ref, by_reference) = self
            .store
            .find_intents_for_notification(
                "epayco",
                &notification.ref_payco,
                notification.our_reference.as_deref(),
            )
            .await?;
        let intent = match by_ref {
            Some(intent) => intent,
            None => {
                let intent = by_reference.ok_or(PaymentError::UnknownReference)?;
                // An intent already bound to another provider reference is not this one's
                // (it may have been bound to this one since the lookup above), unless that
                // attempt failed: the payer tried again (a declined card, then another).
                let bound_elsewhere = intent
                    .provider_ref
                    .as_deref()
                    .is_some_and(|bound| bound != notification.ref_payco);
                if intent.provider != "epayco"
                    || (bound_elsewhere && intent.state != PaymentState::Denied)
                {
                    return Err(PaymentError::UnknownReference);
                }
                intent
            }
        };
        let paid = amount::parse_major(&notification.amount, &notification.currency);
        if paid != Some(intent.amount_minor) || notification.currency != intent.currency {
            return Err(PaymentError::AmountMismatch);
        }
        let event_id = format!("{}:{}", notification.ref_payco, notification.state_code);
        let notice = Notice {
            provider_ref: Some(&notification.ref_payco),
            event_id: &event_id,
            class: epayco::classify(notification.state_code),
            actor: None,
        };
        self.apply(&intent, &notice).await
    }

    /// Looks up every ePayco payment pending for longer than `payments.reconcile_after_secs`
    /// and applies what ePayco now says. Safe to run on several instances at once: each
    /// state is applied at most once.
    pub async fn reconcile_pending(&self) -> Result<ReconcileReport, PaymentError> {
        self.epayco()?;
        let now = self.clock.now();
        let intents = self
            .store
            .find_stale_pending_intents(
                "epayco",
                now - self.config.reconcile_max_age_days * 86_400,
                now - self.config.reconcile_after_secs,
                RECONCILE_BATCH,
            )
            .await?;
        let mut report = ReconcileReport::default();
        for intent in intents {
            report.checked += 1;
            let provider_ref = intent.provider_ref.clone().unwrap_or_default();
            let outcome = match self.epayco_lookup.transaction(&provider_ref).await {
                Ok(mut fields) => match record_as_notification(&mut fields) {
                    Ok(found) if found.ref_payco == provider_ref => self.apply_epayco(&found).await,
                    Ok(_) => Err(PaymentError::UnknownReference),
                    Err(error) => Err(PaymentError::Malformed(error.to_string())),
                },
                Err(error) => {
                    tracing::warn!(ref_payco = %provider_ref, %error, "ePayco lookup failed; retrying next pass");
                    report.failed += 1;
                    continue;
                }
            };
            match outcome {
                Ok(Applied::Granted | Applied::Denied | Applied::Revoked | Applied::Recorded) => {
                    tracing::info!(reference = %intent.id, ref_payco = %provider_ref, "reconciled a pending payment");
                    report.changed += 1;
                }
                Ok(_) => {}
                Err(PaymentError::Store(error)) => return Err(PaymentError::Store(error)),
                Err(error) => {
                    tracing::warn!(reference = %intent.id, ref_payco = %provider_ref, %error, "ePayco lookup not applied");
                    report.failed += 1;
                }
            }
        }
        Ok(report)
    }

    /// Applies a signed JSON event from a configured provider (`payments.providers`).
    pub async fn confirm_signed(
        &self,
        provider: &str,
        headers: &signed::SignatureHeaders,
        body: &[u8],
    ) -> Result<Applied, PaymentError> {
        let result = self.confirm_signed_inner(provider, headers, body).await;
        self.metrics.webhook(match &result {
            Ok(applied) => applied.metric(),
            Err(PaymentError::Store(_)) => WebhookOutcome::Failed,
            Err(_) => WebhookOutcome::Rejected,
        });
        if let Err(error) = &result {
            tracing::warn!(provider, %error, "payment webhook refused");
        }
        result
    }

    pub(super) async fn confirm_signed_inner(
        &self,
        provider: &str,
        headers: &signed::SignatureHeaders,
        body: &[u8],
    ) -> Result<Applied, PaymentError> {
        let config = self
            .config
            .providers
            .get(provider)
            .ok_or(PaymentError::ProviderNotConfigured("signed"))?;
        let delivery_id = signed::verify(config, headers, body, self.clock.now())
            .map_err(PaymentError::BadWebhookSignature)?;
        let event: signed::ProviderEvent = serde_json::from_slice(body)
            .map_err(|e| PaymentError::Malformed(format!("event: {e}")))?;
        let class = match event.kind.as_str() {
            "payment.succeeded" => StateClass::Accepted,
            "payment.pending" => StateClass::Pending,
            "payment.failed" => StateClass::Denied,
            "payment.refunded" => StateClass::Reversed,
            "payment.chargeback" => StateClass::ChargedBack,
            other => return Err(PaymentError::UnsupportedEvent(other.to_owned())),
        };
        let data = &event.data;
        let intent = match self
            .store
            .find_intent_by_provider_ref(provider, &data.provider_ref)
            .await?
        {
            Some(intent) => intent,
            None => self
                .store
                .find_intent(&data.reference)
                .await?
                .ok_or(PaymentError::UnknownReference)?,
        };
        let bound_elsewhere = intent
            .provider_ref
            .as_deref()
            .is_some_and(|bound| bound != data.provider_ref);
        if intent.provider != provider || bound_elsewhere {
            return Err(PaymentError::UnknownReference);
        }
        if data.amount_minor != intent.amount_minor || data.currency != intent.currency {
            return Err(PaymentError::AmountMismatch);
        }
        // Standard Webhooks keep `webhook-id` across retries; Stripe keeps the event id.
        let event_id = delivery_id.unwrap_or(event.id);
        let notice = Notice {
            provider_ref: Some(&data.provider_ref),
            event_id: &event_id,
            class,
            actor: None,
        };
        self.apply(&intent, &notice).await
    }

    /// Records a payment made where no webhook reports it (Meru payment links), granting
    /// through the same path as a provider's confirmation. Recording the same provider
    /// reference twice is refused.
    pub async fn record_manual(
        &self,
        user_id: &str,
        purchase: Purchase,
        provider: &str,
        provider_ref: &str,
        paid: Money,
        admin: &Admin,
    ) -> Result<(PaymentIntent, Applied), PaymentError> {
        let actor = admin.actor().as_str();
        if crate::domain::parse_handle(provider).as_deref() != Some(provider)
            || provider == "epayco"
        {
            return Err(PaymentError::Invalid(
                "provider",
                "name the provider in lowercase (e.g. meru); ePayco reports its own payments"
                    .into(),
            ));
        }
        if provider_ref.trim().is_empty() || provider_ref.len() > 128 {
            return Err(PaymentError::Invalid(
                "provider_ref",
                "provider_ref must be 1 to 128 characters".into(),
            ));
        }
        if !is_amount(paid.amount_minor) || !is_currency_code(&paid.currency) {
            return Err(PaymentError::Invalid(
                "amount_minor",
                "needs a positive amount_minor (at most 10^12) and an ISO currency".into(),
            ));
        }
        let resolved = self.resolve(purchase).await?;
        let intent = self
            .new_intent(
                user_id,
                &resolved,
                &paid,
                provider,
                Some(provider_ref),
                self.clock.now(),
            )
            .await?;
        let event_id = format!("manual:{provider_ref}");
        let notice = Notice {
            provider_ref: None,
            event_id: &event_id,
            class: StateClass::Accepted,
            actor: Some(actor),
        };
        let applied = self.apply(&intent, &notice).await?;
        let intent = self
            .store
            .find_intent(&intent.id)
            .await?
            .ok_or(PaymentError::UnknownReference)?;
        Ok((intent, applied))
    }

    /// Records a chargeback reported out of band (ePayco's disputes arrive by e-mail):
    /// revokes what the payment granted and books the chargeback.
    pub async fn record_chargeback(
        &self,
        admin: &Admin,
        reference: &str,
    ) -> Result<Applied, PaymentError> {
        let actor = admin.actor().as_str();
        let intent = self
            .store
            .find_intent(reference)
            .await?
            .ok_or(PaymentError::UnknownReference)?;
        let event_id = format!("chargeback:{reference}");
        let notice = Notice {
            provider_ref: None,
            event_id: &event_id,
            class: StateClass::ChargedBack,
            actor: Some(actor),
        };
        self.apply(&intent, &notice).await
    }
}
