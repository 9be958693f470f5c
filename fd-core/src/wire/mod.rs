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
//! - the console ↔ Director response messages and greetings ([`console`]);
//! - the Director → FD command set and the FD's replies ([`dir_cmd`], [`fileset`]);
//! - the Director ↔ SD control channel: job setup, catalog requests and updates
//!   ([`sd_ctl`]) and the bootstrap lines of a restore ([`bsr`]);
//! - the FD ↔ SD data channel: session commands and replies ([`sd_cmd`]), record headers and
//!   stream ids ([`stream`]), attribute records and stat packets ([`attr`]);
//! - shared by several channels: job messages ([`jmsg`], sent by FD and SD alike), job
//!   status/type/level and message-type codes ([`codes`]), the frames of a `status` answer
//!   ([`status`], the same from FD and SD);
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
//!   too small is [`Error::BufferTooSmall`], never a panic. The `codec_impl!` macro of this
//!   module derives both from one private `write(&self, &mut Writer)`, so the two cannot
//!   disagree, and refuses to emit more than one frame's worth of bytes.
//!
//! Unknown numeric codes (signals, stream ids, file types, job status letters) decode to an
//! `Unknown(v)` arm so a caller can log them and carry on: Bareos itself only logs an unknown
//! signal and keeps reading.
//!
//! Text messages follow `bsscanf` rules from `core/src/lib/scan.cc`; [`text`] has the shared
//! scanner and writer. Newlines and trailing NULs are part of each message's definition and
//! are reproduced byte for byte (see `../shared/protocol/connect.md` §1.3).

/// `emit` and `buffer_len` for a codec type with a private `write(&self, &mut Writer)`:
/// `codec_impl!(T)` when `write` returns `Result<()>` (it validates the value),
/// `codec_impl!(T, infallible)` when it cannot fail. `emit` refuses to produce a frame longer
/// than [`bnet::MAX_PACKET_SIZE`]; `buffer_len` counts with [`text::Writer::counting`].
macro_rules! codec_impl {
    ($ty:ty) => {
        impl $ty {
            /// Write the message into `buf` exactly as Bareos sends it; returns its length.
            pub fn emit(&self, buf: &mut [u8]) -> $crate::wire::Result<usize> {
                let mut w = $crate::wire::text::Writer::new(buf);
                self.write(&mut w)?;
                $crate::wire::check_emit_len(&w)?;
                w.finish()
            }

            /// How many bytes `emit` writes.
            pub fn buffer_len(&self) -> usize {
                let mut w = $crate::wire::text::Writer::counting();
                // Counting cannot overflow; an invalid value still counts its bytes.
                let _ = self.write(&mut w);
                w.len()
            }
        }
    };
    ($ty:ty, infallible) => {
        impl $ty {
            /// Write the message into `buf` exactly as Bareos sends it; returns its length.
            pub fn emit(&self, buf: &mut [u8]) -> $crate::wire::Result<usize> {
                let mut w = $crate::wire::text::Writer::new(buf);
                self.write(&mut w);
                $crate::wire::check_emit_len(&w)?;
                w.finish()
            }

            /// How many bytes `emit` writes.
            pub fn buffer_len(&self) -> usize {
                let mut w = $crate::wire::text::Writer::counting();
                self.write(&mut w);
                w.len()
            }
        }
    };
}

/// A received payload longer than a bsock frame can carry is [`Error::FrameTooLong`].
pub(crate) fn check_frame_len(input: &[u8]) -> Result<()> {
    if input.len() > bnet::MAX_PACKET_SIZE {
        Err(Error::FrameTooLong)
    } else {
        Ok(())
    }
}

/// The same limit for a message being written.
pub(crate) fn check_emit_len(w: &text::Writer<'_>) -> Result<()> {
    if w.len() > bnet::MAX_PACKET_SIZE {
        Err(Error::FrameTooLong)
    } else {
        Ok(())
    }
}

pub mod attr;
pub mod base64;
pub mod bnet;
pub mod bsr;
pub mod codes;
pub mod console;
pub mod cram_md5;
pub mod dir_cmd;
pub mod fileset;
pub mod hello;
pub mod jmsg;
pub mod psk;
pub mod sd_cmd;
pub mod sd_ctl;
pub mod sd_dev;
pub mod status;
pub mod stream;
pub mod text;
pub mod tls_policy;
pub mod xattr;

/// Helpers shared by the unit tests of the codecs.
#[cfg(test)]
pub(crate) mod test_util {
    extern crate std;

    /// Run `emit` on a buffer of `len` bytes and return what it wrote.
    pub(crate) fn emit_vec(
        len: usize,
        emit: impl FnOnce(&mut [u8]) -> super::Result<usize>,
    ) -> std::vec::Vec<u8> {
        let mut buf = std::vec![0u8; len];
        let n = emit(&mut buf).unwrap();
        buf.truncate(n);
        buf
    }
}

use core::fmt;

/// What is wrong with a payload or an output buffer. Cheap to copy; carries no data so that
/// firmware pays nothing for it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// The input ended before the message was complete.
    Truncated,
    /// A frame header announced (or a message would need) more than
    /// [`MAX_PACKET_SIZE`](crate::wire::bnet::MAX_PACKET_SIZE) bytes.
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
