//! Records inside a block: the 12-byte header, pieces, and reassembly across blocks.
//!
//! # The record header (`core/src/stored/record.cc` `WriteHeaderToBlock()`)
//!
//! ```text
//! i32 FileIndex   > 0: a file of the session; < 0: a label (-2 VOL_LABEL, -4 SOS, -5 EOS, …)
//! i32 Stream      the stream word; negated on a continuation piece; JobId for session labels
//! u32 data_len    payload bytes *remaining* for this record when the header was written
//! ```
//!
//! BB02 moved the session ids out of the record header into the block header, so every record
//! of a block belongs to the block's session.
//!
//! # Pieces and continuation
//!
//! `WriteRecordToBlock()` writes a header only if 12 bytes are free, then as many payload bytes
//! as fit. When the payload does not fit, the rest goes into the next block behind a
//! *continuation header*: the same FileIndex, the **negated** stream, and the remaining length
//! (`vectors/volume-multiblock`: blocks 1, 2 and 3 of the job start with `00000007 fffffffa`
//! and 5,619 / 5,703 / 5,787 bytes). If the header fits but no payload byte does, the header
//! (with the full length) ends the block and the next block starts with a continuation header.
//!
//! A [`RecordPiece`] is one header plus the payload bytes that follow it *in this block*;
//! [`Pieces`] walks a block's payload. A piece whose data is shorter than its `data_len` must be
//! the last of its block. [`Reassembler`] glues pieces back into whole [`Record`]s with the
//! checks of `ReadRecordFromBlock()`: same session, same FileIndex, same |Stream|, and a
//! continuation length equal to what is still missing.
//!
//! Stricter than Bareos: a reader there ignores 1–11 stray bytes at the end of a block and
//! treats an orphan continuation as a fresh record; no Bareos writer produces either, so both
//! are errors here.

use fd_core::wire::stream::{Label, Stream};
use fd_core::wire::{Error, Result};

use super::block::MAX_BLOCK_LEN;

/// Length of a BB02 record header.
pub const RECORD_HEADER_LEN: usize = 12;

/// The 12-byte record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordHeader {
    /// FileIndex (negative for labels).
    pub file_index: i32,
    /// Stream word as stored (negative on a continuation piece).
    pub stream: Stream,
    /// Payload bytes remaining for the record at this header.
    pub data_len: u32,
}

impl RecordHeader {
    /// Parse the first 12 bytes of `buf`. A length of [`MAX_BLOCK_LEN`] or more is
    /// [`Error::BadNumber`] (Bareos discards the block: "Sanity check failed").
    pub fn parse(buf: &[u8]) -> Result<Self> {
        let (h, _) = buf
            .split_first_chunk::<RECORD_HEADER_LEN>()
            .ok_or(Error::Truncated)?;
        let [f0, f1, f2, f3, s0, s1, s2, s3, l0, l1, l2, l3] = *h;
        let data_len = u32::from_be_bytes([l0, l1, l2, l3]);
        if data_len >= MAX_BLOCK_LEN {
            return Err(Error::BadNumber);
        }
        Ok(Self {
            file_index: i32::from_be_bytes([f0, f1, f2, f3]),
            stream: Stream(i32::from_be_bytes([s0, s1, s2, s3])),
            data_len,
        })
    }

    /// Write the 12 bytes.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let out = buf
            .get_mut(..RECORD_HEADER_LEN)
            .ok_or(Error::BufferTooSmall)?;
        let fields = [
            self.file_index.to_be_bytes(),
            self.stream.0.to_be_bytes(),
            self.data_len.to_be_bytes(),
        ];
        for (dst, src) in out.chunks_exact_mut(4).zip(fields.iter()) {
            dst.copy_from_slice(src);
        }
        Ok(RECORD_HEADER_LEN)
    }

    /// Always 12.
    pub const fn buffer_len(&self) -> usize {
        RECORD_HEADER_LEN
    }

    /// The label this header's FileIndex denotes, `None` for a file record.
    pub const fn label(&self) -> Option<Label> {
        Label::from_file_index(self.file_index)
    }

    /// True for a continuation piece (negative stream on a file record). Label records carry
    /// the JobId in the stream and are never continued.
    pub const fn is_continuation(&self) -> bool {
        self.file_index > 0 && self.stream.is_continuation()
    }

    /// The stream with the continuation sign removed.
    pub const fn positive_stream(&self) -> Stream {
        if self.is_continuation() {
            Stream(self.stream.0.wrapping_neg())
        } else {
            self.stream
        }
    }
}

