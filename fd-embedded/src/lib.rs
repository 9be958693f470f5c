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
//! # Memory and flash, measured
//!
//! No allocator. One job at a time: the session buffers ([`fd_core::fd::Buffers`]) are
//! sized by the board (see [`budget`], ≈ 35 KiB including both TLS connections); the device
//! code itself uses fixed buffers on the stack (256 bytes for hashing and the store, up to
//! 2 KiB in the store's compaction).
//!
//! boards/stm32f7-eth (embassy-stm32 Ethernet, embassy-net with a static address,
//! embedded-tls client, fd-core's session engine without `estimate`, `status`, accurate and
//! passive mode, defmt; thumbv7em, opt-level "z", fat LTO), `size -A`: `.text` 150,048 +
//! `.rodata` 10,696 + `.data` 1,856 + vectors 504 = **159.3 KiB flash** and `.data` 1,856 +
//! `.bss` 62,576 + `.uninit` 1,024 = **63.9 KiB static RAM** (every session and TLS buffer
//! included; the stack on top): within the 160 KiB / 64 KiB target, which `scripts/boards`
//! enforces. With this crate's default feature `full` (fd-core's whole command set) and DHCP
//! the same board is 181.7 KiB of flash. Where the flash goes: fd-core's session engine (the
//! Director command dispatch future is the largest function), embedded-tls ≈ 24 KiB with its
//! handshake future, smoltcp ≈ 15 KiB, P-256 ≈ 9 KiB, this crate ≈ 15 KiB; boards/README.md
//! lists what was cut.
//!
//! # Verified by
//!
//! - unit tests: the store under power cuts at every byte, NOR rules, windows, postcard
//!   round trips, proptests (store vs a map model; garbage regions never panic);
//! - host-tests/tests/sim_embedded.rs: Full/Incremental backup and restore through fd-core's
//!   sessions at this crate's buffer budget; A/B refusals; seeded fault injection and power
//!   cuts during a firmware restore; TLS-PSK Director → FD (fd-core's server) and FD → SD
//!   (embedded-tls); client-initiated with TLS; and a backup over two embassy-net stacks
//!   joined by an in-memory Ethernet wire; stalls of the SD (no reply, no reading) and of
//!   the Director mid-job end the job within fd-core's timeouts, an idle Director is waited
//!   for;
//! - host-tests/tests/embedded_daemons.rs: the device against barque-dir and barque-sd as
//!   processes: Director → FD (TLS-PSK and cleartext), passive (`Passive = yes`, TLS-PSK
//!   and cleartext: the SD is authenticated while the session waits for `backup`) and
//!   client-initiated (TLS-PSK, parked at the Director), each a Full backup and an A/B
//!   restore of slot B, byte-identical;
//! - host-tests/tests/qemu_mps2.rs: boards/qemu-mps2 in QEMU (Cortex-M4, LAN9118 driver,
//!   embassy-net): the device layer's self-test, then a Full backup over QEMU's user network
//!   to a host-side test Director and SD, byte-identical.
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
pub mod rng;
pub mod state;

pub use fd_core;
