//! # barque-fd: the File Daemon for Linux NAS and SBC hosts
//!
//! A thin shell around fd-core's File Daemon ([`fd_core::fd`]), which holds the whole
//! protocol (hello, CRAM-MD5, the command loop, backup, restore, estimate, status). This
//! crate supplies the platform: sockets ([`net`]), the file system walk and reads
//! ([`source`]), the restore sink ([`sink`]), the clock ([`clock`]) and the daemon itself
//! ([`daemon`]: configuration, accept loop, TLS, client-initiated connections).
#![forbid(unsafe_code)]

pub mod clock;
pub mod daemon;
pub mod net;
pub mod sink;
pub mod source;

pub use fd_core;
