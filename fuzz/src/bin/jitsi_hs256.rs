//! AFL entry point for [`roomkey_fuzz::jitsi_hs256`].

fn main() {
    roomkey_fuzz::jitsi_hs256::prepare();
    afl::fuzz!(|data: &[u8]| roomkey_fuzz::jitsi_hs256::run(data));
}
