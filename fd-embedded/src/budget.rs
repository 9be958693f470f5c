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
//! | TLS records, Director connection (client-initiated) | 4,608 rx + 1,024 tx | embedded-tls with max_fragment_length 4,096 (ecosystem.md §2); the FD sends the Director only short replies and job messages |
//! | TLS records, SD connection | 4,608 rx + 2,048 tx | same; writes are split into records that fit |
//! | TCP socket buffers, Director | 2 × 1,024 | commands and replies are short |
//! | TCP socket buffers, SD | 2 × 2,048 | the data channel |
//!
//! Total ≈ 35 KiB of static buffers ([`TOTAL`]), plus embassy-net's stack resources (~1.4
//! KiB), the main task's future (≈ 20 KiB: fd-core's session and job futures and both TLS
//! connections' state; measured with `size` per board, see boards/README.md) and the stack.
//!
//! These are the figures of the client-initiated build (the device dials the Director and
//! the SD, and asks both for max_fragment_length 4,096). A device that *accepts* the
//! Director's TLS connection (Director → FD, fd-core's TLS server) needs a 16,645-byte
//! receive buffer and a transmit buffer for that connection instead (the Director's OpenSSL
//! does not negotiate max_fragment_length there), and fd-core's TLS server's handshake
//! buffer: ≈ 16 KiB more than the client-initiated figures.

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
#[cfg(feature = "full")]
pub const ACCURATE: usize = 512;
/// Without accurate mode (feature `full` off) the file list is never kept.
#[cfg(not(feature = "full"))]
pub const ACCURATE: usize = 0;
/// An embedded-tls receive record buffer with max_fragment_length 4,096.
pub const TLS_RECORD: usize = 4608;
/// An embedded-tls send record buffer (writes are split into records that fit).
pub const TLS_RECORD_TX: usize = 2048;
/// The embedded-tls send record buffer of the Director connection (client-initiated).
pub const TLS_RECORD_TX_DIR: usize = 1024;
/// One TCP socket buffer of the SD connection (each direction).
pub const TCP: usize = 2048;
/// One TCP socket buffer of the Director connection (each direction).
pub const TCP_DIR: usize = 1024;
/// Sum of the static session buffers.
pub const TOTAL: usize = DIR_RX
    + TX
    + SD_RX
    + DATA
    + FILESET
    + ACCURATE
    + 2 * TLS_RECORD
    + TLS_RECORD_TX
    + TLS_RECORD_TX_DIR
    + 2 * TCP
    + 2 * TCP_DIR;
