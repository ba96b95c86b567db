//! Signed requests from Prosody shards: `live::signature::RequestSigner::verify` over
//! `X-Roomkey-Timestamp`, `X-Roomkey-Signature` and the body (`PROTOCOL.md`,
//! "Authentication").
//!
//! The input is a structured case: the request kind, a timestamp near now, anywhere in
//! `i64`, or raw text, a signature made here for some kind and timestamp (the right ones
//! or not), written in either hex case and with spaces around it, or raw text, and a body.
//! Invariants: what verifies has a timestamp header that reads as an integer within the
//! allowed skew and a signature header `v1=<hex>` holding the HMAC (computed here with
//! another implementation) of `v1:<kind>:<timestamp>:<body>` for the kind it was checked
//! as; a correctly signed request in time verifies; a signature for another kind or
//! another body never does.

use arbitrary::{Arbitrary, Unstructured};
use roomkey::live::signature::{RequestKind, RequestSigner, SignatureError};

use crate::support::{hmac_sha256, within, Time};
use crate::NOW;

const SECRET: &[u8] = b"prosody-shared-secret-for-fuzzing-0123";

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Kind {
    Verdicts,
    Events,
    Command,
}

impl Kind {
    fn kind(self) -> RequestKind {
        match self {
            Kind::Verdicts => RequestKind::Verdicts,
            Kind::Events => RequestKind::Events,
            Kind::Command => RequestKind::Command,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Verdicts => "verdicts",
            Kind::Events => "events",
            Kind::Command => "command",
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Stamp<'a> {
    At(Time),
    Text(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Signature<'a> {
    /// Made here over `kind`, the header's timestamp (or `at`, when set) and the body.
    Made {
        kind: Option<Kind>,
        at: Option<Time>,
        upper: bool,
        pad: bool,
        other_key: bool,
    },
    Text(&'a str),
}

#[derive(Arbitrary, Debug)]
struct Case<'a> {
    kind: Kind,
    skew: u16,
    timestamp: Option<Stamp<'a>>,
    signature: Option<Signature<'a>>,
    body: &'a [u8],
}

pub fn prepare() {}

pub fn run(data: &[u8]) {
    if let Some(raw) = data.strip_prefix(b"=") {
        check_raw(raw);
        return;
    }
    let Ok(case) = Case::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let skew = i64::from(case.skew % 596) + 5;
    let signer = RequestSigner::new(SECRET, skew);
    let (timestamp, at) = match &case.timestamp {
        Some(Stamp::At(time)) => (Some(time.at().to_string()), Some(time.at())),
        Some(Stamp::Text(text)) => ((Some((*text).to_owned())), None),
        None => (None, None),
    };
    let mut valid = false;
    let signature = match &case.signature {
        Some(Signature::Made {
            kind,
            at: signed_at,
            upper,
            pad,
            other_key,
        }) => signed_at.map(Time::at).or(at).map(|signed_at| {
            let kind_signed = kind.unwrap_or(case.kind);
            let input = [
                format!("v1:{}:{signed_at}:", kind_signed.name()).as_bytes(),
                case.body,
            ]
            .concat();
            let key: &[u8] = if *other_key {
                b"not the shared secret"
            } else {
                SECRET
            };
            let mut mac = hex::encode(hmac_sha256(key, &input));
            if *upper {
                mac = mac.to_ascii_uppercase();
            }
            valid = !*other_key
                && kind_signed.name() == case.kind.name()
                && Some(signed_at) == at
                && within(NOW, signed_at, skew);
            if *pad {
                format!(" v1={mac}\t")
            } else {
                format!("v1={mac}")
            }
        }),
        Some(Signature::Text(text)) => Some((*text).to_owned()),
        None => None,
    };
    check(
        &signer,
        skew,
        case.kind,
        timestamp.as_deref(),
        signature.as_deref(),
        case.body,
        valid,
    );
}

/// `=` then `name: value` lines (`kind` — verdicts, events or command —,
/// `x-roomkey-timestamp`, `x-roomkey-signature`), a blank line, and the body; 60 s skew.
fn check_raw(text: &[u8]) {
    let split = text
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or(text.len());
    let Ok(head) = std::str::from_utf8(&text[..split]) else {
        return;
    };
    let body = text.get(split + 2..).unwrap_or_default();
    let (mut kind, mut timestamp, mut signature) = (Kind::Verdicts, None, None);
    for line in head.lines() {
        let Some((name, value)) = line.split_once(": ") else {
            continue;
        };
        match name.to_ascii_lowercase().as_str() {
            "kind" if value == "events" => kind = Kind::Events,
            "kind" if value == "command" => kind = Kind::Command,
            "x-roomkey-timestamp" => timestamp = Some(value),
            "x-roomkey-signature" => signature = Some(value),
            _ => {}
        }
    }
    check(
        &RequestSigner::new(SECRET, 60),
        60,
        kind,
        timestamp,
        signature,
        body,
        false,
    );
}

fn check(
    signer: &RequestSigner,
    skew: i64,
    kind: Kind,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    valid: bool,
) {
    let result = signer.verify(kind.kind(), timestamp, signature, body, NOW);
    if valid {
        assert_eq!(result, Ok(()));
    }
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        assert_eq!(result, Err(SignatureError::Missing));
        return;
    };
    if result.is_err() {
        return;
    }
    let at: i64 = timestamp.trim().parse().expect("verified");
    assert!(within(NOW, at, skew), "{at}");
    let input = [format!("v1:{}:{at}:", kind.name()).as_bytes(), body].concat();
    let presented = signature.trim().strip_prefix("v1=").expect("verified");
    assert_eq!(
        hex::decode(presented).ok(),
        Some(hmac_sha256(SECRET, &input))
    );
    // Another kind, or another body, never verifies with the same headers.
    for other in [Kind::Verdicts, Kind::Events, Kind::Command] {
        if other.name() != kind.name() {
            assert!(signer
                .verify(other.kind(), Some(timestamp), Some(signature), body, NOW)
                .is_err());
        }
    }
    let mut changed = body.to_vec();
    changed.push(b' ');
    assert!(signer
        .verify(kind.kind(), Some(timestamp), Some(signature), &changed, NOW)
        .is_err());
}
