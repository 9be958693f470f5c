//! # barque-fd: the File Daemon for Linux NAS and SBC hosts
//!
//! A thin shell around fd-core's File Daemon ([`fd_core::fd`]), which holds the whole
//! protocol (hello, CRAM-MD5, the command loop, backup, restore, estimate, status, cancel,
//! setbandwidth, heartbeats). This crate supplies the platform (house style point 12: one
//! implementation, thin shells):
//!
//! | module | what | Bareos counterpart |
//! |---|---|---|
//! | [`daemon`] | configuration (`-c`, `-t`), accept loop, TLS-PSK / certificate TLS server, cleartext gate, one thread per connection, shared job table, client-initiated and passive modes | `core/src/filed/filed.cc`, `socket_server.cc` |
//! | [`net`] | tokio TCP/TLS as `embedded-io-async`, the SD [`fd_core::fd::platform::Connector`] (TLS-PSK `R_JOB`), passive SD hand-over, frame coalescing | `dir_cmd.cc` `StorageCmd()` |
//! | [`source`] | the walk (depth first, directory after contents, `readdir()` order, raw `OsStr` bytes, onefs) and large reads | `findlib/find_one.cc` |
//! | [`sink`] | restore: `openat`-style creation that never leaves its root, temporary names, attributes | `findlib/create_file.cc`, `attribs.cc` |
//! | [`clock`] | wall and monotonic time on tokio | `time()`, `bmicrosleep()` |
//! | [`msglog`] | the local log file (`Append` of the Client's Messages resource) | `lib/message.cc` |
//!
//! # What is verified, and how
//!
//! `tests/` run barque-fd in-process on 127.0.0.1 ephemeral ports: python-bareos
//! (`bareos.bsock.FileDaemon`) reads `status` in cleartext and over TLS-PSK; a test Director
//! and SD built from fd-core's codecs back up a generated tree with every file type and
//! restore it, compared byte for byte and attribute for attribute (cleartext and TLS-PSK on
//! both connections); incremental/differential pick exactly the changed files;
//! vectors/clear-backup-full conn 3 is replayed over TCP; bad input (unknown and malformed
//! commands, junk connections, missing fileset paths, unreadable files, `..` restores,
//! symlink escapes, truncated data streams) is reported and the daemon keeps serving;
//! status and cancel work from a second connection while a job runs; client-initiated and
//! passive modes. `examples/fd_bench.rs` measures throughput.
//!
//! # Not supported (documented where it matters)
//!
//! - Compression, encryption, plugins: fd-core has no such streams. (ACLs and extended
//!   attributes are saved and restored as Bareos' Linux streams, [`xattr`].)
//! - Cleartext-then-TLS upgrade after CRAM-MD5 on Director connections (certificate TLS
//!   without TLS-first); TLS-first connections (PSK or certificates) are supported.
//! - Running as a background daemon: barque-fd always stays in the foreground (`-f` is
//!   accepted), as under systemd.
#![forbid(unsafe_code)]

pub mod bregexp;
pub mod clock;
pub mod daemon;
pub mod digest;
pub mod msglog;
pub mod net;
pub mod readahead;
pub mod sink;
pub mod source;
pub mod xattr;

pub use fd_core;
