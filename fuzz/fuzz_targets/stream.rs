//! Data-channel record headers, rechdr, sparse chunks.
#![no_main]

#[path = "roundtrip.rs"]
mod roundtrip;

use libfuzzer_sys::fuzz_target;
use fd_core::wire::stream::{DataHeader, RecHdr, SparseChunk};

fuzz_target!(|data: &[u8]| {
    roundtrip!(data, DataHeader::parse);
    roundtrip!(data, RecHdr::parse);
    roundtrip!(data, SparseChunk::parse);
});
