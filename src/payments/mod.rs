//! Payments to entitlements: checkout intents, provider notifications, the ledger.
//!
//! Money arrives at-least-once and out of order. Each notification is applied in one SQL
//! transaction that claims its event id, moves the intent's state only forward, and writes
//! the entitlement and balanced ledger entries with it; only then is the answer 2xx. A
//! failed write answers 5xx so the provider retries, and the retry finds nothing half-done.

pub mod epayco;
pub mod ledger;
pub mod reconcile;
pub mod signed;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::authz::{Admin, RevenueReader};
use crate::cache::{Bus, Invalidation};
use crate::clock::{Clock, UnixSeconds};
use crate::config::{FeaturePrice, PaymentsConfig, Secret};
use crate::domain::amount;
use crate::domain::{
    is_amount, is_currency_code, Entitlement, EntitlementScope, EntitlementSource, LedgerLine,
    Money, PaymentIntent, PaymentState, PerformerTerms, PurchaseKind, RevenueTotals, Revocation,
    Role, RoomAccess, RoomName, UserId,
};
use crate::live::LiveEnforcer;
use crate::matrix::MatrixService;
use crate::store::{LedgerContext, PaymentTx, Store, StoreError};
use crate::telemetry::metrics::{Metrics, WebhookOutcome};

pub use epayco::StateClass;

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("{1}")]
    Invalid(&'static str, String),
    #[error("payment provider {0} is not configured")]
    ProviderNotConfigured(&'static str),
    #[error("no such room")]
    UnknownRoom,
    #[error("no such performer")]
    UnknownPerformer,
    #[error("this room is not sold")]
    NotForSale,
    #[error("the notification is malformed: {0}")]
    Malformed(String),
    #[error("the notification's signature does not verify")]
    BadSignature,
    #[error("the notification names no payment we asked for")]
    UnknownReference,
    /// ePayco's transaction lookup could not be reached or gave no usable answer, so the
    /// transaction's state is unknown: the provider is asked to retry (and the reconcile
    /// pass looks the payment up later).
    #[error("the payment provider's transaction lookup is unavailable: {0}")]
    LookupUnavailable(String),
    /// ePayco's own record of the transaction contradicts the signed notification.
    #[error("the notification does not match the provider's record of the transaction")]
    RecordMismatch,
    #[error("the notification's amount or currency differs from what was asked")]
    AmountMismatch,
    #[error("test transactions are refused in production mode")]
    TestTransaction,
    #[error("the webhook's signature does not verify: {0}")]
    BadWebhookSignature(signed::SignatureError),
    #[error("event type {0} is not one roomkey handles")]
    UnsupportedEvent(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a purchase is for.
pub enum Purchase {
    RoomTicket(RoomName),
    Subscription(UserId),
    Tip {
        room: RoomName,
        amount_minor: i64,
        currency: String,
    },
    Feature(String),
}

/// What a client needs to pay.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Checkout {
    pub reference: String,
    pub provider: String,
    pub amount_minor: i64,
    pub currency: String,
    /// The fields ePayco's checkout takes (`key`, `invoice`, `extra1`, `confirmation`, …).
    pub parameters: BTreeMap<String, String>,
}

/// A checkout a browser submits without script: where to post, and the fields.
#[derive(Debug, Clone)]
pub struct CheckoutForm {
    pub action: String,
    pub fields: Vec<(String, String)>,
}

struct Resolved {
    kind: PurchaseKind,
    room_id: Option<String>,
    performer_id: Option<UserId>,
    feature: Option<String>,
    price: Money,
    description: String,
}

/// One state notification, from a provider or an admin.
#[derive(Clone, Copy)]
struct Notice<'a> {
    provider_ref: Option<&'a str>,
    event_id: &'a str,
    class: StateClass,
    actor: Option<&'a str>,
}

struct PurchaseContext {
    room_ends_at: Option<UnixSeconds>,
    share_bps: i64,
}

/// What applying a notification did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Applied {
    Granted,
    Recorded,
    Held,
    Denied,
    Revoked,
    Ignored,
    Duplicate,
}

impl Applied {
    fn metric(self) -> WebhookOutcome {
        match self {
            Applied::Granted | Applied::Recorded => WebhookOutcome::Granted,
            Applied::Held => WebhookOutcome::Held,
            Applied::Denied => WebhookOutcome::Denied,
            Applied::Revoked => WebhookOutcome::Revoked,
            Applied::Ignored => WebhookOutcome::Ignored,
            Applied::Duplicate => WebhookOutcome::Duplicate,
        }
    }
}