/// One header and the payload bytes following it in the same block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordPiece<'a> {
    /// The header.
    pub header: RecordHeader,
    /// The payload bytes in this block (all of `data_len`, or the start of it).
    pub data: &'a [u8],
}

impl RecordPiece<'_> {
    /// True when this piece holds the rest of its record.
    pub fn is_complete(&self) -> bool {
        self.data.len() as u64 == u64::from(self.header.data_len)
    }
}

/// Iterator over the pieces of a block payload.
#[derive(Debug, Clone)]
pub struct Pieces<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Pieces<'a> {
    /// Walk `payload` (bytes 24.. of a block).
    pub const fn new(payload: &'a [u8]) -> Self {
        Self {
            rest: payload,
            failed: false,
        }
    }

    /// Bytes not walked yet.
    pub const fn remaining(&self) -> usize {
        self.rest.len()
    }
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Result<RecordPiece<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let header = match RecordHeader::parse(self.rest) {
            Ok(h) => h,
            Err(e) => {
                self.failed = true;
                return Some(Err(e));
            }
        };
        let body = self.rest.get(RECORD_HEADER_LEN..).unwrap_or(&[]);
        let want = usize::try_from(header.data_len).unwrap_or(usize::MAX);
        let take = want.min(body.len());
        let (data, rest) = body.split_at(take);
        self.rest = rest;
        Some(Ok(RecordPiece { header, data }))
    }
}

/// A whole record: its session (from the block header), header fields and all payload bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// VolSessionId of the block(s) it came from.
    pub vol_session_id: u32,
    /// VolSessionTime of the block(s) it came from.
    pub vol_session_time: u32,
    /// FileIndex (negative for labels).
    pub file_index: i32,
    /// The stream (positive; the JobId for session labels).
    pub stream: Stream,
    /// The whole payload.
    pub data: Vec<u8>,
    /// File offset of the block holding the record's first header.
    pub block_offset: u64,
    /// How many blocks the record spans (1 unless it was continued).
    pub blocks: u32,
}

impl Record {
    /// The label this record is, `None` for a file record.
    pub const fn label(&self) -> Option<Label> {
        Label::from_file_index(self.file_index)
    }
}

/// Why a piece could not be joined to the record before it.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReassemblyError {
    /// A record was incomplete and the next piece of its session is not its continuation
    /// (another FileIndex or stream, or not a continuation at all). The incomplete record is
    /// dropped.
    Interrupted {
        /// FileIndex of the dropped record.
        file_index: i32,
        /// Bytes it still missed.
        missing: u32,
    },
    /// A continuation piece with no record to continue.
    OrphanContinuation {
        /// Its FileIndex.
        file_index: i32,
    },
    /// A continuation whose length is not what the record still misses.
    LengthMismatch {
        /// FileIndex of the record.
        file_index: i32,
        /// Bytes missing.
        expected: u32,
        /// Length in the continuation header.
        found: u32,
    },
    /// A piece cut short that is not the last of its block.
    ShortPieceInsideBlock {
        /// Its FileIndex.
        file_index: i32,
    },
}

impl core::fmt::Display for ReassemblyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ReassemblyError::Interrupted {
                file_index,
                missing,
            } => write!(
                f,
                "record FileIndex={file_index} interrupted with {missing} bytes missing"
            ),
            ReassemblyError::OrphanContinuation { file_index } => {
                write!(
                    f,
                    "continuation of FileIndex={file_index} without its start"
                )
            }
            ReassemblyError::LengthMismatch {
                file_index,
                expected,
                found,
            } => write!(
                f,
                "continuation of FileIndex={file_index} says {found} bytes, {expected} missing"
            ),
            ReassemblyError::ShortPieceInsideBlock { file_index } => {
                write!(f, "short record FileIndex={file_index} inside a block")
            }
        }
    }
}

impl std::error::Error for ReassemblyError {}

/// Joins pieces into records. Feed every piece of every block in file order with
/// [`Reassembler::push`]; at the end of the volume [`Reassembler::pending`] tells whether a
/// record was left incomplete.
///
/// Concurrent jobs interleave whole blocks, so a record of session A continued in a later block
/// may have blocks of session B in between; like `ReadRecords()` (one partial record per
/// session), the reassembler keeps one incomplete record per session.
#[derive(Debug, Default)]
pub struct Reassembler {
    pending: Vec<(Record, u32)>,
}

impl Reassembler {
    /// An empty reassembler.
    pub const fn new() -> Self {
        Self {
            pending: Vec::new(),
        }
    }

    /// An incomplete record (and how many bytes it misses), if any.
    pub fn pending(&self) -> Option<(&Record, u32)> {
        self.pending.first().map(|(r, m)| (r, *m))
    }

