//! # storage: barque-sd, the Barque Storage Daemon, and its volume layer and tools
//!
//! * [`sd`] and the `barque-sd` binary: a Storage Daemon that Bareos Directors and File
//!   daemons talk to as to bareos-sd (Director control channel with catalog requests,
//!   FD data channel for backup and restore, passive clients, cancel, `status`), writing and
//!   reading Bareos File-device volumes:
//!
//!   ```text
//!   barque-sd -c /etc/bareos/bareos-sd.d -f [-d LEVEL]      (default port 9103)
//!   barque-sd -t -c CONFIG                                   (check the configuration)
//!   ```
//!
//! * [`volume`]: the Bareos disk-volume format (blocks, records, labels, a reader and a
//!   writer), [`bls`] (a `bls` work-alike) and [`extract`] (a `bextract` work-alike), both
//!   behind the `barque-bls` binary:
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
//! For barque-sd (tests in `tests/sd_*.rs`, a test Director and a test FD built from fd-core
//! codecs and barque-common connections): the captured backups (`clear-backup-full`,
//! `clear-backup-multiblock`, `clear-backup-passive`) replayed against barque-sd give the
//! captured SD → Director message sequence (catalog requests, job messages, `UpdCat` frames
//! byte for byte apart from the session words) and SD → FD replies, and volumes whose records
//! and block layout equal the real ones; restores from the real Bareos volumes send the FD
//! exactly the captured `rechdr` and record messages (`clear-restore`,
//! `clear-restore-multiblock`). Loopback throughput with TLS-PSK: `examples/sd_bench.rs`.
//!
//! The daemon is built on these and on fd-core's codecs, which this crate reuses for every
//! wire message and record payload (attributes, digests, sparse chunks, stream ids, bootstrap
//! files) instead of keeping a second copy.
#![warn(missing_docs)]

pub use fd_core;

pub mod bls;
pub mod extract;
pub mod sd;
pub mod volume;
