//! AFL entry point for [`roomkey_fuzz::jitsi_rs256`].

fn main() {
    roomkey_fuzz::jitsi_rs256::prepare();
    afl::fuzz!(|data: &[u8]| roomkey_fuzz::jitsi_rs256::run(data));
}
