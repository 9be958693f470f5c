//! Connection-level tests, driven in memory with the real Bareos ClientHello of
//! `vectors/psk-dir-fd` conn 1 msg 1 (a Director with password `ref-fd-password`, so the PSK
//! is its MD5 hex `c11a8b27d085fee315c743b92c80ffc7`, config/bareos-fd.conf).

use std::vec;
use std::vec::Vec;

use super::handshake::tests::{h, BAREOS_CLIENT_HELLO};
use super::handshake::{ServerHello, HRR_RANDOM};
use super::record::{AlertDescription as A, RecordHeader};
use super::*;

const DIR_ID: &[u8] = b"R_DIRECTOR\x1ebareos-dir";
const CAPTURE_KEY: &[u8] = b"c11a8b27d085fee315c743b92c80ffc7";

fn store(key: &'static [u8]) -> impl FnMut(&[u8], &mut [u8]) -> Option<usize> {
    move |id: &[u8], out: &mut [u8]| {
        if id != DIR_ID {
            return None;
        }
        out.get_mut(..key.len())?.copy_from_slice(key);
        Some(key.len())
    }
}

struct Bufs {
    rx: Vec<u8>,
    tx: Vec<u8>,
    hs: Vec<u8>,
}

impl Bufs {
    fn new() -> Self {
        Bufs {
            rx: vec![0; MAX_RECORD_LEN],
            tx: vec![0; 4096],
            hs: vec![0; 2048],
        }
    }
    fn get(&mut self) -> Buffers<'_> {
        Buffers {
            rx: &mut self.rx,
            tx: &mut self.tx,
            handshake: &mut self.hs,
        }
    }
}

fn record(ct: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut v = vec![ct];
    v.extend_from_slice(&version.to_be_bytes());
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
    v
}

