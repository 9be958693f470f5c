//! The File Daemon for embassy-net devices. Not implemented yet: see the fd-embedded issue.
#![no_std]
pub use fd_core;
