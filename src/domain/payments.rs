//! Payment facts: what was asked to be paid, and where it stands.

use serde::{Deserialize, Serialize};

use super::UserId;
use crate::clock::UnixSeconds;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PurchaseKind {
    /// A ticket to one room.
    Room,
    /// One billing period of a performer subscription.
    Subscription,
    /// A tip during a live room: money only, no access.
    Tip,
    /// A premium feature (verified badge, custom profile, advanced analytics) for a period.
    Feature,
}

impl PurchaseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PurchaseKind::Room => "room",
            PurchaseKind::Subscription => "subscription",
            PurchaseKind::Tip => "tip",
            PurchaseKind::Feature => "feature",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "room" => Some(PurchaseKind::Room),
            "subscription" => Some(PurchaseKind::Subscription),
            "tip" => Some(PurchaseKind::Tip),
            "feature" => Some(PurchaseKind::Feature),
            _ => None,
        }
    }
}

/// Where a payment stands. It only moves forward: created → pending → accepted → reversed,
/// or to denied; a late "pending" after "accepted" changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    Created,
    Pending,
    Accepted,
    Denied,
    Reversed,
}

impl PaymentState {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentState::Created => "created",
            PaymentState::Pending => "pending",
            PaymentState::Accepted => "accepted",
            PaymentState::Denied => "denied",
            PaymentState::Reversed => "reversed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "created" => Some(PaymentState::Created),
            "pending" => Some(PaymentState::Pending),
            "accepted" => Some(PaymentState::Accepted),
            "denied" => Some(PaymentState::Denied),
            "reversed" => Some(PaymentState::Reversed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentIntent {
    /// Our reference, handed to the provider.
    pub id: String,
    pub user_id: UserId,
    pub kind: PurchaseKind,
    pub room_id: Option<String>,
    /// Who earns the performer share (room owner, subscribed performer); none for features.
    pub performer_id: Option<UserId>,
    pub feature: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    pub provider: String,
    /// The provider's own reference (ePayco `x_ref_payco`), bound on first notification.
    pub provider_ref: Option<String>,
    pub state: PaymentState,
    /// The entitlement this payment granted, if it did.
    pub entitlement_id: Option<String>,
    pub created_at: UnixSeconds,
    pub updated_at: UnixSeconds,
}

/// A performer's commercial terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PerformerTerms {
    pub performer_id: UserId,
    pub performer_share_bps: i64,
    pub subscription_price: Option<super::Money>,
    pub updated_at: UnixSeconds,
}

/// Money totals for one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RevenueTotals {
    pub currency: String,
    pub gross_minor: i64,
    pub performer_share_minor: i64,
    pub platform_share_minor: i64,
    pub refunded_minor: i64,
    pub tips_minor: i64,
}

/// One viewer's confirmed tips in one room and currency: a line of the show's leaderboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TipperTotal {
    pub user_id: String,
    pub handle: String,
    pub display_name: String,
    pub currency: String,
    pub amount_minor: i64,
    pub tips: i64,
}

/// One ledger line: an account and a signed amount in minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerLine {
    pub account: String,
    pub amount_minor: i64,
}
