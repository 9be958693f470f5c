//! The RAM budget of a firmware image (thumbv7em, one job at a time).
//!
//! Session buffers are given to [`fd_core::fd::Buffers`]; a board allocates them as
//! `static` arrays of these sizes. `network_buffer_size` in the FD configuration must not
//! exceed [`DATA`] − 8 (Bareos' default is 262,144; a device announces less, and the SD
//! accepts any record size).
//!
//! | buffer | bytes | why |
//! |---|---|---|
//! | Director rx ([`DIR_RX`]) | 2,048 | commands and fileset lines are short |
//! | tx ([`TX`]) | 4,352 | ≥ 4,200 (fd-core: attribute records to the SD) |
//! | SD rx ([`SD_RX`]) | 4,608 | SD replies; on restore whole data records: a device restores backups made with `network_buffer_size` ≤ 4,096 (its own; sparse records carry 8 bytes more) |
//! | data ([`DATA`]) | 4,104 | one file-data record (4,096) + the sparse offset |
//! | fileset ([`FILESET`]) | 512 | a handful of `F`/`O` lines |
//! | accurate ([`ACCURATE`]) | 512 | three files |
//! | TLS records, Director connection | 2 × 4,608 | embedded-tls with max_fragment_length 4,096 (ecosystem.md §2) |
//! | TLS records, SD connection | 2 × 4,608 | same |
//! | TCP socket buffers | 4 × 2,048 | two sockets (Director, SD) |
//!
//! Total ≈ 38 KiB of static buffers ([`TOTAL`]), plus embassy-net's stack resources (~3 KiB), the
//! futures (measured with `size` per board, see boards/README.md) and the stack.

/// Director receive buffer.
pub const DIR_RX: usize = 2048;
/// Transmit buffer.
pub const TX: usize = 4352;
/// SD receive buffer.
pub const SD_RX: usize = 4608;
/// File data buffer.
pub const DATA: usize = 4096 + 8;
/// Fileset store.
pub const FILESET: usize = 512;
/// Accurate list store.
pub const ACCURATE: usize = 512;
/// An embedded-tls receive record buffer with max_fragment_length 4,096.
pub const TLS_RECORD: usize = 4608;
/// An embedded-tls send record buffer (writes are split into records that fit).
pub const TLS_RECORD_TX: usize = 2048;
/// One TCP socket buffer (each direction).
pub const TCP: usize = 2048;
/// Sum of the static session buffers.
pub const TOTAL: usize =
    DIR_RX + TX + SD_RX + DATA + FILESET + ACCURATE + 2 * (TLS_RECORD + TLS_RECORD_TX) + 4 * TCP;
