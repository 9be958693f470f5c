//! Bareos' two base64 codecs (`core/src/lib/base64.cc`).
//!
//! 1. [`encode_bin`]: bytes → text, used for CRAM-MD5 responses. Two variants exist
//!    (`../shared/protocol/connect.md` §2.4):
//!    - [`Variant::Bacula`] (what Bareos sends after a plain `auth cram-md5` challenge): each
//!      input byte is *sign-extended* into the 32-bit register, and leftover bits are emitted
//!      unshifted;
//!    - [`Variant::Standard`] (after `auth cram-md5c`): RFC 4648 base64 with `=` stripped.
//!
//!    Neither pads. A 16-byte digest gives 22 characters in both.
//! 2. [`encode_i64`] / [`decode_i64`]: one signed 64-bit number, most significant 6-bit digit
//!    first, minimal length, `-` prefix for negatives. This is the stat-packet field encoding
//!    (`ToBase64`/`FromBase64`, jobs.md §4.4).

use super::{Error, Result};

const DIGITS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Which bytes → text variant to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Variant {
    /// Bacula's sign-extending variant, what every Bareos daemon sends by default.
    Bacula,
    /// RFC 4648 without padding ("compatible" in Bareos' own naming, `cram-md5c`).
    Standard,
}

/// Length of the text [`encode_bin`] produces for `n` input bytes.
pub const fn encoded_len(n: usize) -> usize {
    (n * 8).div_ceil(6)
}

/// Encode `input` into `out` in the given variant; returns the number of bytes written.
pub fn encode_bin(input: &[u8], variant: Variant, out: &mut [u8]) -> Result<usize> {
    let need = encoded_len(input.len());
    let out = out.get_mut(..need).ok_or(Error::BufferTooSmall)?;
    let mut reg: u32 = 0;
    let mut rem: u32 = 0;
    let mut i = 0;
    let mut j = 0;
    while i < input.len() {
        if rem < 6 {
            reg <<= 8;
            let b = input[i];
            reg |= match variant {
                Variant::Standard => u32::from(b),
                // The `(int8_t)` cast of the C code: sign-extend into all 32 bits.
                Variant::Bacula => i32::from(b as i8) as u32,
            };
            i += 1;
            rem += 8;
        }
        out[j] = DIGITS[((reg >> (rem - 6)) & 0x3f) as usize];
        j += 1;
        rem -= 6;
    }
    // At most one 6-bit group is still pending after the loop (rem < 6 holds only when the
    // loop consumed everything), but a full 8-bit byte can leave rem >= 6 once.
    while rem >= 6 {
        out[j] = DIGITS[((reg >> (rem - 6)) & 0x3f) as usize];
        j += 1;
        rem -= 6;
    }
    if rem > 0 {
        let mask = (1u32 << rem) - 1;
        let v = match variant {
            Variant::Standard => (reg & mask) << (6 - rem),
            Variant::Bacula => reg & mask,
        };
        out[j] = DIGITS[(v & 0x3f) as usize];
        j += 1;
    }
    Ok(j)
}

/// The value of one base64 digit, or `None` for a byte outside the alphabet.
pub const fn digit_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Longest output of [`encode_i64`]: a sign and 11 digits.
pub const MAX_I64_LEN: usize = 12;

/// Encode one number as Bareos' `ToBase64` does; returns the number of bytes written.
pub fn encode_i64(value: i64, out: &mut [u8]) -> Result<usize> {
    let mut tmp = [0u8; MAX_I64_LEN];
    let mut n = tmp.len();
    let mut mag = value.unsigned_abs();
    loop {
        n -= 1;
        tmp[n] = DIGITS[(mag & 0x3f) as usize];
        mag >>= 6;
        if mag == 0 {
            break;
        }
    }
    if value < 0 {
        n -= 1;
        tmp[n] = b'-';
    }
    let src = &tmp[n..];
    let dst = out.get_mut(..src.len()).ok_or(Error::BufferTooSmall)?;
    dst.copy_from_slice(src);
    Ok(src.len())
}

