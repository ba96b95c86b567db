//! AFL entry point for [`roomkey_fuzz::prosody_signature`].

fn main() {
    roomkey_fuzz::prosody_signature::prepare();
    afl::fuzz!(|data: &[u8]| roomkey_fuzz::prosody_signature::run(data));
}