fn drain<P: PskStore, R: rand_core::RngCore + rand_core::CryptoRng>(
    c: &mut ServerConnection<'_, P, R>,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 100];
    while let Some(n) = c.poll_transmit(&mut buf) {
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// Split the server's output into (type, fragment) records.
fn records(mut out: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut v = Vec::new();
    while !out.is_empty() {
        let hdr = RecordHeader::parse(out).unwrap();
        let len = usize::from(hdr.length);
        v.push((u8::from(hdr.content_type), out[5..5 + len].to_vec()));
        out = &out[5 + len..];
    }
    v
}

#[test]
fn captured_bareos_client_hello_binder_verifies() {
    let mut b = Bufs::new();
    let mut c = ServerConnection::new(
        ServerConfig::default(),
        store(CAPTURE_KEY),
        rand_core::OsRng,
        b.get(),
    );
    let msg = h(BAREOS_CLIENT_HELLO);
    let rec = record(22, 0x0301, &msg);
    assert!(c.is_handshaking());
    assert_eq!(c.handle_input(&rec), Ok(rec.len()));
    assert!(c.is_handshaking());
    assert_eq!(c.psk_identity(), None, "identity only after the handshake");
    let out = drain(&mut c);
    let recs = records(&out);
    // ServerHello, ChangeCipherSpec, {EncryptedExtensions}, {Finished}: the same record
    // sequence and sizes as bareos-fd's answer (conn 1 msgs 2-5: 128, 1, 23, 53 bytes).
    let kinds: Vec<u8> = recs.iter().map(|r| r.0).collect();
    assert_eq!(kinds, [22, 20, 23, 23]);
    let sizes: Vec<usize> = recs.iter().map(|r| r.1.len()).collect();
    assert_eq!(sizes, [128, 1, 23, 53]);
    let sh = ServerHello::parse(&recs[0].1).unwrap();
    let ch = super::handshake::ClientHello::parse(&msg).unwrap();
    assert_eq!(sh.session_id, ch.session_id);
    assert_eq!(sh.cipher_suite, CipherSuite::Tls13ChaCha20Poly1305Sha256);
    assert_eq!(sh.selected_identity, Some(0));
    assert_eq!(sh.key_share.unwrap().group, NamedGroup::X25519);
    assert_eq!(
        c.cipher_suite(),
        Some(CipherSuite::Tls13ChaCha20Poly1305Sha256)
    );
    // Nothing more to send, no error.
    assert!(!c.wants_write());
    assert_eq!(c.error(), None);
    assert_eq!(c.send_plaintext(b"x"), Err(Error::HandshakeNotComplete));
}

#[test]
fn captured_client_hello_byte_by_byte_and_in_two_records() {
    let msg = h(BAREOS_CLIENT_HELLO);
    // One byte at a time.
    let mut b = Bufs::new();
    let mut c = ServerConnection::new(
        ServerConfig::default(),
        store(CAPTURE_KEY),
        rand_core::OsRng,
        b.get(),
    );
    for byte in record(22, 0x0301, &msg) {
        assert_eq!(c.handle_input(&[byte]), Ok(1));
    }
    assert_eq!(records(&drain(&mut c)).len(), 4);
    // The hello fragmented over two records.
    let mut b = Bufs::new();
    let mut c = ServerConnection::new(
        ServerConfig::default(),
        store(CAPTURE_KEY),
        rand_core::OsRng,
        b.get(),
    );
    let mut input = record(22, 0x0301, &msg[..100]);
    input.extend(record(22, 0x0301, &msg[100..]));
    c.handle_input(&input).unwrap();
    assert_eq!(records(&drain(&mut c)).len(), 4);
}

fn refused(config: ServerConfig, key: &'static [u8], input: &[u8]) -> (Error, Vec<u8>) {
    let mut b = Bufs::new();
    let mut c = ServerConnection::new(config, store(key), rand_core::OsRng, b.get());
    let _ = c.read_tls(input);
    let e = c.process_new_packets().unwrap_err();
    // Sticky.
    assert_eq!(c.process_new_packets(), Err(e));
    assert_eq!(c.send_plaintext(b"x"), Err(e));
    assert!(!c.is_handshaking());
    assert_eq!(c.psk_identity(), None);
    (e, drain(&mut c))
}

#[test]
fn wrong_key_fails_binder_with_decrypt_error() {
    let msg = h(BAREOS_CLIENT_HELLO);
    let (e, out) = refused(
        ServerConfig::default(),
        b"c11a8b27d085fee315c743b92c80ffc8",
        &record(22, 0x0301, &msg),
    );
    assert_eq!(e, Error::AlertSent(A::DecryptError));
    assert_eq!(out, [21, 3, 3, 0, 2, 2, 51]);
}

#[test]
fn tampered_binder_fails() {
    let mut msg = h(BAREOS_CLIENT_HELLO);
    let last = msg.len() - 1;
    msg[last] ^= 1;
    let (e, _) = refused(
        ServerConfig::default(),
        CAPTURE_KEY,
        &record(22, 0x0301, &msg),
    );
    assert_eq!(e, Error::AlertSent(A::DecryptError));
    // A change in the signed part (the client random) also breaks the binder.
    let mut msg = h(BAREOS_CLIENT_HELLO);
    msg[10] ^= 1;
    let (e, _) = refused(
        ServerConfig::default(),
        CAPTURE_KEY,
        &record(22, 0x0301, &msg),
    );
    assert_eq!(e, Error::AlertSent(A::DecryptError));
}

#[test]
fn unknown_identity() {
    let s = BAREOS_CLIENT_HELLO.replacen("626172656f732d646972", "626172656f732d646973", 1);
    let (e, out) = refused(
        ServerConfig::default(),
        CAPTURE_KEY,
        &record(22, 0x0301, &h(&s)),
    );
    assert_eq!(e, Error::AlertSent(A::UnknownPskIdentity));
    assert_eq!(out, [21, 3, 3, 0, 2, 2, 115]);
}

#[test]
fn psk_ke_only_is_refused() {
    let s = BAREOS_CLIENT_HELLO.replacen("002d00020101", "002d00020100", 1);
    let (e, _) = refused(
        ServerConfig::default(),
        CAPTURE_KEY,
        &record(22, 0x0301, &h(&s)),
    );
    assert_eq!(e, Error::AlertSent(A::HandshakeFailure));
}

#[test]
fn no_common_suite_or_version() {
    let msg = h(BAREOS_CLIENT_HELLO);
    let config = ServerConfig {
        chacha20_poly1305: false,
        aes128_gcm: false,
        ..ServerConfig::default()
    };
    let (e, _) = refused(config, CAPTURE_KEY, &record(22, 0x0301, &msg));
    assert_eq!(e, Error::AlertSent(A::HandshakeFailure));
    let config = ServerConfig {
        tls13: false,
        tls12: false,
        ..ServerConfig::default()
    };
    let (e, _) = refused(config, CAPTURE_KEY, &record(22, 0x0301, &msg));
    assert_eq!(e, Error::AlertSent(A::ProtocolVersion));
}

#[test]
fn aes_only_server_picks_aes() {
    let mut b = Bufs::new();
    let config = ServerConfig {
        chacha20_poly1305: false,
        ..ServerConfig::default()
    };
    let mut c = ServerConnection::new(config, store(CAPTURE_KEY), rand_core::OsRng, b.get());
    c.handle_input(&record(22, 0x0301, &h(BAREOS_CLIENT_HELLO)))
        .unwrap();
    assert_eq!(c.cipher_suite(), Some(CipherSuite::Tls13Aes128GcmSha256));
}

#[test]
fn no_x25519_gives_hello_retry_request_for_p256() {
    let mut b = Bufs::new();
    let config = ServerConfig {
        x25519: false,
        ..ServerConfig::default()
    };
    let mut c = ServerConnection::new(config, store(CAPTURE_KEY), rand_core::OsRng, b.get());
    c.handle_input(&record(22, 0x0301, &h(BAREOS_CLIENT_HELLO)))
        .unwrap();
    let recs = records(&drain(&mut c));
    assert_eq!(recs.iter().map(|r| r.0).collect::<Vec<_>>(), [22, 20]);
    let hrr = ServerHello::parse(&recs[0].1).unwrap();
    assert!(hrr.is_hello_retry_request());
    assert_eq!(hrr.random, HRR_RANDOM);
    assert_eq!(hrr.hrr_group, Some(NamedGroup::Secp256r1));
    assert_eq!(hrr.cipher_suite, CipherSuite::Tls13ChaCha20Poly1305Sha256);
    // Sending the same hello again (still without a P-256 share) is illegal.
    let e = c
        .handle_input(&record(22, 0x0303, &h(BAREOS_CLIENT_HELLO)))
        .unwrap_err();
    assert_eq!(e, Error::AlertSent(A::IllegalParameter));
}

#[test]
fn garbage_and_framing_errors() {
    // A Bareos cleartext hello instead of TLS.
    let (e, out) = refused(
        ServerConfig::default(),
        CAPTURE_KEY,
        b"\0\0\0\"Hello Director bareos-dir calling\n",
    );
    assert_eq!(e, Error::AlertSent(A::UnexpectedMessage));
    assert_eq!(out, [21, 3, 3, 0, 2, 2, 10]);
    // Oversize plaintext record.
    let (e, _) = refused(
        ServerConfig::default(),
        CAPTURE_KEY,
        &[22, 3, 1, 0x40, 0x01],
    );
    assert_eq!(e, Error::AlertSent(A::RecordOverflow));
    // ChangeCipherSpec before the ClientHello.
    let (e, _) = refused(
        ServerConfig::default(),
        CAPTURE_KEY,
        &record(20, 0x0303, &[1]),
    );
    assert_eq!(e, Error::AlertSent(A::UnexpectedMessage));
    // Application data before the handshake.
    let (e, _) = refused(
        ServerConfig::default(),
        CAPTURE_KEY,
        &record(23, 0x0303, b"hi"),
    );
    assert_eq!(e, Error::AlertSent(A::UnexpectedMessage));
    // Empty handshake record.
    let (e, _) = refused(
        ServerConfig::default(),
        CAPTURE_KEY,
        &record(22, 0x0303, &[]),
    );
    assert_eq!(e, Error::AlertSent(A::UnexpectedMessage));
    // A Finished instead of a ClientHello.
    let (e, _) = refused(
        ServerConfig::default(),
        CAPTURE_KEY,
        &record(22, 0x0303, &[20, 0, 0, 0]),
    );
    assert_eq!(e, Error::AlertSent(A::UnexpectedMessage));
    // Truncated hello inside a complete record.
    let msg = h(BAREOS_CLIENT_HELLO);
    let mut cut = msg[..100].to_vec();
    cut[1..4].copy_from_slice(&[0, 0, 96]);
    let (e, _) = refused(
        ServerConfig::default(),
        CAPTURE_KEY,
        &record(22, 0x0301, &cut),
    );
    assert_eq!(e, Error::AlertSent(A::DecodeError));
    // A fatal alert from the peer.
    let (e, out) = refused(
        ServerConfig::default(),
        CAPTURE_KEY,
        &record(21, 0x0303, &[2, 40]),
    );
    assert_eq!(e, Error::AlertReceived(A::HandshakeFailure));
    assert!(out.is_empty(), "no alert answers an alert");
}

#[test]
fn handshake_buffer_too_small_for_the_hello() {
    let mut rx = vec![0u8; MAX_RECORD_LEN];
    let mut tx = vec![0u8; 1024];
    let mut hs = vec![0u8; 256];
    let mut c = ServerConnection::new(
        ServerConfig::default(),
        store(CAPTURE_KEY),
        rand_core::OsRng,
        Buffers {
            rx: &mut rx,
            tx: &mut tx,
            handshake: &mut hs,
        },
    );
    let e = c
        .handle_input(&record(22, 0x0301, &h(BAREOS_CLIENT_HELLO)))
        .unwrap_err();
    assert_eq!(e, Error::AlertSent(A::InternalError));
}

#[test]
fn receive_buffer_smaller_than_record() {
    let mut rx = vec![0u8; 300];
    let mut tx = vec![0u8; 1024];
    let mut hs = vec![0u8; 1024];
    let mut c = ServerConnection::new(
        ServerConfig::default(),
        store(CAPTURE_KEY),
        rand_core::OsRng,
        Buffers {
            rx: &mut rx,
            tx: &mut tx,
            handshake: &mut hs,
        },
    );
    let input = record(22, 0x0301, &h(BAREOS_CLIENT_HELLO));
    assert_eq!(c.read_tls(&input), 300);
    assert_eq!(
        c.process_new_packets(),
        Err(Error::AlertSent(A::RecordOverflow))
    );
}

proptest::proptest! {
    /// Arbitrary bytes, fed in arbitrary pieces, never panic the server; a failure is always
    /// a sticky `AlertSent`/`AlertReceived`.
    #[test]
    fn arbitrary_input_never_panics(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000),
        split in 1usize..200,
    ) {
        let mut b = Bufs::new();
        let mut c = ServerConnection::new(ServerConfig::default(), store(CAPTURE_KEY), rand_core::OsRng, b.get());
        let mut app = [0u8; 64];
        for chunk in bytes.chunks(split) {
            let _ = c.read_tls(chunk);
            if c.process_new_packets().is_err() {
                break;
            }
            let _ = c.recv_plaintext(&mut app);
            drain(&mut c);
        }
    }

    /// The captured hello with one byte changed is refused or answered, never a panic.
    #[test]
    fn mutated_bareos_hello(pos in 0usize..580, val in proptest::prelude::any::<u8>()) {
        let mut msg = h(BAREOS_CLIENT_HELLO);
        msg[pos] = val;
        let mut b = Bufs::new();
        let mut c = ServerConnection::new(ServerConfig::default(), store(CAPTURE_KEY), rand_core::OsRng, b.get());
        let _ = c.handle_input(&record(22, 0x0301, &msg));
        drain(&mut c);
    }
}
