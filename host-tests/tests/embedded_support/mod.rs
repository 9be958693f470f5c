//! Helpers shared by the embedded-device tests (sim_embedded.rs, embedded_daemons.rs).
#![allow(dead_code)]

/// `len` pseudo-random bytes (xorshift64 from `seed`): a firmware image that does not
/// compress into something trivial and differs per seed.
pub fn image(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
