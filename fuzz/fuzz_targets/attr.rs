//! Attribute records, stat packets, typed records.
#![no_main]

#[path = "roundtrip.rs"]
mod roundtrip;

use libfuzzer_sys::fuzz_target;
use fd_core::wire::attr::{AttrRecord, Record, Stat};
use fd_core::wire::stream::StreamType;

fuzz_target!(|data: &[u8]| {
    roundtrip!(data, Stat::parse);
    roundtrip!(data, AttrRecord::parse);
    if let Some((&k, rest)) = data.split_first() {
        let kind = StreamType::from_bits(u16::from(k));
        let _ = Record::parse(kind, rest);
    }
});
