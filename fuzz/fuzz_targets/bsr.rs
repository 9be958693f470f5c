//! Bootstrap (bsr) lines and per-volume entries.
#![no_main]

#[path = "roundtrip.rs"]
mod roundtrip;

use libfuzzer_sys::fuzz_target;
use fd_core::wire::bsr::{entries, BsrLine};

fuzz_target!(|data: &[u8]| {
    roundtrip!(data, BsrLine::parse);
    for e in entries(data) {
        let _ = e.map(|e| e.selects(1, 1, 1));
    }
});
