//! AFL entry point for [`roomkey_fuzz::epayco_form`].

fn main() {
    roomkey_fuzz::epayco_form::prepare();
    afl::fuzz!(|data: &[u8]| roomkey_fuzz::epayco_form::run(data));
}
