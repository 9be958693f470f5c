//! Director <-> SD control channel, catalog requests, job messages.
#![no_main]

#[path = "roundtrip.rs"]
mod roundtrip;

use libfuzzer_sys::fuzz_target;
use fd_core::wire::jmsg::Jmsg;
use fd_core::wire::sd_ctl::{CatReq, DirToSd, SdToDir, UpdCat};

fuzz_target!(|data: &[u8]| {
    roundtrip!(data, DirToSd::parse);
    roundtrip!(data, SdToDir::parse);
    roundtrip!(data, CatReq::parse);
    roundtrip!(data, Jmsg::parse);
    if let Ok(u) = UpdCat::parse(data) {
        let _ = u.record();
    }
});
