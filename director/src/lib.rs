#![warn(missing_docs)]
//! The Barque director daemon. Not implemented yet beyond its catalog ([`catalog`]); see its
//! issue. It will speak the protocol through fd-core's codecs.
pub use fd_core;

pub mod catalog;
pub mod jobs;
