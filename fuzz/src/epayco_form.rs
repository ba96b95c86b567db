//! ePayco confirmations by form body or query string: `http::extract::parse_urlencoded`
//! (the one decoder both the POST form and the GET query go through), then
//! `payments::epayco::Notification::from_fields` and its signature.
//!
//! Invariants: the decoder agrees with a strict reading of its own contract (`+` is a
//! space, `%XX` two hex digits, UTF-8, no NUL character in a key or value, the first of a
//! repeated key wins); decoded fields
//! encoded again decode to the same fields; and everything in `epayco::check_fields`.

use std::collections::BTreeMap;

use roomkey::http::extract::parse_urlencoded;

pub fn prepare() {}

pub fn run(data: &[u8]) {
    // The POST handler refuses a form that is not UTF-8 before decoding; a query string
    // reaches the decoder as text.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let decoded = parse_urlencoded(text);
    assert_eq!(decoded.as_ref().ok(), reference(text).as_ref(), "{text:?}");
    let Ok(fields) = decoded else {
        return;
    };
    assert_eq!(
        parse_urlencoded(&encode(&fields)).ok().as_ref(),
        Some(&fields)
    );
    crate::epayco::check_fields(&fields);
}

/// The decoder's documented contract, written out strictly.
fn reference(text: &str) -> Option<BTreeMap<String, String>> {
    fn decode(part: &str) -> Option<String> {
        let mut out = Vec::new();
        let mut bytes = part.bytes();
        while let Some(b) = bytes.next() {
            match b {
                b'+' => out.push(b' '),
                b'%' => {
                    let high = (bytes.next()? as char).to_digit(16)?;
                    let low = (bytes.next()? as char).to_digit(16)?;
                    out.push((high * 16 + low) as u8);
                }
                b => out.push(b),
            }
        }
        String::from_utf8(out)
            .ok()
            .filter(|text| !text.contains('\0'))
    }
    let mut fields = BTreeMap::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        fields.entry(decode(key)?).or_insert(decode(value)?);
    }
    Some(fields)
}

/// Percent-encodes every byte that is not unreserved.
fn encode(fields: &BTreeMap<String, String>) -> String {
    fn part(text: &str, out: &mut String) {
        for b in text.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    let mut out = String::new();
    for (key, value) in fields {
        if !out.is_empty() {
            out.push('&');
        }
        part(key, &mut out);
        out.push('=');
        part(value, &mut out);
    }
    out
}
