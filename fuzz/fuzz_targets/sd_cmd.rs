//! FD -> SD session commands and SD replies.
#![no_main]

#[path = "roundtrip.rs"]
mod roundtrip;

use libfuzzer_sys::fuzz_target;
use fd_core::wire::sd_cmd::{SdDataCommand, SdDataReply};

fuzz_target!(|data: &[u8]| {
    roundtrip!(data, SdDataCommand::parse);
    roundtrip!(data, SdDataReply::parse);
});
