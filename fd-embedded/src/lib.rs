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
//! boards/stm32f7-eth (embassy-stm32 Ethernet, embassy-net with DHCP, embedded-tls client,
//! fd-core's whole session engine, defmt; thumbv7em, opt-level "z", fat LTO), `size -A`:
//! `.text` 171,700 + `.rodata` 12,028 + `.data` 1,856 + vectors 504 = **181.7 KiB flash**,
//! still **over** the 160 KiB target; `.data` 1,856 + `.bss` 62,584 + `.uninit` 1,024 =
//! **63.9 KiB static RAM** (every session and TLS buffer included; the stack on top), within
//! 64 KiB. What was cut: panic messages and locations (panic-probe without `print-defmt`)
//! and the derived `Debug` text of embedded-tls errors, together −12 KiB of `.text` and
//! −19.6 KiB of `.rodata`; the duplicated `Session` in fd-core's command-loop future
//! (−3.4 KiB RAM); smaller Director-side socket and TLS transmit buffers (see [`budget`]). Where the flash goes:
//! fd-core's session engine ≈ 59 KiB (the Director command dispatch future alone 32 KiB;
//! estimate, status and accurate mode together ≈ 14 KiB, measured by stubbing them out),
//! smoltcp 16 KiB, embedded-tls ≈ 24 KiB with its handshake future, P-256 ≈ 9 KiB, this
//! crate 15 KiB. With estimate, status, accurate and passive mode stubbed out of fd-core and
//! a static address instead of DHCP the image measured 159.2 KiB (boards/README.md): the
//! way under the budget is cargo features for those, not yet done.
//!
//! # Verified by
//!
//! - unit tests: the store under power cuts at every byte, NOR rules, windows, postcard
//!   round trips, proptests (store vs a map model; garbage regions never panic);
//! - host-tests/tests/sim_embedded.rs: Full/Incremental backup and restore through fd-core's
//!   sessions at this crate's buffer budget; A/B refusals; seeded fault injection and power
//!   cuts during a firmware restore; TLS-PSK Director → FD (fd-core's server) and FD → SD
//!   (embedded-tls); client-initiated with TLS; and a backup over two embassy-net stacks
//!   joined by an in-memory Ethernet wire;
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
pub mod state;

pub use fd_core;
