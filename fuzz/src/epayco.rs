//! What the two ePayco targets check once a body has become fields.

use std::collections::BTreeMap;

use roomkey::domain::amount::{format_major, parse_major};
use roomkey::payments::epayco::{classify, Notification, NotificationError};
use sha2::{Digest as _, Sha256};

/// The account the target's notifications are verified for (the research notes' vector).
pub(crate) const CUSTOMER_ID: &str = "12345";
pub(crate) const P_KEY: &str = "0123456789abcdef0123456789abcdef";

/// The signature computed here, from the documented formula, not by roomkey's function.
fn expected_signature(n: &Notification) -> String {
    let text = [
        CUSTOMER_ID,
        P_KEY,
        &n.ref_payco,
        &n.transaction_id,
        &n.amount,
        &n.currency,
    ]
    .join("^");
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The fields a notification is made of, written back as ePayco would send them.
fn fields_of(n: &Notification) -> BTreeMap<String, String> {
    let mut fields: BTreeMap<String, String> = [
        ("x_ref_payco", n.ref_payco.as_str()),
        ("x_transaction_id", &n.transaction_id),
        ("x_amount", &n.amount),
        ("x_currency_code", &n.currency),
        ("x_signature", &n.signature),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    fields.insert("x_cod_transaction_state".into(), n.state_code.to_string());
    fields.insert("x_cod_response".into(), n.state_code.to_string());
    if n.is_test {
        fields.insert("x_test_request".into(), "TRUE".into());
    }
    if let Some(reference) = &n.our_reference {
        fields.insert("x_extra1".into(), reference.clone());
    }
    fields
}

fn same(a: &Notification, b: &Notification) -> bool {
    (
        &a.ref_payco,
        &a.transaction_id,
        &a.amount,
        &a.currency,
        &a.signature,
        a.state_code,
        a.is_test,
        &a.our_reference,
    ) == (
        &b.ref_payco,
        &b.transaction_id,
        &b.amount,
        &b.currency,
        &b.signature,
        b.state_code,
        b.is_test,
        &b.our_reference,
    )
}

/// Parses the fields as a confirmation and checks what must hold of the result.
pub(crate) fn check_fields(fields: &BTreeMap<String, String>) {
    let Ok(n) = Notification::from_fields(fields) else {
        return;
    };
    // The shape from_fields promises.
    assert!(
        !n.ref_payco.is_empty()
            && n.ref_payco.len() <= 64
            && n.ref_payco
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-'),
        "{n:?}"
    );
    for value in [&n.transaction_id, &n.amount, &n.currency, &n.signature] {
        assert!(!value.is_empty() && value.trim() == value, "{n:?}");
    }
    if let Some(reference) = &n.our_reference {
        assert!(
            !reference.is_empty() && reference.trim() == reference,
            "{n:?}"
        );
    }
    let _ = classify(n.state_code);

    // The signature verifies exactly when it is the documented hash, in either case.
    let expected = expected_signature(&n);
    let verified = n.verify(CUSTOMER_ID, P_KEY);
    assert_eq!(
        verified.is_ok(),
        n.signature.eq_ignore_ascii_case(&expected),
        "{n:?}"
    );
    if let Err(error) = &verified {
        assert_eq!(*error, NotificationError::BadSignature);
    }
    // Another account's key never verifies what this one's does.
    if verified.is_ok() {
        assert!(n.verify(CUSTOMER_ID, "another-p-key-0123456789").is_err());
        assert!(n.verify("54321", P_KEY).is_err());
    }

    // Parsing is deterministic, and a notification written back as fields parses to
    // itself and verifies (or not) identically.
    let again = Notification::from_fields(fields).expect("parsed once, parses again");
    assert!(same(&n, &again));
    let rebuilt = Notification::from_fields(&fields_of(&n)).expect("its own fields parse");
    assert!(same(&n, &rebuilt), "{n:?} {rebuilt:?}");
    assert_eq!(rebuilt.verify(CUSTOMER_ID, P_KEY), verified);

    // With the right signature put in, the same fields verify; upper-case hex too.
    for signature in [expected.clone(), expected.to_ascii_uppercase()] {
        let mut signed = fields_of(&n);
        signed.insert("x_signature".into(), signature);
        let signed = Notification::from_fields(&signed).expect("only the signature changed");
        assert_eq!(signed.verify(CUSTOMER_ID, P_KEY), Ok(()), "{signed:?}");
        // The signature binds the amount: another amount no longer verifies.
        let mut other = signed.clone();
        other.amount.push('0');
        assert!(other.verify(CUSTOMER_ID, P_KEY).is_err());
    }

    // A wire amount that parses formats back to itself in minor units.
    if let Some(minor) = parse_major(&n.amount, &n.currency) {
        assert!(minor >= 0, "{n:?}");
        let text = format_major(minor, &n.currency);
        assert_eq!(parse_major(&text, &n.currency), Some(minor), "{text}");
    }
}