/// What a state change asks for, given where the intent stands. States only move forward.
pub fn transition(current: PaymentState, incoming: StateClass) -> Option<PaymentState> {
    use PaymentState as S;
    use StateClass as C;
    match (current, incoming) {
        (S::Created | S::Pending | S::Denied, C::Accepted) => Some(S::Accepted),
        (S::Created, C::Pending) => Some(S::Pending),
        (S::Created | S::Pending, C::Denied) => Some(S::Denied),
        (S::Created | S::Pending | S::Denied | S::Accepted, C::Reversed | C::ChargedBack) => {
            Some(S::Reversed)
        }
        _ => None,
    }
}

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

pub struct PaymentService {
    store: Store,
    bus: Arc<Bus>,
    live: Arc<LiveEnforcer>,
    matrix: Arc<MatrixService>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    config: PaymentsConfig,
    confirmation_url: String,
    epayco_lookup: reconcile::EpaycoLookup,
}

/// What one reconcile pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Pending payments looked up.
    pub checked: u32,
    /// Of those, payments whose state moved (granted, denied, revoked).
    pub changed: u32,
    /// Lookups that failed or answered something unusable; retried next pass.
    pub failed: u32,
}

/// Payments looked up per reconcile pass.
const RECONCILE_BATCH: i64 = 200;

