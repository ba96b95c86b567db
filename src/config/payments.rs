//! `[payments]`: the performer's share and how long what is bought lasts, premium features,
//! ePayco, the other signed-webhook providers, and the re-check of pending payments.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{bad, ConfigError, Secret};
use crate::domain::{is_amount, is_currency_code, parse_handle};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentsConfig {
    /// Performer share of every payment and tip, in basis points, unless the performer's
    /// own terms say otherwise. default: `7000` (70 %).
    pub performer_share_bps: i64,
    /// A room ticket lasts until the room's scheduled end plus this. default: `3600`.
    pub ticket_grace_secs: i64,
    /// A ticket to a room without a scheduled end lasts this long. default: `86400`.
    pub unscheduled_ticket_secs: i64,
    /// One subscription billing period. default: `30` days.
    pub subscription_period_days: i64,
    /// Smallest tip, in minor units. default: `100`.
    pub min_tip_minor: i64,
    /// Premium features sold for a period, by name (e.g. `verified_badge`).
    pub features: BTreeMap<String, FeaturePrice>,
    pub epayco: EpaycoConfig,
    /// Other providers, notifying `POST /api/webhooks/<name>` with signed JSON events.
    pub providers: BTreeMap<String, SignedProviderConfig>,
    /// How often payments left pending are re-checked with the provider; `0` never.
    pub reconcile_interval_secs: u64,
    /// A payment is re-checked once it has been pending this long.
    pub reconcile_after_secs: i64,
    /// Payments pending longer than this are no longer re-checked (abandoned checkouts).
    pub reconcile_max_age_days: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookScheme {
    /// `webhook-id` / `webhook-timestamp` / `webhook-signature: v1,<base64>` (Standard Webhooks; Meru).
    Standard,
    /// `Stripe-Signature: t=<unix>,v1=<hex>`.
    Stripe,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedProviderConfig {
    pub scheme: WebhookScheme,
    /// Every secret currently valid (several during rotation); Standard Webhooks secrets
    /// are `whsec_<base64>`.
    pub secrets: Vec<Secret>,
    /// Accepted clock difference for the signed timestamp. default: `300`.
    #[serde(default = "default_tolerance")]
    pub tolerance_secs: i64,
}

fn default_tolerance() -> i64 {
    300
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeaturePrice {
    pub amount_minor: i64,
    pub currency: String,
    pub days: i64,
    /// Sold as this many minutes of private-call credit (`docs/calls.md`), usable for
    /// `days`, instead of a plan. default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_minutes: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EpaycoConfig {
    /// `P_CUST_ID_CLIENTE`; empty disables ePayco. ePayco's ids are digits, which an
    /// environment variable or unquoted TOML value delivers as a number.
    #[serde(deserialize_with = "string_or_number")]
    pub customer_id: String,
    /// `P_KEY`, the key confirmations are signed with.
    pub p_key: Secret,
    pub p_key_file: Option<PathBuf>,
    /// The public key the browser checkout uses.
    pub public_key: String,
    /// Accept test transactions (`x_test_request = TRUE`). default: `false`, as in production.
    pub test_mode: bool,
    /// ePayco's transaction lookup; `<this>/<x_ref_payco>` answers the current state.
    pub validation_url: String,
    /// Where the join page's "pay" form posts the checkout fields (ePayco's form
    /// checkout, which needs no script on our page).
    /// default: `https://secure.payco.co/checkout.php`.
    pub checkout_url: String,
}

impl Default for EpaycoConfig {
    fn default() -> Self {
        Self {
            customer_id: String::new(),
            p_key: Secret::default(),
            p_key_file: None,
            public_key: String::new(),
            test_mode: false,
            validation_url: "https://secure.epayco.co/validation/v1/reference".into(),
            checkout_url: "https://secure.payco.co/checkout.php".into(),
        }
    }
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        Self {
            performer_share_bps: 7_000,
            ticket_grace_secs: 3_600,
            unscheduled_ticket_secs: 86_400,
            subscription_period_days: 30,
            min_tip_minor: 100,
            features: BTreeMap::new(),
            epayco: EpaycoConfig::default(),
            providers: BTreeMap::new(),
            reconcile_interval_secs: 300,
            reconcile_after_secs: 600,
            reconcile_max_age_days: 14,
        }
    }
}

impl PaymentsConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        self.validate_terms()?;
        self.validate_features()?;
        self.validate_providers()?;
        self.epayco.validate_urls()?;
        if self.reconcile_after_secs < 60 || !(1..=365).contains(&self.reconcile_max_age_days) {
            return Err(bad(
                "payments.reconcile_after_secs",
                "must be at least 60, and reconcile_max_age_days 1 to 365",
            ));
        }
        self.epayco.validate_p_key()
    }

    /// The share, how long tickets and subscriptions last, the smallest tip.
    fn validate_terms(&self) -> Result<(), ConfigError> {
        if !(0..=10_000).contains(&self.performer_share_bps) {
            return Err(bad(
                "payments.performer_share_bps",
                "must be between 0 and 10000",
            ));
        }
        if self.ticket_grace_secs < 0 || self.unscheduled_ticket_secs < 60 {
            return Err(bad(
                "payments.ticket_grace_secs",
                "grace must be ≥ 0 and unscheduled tickets ≥ 60 s",
            ));
        }
        if !(1..=366).contains(&self.subscription_period_days) {
            return Err(bad(
                "payments.subscription_period_days",
                "must be between 1 and 366",
            ));
        }
        if self.min_tip_minor < 1 {
            return Err(bad("payments.min_tip_minor", "must be at least 1"));
        }
        Ok(())
    }

    fn validate_features(&self) -> Result<(), ConfigError> {
        for (name, price) in &self.features {
            if parse_handle(name).as_deref() != Some(name.as_str())
                || !is_amount(price.amount_minor)
                || !is_currency_code(&price.currency)
                || !(1..=3660).contains(&price.days)
                || price
                    .call_minutes
                    .is_some_and(|m| !(1..=100_000).contains(&m))
            {
                return Err(bad(&format!("payments.features.{name}"), "needs a lowercase name, a positive amount_minor (at most 10^12), an ISO currency, 1-3660 days and, for call credit, 1-100000 call_minutes"));
            }
        }
        Ok(())
    }

    fn validate_providers(&self) -> Result<(), ConfigError> {
        for (name, provider) in &self.providers {
            let setting = format!("payments.providers.{name}");
            if name == "epayco" || parse_handle(name).as_deref() != Some(name.as_str()) {
                return Err(bad(&setting, "needs a lowercase name other than epayco"));
            }
            if provider.secrets.is_empty() || provider.secrets.iter().any(|s| s.expose().len() < 16)
            {
                return Err(bad(
                    &setting,
                    "needs at least one secret of 16 or more characters",
                ));
            }
            if !(1..=3600).contains(&provider.tolerance_secs) {
                return Err(bad(&setting, "tolerance_secs must be between 1 and 3600"));
            }
        }
        Ok(())
    }
}

