//! AFL entry point for [`roomkey_fuzz::session_token`].

fn main() {
    roomkey_fuzz::session_token::prepare();
    afl::fuzz!(|data: &[u8]| roomkey_fuzz::session_token::run(data));
}
