//! Console response messages.
#![no_main]

#[path = "roundtrip.rs"]
mod roundtrip;

use libfuzzer_sys::fuzz_target;
use fd_core::wire::console::ResponseMessage;

fuzz_target!(|data: &[u8]| {
    roundtrip!(data, ResponseMessage::parse);
});
