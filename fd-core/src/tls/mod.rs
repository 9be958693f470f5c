//! A no_std, no-alloc, sans-IO TLS **server** for external pre-shared keys: TLS 1.3 with
//! `psk_dhe_ke`, and TLS 1.2 plain PSK.
//!
//! # Why the File Daemon needs a TLS server
//!
//! Since Bareos 18.2 every connection starts with TLS-PSK before any Bareos byte
//! (`../shared/protocol/connect.md` §3.1). The *accepting* side is the TLS server, so a File
//! Daemon that a Director dials (`Dir → FD`, the default) or that a passive Storage Daemon
//! dials (`Passive = yes`) must run the server half of the handshake. embedded-tls 0.19 has no
//! server and no published no_std crate accepts an OpenSSL ClientHello with PSK
//! (`../shared/design/ecosystem.md` §5), hence this module.
//!
//! # What a Bareos peer sends, and what we answer
//!
//! Bareos configures OpenSSL identically on both ends (`core/src/lib/tls/openssl/impl.cc`,
//! connect.md §3.5): `TLS_method()`, cipher list `ALL:!ADH:!LOW:!EXP:!MD5:@STRENGTH`, default
//! TLS 1.3 suites, and only the *legacy* `SSL_CTX_set_psk_{client,server}_callback`. With
//! OpenSSL 3 this yields (captured in `vectors/psk-dir-fd`, conn 1):
//!
//! - a ClientHello offering TLS 1.0–1.3, 130 suites, `psk_key_exchange_modes = psk_dhe_ke`
//!   only, a single x25519 key share, and one external PSK identity `R_DIRECTOR` 0x1E
//!   `bareos-dir` with a 32-byte (SHA-256) binder;
//! - the PSK itself is the ASCII MD5-hex of the password (32 bytes), or the 39-character job
//!   session key for `R_JOB` identities (connect.md §3.4);
//! - a ServerHello selecting TLS_CHACHA20_POLY1305_SHA256 and x25519, a middlebox
//!   ChangeCipherSpec, then EncryptedExtensions (empty) and Finished.
//!
//! This server does the same: the TLS 1.3 suites TLS_CHACHA20_POLY1305_SHA256 and
//! TLS_AES_128_GCM_SHA256 (picked in the client's order), x25519 or secp256r1 key shares
//! (HelloRetryRequest when the client only *lists* a group we support — embedded-tls sends
//! P-256 only, OpenSSL x25519 only), binder verification in constant time, middlebox
//! compatibility (echoing `legacy_session_id`, sending and ignoring ChangeCipherSpec),
//! alerts, KeyUpdate, close_notify and `max_fragment_length` (RFC 6066) so that a small device
//! can bound its record buffers. No NewSessionTicket is ever sent: Bareos does not resume.
//!
//! TLS 1.2 plain PSK (RFC 4279) with TLS_PSK_WITH_AES_128_GCM_SHA256 (0x00A8) and
//! TLS_PSK_WITH_CHACHA20_POLY1305_SHA256 (0xCCAB) serves peers that cannot do TLS 1.3 PSK,
//! such as python-bareos with `sslpsk3` on Python < 3.13, which caps the version at 1.2
//! (ecosystem.md §9). Both suites are in Bareos' own cipher list, so a TLS 1.2-only Bareos
//! peer agrees on one of them (connect.md §3.6 measured `PSK-AES128-GCM-SHA256` and
//! `PSK-CHACHA20-POLY1305`). [`ServerConfig::tls12`] turns it off.
//!
//! # Shape
//!
//! [`ServerConnection`] is a sans-IO state machine in the style of rustls' and quinn-proto's
//! connection objects: bytes go in with [`ServerConnection::read_tls`], are processed by
//! [`ServerConnection::process_new_packets`], plaintext comes out of
//! [`ServerConnection::recv_plaintext`] and goes in through
//! [`ServerConnection::send_plaintext`], and TLS bytes leave through
//! [`ServerConnection::write_tls`]. The caller owns all buffers ([`Buffers`]) and the random
//! number generator (a `rand_core` 0.6 `CryptoRng + RngCore`, as embedded-tls 0.19 takes).
//! The PSK lookup is the [`PskStore`] trait; the identity the client used is available from
//! [`ServerConnection::psk_identity`] once the handshake is done, for the hello-name check of
//! connect.md §3.4.
//!
//! # Interop (measured, `host-tests/tests/tls_server_interop.rs`)
//!
//! | client | result |
//! |---|---|
//! | `openssl s_client -psk … -tls1_3` (OpenSSL 3.0), default groups / `-groups X25519` | TLS 1.3 CHACHA20 + x25519 |
//! | same, `-ciphersuites TLS_AES_128_GCM_SHA256` / `-groups P-256` / `-groups X448:P-256` | AES-128-GCM / P-256 / HRR → P-256 |
//! | same, `-maxfraglen 1024`; `s_client` `K` command | records ≤ 1,024 B; KeyUpdate answered |
//! | `openssl s_client -tls1_2 -cipher PSK-AES128-GCM-SHA256` / `PSK-CHACHA20-POLY1305` | TLS 1.2, as offered |
//! | rust-openssl client set up like Bareos (legacy callback, Bareos cipher list) | TLS 1.3 CHACHA20 + x25519 |
//! | the same capped at TLS 1.2 | TLS 1.2 PSK-CHACHA20-POLY1305 |
//! | embedded-tls 0.19 (`with_psk`, Aes128GcmSha256, P-256 share only) | TLS 1.3 AES-128-GCM + P-256; also with `Bits12` and 4.5 KB buffers |
//! | python-bareos 25 + sslpsk3 2.1 on Python 3.11 (caps at TLS 1.2, Bareos cipher list) | TLS 1.2 PSK-CHACHA20-POLY1305 |
//!
//! python-bareos with sslpsk3 offers OpenSSL's whole TLS 1.2 list for
//! `ALL:!ADH:!LOW:!EXP:!MD5:@STRENGTH`, which sorts the 256-bit ChaCha20 PSK suite (0xCCAB)
//! before the AES-128 one (0x00A8); against OpenSSL it picks DHE-PSK-AES256-GCM-SHA384
//! (ecosystem.md §9), against us the plain PSK ChaCha20 suite. No ECDHE-PSK suite is needed.
//!
//! # Footprint
//!
//! Measured with a `no_std` probe binary for thumbv7em-none-eabihf (`opt-level = "z"`, LTO,
//! `panic = "abort"`) that drives every public entry point: **≈ 45 KB flash** (`.text`
//! 44,158 B + `.rodata` 1,122 B) for the whole engine including SHA-256/HMAC/HKDF,
//! AES-128-GCM, ChaCha20-Poly1305, x25519 and P-256 (embedded-tls already links SHA-2,
//! HKDF, AES-GCM and P-256 at the same versions). RAM: `ServerConnection` itself is 2,384
//! bytes on that target, plus the caller's [`Buffers`]: a receive buffer of 16,645 bytes for
//! peers that send full records (OpenSSL, i.e. Bareos, does not ask for
//! `max_fragment_length`, and a server cannot impose it), or about 4,130 bytes for peers that
//! negotiate a 4,096-byte fragment; a send buffer of 512 bytes or more; a handshake buffer of
//! 1–2 KB. Stack use was not measured.
//!
//! # Files
//!
//! - [`record`]: record header and alerts; [`handshake`]: handshake message codecs;
//! - [`key_schedule`]: HKDF-Expand-Label, binders, Finished, TLS 1.2 PRF;
//! - `crypto`: AEAD record protection and the x25519 / P-256 exchange;
//! - `conn`: the connection state machine (TLS 1.3 in `server13`, TLS 1.2 in `server12`).

