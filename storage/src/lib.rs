//! # storage: the Barque storage daemon's volume layer and tools
//!
//! The first part of barque-sd: the Bareos disk-volume format ([`volume`]: blocks, records,
//! labels, a reader and a writer), a `bls` work-alike ([`bls`]) and a `bextract` work-alike
//! ([`extract`]), both behind the `barque-bls` binary:
//!
//! ```text
//! barque-bls [-L | -j | -k] [-v] [-b BSR] [-V VOLUME] [--device-name NAME] ARCHIVE-DIR|VOLUME
//! barque-bls --extract -w DIR [-v] [-b BSR] [-V VOLUME] ARCHIVE-DIR|VOLUME
//! ```
//!
//! What was checked against real Bareos (26.0.0~pre1298, `shared/vectors/volume-full` and
//! `volume-multiblock`): every block CRC; the writer re-creates both captured volumes byte for
//! byte from their records; the listings equal the real `bls -L`, `-k`, `-k -v`, `-j -v` and
//! `-v` outputs line for line (apart from process-dependent prefixes, see [`bls`]); the
//! extracted files have the sha256 recorded when the test trees were made.
//!
//! The daemon itself (Director and FD channels) will be built on these and on fd-core's
//! codecs, which this crate reuses for every record payload (attributes, digests, sparse
//! chunks, stream ids, bootstrap files) instead of keeping a second copy.
#![warn(missing_docs)]

pub use fd_core;

pub mod bls;
pub mod extract;
pub mod sd;
pub mod volume;
