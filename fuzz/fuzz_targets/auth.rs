//! The sans-IO CRAM-MD5 authenticator fed arbitrary frames in both roles: it ends in an event or keeps waiting, never panics, and never authenticates a peer that did not prove the key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use fd_core::auth::{Authenticator, Config, Event, Role};
use fd_core::time::{Duration, Instant};
use fd_core::wire::bnet::{Frame, Signal};
use fd_core::wire::tls_policy::TlsPolicy;

fuzz_target!(|data: &[u8]| {
    for role in [Role::Inbound, Role::Outbound] {
        let cfg = Config::new(role, b"c11a8b27d085fee315c743b92c80ffc7", b"R_CLIENT::bareos-fd",
            TlsPolicy::None, 264_409_646, 1_795_362_414);
        let Ok(mut a) = Authenticator::new(cfg, Instant::ZERO) else { return };
        let mut now = Instant::ZERO;
        let mut out = [0u8; 512];
        // Frames are separated by 0xff bytes; a lone 0xfe byte is a TERMINATE signal.
        for piece in data.split(|&b| b == 0xff) {
            while let Ok(Some(_)) = a.poll_transmit(&mut out) {}
            let frame = if piece == [0xfe] { Frame::Signal(Signal::Terminate) } else { Frame::Data(piece) };
            a.handle_frame(now, frame);
            now = now + Duration::from_secs(1);
            a.handle_timeout(now);
            if let Some(Event::Authenticated { .. }) = a.poll_event() {
                // Only a correct HMAC-MD5 of our own challenge, keyed with the password, can
                // authenticate, and the input never sees the challenge: reaching this means the
                // authenticator accepted a peer that did not prove the key.
                panic!("authenticated a peer that never saw our challenge");
            }
        }
    }
});
