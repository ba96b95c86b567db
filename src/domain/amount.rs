//! Decimal amounts on the wire ↔ integer minor units, never through a float.

/// ISO 4217 currencies without minor units; every other code is taken to have two.
const ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];

pub fn exponent(currency: &str) -> u32 {
    if ZERO_DECIMAL.contains(&currency) {
        0
    } else {
        2
    }
}

/// `"50000.00"` COP → `5000000`. Refuses signs, exponents, spaces, and fractional digits
/// beyond the currency's exponent unless they are zeros.
pub fn parse_major(text: &str, currency: &str) -> Option<i64> {
    let places = exponent(currency) as usize;
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    if text.contains('.') && fraction.is_empty() {
        return None;
    }
    let (kept, rest) = fraction.split_at(fraction.len().min(places));
    if rest.bytes().any(|b| b != b'0') {
        return None;
    }
    let mut minor: i64 = whole.parse().ok()?;
    for _ in 0..places {
        minor = minor.checked_mul(10)?;
    }
    let mut fraction_value: i64 = if kept.is_empty() {
        0
    } else {
        kept.parse().ok()?
    };
    for _ in kept.len()..places {
        fraction_value *= 10;
    }
    minor.checked_add(fraction_value)
}

/// `5000000` COP → `"50000.00"`.
pub fn format_major(minor: i64, currency: &str) -> String {
    let places = exponent(currency);
    if places == 0 {
        return minor.to_string();
    }
    let divisor = 10_i64.pow(places);
    format!(
        "{}.{:0width$}",
        minor / divisor,
        minor % divisor,
        width = places as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly() {
        assert_eq!(parse_major("50000.00", "COP"), Some(5_000_000));
        assert_eq!(parse_major("50000", "COP"), Some(5_000_000));
        assert_eq!(parse_major("19.9", "USD"), Some(1_990));
        assert_eq!(parse_major("19.990", "USD"), Some(1_999));
        assert_eq!(parse_major("1500", "JPY"), Some(1_500));
        assert_eq!(parse_major("1500.00", "JPY"), Some(1_500));
    }

    #[test]
    fn refuses_what_is_not_a_plain_amount() {
        for bad in [
            "", ".5", "5.", "-5", "+5", "1e3", "5,00", " 5", "19.995", "1500.5",
        ] {
            let currency = if bad == "1500.5" { "JPY" } else { "USD" };
            assert_eq!(parse_major(bad, currency), None, "{bad}");
        }
        assert_eq!(parse_major("99999999999999999999", "USD"), None);
    }

    #[test]
    fn formats_with_the_currencys_places() {
        assert_eq!(format_major(5_000_000, "COP"), "50000.00");
        assert_eq!(format_major(1_905, "USD"), "19.05");
        assert_eq!(format_major(1_500, "JPY"), "1500");
    }
}
