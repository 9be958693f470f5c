//! Reading a volume: blocks with verified checksums, then whole records.
//!
//! [`VolumeReader`] reads one block at a time from any [`Read`] (a `File`, or a byte slice in
//! tests): the 24-byte header first, then `block_len - 24` more bytes, and checks the CRC —
//! what `DeviceControlRecord::ReadBlockFromDev()` does on a File device, minus its
//! read-max-block-size-and-seek-back dance. Every error names the block by its ordinal in the
//! file (`#0` is the label block), its header BlockNumber (not unique, see [`super::block`])
//! and its file offset, so a corrupted byte can be found with `xxd -s`.
//!
//! [`RecordReader`] walks the pieces of each block ([`super::record::Pieces`]) and joins
//! continued records ([`super::record::Reassembler`]), attributing each record to the session
//! of its block, like `ReadRecords()`/`ReadRecordFromBlock()`.
//!
//! # Damaged volumes
//!
//! - A **checksum mismatch** is reported as [`ReadError::Checksum`]; the reader has already
//!   moved past the block (its length field is what the CRC protects too, so this is a best
//!   effort), and calling again continues with the next block. A record that was being
//!   reassembled across the bad block is dropped.
//! - A **partly written last block** (a crash during a write) is
//!   [`ReadError::TruncatedBlock`]: everything before it has been delivered, nothing after it
//!   can be, and the reader ends.
//! - An **unreadable header** (wrong id, impossible length) ends the reader too: without a
//!   trustworthy length there is no next block to find.
//!
//! Memory: one block at a time (≤ [`MAX_BLOCK_LEN`](super::block::MAX_BLOCK_LEN), usually 1 MiB), plus the record being
//! reassembled; a lying `block_len` makes the reader allocate only what the file really holds.

use std::fmt;
use std::io::{self, Read};

use fd_core::wire;

use super::block::{Block, BlockHeader, BLOCK_HEADER_LEN};
use super::record::{Pieces, Reassembler, ReassemblyError, Record, RecordPiece};

/// Where a block is in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockPos {
    /// Ordinal of the block in the file, 0 = the label block.
    pub index: u64,
    /// File offset of its first byte.
    pub offset: u64,
}

impl fmt::Display for BlockPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "block #{} at offset {}", self.index, self.offset)
    }
}

