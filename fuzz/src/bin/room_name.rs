//! AFL entry point for [`roomkey_fuzz::room_name`].

fn main() {
    roomkey_fuzz::room_name::prepare();
    afl::fuzz!(|data: &[u8]| roomkey_fuzz::room_name::run(data));
}
