//! Fuzz targets for the parsers roomkey runs on outside bytes.
//!
//! Each module is one target. `prepare()` builds once what the target needs (keys, a key
//! folder), and `run(bytes)` feeds one input through the parser and asserts what must hold
//! for every input, not only that nothing panics. The AFL entry points in `src/bin/` call
//! these two; `tests/corpus.rs` replays the committed corpus through the same functions
//! with plain `cargo test`, so a regression shows without AFL.
//!
//! Structure-aware targets read their input with [`arbitrary`]: a token target builds the
//! token from fuzzed parts and signs some of them with the right key, so the fuzzer gets
//! past the signature check to the claims; the signature targets put a correct signature
//! among fuzzed headers. Where a target knows that its input is valid, it asserts that it
//! is accepted; wherever the parser accepts, an independent check (another HMAC
//! implementation, ring's RSA verification, plain JSON) confirms that it should have.

pub mod config;
pub mod epayco_form;
pub mod epayco_json;
pub mod jitsi_hs256;
pub mod jitsi_rs256;
pub mod prosody_bodies;
pub mod prosody_signature;
pub mod quick;
pub mod room_name;
pub mod session_token;
pub mod signed_webhook;

mod epayco;
mod jitsi;
mod jwt;
mod support;

/// A target: its AFL binary and corpus folder name, and its two functions.
pub struct Target {
    pub name: &'static str,
    pub prepare: fn(),
    pub run: fn(&[u8]),
}

macro_rules! targets {
    ($($name:ident),* $(,)?) => {
        /// Every target.
        pub const TARGETS: &[Target] = &[$(Target {
            name: stringify!($name),
            prepare: $name::prepare,
            run: $name::run,
        }),*];
    };
}

targets!(
    epayco_form,
    epayco_json,
    signed_webhook,
    session_token,
    jitsi_hs256,
    jitsi_rs256,
    room_name,
    prosody_signature,
    prosody_bodies,
    config,
);

/// The instant every target verifies at (2027-01-15).
pub const NOW: i64 = 1_800_000_000;
