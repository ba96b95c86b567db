//! ePayco confirmation notifications: parsing, the signature, and what each state means.
//!
//! ePayco calls the confirmation URL server-to-server, by POST (form or JSON body) or GET
//! (query string), whenever a transaction changes state. The signature is a plain SHA-256
//! (not an HMAC) over `p_cust_id_cliente^p_key^x_ref_payco^x_transaction_id^x_amount^x_currency_code`
//! as received — the official plugins compute it so — and it does not cover the state,
//! the test flag, the extras, or a timestamp. So the fields a notification carries beyond
//! the signed ones are never applied: the payment service reads the transaction's state
//! from ePayco's own lookup ([`super::reconcile`]) and binds the reference to an intent we
//! created, with the same amount and currency.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a transaction state means for access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateClass {
    /// 1 Aceptada.
    Accepted,
    /// 3 Pendiente, 7 Retenida, 8 Iniciada, and anything unknown: wait and reconcile.
    Pending,
    /// 2 Rechazada, 4 Fallida, 9 Expirada, 10 Abandonada, 11 Cancelada, 12 Antifraude.
    Denied,
    /// 6 Reversada: the money went back.
    Reversed,
    /// A chargeback (reported by a provider's event or by an admin): like a reversal, booked
    /// as a chargeback.
    ChargedBack,
}

/// The form checkout's `p_signature`: `md5(p_cust_id_cliente^p_key^p_id_invoice^p_amount^p_currency_code)`,
/// lowercase hex, as ePayco's form checkout checks it.
pub fn checkout_signature(
    customer_id: &str,
    p_key: &str,
    invoice: &str,
    amount: &str,
    currency: &str,
) -> String {
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(
        format!("{customer_id}^{p_key}^{invoice}^{amount}^{currency}").as_bytes(),
    ))
}

/// 3 Pendiente.
pub const PENDING: u32 = 3;