    /// Drop every incomplete record.
    pub fn reset(&mut self) {
        self.pending.clear();
    }

    /// Feed one piece of the block at `block_offset` with session (`id`, `time`). `last_in_block`
    /// says whether the piece ends its block. Returns a record when one is complete.
    pub fn push(
        &mut self,
        id: u32,
        time: u32,
        block_offset: u64,
        piece: &RecordPiece<'_>,
        last_in_block: bool,
    ) -> core::result::Result<Option<Record>, ReassemblyError> {
        let h = piece.header;
        if !piece.is_complete() && !last_in_block {
            return Err(ReassemblyError::ShortPieceInsideBlock {
                file_index: h.file_index,
            });
        }
        // A volume label is a whole record of its own: it neither interrupts nor continues a
        // record of its session (the next volume's label block carries the session of the
        // job whose record goes on after it).
        let fresh = || Record {
            vol_session_id: id,
            vol_session_time: time,
            file_index: h.file_index,
            stream: h.stream,
            data: piece.data.to_vec(),
            block_offset,
            blocks: 1,
        };
        if h.label() == Some(Label::VolLabel) && piece.is_complete() && !h.is_continuation() {
            return Ok(Some(fresh()));
        }
        let missing_now = h.data_len.saturating_sub(piece.data.len() as u32);
        let slot = self
            .pending
            .iter()
            .position(|(r, _)| r.vol_session_id == id && r.vol_session_time == time);
        if let Some(i) = slot {
            let (mut rec, missing) = self.pending.swap_remove(i);
            let continues = h.is_continuation()
                && rec.file_index == h.file_index
                && rec.stream == h.positive_stream();
            if !continues {
                return Err(ReassemblyError::Interrupted {
                    file_index: rec.file_index,
                    missing,
                });
            }
            if h.data_len != missing {
                return Err(ReassemblyError::LengthMismatch {
                    file_index: rec.file_index,
                    expected: missing,
                    found: h.data_len,
                });
            }
            rec.data.extend_from_slice(piece.data);
            rec.blocks = rec.blocks.saturating_add(1);
            if missing_now == 0 {
                return Ok(Some(rec));
            }
            self.pending.push((rec, missing_now));
            return Ok(None);
        }
        if h.is_continuation() {
            return Err(ReassemblyError::OrphanContinuation {
                file_index: h.file_index,
            });
        }
        let rec = fresh();
        if missing_now == 0 {
            Ok(Some(rec))
        } else {
            self.pending.push((rec, missing_now));
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::block::Block;
    use crate::volume::testdata;

    #[test]
    fn test_parse_label_record_header() {
        // vectors/volume-full Cap-0001 offset 24: fffffffe 00000000 000000a7.
        let v = testdata::volume_full();
        let h = RecordHeader::parse(&v[24..]).unwrap();
        assert_eq!(h.file_index, -2);
        assert_eq!(h.label(), Some(Label::VolLabel));
        assert_eq!(h.stream, Stream(0));
        assert_eq!(h.data_len, 167);
        let mut out = [0u8; 12];
        assert_eq!(h.emit(&mut out).unwrap(), 12);
        assert_eq!(&out[..], &v[24..36]);
    }

    #[test]
    fn test_parse_continuation_header() {
        // vectors/volume-multiblock Cap-0001 offset 1048779+24: 00000007 fffffffa 000015f3.
        let bytes = [0, 0, 0, 7, 0xff, 0xff, 0xff, 0xfa, 0, 0, 0x15, 0xf3];
        let h = RecordHeader::parse(&bytes).unwrap();
        assert_eq!(h.file_index, 7);
        assert!(h.is_continuation());
        assert_eq!(h.positive_stream(), Stream(6));
        assert_eq!(h.data_len, 5619);
        let mut out = [0u8; 12];
        h.emit(&mut out).unwrap();
        assert_eq!(out, bytes);
    }

    #[test]
    fn test_pieces_of_job_block() {
        // vectors/volume-full: the job block holds SOS, 12 file records, EOS (jobs.md §5.7).
        let v = testdata::volume_full();
        let b = Block::parse(&v[203..]).unwrap();
        let lens: Vec<(i32, i32, usize)> = Pieces::new(b.payload)
            .map(|p| p.unwrap())
            .map(|p| (p.header.file_index, p.header.stream.0, p.data.len()))
            .collect();
        assert_eq!(
            lens,
            vec![
                (-4, 1, 147),
                (1, 1, 108),
                (1, 2, 6),
                (1, 17, 32),
                (2, 1, 113),
                (2, 2, 256),
                (2, 17, 32),
                (3, 1, 112),
                (3, 2, 44),
                (3, 17, 32),
                (4, 1, 105),
                (5, 1, 121),
                (6, 1, 101),
                (-5, 1, 183),
            ]
        );
    }

    #[test]
    fn test_truncated_and_impossible() {
        assert_eq!(RecordHeader::parse(&[0u8; 11]), Err(Error::Truncated));
        let mut h = [0u8; 12];
        h[8..].copy_from_slice(&MAX_BLOCK_LEN.to_be_bytes());
        assert_eq!(RecordHeader::parse(&h), Err(Error::BadNumber));
        // Stray bytes shorter than a header at the end of a block.
        let mut it = Pieces::new(&[0, 0, 0, 1, 0, 0]);
        assert_eq!(it.next(), Some(Err(Error::Truncated)));
        assert_eq!(it.next(), None);
        let mut small = [0u8; 4];
        let hdr = RecordHeader::parse(&[0u8; 12]).unwrap();
        assert_eq!(hdr.emit(&mut small), Err(Error::BufferTooSmall));
    }

    fn piece(fi: i32, stream: i32, data_len: u32, data: &[u8]) -> RecordPiece<'_> {
        RecordPiece {
            header: RecordHeader {
                file_index: fi,
                stream: Stream(stream),
                data_len,
            },
            data,
        }
    }

    #[test]
    fn test_reassembly_rules() {
        let mut r = Reassembler::new();
        assert_eq!(r.push(1, 2, 0, &piece(7, 6, 10, b"abcd"), true), Ok(None));
        assert_eq!(r.pending().map(|(_, m)| m), Some(6));
        let rec = r
            .push(1, 2, 99, &piece(7, -6, 6, b"efghij"), false)
            .unwrap()
            .unwrap();
        assert_eq!(rec.data, b"abcdefghij");
        assert_eq!(rec.stream, Stream(6));
        assert_eq!(rec.block_offset, 0);
        assert_eq!(rec.blocks, 2);
        // Another session's block in between (concurrent jobs): its continuation is an orphan,
        // its own records pass, and the first session's record still completes.
        r.push(1, 2, 0, &piece(7, 6, 10, b"abcd"), true).unwrap();
        assert!(matches!(
            r.push(1, 3, 0, &piece(7, -6, 6, b"efghij"), false),
            Err(ReassemblyError::OrphanContinuation { file_index: 7 })
        ));
        assert!(r
            .push(1, 3, 50, &piece(3, 2, 1, b"z"), true)
            .unwrap()
            .is_some());
        let rec = r
            .push(1, 2, 99, &piece(7, -6, 6, b"efghij"), false)
            .unwrap()
            .unwrap();
        assert_eq!(rec.data, b"abcdefghij");
        // Same session, not a continuation: the incomplete record is reported.
        r.push(1, 2, 0, &piece(7, 6, 10, b"abcd"), true).unwrap();
        assert!(matches!(
            r.push(1, 2, 0, &piece(8, 1, 3, b"abc"), false),
            Err(ReassemblyError::Interrupted { missing: 6, .. })
        ));
        r.push(1, 2, 0, &piece(7, 6, 10, b"abcd"), true).unwrap();
        assert!(matches!(
            r.push(1, 2, 0, &piece(7, -6, 5, b"efghi"), false),
            Err(ReassemblyError::LengthMismatch { .. })
        ));
        assert!(matches!(
            r.push(1, 2, 0, &piece(7, -6, 5, b"efghi"), false),
            Err(ReassemblyError::OrphanContinuation { .. })
        ));
        assert!(matches!(
            r.push(1, 2, 0, &piece(7, 6, 10, b"abcd"), false),
            Err(ReassemblyError::ShortPieceInsideBlock { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn prop_header_roundtrip(fi: i32, stream: i32, len in 0u32..MAX_BLOCK_LEN) {
            let h = RecordHeader { file_index: fi, stream: Stream(stream), data_len: len };
            let mut b = [0u8; 12];
            h.emit(&mut b).unwrap();
            proptest::prop_assert_eq!(RecordHeader::parse(&b), Ok(h));
        }

        #[test]
        fn prop_pieces_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let mut r = Reassembler::new();
            let pieces: Vec<_> = Pieces::new(&bytes).collect();
            let n = pieces.len();
            for (i, p) in pieces.into_iter().enumerate() {
                if let Ok(p) = p {
                    let _ = r.push(0, 0, 0, &p, i + 1 == n);
                }
            }
        }
    }
}