/// Why reading a volume stopped or skipped something.
#[non_exhaustive]
#[derive(Debug)]
pub enum ReadError {
    /// The underlying read failed.
    Io {
        /// The block being read.
        pos: BlockPos,
        /// The error.
        error: io::Error,
    },
    /// The volume ends inside a block: a partly written last block.
    TruncatedBlock {
        /// The incomplete block.
        pos: BlockPos,
        /// Bytes present.
        have: u64,
        /// Bytes the header announced (24 if the header itself is cut).
        need: u64,
    },
    /// The block header is unusable (id not `BB02`, impossible length).
    BadBlockHeader {
        /// The block.
        pos: BlockPos,
        /// The four id bytes found.
        id: [u8; 4],
        /// What the codec said.
        error: wire::Error,
    },
    /// The block's CRC does not match its bytes.
    Checksum {
        /// The block.
        pos: BlockPos,
        /// Its header BlockNumber.
        block_number: u32,
        /// Its block_len.
        block_len: u32,
        /// CRC stored in the header.
        stored: u32,
        /// CRC of the bytes.
        computed: u32,
    },
    /// A record header inside a (checksum-valid) block is malformed.
    BadRecord {
        /// The block.
        pos: BlockPos,
        /// Its header BlockNumber.
        block_number: u32,
        /// What the codec said.
        error: wire::Error,
    },
    /// Pieces do not join up (see [`ReassemblyError`]).
    Reassembly {
        /// The block holding the offending piece.
        pos: BlockPos,
        /// Its header BlockNumber.
        block_number: u32,
        /// What went wrong.
        error: ReassemblyError,
    },
    /// The volume ended while a continued record still missed bytes.
    IncompleteRecord {
        /// FileIndex of the record.
        file_index: i32,
        /// Bytes missing.
        missing: u32,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io { pos, error } => write!(f, "I/O error reading {pos}: {error}"),
            ReadError::TruncatedBlock { pos, have, need } => write!(
                f,
                "volume truncated: {pos} has only {have} of its {need} bytes \
                 (partly written last block); everything before it was read"
            ),
            ReadError::BadBlockHeader { pos, id, error } => write!(
                f,
                "bad block header at {pos}: id {:?}, {error}",
                String::from_utf8_lossy(id)
            ),
            ReadError::Checksum {
                pos,
                block_number,
                block_len,
                stored,
                computed,
            } => write!(
                f,
                "block checksum mismatch in {pos} (BlockNumber {block_number}, len \
                 {block_len}): calc={computed:x} blk={stored:x}; a byte in offsets {}..{} \
                 is corrupted",
                pos.offset + 4,
                pos.offset + u64::from(*block_len)
            ),
            ReadError::BadRecord {
                pos,
                block_number,
                error,
            } => write!(
                f,
                "bad record header in {pos} (BlockNumber {block_number}): {error}"
            ),
            ReadError::Reassembly {
                pos,
                block_number,
                error,
            } => write!(f, "in {pos} (BlockNumber {block_number}): {error}"),
            ReadError::IncompleteRecord {
                file_index,
                missing,
            } => write!(
                f,
                "volume ends inside record FileIndex={file_index} ({missing} bytes missing)"
            ),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io { error, .. } => Some(error),
            ReadError::Reassembly { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl ReadError {
    /// True when the reader can go on after this error (the next call reads the next block).
    pub const fn is_recoverable(&self) -> bool {
        matches!(
            self,
            ReadError::Checksum { .. } | ReadError::BadRecord { .. } | ReadError::Reassembly { .. }
        )
    }
}

/// A block read from the volume, checksum verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedBlock {
    /// Where it is.
    pub pos: BlockPos,
    /// Its header.
    pub header: BlockHeader,
    /// All `block_len` bytes, header included.
    pub bytes: Vec<u8>,
}

impl OwnedBlock {
    /// The record bytes (after the 24-byte header).
    pub fn payload(&self) -> &[u8] {
        self.bytes.get(BLOCK_HEADER_LEN..).unwrap_or(&[])
    }

    /// The pieces of the block.
    pub fn pieces(&self) -> Pieces<'_> {
        Pieces::new(self.payload())
    }

    /// The first piece, if the block has one.
    pub fn first_piece(&self) -> Option<wire::Result<RecordPiece<'_>>> {
        self.pieces().next()
    }

    /// File offset of the block's last byte (what bls prints as `File:blk=0:«addr»` on a
    /// File device).
    pub fn end_addr(&self) -> u64 {
        (self.pos.offset + u64::from(self.header.block_len)).saturating_sub(1)
    }
}

/// Reads checksum-verified blocks one by one.
#[derive(Debug)]
pub struct VolumeReader<R> {
    src: R,
    next: BlockPos,
    done: bool,
}

impl<R: Read> VolumeReader<R> {
    /// Read from the start of `src`.
    pub const fn new(src: R) -> Self {
        Self {
            src,
            next: BlockPos {
                index: 0,
                offset: 0,
            },
            done: false,
        }
    }

    /// Where the next block would start.
    pub const fn position(&self) -> BlockPos {
        self.next
    }

