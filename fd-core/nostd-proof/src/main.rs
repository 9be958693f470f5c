//! Links fd-core into a `no_std`, `no_main` image and calls its codecs on data the optimiser
//! cannot see through, so the code is really linked and measured. With `--features
//! tls-server` it also drives the TLS 1.3/1.2 PSK server engine, so `size` shows what the
//! engine adds to a firmware image.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::panic::PanicInfo;

use fd_core::wire::{base64, bnet, cram_md5, dir_cmd, hello};
// The critical-section implementation for the atomics of cores without compare-and-swap.
#[cfg(target_arch = "arm")]
use cortex_m as _;

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    loop {}
}

/// Exercise the codecs an FD needs on opaque input; returns a value so nothing is dropped.
fn exercise(input: &[u8]) -> usize {
    let mut out = [0u8; 128];
    let mut n = base64::encode_bin(input, base64::Variant::Bacula, &mut out).unwrap_or(0);
    n += base64::decode_i64(&out[..n.min(8)]).unwrap_or(0) as usize;
    let mut dec = bnet::Decoder::new([0u8; 256], bnet::Oversize::Stream);
    if let Ok((used, Some(bnet::Frame::Data(p)))) = dec.decode(input) {
        n += used;
        if hello::Hello::parse(p).is_ok() {
            n += 1;
        }
        if let Ok(cmd) = dir_cmd::DirCommand::parse(p) {
            n += cmd.buffer_len();
        }
        let r = cram_md5::Response::compute(p, input, base64::Variant::Bacula);
        n += r.as_bytes().len();
    }
    n + tls::exercise(input)
}

#[cfg(feature = "tls-server")]
mod tls {
    use fd_core::tls::{Buffers, ServerConfig, ServerConnection};
    use rand_core::{CryptoRng, RngCore};

    /// A deterministic generator so the image links without a hardware RNG. For measuring
    /// size only: a real device passes its TRNG.
    struct SizeProbeRng(u64);

    impl RngCore for SizeProbeRng {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                *b = self.next_u64() as u8;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    impl CryptoRng for SizeProbeRng {}

    pub fn exercise(input: &[u8]) -> usize {
        // Buffers for max_fragment_length 2^12 (see the tls module docs for a real Director,
        // which does not negotiate it and needs ~16.6 KB to receive).
        let mut rx = [0u8; 4608];
        let mut tx = [0u8; 4608];
        let mut hs = [0u8; 2048];
        let lookup = |id: &[u8], key: &mut [u8]| {
            let k = b"0123456789abcdef0123456789abcdef";
            (id == b"R_DIRECTOR\x1ebareos-dir").then(|| {
                key[..k.len()].copy_from_slice(k);
                k.len()
            })
        };
        let bufs = Buffers { rx: &mut rx, tx: &mut tx, handshake: &mut hs };
        let mut conn =
            ServerConnection::new(ServerConfig::default(), lookup, SizeProbeRng(0x9e37_79b9), bufs);
        let used = conn.read_tls(input);
        let _ = conn.process_new_packets();
        let mut out = [0u8; 512];
        let w = conn.write_tls(&mut out);
        let mut plain = [0u8; 64];
        let p = conn.recv_plaintext(&mut plain).unwrap_or(0);
        used + w + p
    }
}

#[cfg(not(feature = "tls-server"))]
mod tls {
    pub fn exercise(_: &[u8]) -> usize {
        0
    }
}

#[cfg(target_arch = "arm")]
#[cortex_m_rt::entry]
fn main() -> ! {
    let seed = [0x5au8; 64];
    let n = exercise(black_box(&seed));
    black_box(n);
    loop {}
}

#[cfg(not(target_arch = "arm"))]
#[no_mangle]
extern "C" fn main() -> i32 {
    exercise(black_box(&[0x5au8; 64])) as i32
}
