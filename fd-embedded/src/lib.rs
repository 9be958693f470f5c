//! The Barque File Daemon for embassy-net devices: flash partitions and firmware slots
//! backed up and restored as files, with A/B firmware semantics, on a fixed memory budget.
//!
//! # Layers
//!
//! ```text
//!   board firmware (boards/*): HAL, Ethernet driver, flash driver, executor, RNG
//!     │
//!   net.rs     embassy-net sockets; TLS-PSK client (embedded-tls) for client-initiated
//!     │        mode and the SD data channel; TLS-PSK server (fd_core::tls) for Dir → FD
//!     ▼
//!   fd_core::fd   the command loop and the jobs (backup, estimate, status, cancel,
//!     │           restore, heartbeats) — written once, shared with fd-linux
//!     ▼
//!   device.rs  FileSource/FileSink over flash partitions, A/B boot record
//!   kv.rs      power-loss-safe key-value store (postcard values, state.rs)
//!   flash.rs   NOR flash traits (embedded-storage) and a RAM flash with power cuts
//! ```
//!
//! Nothing in this crate re-implements the protocol: the sessions are fd-core's
//! [`fd_core::fd::session::run_director_session`] and
//! [`fd_core::fd::session::run_client_initiated`]; this crate supplies the platform traits
//! and the network glue, like fd-linux does with tokio (house style point 12).
//!
//! # Memory
//!
//! No allocator. One job at a time: the session buffers ([`fd_core::fd::Buffers`]) are
//! sized by the board (see [`budget`]); the device code itself uses fixed buffers on the
//! stack (256 bytes for hashing and the store).
//!
//! # Logging
//!
//! `defmt` on boards, `log` on the host, nothing by default: the same `fmt.rs` switch as
//! fd-core and embassy (the two features are mutually exclusive).
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[macro_use]
mod fmt;

pub mod budget;
pub mod device;
pub mod flash;
pub mod kv;
pub mod net;
pub mod state;

pub use fd_core;
