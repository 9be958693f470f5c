//! Links fd-core into a `no_std`, `no_main` image and calls its codecs on data the optimiser
//! cannot see through, so the code is really linked and measured.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::panic::PanicInfo;

use fd_core::wire::base64;

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    loop {}
}

/// Exercise the codecs on opaque input; returns a value so nothing is dropped as dead code.
fn exercise(input: &[u8]) -> usize {
    let mut out = [0u8; 64];
    let a = base64::encode_bin(input, base64::Variant::Bacula, &mut out).unwrap_or(0);
    let b = base64::decode_i64(&out[..a.min(8)]).unwrap_or(0) as usize;
    a + b
}

#[cfg(target_arch = "arm")]
#[cortex_m_rt::entry]
fn main() -> ! {
    let seed = [0x5au8; 16];
    let n = exercise(black_box(&seed));
    black_box(n);
    loop {}
}

#[cfg(not(target_arch = "arm"))]
#[no_mangle]
extern "C" fn main() -> i32 {
    exercise(black_box(&[0x5au8; 16])) as i32
}
