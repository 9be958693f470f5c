//! # fd-core: the Bareos wire protocol, without std, an allocator, or I/O
//!
//! fd-core is the one implementation of the Bareos protocol that every Barque daemon uses: the
//! File Daemon on a microcontroller (`fd-embedded`), the File Daemon on Linux (`fd-linux`), and
//! the std Director and Storage Daemon, which speak the same bytes from the other end.
//!
//! ## Layers
//!
//! ```text
//!  ┌──────────────────────────────────────────────────────────────────────────┐
//!  │ wire::bnet         frames and signals (4-byte BE length, ≤ 1,000,000 B)  │
//!  ├──────────────────────────────────────────────────────────────────────────┤
//!  │ wire::hello, cram_md5, tls_policy, psk   connection setup                │
//!  │ wire::dir_cmd, fileset                   Director → FD commands, replies │
//!  │ wire::sd_cmd, stream, attr               FD ↔ SD data channel            │
//!  └──────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Everything is *sans-IO*: codecs take byte slices and write into caller-owned buffers; state
//! machines take bytes and an [`time::Instant`] and return bytes and deadlines. No function
//! reads a clock, touches a socket or allocates. Platform shells (embassy-net on a board, tokio
//! or threads on Linux) own the sockets and drive these calls.
//!
//! ## Conventions
//!
//! - Parse with `Repr::parse(&[u8])`, emit with `Repr::emit(&self, &mut [u8]) -> usize`; see
//!   [`wire`] for the full contract. A short output buffer is an error, never a panic.
//! - Numeric protocol codes are enums with an `Unknown` arm.
//! - The Bareos source is the specification; module docs cite the file and function they
//!   follow, and the captures in `../shared/vectors/` are the tests.
//!
//! ## Features
//!
//! | feature | effect |
//! |---|---|
//! | *(none)* | `no_std`, no allocator |
//! | `alloc` | owned convenience types where they help |
//! | `std` | implies `alloc` |
//! | `log` | log through the `log` crate (host) |
//! | `defmt` | log through `defmt` (firmware); exclusive with `log` |
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

#[macro_use]
mod fmt;

pub mod auth;
pub mod fd;
pub mod time;
pub mod wire;

#[cfg(feature = "tls-server")]
pub mod tls;
