//! Payments to entitlements: checkout intents, provider notifications, the ledger.
//!
//! Money arrives at-least-once and out of order. Each notification is applied in one SQL
//! transaction that claims its event id, moves the intent's state only forward, and writes
//! the entitlement and balanced ledger entries with it; only then is the answer 2xx. A
//! failed write answers 5xx so the provider retries, and the retry finds nothing half-done.

mod apply;
mod checkout;
mod confirmation;
pub mod epayco;
pub mod ledger;
pub mod reconcile;
mod revenue;
pub mod signed;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::authz::{Admin, RevenueReader};
use crate::changes::Dispatcher;
use crate::clock::{Clock, UnixSeconds};
use crate::config::{FeaturePrice, PaymentsConfig, Secret};
use crate::domain::{amount, clean_tip_message, TipNotice, TIP_MESSAGE_MAX_CHARS};
use crate::domain::{
    is_amount, is_currency_code, Entitlement, EntitlementScope, EntitlementSource, LedgerLine,
    Money, PaymentIntent, PaymentState, PerformerTerms, PurchaseKind, RevenueTotals, Revocation,
    Role, RoomAccess, RoomName, UserId,
};
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
        /// Shown with the tip in the room and its chat (at most
        /// [`crate::domain::TIP_MESSAGE_MAX_CHARS`] characters).
        message: Option<String>,
        /// Shown as "Someone" instead of the tipper's name.
        anonymous: bool,
    },
    Feature(String),
}

/// What a client needs to pay.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
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

pub struct PaymentService {
    store: Store,
    changes: Arc<Dispatcher>,
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
        changes: Arc<Dispatcher>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        config: PaymentsConfig,
        public_url: &str,
    ) -> Self {
        Self {
            store,
            changes,
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
