//! AFL entry point for [`roomkey_fuzz::config`].

fn main() {
    roomkey_fuzz::config::prepare();
    afl::fuzz!(|data: &[u8]| roomkey_fuzz::config::run(data));
}
