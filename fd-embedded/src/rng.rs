//! A deterministic random generator from a seed: SHA-256 in counter mode.
//!
//! For what needs more random bytes than the platform's entropy source should be asked for
//! one by one (a TLS server's handshake, drawn from the connector's generator once per
//! connection), and for boards without an entropy source that are given a seed instead
//! (boards/qemu-mps2: test entropy from the host's command line, not a design for a
//! device). Each instance carries a `stream` label, so instances made from one seed never
//! share output. Output block *n* is SHA-256(seed ‖ stream ‖ n as u64 LE).

use rand_core::{CryptoRng, RngCore};
use sha2::Digest as _;

/// SHA-256 in counter mode over a 32-byte seed (see the module docs).
pub struct CounterRng {
    seed: [u8; 32],
    stream: u8,
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl CounterRng {
    /// The generator of `seed`, output stream `stream`.
    pub fn new(seed: [u8; 32], stream: u8) -> Self {
        CounterRng {
            seed,
            stream,
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }

    /// A generator seeded with 32 bytes drawn from `rng`.
    pub fn from_rng<R: RngCore + CryptoRng>(rng: &mut R, stream: u8) -> Self {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        Self::new(seed, stream)
    }
}

impl RngCore for CounterRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for d in dest {
            if self.used >= self.block.len() {
                let mut h = sha2::Sha256::new();
                h.update(self.seed);
                h.update([self.stream]);
                h.update(self.counter.to_le_bytes());
                self.block = h.finalize().into();
                self.counter = self.counter.wrapping_add(1);
                self.used = 0;
            }
            if let Some(b) = self.block.get(self.used) {
                *d = *b;
            }
            self.used += 1;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for CounterRng {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_and_output_is_the_documented_hash() {
        let mut a = CounterRng::new([7; 32], 0);
        let mut b = CounterRng::new([7; 32], 1);
        let (mut x, mut y) = ([0u8; 40], [0u8; 40]);
        a.fill_bytes(&mut x);
        b.fill_bytes(&mut y);
        assert_ne!(x, y);
        let mut h = sha2::Sha256::new();
        h.update([7u8; 32]);
        h.update([0u8]);
        h.update(0u64.to_le_bytes());
        let first: [u8; 32] = h.finalize().into();
        assert_eq!(x[..32], first);
        // Split calls give the same stream as one call.
        let mut c = CounterRng::new([7; 32], 0);
        let mut z = [0u8; 40];
        c.fill_bytes(&mut z[..5]);
        c.fill_bytes(&mut z[5..]);
        assert_eq!(x, z);
    }
}
