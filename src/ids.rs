//! Random identifiers on the hot path (token `jti`, request ids).
//!
//! `Uuid::new_v4()` asks the kernel for randomness on every call; these draw from the
//! thread-local CSPRNG instead (ChaCha, seeded and periodically reseeded from the OS), which
//! is as unpredictable and costs no system call.

use rand::RngCore as _;

/// A random (version 4) UUID.
pub fn random_uuid() -> uuid::Uuid {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4_and_distinct() {
        let a = random_uuid();
        assert_eq!(a.get_version_num(), 4);
        assert_ne!(a, random_uuid());
    }
}
