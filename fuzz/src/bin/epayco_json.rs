//! AFL entry point for [`roomkey_fuzz::epayco_json`].

fn main() {
    roomkey_fuzz::epayco_json::prepare();
    afl::fuzz!(|data: &[u8]| roomkey_fuzz::epayco_json::run(data));
}
