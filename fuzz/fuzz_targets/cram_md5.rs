//! CRAM-MD5 challenges, responses and replies.
#![no_main]

#[path = "roundtrip.rs"]
mod roundtrip;

use libfuzzer_sys::fuzz_target;
use fd_core::wire::cram_md5::{AuthReply, ChallengeRepr, ResponseRepr, Token};

fuzz_target!(|data: &[u8]| {
    roundtrip!(data, ChallengeRepr::parse);
    roundtrip!(data, ResponseRepr::parse);
    let _ = Token::parse(data).map(|t| (t.random(), t.time(), t.is_replay_of(b"R_CLIENT::fd")));
    if let Ok(r) = AuthReply::parse(data) {
        let mut buf = [0u8; 64];
        let n = r.emit(&mut buf).expect("reply fits");
        assert_eq!(AuthReply::parse(&buf[..n]).ok(), Some(r));
    }
});
