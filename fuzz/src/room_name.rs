//! Room names: `domain::RoomName::parse`, which every room path segment, token request
//! and Prosody verdict check goes through.
//!
//! Invariants: a parsed name normalises to itself (the verdict endpoint relies on this:
//! it treats a room node that does not parse to itself as no room of ours); it is
//! non-empty, at most 200 bytes, and only unreserved characters and lower-case `%xx`
//! escapes; its decoded text is valid UTF-8, NFKC and lower-case, so the raw, decoded and
//! upper-cased forms all name the same room.

use roomkey::domain::RoomName;
use unicode_normalization::UnicodeNormalization as _;

pub fn prepare() {}

pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(name) = RoomName::parse(text) else {
        return;
    };
    let canonical = name.as_str();
    assert!(
        !canonical.is_empty() && canonical.len() <= 200,
        "{canonical}"
    );
    let bytes = canonical.as_bytes();
    let mut decoded = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = &bytes[i + 1..i + 3];
            assert!(
                hex.iter()
                    .all(|h| h.is_ascii_digit() || (b'a'..=b'f').contains(h)),
                "{canonical}"
            );
            decoded.push(u8::from_str_radix(std::str::from_utf8(hex).unwrap(), 16).unwrap());
            i += 3;
        } else {
            assert!(
                b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-~!*()".contains(&b),
                "{canonical}"
            );
            decoded.push(b);
            i += 1;
        }
    }
    let decoded = String::from_utf8(decoded).expect("a canonical name decodes to UTF-8");
    assert_eq!(RoomName::parse(canonical).as_ref(), Ok(&name), "{text:?}");
    assert_eq!(
        RoomName::parse(&canonical.to_ascii_uppercase()).as_ref(),
        Ok(&name),
        "{text:?}"
    );
    assert_eq!(
        RoomName::parse(&decoded).as_ref(),
        Ok(&name),
        "{text:?} {decoded:?}"
    );
    assert_eq!(decoded.nfkc().collect::<String>(), decoded, "{text:?}");
    assert_eq!(decoded.to_lowercase(), decoded, "{text:?}");
}