mod codec;
mod conn;
mod crypto;
pub mod handshake;
pub mod key_schedule;
pub mod record;
mod server12;
mod server13;
#[cfg(test)]
mod tests;

use core::fmt;

pub use conn::{Buffers, ServerConnection};
pub use handshake::{CipherSuite, NamedGroup};
pub use record::{AlertDescription, MAX_RECORD_LEN};

/// Longest PSK accepted from a [`PskStore`]. Bareos keys are 32 (MD5 hex) or 39 (job key)
/// bytes.
pub const MAX_PSK_LEN: usize = 64;

/// Longest PSK identity kept. A Bareos job identity is `R_JOB` 0x1E plus a job name of at
/// most 127 bytes (connect.md §3.4); OpenSSL allows 256.
pub const MAX_IDENTITY_LEN: usize = 256;

/// Maps a PSK identity to its key.
///
/// A File Daemon splits the identity at the first 0x1E: `R_DIRECTOR` names the Director
/// resource whose password's MD5-hex is the key; `R_JOB` names a running job whose session
/// key is the key (`core/src/lib/try_tls_handshake_as_a_server.h`, connect.md §3.4).
pub trait PskStore {
    /// Write the key for `identity` into `key` (at most [`MAX_PSK_LEN`] bytes) and return its
    /// length, or `None` if the identity is unknown (the handshake then fails with
    /// `unknown_psk_identity`).
    fn lookup(&mut self, identity: &[u8], key: &mut [u8]) -> Option<usize>;
}

impl<F: FnMut(&[u8], &mut [u8]) -> Option<usize>> PskStore for F {
    fn lookup(&mut self, identity: &[u8], key: &mut [u8]) -> Option<usize> {
        self(identity, key)
    }
}

/// What the server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ServerConfig {
    /// Accept TLS 1.3 (default on).
    pub tls13: bool,
    /// Accept TLS 1.2 plain PSK (default on).
    pub tls12: bool,
    /// Offer TLS_CHACHA20_POLY1305_SHA256 / TLS_PSK_WITH_CHACHA20_POLY1305_SHA256.
    pub chacha20_poly1305: bool,
    /// Offer TLS_AES_128_GCM_SHA256 / TLS_PSK_WITH_AES_128_GCM_SHA256.
    pub aes128_gcm: bool,
    /// Accept x25519 key shares.
    pub x25519: bool,
    /// Accept secp256r1 key shares.
    pub secp256r1: bool,
    /// Honour the client's `max_fragment_length` request.
    pub max_fragment_length: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            tls13: true,
            tls12: true,
            chacha20_poly1305: true,
            aes128_gcm: true,
            x25519: true,
            secp256r1: true,
            max_fragment_length: true,
        }
    }
}

/// Why a connection failed or refused an operation. Fatal errors are sticky: every later
/// call returns the same error.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// We found the peer at fault (or could not continue) and queued this fatal alert; flush
    /// it with `write_tls` and close the socket.
    AlertSent(AlertDescription),
    /// The peer sent this fatal alert.
    AlertReceived(AlertDescription),
    /// The connection was closed with close_notify; no more data can be sent.
    Closed,
    /// `send_plaintext` before the handshake finished.
    HandshakeNotComplete,
    /// A caller buffer is too small for what must be written (tx or handshake buffer).
    BufferTooSmall,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::AlertSent(d) => write!(f, "TLS handshake aborted, sent alert {d:?}"),
            Error::AlertReceived(d) => write!(f, "peer sent TLS alert {d:?}"),
            Error::Closed => f.write_str("TLS connection closed"),
            Error::HandshakeNotComplete => f.write_str("TLS handshake not complete"),
            Error::BufferTooSmall => f.write_str("TLS buffer too small"),
        }
    }
}

impl core::error::Error for Error {}
