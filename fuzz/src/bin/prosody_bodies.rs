//! AFL entry point for [`roomkey_fuzz::prosody_bodies`].

fn main() {
    roomkey_fuzz::prosody_bodies::prepare();
    afl::fuzz!(|data: &[u8]| roomkey_fuzz::prosody_bodies::run(data));
}
