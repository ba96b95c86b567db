//! What several targets share: an HMAC that is not ring's, timestamps, small edits.

use arbitrary::Arbitrary;
use hmac::{Hmac, Mac as _};

use crate::NOW;

/// HMAC-SHA256 from the RustCrypto crates: an independent check on ring's.
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

pub(crate) fn hmac_sha384(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<sha2::Sha384>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

pub(crate) fn hmac_sha512(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<sha2::Sha512>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// A timestamp: usually near [`NOW`], sometimes anywhere an `i64` reaches, or close to
/// either end of it (where arithmetic on timestamps overflows).
#[derive(Arbitrary, Debug, Clone, Copy)]
pub(crate) enum Time {
    Offset(i16),
    Wide(i64),
    AboveMin(u32),
    BelowMax(u32),
}

impl Time {
    pub(crate) fn at(self) -> i64 {
        match self {
            Time::Offset(offset) => NOW + i64::from(offset),
            Time::Wide(at) => at,
            Time::AboveMin(by) => i64::MIN + i64::from(by),
            Time::BelowMax(by) => i64::MAX - i64::from(by),
        }
    }
}

/// `|a - b| <= tolerance`, without overflow.
pub(crate) fn within(a: i64, b: i64, tolerance: i64) -> bool {
    (i128::from(a) - i128::from(b)).abs() <= i128::from(tolerance)
}

/// One change to a finished text: a byte replaced, text inserted, or the end cut off.
#[derive(Arbitrary, Debug, Clone)]
pub(crate) enum Edit<'a> {
    Replace(u16, u8),
    Insert(u16, &'a str),
    Truncate(u16),
}

impl Edit<'_> {
    /// Applies the edit; `None` when it would leave the text unchanged or not UTF-8.
    pub(crate) fn apply(&self, text: &str) -> Option<String> {
        let mut bytes = text.as_bytes().to_vec();
        if bytes.is_empty() {
            return None;
        }
        match self {
            Edit::Replace(at, byte) => {
                let at = usize::from(*at) % bytes.len();
                if bytes[at] == *byte {
                    return None;
                }
                bytes[at] = *byte;
            }
            Edit::Insert(at, inserted) => {
                if inserted.is_empty() {
                    return None;
                }
                let at = usize::from(*at) % (bytes.len() + 1);
                bytes.splice(at..at, inserted.bytes());
            }
            Edit::Truncate(len) => {
                let len = usize::from(*len) % bytes.len();
                bytes.truncate(len);
            }
        }
        String::from_utf8(bytes).ok()
    }
}