impl PaymentService {
    #[allow(
        clippy::too_many_arguments,
        reason = "one handle per collaborator, all wired once in App::build"
    )]
    pub fn new(
        store: Store,
        bus: Arc<Bus>,
        live: Arc<LiveEnforcer>,
        matrix: Arc<MatrixService>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        config: PaymentsConfig,
        public_url: &str,
    ) -> Self {
        Self {
            store,
            bus,
            live,
            matrix,
            clock,
            metrics,
            confirmation_url: format!("{public_url}/api/webhooks/epayco"),
            epayco_lookup: reconcile::EpaycoLookup::new(
                &config.epayco.validation_url,
                std::time::Duration::from_secs(10),
            ),
            config,
        }
    }

    fn epayco(&self) -> Result<(&str, &Secret), PaymentError> {
        let epayco = &self.config.epayco;
        if epayco.customer_id.is_empty() {
            return Err(PaymentError::ProviderNotConfigured("epayco"));
        }
        Ok((&epayco.customer_id, &epayco.p_key))
    }

    /// Records what `user_id` is about to pay for and returns the checkout parameters.
    /// Records what `user_id` is about to pay for, with `provider` (ePayco unless named),
    /// and returns what the client needs to pay.
    pub async fn checkout(
        &self,
        user_id: &str,
        purchase: Purchase,
        provider: Option<&str>,
    ) -> Result<Checkout, PaymentError> {
        let provider = provider.unwrap_or("epayco");
        if provider == "epayco" {
            self.epayco()?;
        } else if !self.config.providers.contains_key(provider) {
            return Err(PaymentError::Invalid(
                "provider",
                format!("no payment provider named {provider}"),
            ));
        }
        let now = self.clock.now();
        let resolved = self.resolve(purchase).await?;
        let intent = self
            .new_intent(user_id, &resolved, &resolved.price, provider, None, now)
            .await?;
        let price = resolved.price;
        let parameters = if provider == "epayco" {
            let epayco = &self.config.epayco;
            BTreeMap::from([
                ("key".to_owned(), epayco.public_key.clone()),
                ("name".to_owned(), resolved.description.clone()),
                ("description".to_owned(), resolved.description),
                ("invoice".to_owned(), intent.id.clone()),
                ("extra1".to_owned(), intent.id.clone()),
                ("currency".to_owned(), price.currency.to_ascii_lowercase()),
                (
                    "amount".to_owned(),
                    amount::format_major(price.amount_minor, &price.currency),
                ),
                ("tax_base".to_owned(), "0".to_owned()),
                ("tax".to_owned(), "0".to_owned()),
                ("country".to_owned(), "co".to_owned()),
                ("external".to_owned(), "false".to_owned()),
                ("test".to_owned(), epayco.test_mode.to_string()),
                ("confirmation".to_owned(), self.confirmation_url.clone()),
                ("method_confirmation".to_owned(), "POST".to_owned()),
            ])
        } else {
            BTreeMap::from([
                ("reference".to_owned(), intent.id.clone()),
                ("description".to_owned(), resolved.description),
            ])
        };
        Ok(Checkout {
            reference: intent.id,
            provider: provider.to_owned(),
            amount_minor: price.amount_minor,
            currency: price.currency,
            parameters,
        })
    }

    /// ePayco's form checkout for an ePayco `checkout`: the fields a plain HTML form posts
    /// to `payments.epayco.checkout_url`, signed with `md5(cust^p_key^invoice^amount^currency)`
    /// as that checkout expects. `P_KEY` itself is never among them (it would let anyone
    /// who reads the page forge confirmations). The visitor comes back to `response_url`;
    /// the confirmation goes to the webhook, as with the script checkout.
    pub fn epayco_form(
        &self,
        checkout: &Checkout,
        response_url: &str,
    ) -> Result<CheckoutForm, PaymentError> {
        let (customer_id, p_key) = self.epayco()?;
        let amount = amount::format_major(checkout.amount_minor, &checkout.currency);
        let currency = checkout.currency.to_ascii_uppercase();
        let description = checkout
            .parameters
            .get("description")
            .cloned()
            .unwrap_or_default();
        let signature = epayco::checkout_signature(
            customer_id,
            p_key.expose(),
            &checkout.reference,
            &amount,
            &currency,
        );
        let test = if self.config.epayco.test_mode {
            "TRUE"
        } else {
            "FALSE"
        };
        let fields = [
            ("p_cust_id_cliente", customer_id.to_owned()),
            ("p_id_invoice", checkout.reference.clone()),
            ("p_description", description),
            ("p_amount", amount),
            ("p_amount_base", "0".to_owned()),
            ("p_tax", "0".to_owned()),
            ("p_currency_code", currency),
            ("p_signature", signature),
            ("p_extra1", checkout.reference.clone()),
            ("p_test_request", test.to_owned()),
            ("p_url_response", response_url.to_owned()),
            ("p_url_confirmation", self.confirmation_url.clone()),
            ("p_confirm_method", "POST".to_owned()),
        ];
        Ok(CheckoutForm {
            action: self.config.epayco.checkout_url.clone(),
            fields: fields
                .into_iter()
                .map(|(name, value)| (name.to_owned(), value))
                .collect(),
        })
    }

    /// Stores a new intent for `resolved`, paid as `paid`.
    async fn new_intent(
        &self,
        user_id: &str,
        resolved: &Resolved,
        paid: &Money,
        provider: &str,
        provider_ref: Option<&str>,
        now: UnixSeconds,
    ) -> Result<PaymentIntent, PaymentError> {
        let intent = PaymentIntent {
            id: uuid::Uuid::now_v7().simple().to_string(),
            user_id: user_id.to_owned(),
            kind: resolved.kind,
            room_id: resolved.room_id.clone(),
            performer_id: resolved.performer_id.clone(),
            feature: resolved.feature.clone(),
            amount_minor: paid.amount_minor,
            currency: paid.currency.clone(),
            provider: provider.to_owned(),
            provider_ref: provider_ref.map(str::to_owned),
            state: PaymentState::Created,
            entitlement_id: None,
            created_at: now,
            updated_at: now,
        };
        self.store
            .insert_intent(&intent)
            .await
            .map_err(|e| match e {
                StoreError::MissingReference(_) => {
                    PaymentError::Invalid("user_id", "no such user".into())
                }
                StoreError::Conflict(_) => PaymentError::Invalid(
                    "provider_ref",
                    "this provider reference is already recorded".into(),
                ),
                other => other.into(),
            })?;
        Ok(intent)
    }

    /// What a purchase is, what it costs, and who earns from it.
    async fn resolve(&self, purchase: Purchase) -> Result<Resolved, PaymentError> {
        let (kind, room_id, performer_id, feature, price, description) = match purchase {
            Purchase::RoomTicket(name) => {
                let room = self
                    .store
                    .find_room_by_name(&name)
                    .await?
                    .ok_or(PaymentError::UnknownRoom)?;
                let price = room
                    .price
                    .clone()
                    .filter(|_| room.access == RoomAccess::Paid)
                    .ok_or(PaymentError::NotForSale)?;
                (
                    PurchaseKind::Room,
                    Some(room.id),
                    Some(room.owner_id),
                    None,
                    price,
                    format!("Ticket: {}", room.title),
                )
            }
            Purchase::Subscription(performer_id) => {
                let performer = self
                    .store
                    .find_user(&performer_id)
                    .await?
                    .ok_or(PaymentError::UnknownPerformer)?;
                if performer.role != Role::Performer {
                    return Err(PaymentError::UnknownPerformer);
                }
                let terms = self.store.find_performer_terms(&performer_id).await?;
                let price = terms
                    .and_then(|t| t.subscription_price)
                    .ok_or(PaymentError::NotForSale)?;
                (
                    PurchaseKind::Subscription,
                    None,
                    Some(performer_id),
                    None,
                    price,
                    format!("Subscription: {}", performer.display_name),
                )
            }
            Purchase::Tip {
                room,
                amount_minor,
                currency,
            } => {
                let room = self
                    .store
                    .find_room_by_name(&room)
                    .await?
                    .ok_or(PaymentError::UnknownRoom)?;
                if amount_minor < self.config.min_tip_minor || !is_amount(amount_minor) {
                    return Err(PaymentError::Invalid(
                        "amount_minor",
                        format!(
                            "a tip is at least {} and at most 10^12 minor units",
                            self.config.min_tip_minor
                        ),
                    ));
                }
                if !is_currency_code(&currency) {
                    return Err(PaymentError::Invalid(
                        "currency",
                        "currency must be an ISO 4217 code".into(),
                    ));
                }
                let price = Money {
                    amount_minor,
                    currency,
                };
                (
                    PurchaseKind::Tip,
                    Some(room.id),
                    Some(room.owner_id),
                    None,
                    price,
                    format!("Tip: {}", room.title),
                )
            }
            Purchase::Feature(name) => {
                let FeaturePrice {
                    amount_minor,
                    currency,
                    ..
                } = self.config.features.get(&name).cloned().ok_or_else(|| {
                    PaymentError::Invalid("feature", format!("no feature named {name}"))
                })?;
                (
                    PurchaseKind::Feature,
                    None,
                    None,
                    Some(name.clone()),
                    Money {
                        amount_minor,
                        currency,
                    },
                    format!("Feature: {name}"),
                )
            }
        };
        Ok(Resolved {
            kind,
            room_id,
            performer_id,
            feature,
            price,
            description,
        })
    }

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

    async fn confirm_epayco_inner(
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
    async fn hold_for_lookup(&self, claimed: &epayco::Notification) -> Result<(), PaymentError> {
        let held = epayco::Notification {
            state_code: epayco::PENDING,
            is_test: false,
            ..claimed.clone()
        };
        self.apply_epayco(&held).await.map(|_| ())
    }

    /// Applies an authenticated ePayco transaction state (a verified confirmation, or a
    /// lookup answer over TLS) to the intent it is bound to.
    async fn apply_epayco(
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

    async fn confirm_signed_inner(
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

    /// What granting and booking need besides the intent, read before the transaction so
    /// it holds exactly one connection while it holds the intent's lock.
    async fn purchase_context(
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

    /// Applies one state notification to an intent, exactly once.
    async fn apply(
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
        let user_id = tx.intent.user_id.clone();
        let mut entitlement_id = None;
        let mut changed_access = false;
        let mut revoked_access = false;
        let mut granted = None;
        match applied {
            Applied::Granted | Applied::Recorded => {
                if applied == Applied::Granted {
                    let entitlement = self.entitlement_for(&mut tx, &context, now).await?;
                    tx.insert_entitlement(&entitlement).await?;
                    entitlement_id = Some(entitlement.id.clone());
                    granted = Some(entitlement);
                    changed_access = true;
                }
                self.book_receipt(&mut tx, &context, now).await?;
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
                    changed_access = true;
                    revoked_access = true;
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
        let tx_entitlement_id = tx.intent.entitlement_id.clone();
        tx.set_state(next, entitlement_id.as_deref(), binding, now)
            .await
            .map_err(not_ours)?;
        tx.commit().await?;
        if changed_access {
            self.bus
                .publish(Invalidation::Entitlements(user_id.clone()))
                .await;
            let reason = if revoked_access {
                "payment reversed"
            } else {
                "payment received"
            };
            self.live.revalidate(&user_id, reason);
        }
        if let Some(entitlement) = &granted {
            self.matrix.entitlement_granted(entitlement).await;
        }
        if revoked_access {
            self.revoked_in_matrix(&user_id, tx_entitlement_id.as_deref())
                .await;
        }
        Ok(applied)
    }

    /// Queues the removal from Matrix rooms the reversed payment's entitlement covered.
    async fn revoked_in_matrix(&self, user_id: &str, entitlement_id: Option<&str>) {
        let (Some(id), true) = (entitlement_id, self.matrix.is_enabled()) else {
            return;
        };
        match self.store.find_all_entitlements(user_id).await {
            Ok(all) => {
                if let Some(entitlement) = all.iter().find(|e| e.id == id) {
                    self.matrix
                        .entitlement_revoked(entitlement, "payment reversed")
                        .await;
                }
            }
            Err(error) => {
                tracing::error!(user = %user_id, error = %error, "cannot queue the Matrix removal of a reversed payment; the reconcile will mend it");
            }
        }
    }

    /// The entitlement a paid intent grants, and for how long.
    async fn entitlement_for(
        &self,
        tx: &mut PaymentTx,
        context: &PurchaseContext,
        now: UnixSeconds,
    ) -> Result<Entitlement, PaymentError> {
        let intent = tx.intent.clone();
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
            quantity: None,
            valid_from,
            valid_until: Some(valid_until),
            source: EntitlementSource::Payment,
            source_ref: Some(intent.id),
            granted_by: None,
            created_at: now,
            revocation: None,
        })
    }

    async fn book_receipt(
        &self,
        tx: &mut PaymentTx,
        context: &PurchaseContext,
        now: UnixSeconds,
    ) -> Result<(), PaymentError> {
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
        self.book(tx, kind, &lines, now).await
    }

    async fn book_reversal(
        &self,
        tx: &mut PaymentTx,
        kind: &'static str,
        now: UnixSeconds,
    ) -> Result<(), PaymentError> {
        let original = tx.receipt_lines().await?;
        let lines = ledger::reversal(&original);
        self.book(tx, kind, &lines, now).await
    }

    async fn book(
        &self,
        tx: &mut PaymentTx,
        kind: &'static str,
        lines: &[LedgerLine],
        now: UnixSeconds,
    ) -> Result<(), PaymentError> {
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
        tx.insert_ledger(&context, lines).await?;
        Ok(())
    }

    pub async fn set_terms(
        &self,
        performer_id: &str,
        share_bps: Option<i64>,
        subscription_price: Option<Money>,
    ) -> Result<PerformerTerms, PaymentError> {
        let performer = self
            .store
            .find_user(performer_id)
            .await?
            .ok_or(PaymentError::UnknownPerformer)?;
        if performer.role != Role::Performer {
            return Err(PaymentError::UnknownPerformer);
        }
        let share = share_bps.unwrap_or(self.config.performer_share_bps);
        if !(0..=ledger::FULL_SHARE_BPS).contains(&share) {
            return Err(PaymentError::Invalid(
                "performer_share_bps",
                "must be between 0 and 10000".into(),
            ));
        }
        if let Some(price) = &subscription_price {
            if !is_amount(price.amount_minor) || !is_currency_code(&price.currency) {
                return Err(PaymentError::Invalid(
                    "subscription_price",
                    "needs a positive amount_minor (at most 10^12) and an ISO currency".into(),
                ));
            }
        }
        let terms = PerformerTerms {
            performer_id: performer_id.to_owned(),
            performer_share_bps: share,
            subscription_price,
            updated_at: self.clock.now(),
        };
        self.store.upsert_performer_terms(&terms).await?;
        Ok(terms)
    }

    /// The money of the owner `reader` may read, per currency.
    pub async fn performer_earnings(
        &self,
        reader: &RevenueReader,
    ) -> Result<Vec<RevenueTotals>, PaymentError> {
        Ok(self.store.performer_revenue(reader.owner()).await?)
    }

    /// `room`'s money per currency, if `reader` may read its owner's.
    pub async fn room_revenue(
        &self,
        reader: &RevenueReader,
        room: &crate::domain::Room,
    ) -> Result<Vec<RevenueTotals>, PaymentError> {
        if room.owner_id != reader.owner() {
            return Err(PaymentError::UnknownRoom);
        }
        Ok(self.store.room_revenue(&room.id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PaymentState as S;
    use StateClass as C;

    #[test]
    fn states_never_move_backwards() {
        assert_eq!(transition(S::Created, C::Pending), Some(S::Pending));
        assert_eq!(transition(S::Pending, C::Accepted), Some(S::Accepted));
        assert_eq!(
            transition(S::Accepted, C::Pending),
            None,
            "a late pending changes nothing"
        );
        assert_eq!(transition(S::Accepted, C::Denied), None);
        assert_eq!(transition(S::Accepted, C::Accepted), None);
        assert_eq!(transition(S::Accepted, C::Reversed), Some(S::Reversed));
        assert_eq!(
            transition(S::Reversed, C::Accepted),
            None,
            "reversed is final"
        );
        assert_eq!(transition(S::Pending, C::Denied), Some(S::Denied));
        assert_eq!(transition(S::Denied, C::Pending), None);
    }
}
