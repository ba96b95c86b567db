//! AFL entry point for [`roomkey_fuzz::signed_webhook`].

fn main() {
    roomkey_fuzz::signed_webhook::prepare();
    afl::fuzz!(|data: &[u8]| roomkey_fuzz::signed_webhook::run(data));
}