pub fn classify(code: u32) -> StateClass {
    match code {
        1 => StateClass::Accepted,
        2 | 4 | 9 | 10 | 11 | 12 => StateClass::Denied,
        6 => StateClass::Reversed,
        _ => StateClass::Pending,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    #[error("missing field {0}")]
    Missing(&'static str),
    #[error("field {0} is malformed")]
    Malformed(&'static str),
    #[error("the signature does not match")]
    BadSignature,
}

/// A confirmation as received; every value is the raw string.
#[derive(Debug, Clone)]
pub struct Notification {
    pub ref_payco: String,
    pub transaction_id: String,
    pub amount: String,
    pub currency: String,
    pub signature: String,
    /// `x_cod_transaction_state` when non-zero, else `x_cod_response` (as the official
    /// WooCommerce plugin does: some payloads carry 0 in the former).
    pub state_code: u32,
    pub is_test: bool,
    /// Our reference, when ePayco passes it back (`x_extra1`, else `x_id_invoice`). Later
    /// notifications may omit it; the provider reference is bound on first sight.
    pub our_reference: Option<String>,
}

impl Notification {
    pub fn from_fields(fields: &BTreeMap<String, String>) -> Result<Self, NotificationError> {
        let get = |name: &'static str| fields.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let required = |name: &'static str| {
            get(name)
                .map(str::to_owned)
                .ok_or(NotificationError::Missing(name))
        };
        let code = |name: &'static str| -> Result<Option<u32>, NotificationError> {
            get(name)
                .map(|v| {
                    v.parse::<u32>()
                        .map_err(|_| NotificationError::Malformed(name))
                })
                .transpose()
        };
        let state_code = match code("x_cod_transaction_state")? {
            Some(code) if code != 0 => code,
            _ => code("x_cod_response")?
                .ok_or(NotificationError::Missing("x_cod_transaction_state"))?,
        };
        let ref_payco = required("x_ref_payco")?;
        if ref_payco.len() > 64
            || !ref_payco
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(NotificationError::Malformed("x_ref_payco"));
        }
        Ok(Self {
            ref_payco,
            transaction_id: required("x_transaction_id")?,
            amount: required("x_amount")?,
            currency: required("x_currency_code")?,
            signature: required("x_signature")?,
            state_code,
            is_test: get("x_test_request").is_some_and(|v| v.eq_ignore_ascii_case("true")),
            our_reference: get("x_extra1")
                .or_else(|| get("x_id_invoice"))
                .map(str::to_owned),
        })
    }

    /// Checks `x_signature` in constant time, case-insensitively on the hex.
    pub fn verify(&self, customer_id: &str, p_key: &str) -> Result<(), NotificationError> {
        let expected = signature(
            customer_id,
            p_key,
            &self.ref_payco,
            &self.transaction_id,
            &self.amount,
            &self.currency,
        );
        let presented = self.signature.to_ascii_lowercase();
        if presented.len() == expected.len()
            && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
        {
            Ok(())
        } else {
            Err(NotificationError::BadSignature)
        }
    }
}

/// `hex(sha256(customer_id^p_key^ref^transaction^amount^currency))`.
pub fn signature(
    customer_id: &str,
    p_key: &str,
    ref_payco: &str,
    transaction_id: &str,
    amount: &str,
    currency: &str,
) -> String {
    let text = format!("{customer_id}^{p_key}^{ref_payco}^{transaction_id}^{amount}^{currency}");
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_checkout_signature_is_md5_over_the_caret_joined_fields() {
        // md5("12345^0123456789abcdef0123456789abcdef^inv1^50000.00^COP"), computed with Python's hashlib.
        assert_eq!(
            checkout_signature(
                "12345",
                "0123456789abcdef0123456789abcdef",
                "inv1",
                "50000.00",
                "COP"
            ),
            "b5e31da8c51c9d371d6cec47c6e8494e"
        );
    }

    /// The research notes' vectors, computed with Python's hashlib.
    #[test]
    fn signature_matches_the_independent_vectors() {
        let key = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            signature("12345", key, "987654", "123456789", "50000.00", "COP"),
            "1466a5dcf2f1533956a3f10425e605ff27baa248f33359790c2e90ff3e04153c"
        );
        assert_eq!(
            signature("12345", key, "987654", "123456789", "50000", "COP"),
            "dcf2d511548637f74037db301c4ef626ba13b1f67ada9b8a60326f76fe3d55c6"
        );
    }

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn state_falls_back_to_the_response_code_and_extras_are_optional() {
        let base = [
            ("x_ref_payco", "987654"),
            ("x_transaction_id", "123456789"),
            ("x_amount", "50000.00"),
            ("x_currency_code", "COP"),
            (
                "x_signature",
                "1466A5DCF2F1533956A3F10425E605FF27BAA248F33359790C2E90FF3E04153C",
            ),
        ];
        let mut with_zero = base.to_vec();
        with_zero.extend([("x_cod_transaction_state", "0"), ("x_cod_response", "1")]);
        let notification = Notification::from_fields(&fields(&with_zero)).unwrap();
        assert_eq!(notification.state_code, 1);
        assert_eq!(notification.our_reference, None);
        notification
            .verify("12345", "0123456789abcdef0123456789abcdef")
            .unwrap();
        assert_eq!(
            notification.verify("12345", "another key"),
            Err(NotificationError::BadSignature)
        );

        let mut missing = base.to_vec();
        missing.retain(|(k, _)| *k != "x_amount");
        missing.push(("x_cod_transaction_state", "1"));
        assert_eq!(
            Notification::from_fields(&fields(&missing)).unwrap_err(),
            NotificationError::Missing("x_amount")
        );
    }

    #[test]
    fn every_state_code_has_a_meaning_and_unknown_codes_wait() {
        assert_eq!(classify(1), StateClass::Accepted);
        for code in [2, 4, 9, 10, 11, 12] {
            assert_eq!(classify(code), StateClass::Denied, "{code}");
        }
        for code in [3, 7, 8, 5, 13, 99] {
            assert_eq!(classify(code), StateClass::Pending, "{code}");
        }
        assert_eq!(classify(6), StateClass::Reversed);
    }
}
