//! # storage: the Barque storage daemon's volume layer and tools
//!
//! The first part of barque-sd: the Bareos disk-volume format ([`volume`]), a `bls`
//! work-alike (binary `barque-bls`) and a `bextract` work-alike (`barque-bls --extract`). The daemon itself (the Director and FD channels) will be built on these and on
//! fd-core's codecs.
#![warn(missing_docs)]

pub use fd_core;

pub mod bls;
pub mod extract;
pub mod volume;
