//! Director -> FD commands, FD replies and their multi-frame payloads.
#![no_main]

#[path = "roundtrip.rs"]
mod roundtrip;

use libfuzzer_sys::fuzz_target;
use fd_core::wire::dir_cmd::{AccurateEntry, BootstrapLine, DirCommand, FdReply, LsLine};
use fd_core::wire::status::StatusFrame;

fuzz_target!(|data: &[u8]| {
    roundtrip!(data, DirCommand::parse);
    roundtrip!(data, FdReply::parse);
    roundtrip!(data, AccurateEntry::parse);
    roundtrip!(data, BootstrapLine::parse);
    roundtrip!(data, StatusFrame::parse);
    roundtrip!(data, LsLine::parse);
});