impl EpaycoConfig {
    fn validate_urls(&self) -> Result<(), ConfigError> {
        let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"];
        for (setting, url) in [
            ("payments.epayco.validation_url", &self.validation_url),
            ("payments.epayco.checkout_url", &self.checkout_url),
        ] {
            if !(url.starts_with("https://") || loopback.iter().any(|l| url.starts_with(l)))
                || url.ends_with('/')
            {
                return Err(bad(
                    setting,
                    "must be an https:// URL without a trailing slash (http:// only on loopback)",
                ));
            }
        }
        Ok(())
    }

    fn validate_p_key(&self) -> Result<(), ConfigError> {
        if !self.customer_id.is_empty() && self.p_key.expose().len() < 16 {
            return Err(bad(
                "payments.epayco.p_key",
                "is required (at least 16 characters) when payments.epayco.customer_id is set",
            ));
        }
        Ok(())
    }
}

fn string_or_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        String(String),
        Number(u64),
    }
    Ok(match Text::deserialize(deserializer)? {
        Text::String(text) => text,
        Text::Number(number) => number.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use figment::providers::{Format, Serialized, Toml};
    use figment::Figment;

    use crate::config::Config;

    #[test]
    fn an_epayco_customer_id_may_be_written_as_a_number() {
        let config: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string("[payments.epayco]\ncustomer_id = 900123\n"))
            .extract()
            .unwrap();
        assert_eq!(config.payments.epayco.customer_id, "900123");
    }
}
