//! Fileset lines and option letters.
#![no_main]

#[path = "roundtrip.rs"]
mod roundtrip;

use libfuzzer_sys::fuzz_target;
use fd_core::wire::fileset::FilesetLine;

fuzz_target!(|data: &[u8]| {
    roundtrip!(data, FilesetLine::parse);
    if let Ok(FilesetLine::Options(o)) = FilesetLine::parse(data) {
        for opt in o.iter() {
            let _ = opt;
        }
    }
});
