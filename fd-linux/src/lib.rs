//! barque-fd, the File Daemon for Linux hosts. Not implemented yet: see the barque-fd issue.
//! Until then this crate only proves that fd-core links into a std build with `log`.
pub use fd_core;