    /// The next block; `Ok(None)` at the clean end of the volume. After an error that is not
    /// [`ReadError::is_recoverable`] it returns `Ok(None)`.
    pub fn next_block(&mut self) -> Result<Option<OwnedBlock>, ReadError> {
        if self.done {
            return Ok(None);
        }
        let pos = self.next;
        let mut head = [0u8; BLOCK_HEADER_LEN];
        let got = match read_full(&mut self.src, &mut head) {
            Ok(n) => n,
            Err(error) => {
                self.done = true;
                return Err(ReadError::Io { pos, error });
            }
        };
        if got == 0 {
            self.done = true;
            return Ok(None);
        }
        if got < BLOCK_HEADER_LEN {
            self.done = true;
            return Err(ReadError::TruncatedBlock {
                pos,
                have: got as u64,
                need: BLOCK_HEADER_LEN as u64,
            });
        }
        let header = match BlockHeader::parse(&head) {
            Ok(h) => h,
            Err(error) => {
                self.done = true;
                let mut id = [0u8; 4];
                if let Some(src) = head.get(12..16) {
                    id.copy_from_slice(src);
                }
                return Err(ReadError::BadBlockHeader { pos, id, error });
            }
        };
        let need = u64::from(header.block_len);
        let mut bytes = head.to_vec();
        let body = need.saturating_sub(BLOCK_HEADER_LEN as u64);
        if let Err(error) = (&mut self.src).take(body).read_to_end(&mut bytes) {
            self.done = true;
            return Err(ReadError::Io { pos, error });
        }
        if (bytes.len() as u64) < need {
            self.done = true;
            return Err(ReadError::TruncatedBlock {
                pos,
                have: bytes.len() as u64,
                need,
            });
        }
        self.next = BlockPos {
            index: pos.index + 1,
            offset: pos.offset + need,
        };
        let block = Block::parse(&bytes).map_err(|error| ReadError::BadBlockHeader {
            pos,
            id: *b"BB02",
            error,
        })?;
        let computed = block.computed_checksum();
        if computed != header.checksum {
            return Err(ReadError::Checksum {
                pos,
                block_number: header.block_number,
                block_len: header.block_len,
                stored: header.checksum,
                computed,
            });
        }
        Ok(Some(OwnedBlock { pos, header, bytes }))
    }
}

impl<R: Read> Iterator for VolumeReader<R> {
    type Item = Result<OwnedBlock, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_block().transpose()
    }
}

/// Where a volume's intact part ends: the offset after the last block that reads back with a
/// valid header and checksum, and the error that stopped the scan (`None` if the volume ends
/// cleanly). An SD appending to a volume after a crash truncates the file to this length
/// before writing, so that no reader trips over the half-written block. Scanning stops at the
/// first bad block, even a recoverable one: what follows it cannot be trusted for appending.
pub fn intact_length<R: Read>(src: R) -> (u64, Option<ReadError>) {
    let mut r = VolumeReader::new(src);
    let mut end = 0;
    loop {
        match r.next_block() {
            Ok(Some(b)) => end = b.pos.offset + b.bytes.len() as u64,
            Ok(None) => return (end, None),
            Err(e) => return (end, Some(e)),
        }
    }
}

