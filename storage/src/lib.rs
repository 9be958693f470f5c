//! The Barque storage daemon. Not implemented yet: see its issue. It will speak the protocol through fd-core's codecs.
pub use fd_core;
