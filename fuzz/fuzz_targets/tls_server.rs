//! Fuzz the TLS-PSK server: the handshake and record parsers directly, then a whole
//! `ServerConnection` fed the input in pieces whose sizes come from the input itself.
//! Run with `cargo +nightly fuzz run tls_server` (from the repository root).
//!
//! Invariants checked: nothing panics; after an error every call returns the same error.
#![no_main]

use fd_core::tls::handshake::{
    ClientHello, ClientKeyExchangePsk, EncryptedExtensions, Finished, KeyUpdate, ServerHello,
};
use fd_core::tls::record::{Alert, RecordHeader};
use fd_core::tls::{Buffers, ServerConfig, ServerConnection, MAX_RECORD_LEN};
use libfuzzer_sys::fuzz_target;

/// A deterministic generator so a crash reproduces; never use outside fuzzing.
struct FuzzRng(u64);

impl rand_core::RngCore for FuzzRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand_core::impls::fill_bytes_via_next(self, dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for FuzzRng {}

fn psk(identity: &[u8], key: &mut [u8]) -> Option<usize> {
    if identity == b"R_DIRECTOR\x1ebareos-dir" {
        let k = b"c11a8b27d085fee315c743b92c80ffc7";
        key.get_mut(..k.len())?.copy_from_slice(k);
        Some(k.len())
    } else {
        None
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = RecordHeader::parse(data);
    let _ = Alert::parse(data);
    let _ = ClientHello::parse(data);
    let _ = ServerHello::parse(data);
    let _ = EncryptedExtensions::parse(data);
    let _ = Finished::parse(data);
    let _ = KeyUpdate::parse(data);
    let _ = ClientKeyExchangePsk::parse(data);

    let Some((&ctl, rest)) = data.split_first() else { return };
    let config = ServerConfig {
        tls12: ctl & 1 == 0,
        x25519: ctl & 2 == 0,
        max_fragment_length: ctl & 4 == 0,
        ..ServerConfig::default()
    };
    let chunk = usize::from(ctl >> 3) + 1;
    let mut rx = vec![0u8; if ctl & 0x80 != 0 { 600 } else { MAX_RECORD_LEN }];
    let mut tx = vec![0u8; 2048];
    let mut hs = vec![0u8; 1024];
    let mut conn = ServerConnection::new(
        config,
        psk,
        FuzzRng(0x9E37_79B9_7F4A_7C15),
        Buffers { rx: &mut rx, tx: &mut tx, handshake: &mut hs },
    );
    let mut out = [0u8; 512];
    let mut app = [0u8; 256];
    for piece in rest.chunks(chunk) {
        let mut off = 0;
        while off < piece.len() {
            let used = conn.read_tls(&piece[off..]);
            off += used;
            match conn.process_new_packets() {
                Ok(()) => {}
                Err(e) => {
                    assert_eq!(conn.process_new_packets(), Err(e));
                    assert_eq!(conn.recv_plaintext(&mut app), Err(e));
                    while conn.poll_transmit(&mut out).is_some() {}
                    return;
                }
            }
            while let Ok(n) = conn.recv_plaintext(&mut app) {
                if n == 0 {
                    break;
                }
            }
            while conn.poll_transmit(&mut out).is_some() {}
            if used == 0 {
                return;
            }
        }
    }
    let _ = conn.send_plaintext(b"reply");
    conn.send_close_notify();
    while conn.poll_transmit(&mut out).is_some() {}
});