/// Read until `buf` is full or the source ends; returns the bytes read.
fn read_full<R: Read>(src: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while let Some(rest) = buf.get_mut(n..).filter(|r| !r.is_empty()) {
        match src.read(rest) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads whole records, reassembled across blocks.
#[derive(Debug)]
pub struct RecordReader<R> {
    blocks: VolumeReader<R>,
    reasm: Reassembler,
    current: Option<OwnedBlock>,
    pos_in_block: usize,
    finished: bool,
    /// Another volume follows: a record cut at this one's end is not an error.
    continued: bool,
}

impl<R: Read> RecordReader<R> {
    /// Read records from the start of `src`.
    pub fn new(src: R) -> Self {
        Self {
            blocks: VolumeReader::new(src),
            reasm: Reassembler::new(),
            current: None,
            pos_in_block: 0,
            finished: false,
            continued: false,
        }
    }

    /// Say that another volume of the same jobs follows this one: a record cut at this
    /// volume's end is kept for [`RecordReader::next_volume`] instead of being reported as
    /// incomplete.
    pub fn continued(mut self, yes: bool) -> Self {
        self.continued = yes;
        self
    }

    /// Go on with the next volume `src` (read from its start, label block included): a record
    /// the previous volume ended in the middle of continues in its first block of that
    /// session, as a job's records do when it switches volumes.
    pub fn next_volume(self, src: R) -> Self {
        Self {
            blocks: VolumeReader::new(src),
            reasm: self.reasm,
            current: None,
            pos_in_block: 0,
            finished: false,
            continued: false,
        }
    }

    /// The block the last record (or piece) came from.
    pub fn current_block(&self) -> Option<&OwnedBlock> {
        self.current.as_ref()
    }

    /// The next whole record; `Ok(None)` at the end. After a recoverable error the next call
    /// continues with the next block.
    pub fn next_record(&mut self) -> Result<Option<Record>, ReadError> {
        loop {
            if self.finished {
                return Ok(None);
            }
            let Some(block) = self.current.as_ref() else {
                match self.blocks.next_block() {
                    Ok(Some(b)) => {
                        self.current = Some(b);
                        self.pos_in_block = 0;
                        continue;
                    }
                    Ok(None) => {
                        self.finished = true;
                        if self.continued {
                            return Ok(None);
                        }
                        if let Some((rec, missing)) = self.reasm.pending() {
                            let e = ReadError::IncompleteRecord {
                                file_index: rec.file_index,
                                missing,
                            };
                            self.reasm.reset();
                            return Err(e);
                        }
                        return Ok(None);
                    }
                    Err(e) => {
                        // Whatever was being reassembled cannot be completed any more.
                        self.reasm.reset();
                        if !e.is_recoverable() {
                            self.finished = true;
                        }
                        return Err(e);
                    }
                }
            };
            let payload = block.payload();
            let rest = payload.get(self.pos_in_block..).unwrap_or(&[]);
            let mut pieces = Pieces::new(rest);
            let piece = match pieces.next() {
                None => {
                    self.current = None;
                    continue;
                }
                Some(Ok(p)) => p,
                Some(Err(error)) => {
                    let (pos, block_number) = (block.pos, block.header.block_number);
                    self.current = None;
                    self.reasm.reset();
                    return Err(ReadError::BadRecord {
                        pos,
                        block_number,
                        error,
                    });
                }
            };
            let last = pieces.remaining() == 0;
            self.pos_in_block = payload.len() - pieces.remaining();
            let h = block.header;
            match self.reasm.push(
                h.vol_session_id,
                h.vol_session_time,
                block.pos.offset,
                &piece,
                last,
            ) {
                Ok(Some(rec)) => return Ok(Some(rec)),
                Ok(None) => continue,
                Err(error) => {
                    let (pos, block_number) = (block.pos, h.block_number);
                    self.reasm.reset();
                    return Err(ReadError::Reassembly {
                        pos,
                        block_number,
                        error,
                    });
                }
            }
        }
    }
}

impl<R: Read> Iterator for RecordReader<R> {
    type Item = Result<Record, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::testdata;
    use fd_core::wire::stream::Stream;

    #[test]
    fn test_blocks_of_volume_full() {
        let v = testdata::volume_full();
        let blocks: Vec<_> = VolumeReader::new(v.as_slice())
            .map(|b| b.unwrap())
            .collect();
        assert_eq!(blocks.len(), 2);
        assert_eq!(
            blocks[0].pos,
            BlockPos {
                index: 0,
                offset: 0
            }
        );
        assert_eq!(blocks[0].end_addr(), 202);
        assert_eq!(blocks[1].pos.offset, 203);
        assert_eq!(blocks[1].end_addr(), 1786);
    }

    #[test]
    fn test_records_of_volume_full() {
        let v = testdata::volume_full();
        let recs: Vec<_> = RecordReader::new(v.as_slice())
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(recs.len(), 15);
        assert_eq!(recs[0].file_index, -2);
        assert_eq!(recs[1].file_index, -4);
        assert_eq!(recs[14].file_index, -5);
        assert!(recs
            .iter()
            .all(|r| r.vol_session_id == 1 && r.vol_session_time == 1_795_362_407));
        let data: usize = recs
            .iter()
            .filter(|r| r.file_index > 0)
            .map(|r| r.data.len())
            .sum();
        assert_eq!(data, 1062);
    }

    #[test]
    fn test_corrupted_byte_reported_with_block() {
        let mut v = testdata::volume_full();
        v[700] ^= 0x40; // inside the data of sub/bytes.bin, block #1 (BlockNumber 0).
        let mut r = RecordReader::new(v.as_slice());
        assert_eq!(r.next_record().unwrap().unwrap().file_index, -2);
        let e = r.next_record().unwrap_err();
        match &e {
            ReadError::Checksum {
                pos, block_number, ..
            } => {
                assert_eq!(
                    *pos,
                    BlockPos {
                        index: 1,
                        offset: 203
                    }
                );
                assert_eq!(*block_number, 0);
            }
            other => panic!("{other}"),
        }
        let msg = e.to_string();
        assert!(msg.contains("block #1 at offset 203"), "{msg}");
        assert!(msg.contains("calc="), "{msg}");
        // The reader goes on: nothing after the bad block.
        assert!(r.next_record().unwrap().is_none());
    }

    #[test]
    fn test_truncated_last_block() {
        let v = testdata::volume_full();
        for cut in [1000usize, 204, 226, 227] {
            let mut r = RecordReader::new(&v[..cut]);
            assert_eq!(r.next_record().unwrap().unwrap().file_index, -2);
            match r.next_record() {
                Err(ReadError::TruncatedBlock { pos, have, need }) => {
                    assert_eq!(pos.index, 1);
                    assert_eq!(have as usize, cut - 203);
                    assert_eq!(need, if cut - 203 < 24 { 24 } else { 1584 });
                }
                other => panic!("{other:?}"),
            }
            assert!(r.next_record().unwrap().is_none());
        }
    }

    #[test]
    fn test_intact_length() {
        let v = testdata::volume_full();
        assert!(matches!(intact_length(v.as_slice()), (1787, None)));
        assert!(matches!(
            intact_length(&v[..1500]),
            (203, Some(ReadError::TruncatedBlock { .. }))
        ));
        let mut bad = v.clone();
        bad[1000] ^= 1;
        assert!(matches!(
            intact_length(bad.as_slice()),
            (203, Some(ReadError::Checksum { .. }))
        ));
        assert!(matches!(intact_length(&v[..0]), (0, None)));
    }

    #[test]
    fn test_bad_header_stops() {
        let mut v = testdata::volume_full();
        v[203 + 12..203 + 16].copy_from_slice(b"XXXX");
        let mut r = VolumeReader::new(v.as_slice());
        assert!(r.next_block().unwrap().is_some());
        let e = r.next_block().unwrap_err();
        assert!(matches!(e, ReadError::BadBlockHeader { id, .. } if &id == b"XXXX"));
        assert!(r.next_block().unwrap().is_none());
    }

    #[test]
    fn test_multiblock_reassembly() {
        let Some(v) = testdata::volume_multiblock() else {
            return;
        };
        let blocks: Vec<_> = VolumeReader::new(v.as_slice())
            .map(|b| b.unwrap())
            .collect();
        let offs: Vec<u64> = blocks.iter().map(|b| b.pos.offset).collect();
        assert_eq!(offs, vec![0, 203, 1_048_779, 2_097_355, 3_145_931]);
        let nums: Vec<u32> = blocks.iter().map(|b| b.header.block_number).collect();
        assert_eq!(nums, vec![0, 0, 1, 2, 3]);
        let recs: Vec<_> = RecordReader::new(v.as_slice())
            .map(|r| r.unwrap())
            .collect();
        let split: Vec<_> = recs.iter().filter(|r| r.blocks > 1).collect();
        assert_eq!(split.len(), 3);
        assert!(split
            .iter()
            .all(|r| r.file_index == 7 && r.stream == Stream(6) && r.data.len() == 262_144));
        let data: usize = recs
            .iter()
            .filter(|r| r.file_index > 0)
            .map(|r| r.data.len())
            .sum();
        assert_eq!(data, 3_413_318);
    }
}