/// Decode one number written by [`encode_i64`] (the whole of `token`).
///
/// Stricter than `FromBase64`, which maps unknown characters to 0: an empty token, a byte
/// outside the alphabet, or a magnitude above 2^64-1 is [`Error::BadNumber`]. Magnitudes
/// between 2^63 and 2^64-1 wrap as the C code's int64 arithmetic does.
pub fn decode_i64(token: &[u8]) -> Result<i64> {
    let (neg, digits) = match token.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, token),
    };
    if digits.is_empty() {
        return Err(Error::BadNumber);
    }
    let mut v: u64 = 0;
    for &c in digits {
        let d = digit_value(c).ok_or(Error::BadNumber)?;
        if v >> 58 != 0 {
            return Err(Error::BadNumber);
        }
        v = (v << 6) | u64::from(d);
    }
    let v = v as i64;
    Ok(if neg { v.wrapping_neg() } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(input: &[u8], v: Variant) -> heapless::String<64> {
        let mut out = [0u8; 64];
        let n = encode_bin(input, v, &mut out).unwrap();
        let mut s = heapless::String::new();
        s.push_str(core::str::from_utf8(&out[..n]).unwrap())
            .unwrap();
        s
    }

    #[test]
    fn cram_vectors_from_connect_md_appendix_a() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "a64b79ec351a2a2de10cb2204a730fca",
                "pkt57DUaKi/hD7IgSnMPyC",
                "pkt57DUaKi3hDLIgSnMPyg",
            ),
            (
                "821af1ae87b0dc8fb59f284d72898bd6",
                "gh/xr4+w34+1nyhNc4+L1C",
                "ghrxroew3I+1nyhNcomL1g",
            ),
            (
                "2b6269b35b87550afbd26c446ce5c46d",
                "K2Jps1+HVQ/70mxEb+/EbB",
                "K2Jps1uHVQr70mxEbOXEbQ",
            ),
            (
                "b8a237d4c34706f0f93939a44a6450cc",
                "u6I318NHB//5OT+kSmRQzA",
                "uKI31MNHBvD5OTmkSmRQzA",
            ),
            (
                "6bde6526c2195870ae43848ebc5ebc0b",
                "a95lJ8IZWH+uQ4+OvF+8CD",
                "a95lJsIZWHCuQ4SOvF68Cw",
            ),
            (
                "3ae3478a221b93de9b8b8bf5b8676682",
                "O+NHiiIbk9+bi4/1uGdmgC",
                "OuNHiiIbk96bi4v1uGdmgg",
            ),
        ];
        for (hex_digest, bacula, standard) in cases {
            let d = hex::decode(hex_digest).unwrap();
            assert_eq!(enc(&d, Variant::Bacula).as_str(), *bacula);
            assert_eq!(enc(&d, Variant::Standard).as_str(), *standard);
        }
    }

    #[test]
    fn stat_number_vectors() {
        let cases: &[(i64, &str)] = &[
            (0, "A"),
            (64, "BA"),
            (33188, "IGk"),
            (0o40755, "EHt"),
            (0o120777, "KH/"),
            (4096, "BAA"),
            (1_700_000_000, "BlU/EA"),
            (-1, "-B"),
            (2, "C"),
            (65024, "P4A"),
            (984_643, "DwZD"),
            (1_795_362_403, "BrAw5j"),
            (1_767_323_045, "BpVzWl"),
        ];
        for (v, s) in cases {
            let mut out = [0u8; MAX_I64_LEN];
            let n = encode_i64(*v, &mut out).unwrap();
            assert_eq!(&out[..n], s.as_bytes(), "{v}");
            assert_eq!(decode_i64(s.as_bytes()).unwrap(), *v);
        }
    }

    #[test]
    fn decode_rejects_garbage() {
        assert_eq!(decode_i64(b""), Err(Error::BadNumber));
        assert_eq!(decode_i64(b"-"), Err(Error::BadNumber));
        assert_eq!(decode_i64(b"A A"), Err(Error::BadNumber));
        assert_eq!(decode_i64(b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB"), Ok(1));
        assert_eq!(decode_i64(b"BAAAAAAAAAAA"), Err(Error::BadNumber));
    }

    proptest::proptest! {
        #[test]
        fn i64_round_trip(v in proptest::num::i64::ANY) {
            let mut out = [0u8; MAX_I64_LEN];
            let n = encode_i64(v, &mut out).unwrap();
            proptest::prop_assert_eq!(decode_i64(&out[..n]).unwrap(), v);
        }

        #[test]
        fn standard_is_rfc4648_unpadded(data in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let mut out = [0u8; 96];
            let n = encode_bin(&data, Variant::Standard, &mut out).unwrap();
            let reference = rfc4648(&data);
            proptest::prop_assert_eq!(&out[..n], reference.as_slice());
        }

        #[test]
        fn bacula_equals_standard_for_ascii_except_last(data in proptest::collection::vec(0u8..0x80, 1..64)) {
            let mut a = [0u8; 96];
            let mut b = [0u8; 96];
            let na = encode_bin(&data, Variant::Bacula, &mut a).unwrap();
            let nb = encode_bin(&data, Variant::Standard, &mut b).unwrap();
            proptest::prop_assert_eq!(na, nb);
            proptest::prop_assert_eq!(&a[..na - 1], &b[..nb - 1]);
        }
    }

    /// A plain RFC 4648 encoder written independently, padding stripped.
    fn rfc4648(data: &[u8]) -> std::vec::Vec<u8> {
        let mut out = std::vec::Vec::new();
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            let chars = chunk.len() + 1;
            for k in 0..chars {
                out.push(DIGITS[((n >> (18 - 6 * k)) & 0x3f) as usize]);
            }
        }
        out
    }
}
