//! TLS-first detection, PSK identities, qualified names, keys.
#![no_main]

#[path = "roundtrip.rs"]
mod roundtrip;

use libfuzzer_sys::fuzz_target;
use fd_core::wire::psk::{classify_first_bytes, PasswordKey, PskIdentity, QualifiedName, SessionKey};

fuzz_target!(|data: &[u8]| {
    let _ = classify_first_bytes(data);
    roundtrip!(data, PskIdentity::parse);
    roundtrip!(data, QualifiedName::parse);
    let _ = PasswordKey::from_config(data);
    if let Ok(k) = SessionKey::parse(data) {
        assert_eq!(SessionKey::from_random(k.to_random()).as_bytes(), k.as_bytes());
    }
});
