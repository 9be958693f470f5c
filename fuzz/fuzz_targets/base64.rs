//! Bareos base64: decoding never panics, and what decodes re-encodes to a decodable token of
//! the same value.
#![no_main]

use fd_core::wire::base64;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = base64::decode_i64(data) {
        let mut out = [0u8; base64::MAX_I64_LEN];
        let n = base64::encode_i64(v, &mut out).expect("12 bytes hold any i64");
        assert_eq!(base64::decode_i64(&out[..n]), Ok(v));
    }
    let mut out = [0u8; 512];
    for variant in [base64::Variant::Bacula, base64::Variant::Standard] {
        let _ = base64::encode_bin(data, variant, &mut out);
    }
});
