//! Wire formats: typed parse/emit for every Bareos message an FD, SD or Director exchanges.
//!
//! # Layering
//!
//! Bareos speaks in *bsock frames* ([`bnet`]): a 4-byte big-endian signed length, then that
//! many payload bytes, or no payload when the length is negative (a *signal*). Everything else
//! in this module describes the payload of one frame:
//!
//! - connection setup: [`hello`] lines, [`cram_md5`] challenge/response, the `ssl=` policy
//!   rule ([`tls_policy`]) and TLS-PSK identities and keys ([`psk`]);
//! - the Director → FD command set and the FD's replies ([`dir_cmd`], [`fileset`]);
//! - the FD ↔ SD data channel: session commands and replies ([`sd_cmd`]), record headers and
//!   stream ids ([`stream`]), attribute records and stat packets ([`attr`]);
//! - the two Bareos base64 variants ([`base64`]) shared by CRAM-MD5 and stat packets.
//!
//! # Shape of a codec
//!
//! Each message family follows smoltcp's split between a zero-copy view and a high-level
//! representation:
//!
//! - a `Repr<'a>` (or a message enum) borrows from the input: `parse(&'a [u8]) ->
//!   Result<Self>` checks the whole payload once ("parse, don't validate"), after which no
//!   accessor can panic;
//! - `emit(&self, buf: &mut [u8]) -> Result<usize>` writes the exact bytes real Bareos sends and
//!   returns the length; `buffer_len(&self)` says how many bytes `emit` needs. A buffer that is
//!   too small is [`Error::BufferTooSmall`], never a panic.
//!
//! Unknown numeric codes (signals, stream ids, file types, job status letters) decode to an
//! `Unknown(v)` arm so a caller can log them and carry on: Bareos itself only logs an unknown
//! signal and keeps reading.
//!
//! Text messages follow `bsscanf` rules from `core/src/lib/scan.cc`; [`text`] has the shared
//! scanner and writer. Newlines and trailing NULs are part of each message's definition and
//! are reproduced byte for byte (see `../shared/protocol/connect.md` §1.3).

pub mod attr;
pub mod base64;
pub mod bnet;
pub mod codes;
pub mod bsr;
pub mod cram_md5;
pub mod dir_cmd;
pub mod fileset;
pub mod hello;
pub mod jmsg;
pub mod psk;
pub mod sd_cmd;
pub mod sd_ctl;
pub mod stream;
pub mod text;
pub mod tls_policy;

use core::fmt;

/// What is wrong with a payload or an output buffer. Cheap to copy; carries no data so that
/// firmware pays nothing for it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// The input ended before the message was complete.
    Truncated,
    /// A frame header announced more than [`bnet::MAX_PACKET_SIZE`] bytes.
    FrameTooLong,
    /// The bytes do not follow the message's grammar.
    Malformed,
    /// A number is missing, has a bad digit, or does not fit its type.
    BadNumber,
    /// A field is longer than the capacity this build was configured with.
    FieldTooLong,
    /// The message is well formed but is not one this codec knows (an unknown command word).
    Unrecognized,
    /// The output buffer cannot hold the message.
    BufferTooSmall,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Error::Truncated => "message truncated",
            Error::FrameTooLong => "frame longer than 1,000,000 bytes",
            Error::Malformed => "malformed message",
            Error::BadNumber => "bad or out-of-range number",
            Error::FieldTooLong => "field longer than this build allows",
            Error::Unrecognized => "unrecognized message",
            Error::BufferTooSmall => "output buffer too small",
        };
        f.write_str(s)
    }
}

impl core::error::Error for Error {}

/// The result type of every codec in this module.
pub type Result<T> = core::result::Result<T, Error>;
