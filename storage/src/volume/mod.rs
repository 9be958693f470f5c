//! The Bareos disk-volume format: blocks, records, labels, and a reader and writer for them.
//!
//! # What a File-device volume is
//!
//! One regular file per volume (`«Archive Device»/«VolumeName»`), a plain concatenation of
//! variable-length blocks with no padding and no file marks (`core/src/stored/dev.cc`; weof is
//! a no-op on files). Every integer is big-endian. Layering, bottom up:
//!
//! ```text
//!  block     [block] 24-byte BB02 header (CRC-32, length, number, session) + records
//!  record    [record] 12-byte header (FileIndex, Stream, remaining length) + payload; a
//!            record that does not fit continues in the next block (negated stream)
//!  payload   FileIndex < 0: [label] (VOL_LABEL, SOS, EOS); FileIndex > 0: what the FD sent,
//!            decoded by fd-core (`fd_core::wire::attr::Record`: attributes, digests,
//!            sparse data …)
//! ```
//!
//! The order on a volume (jobs.md §5.5): a block holding only the volume label, then for each
//! job session blocks holding `SOS, (attributes, [data…], [digest]) per file…, EOS`. All
//! records of a block belong to the session named in the block header, so concurrent jobs
//! interleave whole blocks.
//!
//! # Codecs and drivers
//!
//! [`block`], [`record`] and [`label`] are parse/emit codecs in the fd-core style (borrowing
//! `Repr`s, `emit` into caller buffers, `buffer_len`, errors are `fd_core::wire::Error`); they
//! were checked byte for byte against `vectors/volume-full` and `vectors/volume-multiblock`.
//! [`reader`] and [`writer`] drive them over `std::io` for the storage daemon and the tools.
//! Nothing here is needed by a File Daemon, so it lives in the storage crate rather than in
//! fd-core; the file-record payloads themselves are fd-core's codecs, not a second copy.
//!
//! Sources (facts only, no code taken): `core/src/stored/block.cc`, `record.cc`, `label.cc`,
//! `read_record.cc`, `bls.cc`, `bextract.cc`; the reference is `shared/protocol/jobs.md` §5.

pub mod block;
pub mod label;
pub mod reader;
pub mod record;
pub mod writer;

pub use block::{crc32, Block, BlockHeader, BLOCK_HEADER_LEN, DEFAULT_BLOCK_SIZE, MAX_BLOCK_LEN};
pub use label::{EosTrailer, SessionLabel, VolumeLabel, BAREOS_ID, BAREOS_TAPE_VERSION};
pub use reader::{intact_length, BlockPos, OwnedBlock, ReadError, RecordReader, VolumeReader};
pub use record::{Pieces, Reassembler, Record, RecordHeader, RecordPiece, RECORD_HEADER_LEN};
pub use writer::{BlockSink, RecordRoom, SessionSummary, VolumeWriter};

#[cfg(test)]
pub(crate) mod testdata {
    //! The captured volumes, read at test time (`BARQUE_VECTORS` overrides the location).
    use std::path::PathBuf;

    /// `$BARQUE_VECTORS` or `../shared/vectors` (barque-testkit).
    pub fn vectors() -> PathBuf {
        barque_testkit::vectors()
    }

    /// vectors/volume-full/Cap-0001 (1787 bytes). Always present with the vectors.
    pub fn volume_full() -> Vec<u8> {
        let p = vectors().join("volume-full/Cap-0001");
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e} (set BARQUE_VECTORS)", p.display()))
    }

    /// vectors/volume-multiblock/Cap-0001 (3.4 MB); `None` if that directory is absent.
    pub fn volume_multiblock() -> Option<Vec<u8>> {
        std::fs::read(vectors().join("volume-multiblock/Cap-0001")).ok()
    }
}
