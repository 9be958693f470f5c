//! Hellos and hello replies.
#![no_main]

#[path = "roundtrip.rs"]
mod roundtrip;

use libfuzzer_sys::fuzz_target;
use fd_core::wire::hello::{Hello, HelloReply};

fuzz_target!(|data: &[u8]| {
    roundtrip!(data, Hello::parse);
    roundtrip!(data, HelloReply::parse);
});
