//! Writing a volume: the label block, then job sessions split into blocks the way bareos-sd
//! splits them.
//!
//! [`VolumeWriter`] reproduces `core/src/stored/record.cc` `WriteRecordToBlock()` and
//! `core/src/stored/label.cc` `WriteSessionLabel()`:
//!
//! - the volume label is written alone in a block numbered 0 (`WriteNewVolumeLabelToDev()`);
//! - a session starts a fresh block buffer whose BlockNumber restarts at 0, writes the SOS
//!   label, the records, the EOS label, and flushes the partial last block;
//! - a record header goes into the current block only if 12 bytes are free, else the block is
//!   flushed first; then as many payload bytes as fit; the rest follows in the next block(s)
//!   behind continuation headers (same FileIndex, negated stream, remaining length). If the
//!   header fits exactly with no room for data, the block is flushed and the next one starts
//!   with a continuation header carrying the whole length;
//! - session labels are never split: if one does not fit in what is left, the block is flushed
//!   first;
//! - a File device writes exactly `block_len` bytes per block, no padding.
//!
//! Fed the records of `vectors/volume-full` and `vectors/volume-multiblock` with the same
//! sessions and block size, it produces both volumes byte for byte (tests at the end of this
//! module), which is the evidence that real `bls`/`bextract`/`bareos-sd` will
//! read what barque-sd writes.
//!
//! The writer is I/O-agnostic: it writes whole blocks to any [`Write`] and tracks the file
//! offset, so barque-sd can fill JobMedia (`VolAddr` = first byte of the session's first block
//! to the last byte of its last block) from [`SessionSummary`].

use std::io::{self, Write};

use fd_core::wire::stream::{Label, Stream};

use super::block::{Block, BLOCK_HEADER_LEN, MAX_BLOCK_LEN};
use super::label::{SessionLabel, VolumeLabel};
use super::record::{RecordHeader, RECORD_HEADER_LEN};

/// Where a [`VolumeWriter`] puts its blocks.
///
/// Every [`Write`] is a sink that stores each block at the offset the writer tracks. A
/// Storage daemon that interleaves several jobs on one volume gives each job's writer a sink
/// that appends the block wherever the volume ends at that moment (under the device's lock)
/// and returns that offset; the writer then records where its blocks really went.
pub trait BlockSink {
    /// Store one whole block; `expected` is the offset the writer believes is the end of
    /// the volume. Returns the offset at which the block was stored. On error nothing of
    /// the block may count as written (a sink on a file cuts a partly written block off).
    fn put_block(&mut self, block: &[u8], expected: u64) -> io::Result<u64>;
    /// Flush buffered bytes to the medium.
    fn flush_blocks(&mut self) -> io::Result<()>;
    /// Store the block in `block[..len]`, as [`put_block`](Self::put_block), but with its
    /// checksum field not filled in yet ([`Block::seal_header`]): the sink fills it in before
    /// the block reaches the medium, where it likes (the SD's volume files do it on their
    /// writer thread), and may take the buffer to save a copy, swapping another buffer into
    /// `block`, of any length and content (the writer resets it). The default fills the
    /// checksum in here and copies.
    fn put_unsealed_block(
        &mut self,
        block: &mut Vec<u8>,
        len: usize,
        expected: u64,
    ) -> io::Result<u64> {
        let b = block.get_mut(..len).unwrap_or(&mut []);
        Block::fill_checksum(b);
        self.put_block(b, expected)
    }
}

impl<W: Write> BlockSink for W {
    fn put_block(&mut self, block: &[u8], expected: u64) -> io::Result<u64> {
        self.write_all(block)?;
        Ok(expected)
    }
    fn flush_blocks(&mut self) -> io::Result<()> {
        self.flush()
    }
}

/// Smallest block size the writer accepts: a header, a record header and one payload byte.
pub const MIN_BLOCK_SIZE: usize = BLOCK_HEADER_LEN + RECORD_HEADER_LEN + 1;

/// What a finished session occupies on the volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SessionSummary {
    /// VolSessionId.
    pub vol_session_id: u32,
    /// VolSessionTime.
    pub vol_session_time: u32,
    /// File offset of the first byte of the session's first block.
    pub start_addr: u64,
    /// File offset of the last byte of the session's last block.
    pub end_addr: u64,
    /// Blocks written.
    pub blocks: u32,
    /// Payload bytes of file records (labels excluded): the SD's JobBytes.
    pub job_bytes: u64,
    /// First FileIndex written (0 if none).
    pub first_index: i32,
    /// Last FileIndex written (0 if none).
    pub last_index: i32,
}

#[derive(Debug, Clone, Copy)]
struct OpenSession {
    id: u32,
    time: u32,
    block_number: u32,
    summary: SessionSummary,
    started: bool,
}

/// A record begun with [`VolumeWriter::begin_record`]: the room for its payload, in the
/// block being filled and the next one. It holds the writer, so nothing else is written
/// until it is committed ([`RecordRoom::commit`]); dropped uncommitted, it leaves the
/// volume as if the record had never begun.
#[derive(Debug)]
pub struct RecordRoom<'a, W> {
    w: &'a mut VolumeWriter<W>,
    file_index: i32,
    len: u32,
    /// Payload bytes in the block being filled; the rest is in the next block.
    first: usize,
}

impl<W: BlockSink> RecordRoom<'_, W> {
    /// Where the payload goes: its first bytes (the end of the block being filled), then the
    /// rest (the next block, behind the continuation header; empty if none).
    pub fn parts(&mut self) -> (&mut [u8], &mut [u8]) {
        let from = self.w.fill + RECORD_HEADER_LEN;
        let rest = self.len as usize - self.first;
        let later = BLOCK_HEADER_LEN + RECORD_HEADER_LEN;
        (
            self.w
                .block
                .get_mut(from..from + self.first)
                .unwrap_or(&mut []),
            self.w.next.get_mut(later..later + rest).unwrap_or(&mut []),
        )
    }

    /// The payload is all there: the record joins the session. The block it filled, if it
    /// went on into the next one, is written now.
    pub fn commit(self) -> io::Result<()> {
        let w = self.w;
        w.count_record(self.file_index, self.len)?;
        if w.payload_len() == 0 {
            w.payload_first_index = self.file_index;
        }
        w.fill += RECORD_HEADER_LEN + self.first;
        let rest = self.len as usize - self.first;
        if rest > 0 {
            w.flush_block()?;
            std::mem::swap(&mut w.block, &mut w.next);
            w.block.resize(w.block_size, 0);
            w.fill = BLOCK_HEADER_LEN + RECORD_HEADER_LEN + rest;
            w.payload_first_index = self.file_index;
        }
        Ok(())
    }
}

/// Writes blocks to a volume file.
#[derive(Debug)]
pub struct VolumeWriter<W> {
    out: W,
    block_size: usize,
    /// The block being filled, always `block_size` bytes long: [`BLOCK_HEADER_LEN`] bytes
    /// reserved for its header (written in place at flush), then the records up to `fill`.
    /// Fixed length, so that a record received in place needs no zeroing first.
    block: Vec<u8>,
    fill: usize,
    /// The block after `block`, for the continuation of a record received in place.
    next: Vec<u8>,
    offset: u64,
    session: Option<OpenSession>,
    /// FileIndex of the first record piece in `block` (for the JobMedia of a volume the
    /// session continues on).
    payload_first_index: i32,
}

/// The 12 bytes of a record header.
fn record_header(file_index: i32, stream: Stream, remaining: u32) -> [u8; RECORD_HEADER_LEN] {
    let mut h = [0u8; RECORD_HEADER_LEN];
    // 12 bytes always hold a header.
    let _ = RecordHeader {
        file_index,
        stream,
        data_len: remaining,
    }
    .emit(&mut h);
    h
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}

impl<W: BlockSink> VolumeWriter<W> {
    /// A writer whose blocks are at most `block_size` bytes (header included; Bareos' File
    /// device default is [`super::block::DEFAULT_BLOCK_SIZE`]), appending at file offset
    /// `offset` (0 for a new volume, the file length when appending).
    pub fn new(out: W, block_size: usize, offset: u64) -> io::Result<Self> {
        if block_size < MIN_BLOCK_SIZE || block_size as u64 > u64::from(MAX_BLOCK_LEN) {
            return Err(invalid("block size out of range"));
        }
        Ok(Self {
            out,
            block_size,
            block: vec![0; block_size],
            fill: BLOCK_HEADER_LEN,
            next: Vec::new(),
            offset,
            session: None,
            payload_first_index: 0,
        })
    }

    /// File offset where the next block will start.
    pub const fn offset(&self) -> u64 {
        self.offset
    }

    /// The summary of the open session so far (JobBytes for the EOS label).
    pub fn session_summary(&self) -> Option<SessionSummary> {
        self.session.map(|s| s.summary)
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// The maximum block size.
    pub const fn block_size(&self) -> usize {
        self.block_size
    }

    /// Bytes of records buffered for the block being filled.
    pub fn buffered_len(&self) -> usize {
        self.payload_len()
    }

    /// Bytes of records in the block being filled.
    fn payload_len(&self) -> usize {
        self.fill.saturating_sub(BLOCK_HEADER_LEN)
    }

    /// True if writing a record of `len` bytes now could write a block (the buffered records
    /// plus this one do not fit in the block being filled).
    pub fn would_flush(&self, len: usize) -> bool {
        self.payload_len() + RECORD_HEADER_LEN + len + BLOCK_HEADER_LEN >= self.block_size
    }

    /// Continue the open session on another volume, as a Storage daemon does when a volume
    /// is full (`core/src/stored/device.cc` `FixupDeviceBlockWriteError()`: the next block goes
    /// to the new volume after its label, no new SOS label, block numbers go on). Blocks
    /// go to `out` from file offset `offset` on. Returns the previous output and the summary
    /// of the part of the session written to it (addresses, blocks, FileIndex range); the
    /// session summary then restarts its addresses, blocks and first index for the new
    /// volume (JobBytes keep counting for the EOS label).
    pub fn switch_output(&mut self, out: W, offset: u64) -> io::Result<(W, SessionSummary)> {
        let buffered = self.payload_len() > 0;
        let s = self
            .session
            .as_mut()
            .ok_or_else(|| invalid("no open session to continue on another volume"))?;
        let part = s.summary;
        s.started = false;
        s.summary.start_addr = 0;
        s.summary.end_addr = 0;
        s.summary.blocks = 0;
        // Records already buffered (the first possibly continued) go to the new volume.
        s.summary.first_index = if !buffered || self.payload_first_index <= 0 {
            0
        } else {
            self.payload_first_index
        };
        self.out.flush_blocks()?;
        let old = std::mem::replace(&mut self.out, out);
        self.offset = offset;
        Ok((old, part))
    }

    fn free(&self) -> usize {
        self.block_size
            .saturating_sub(BLOCK_HEADER_LEN)
            .saturating_sub(self.payload_len())
    }

    /// Write the block being filled, its header filled in place.
    fn write_block(&mut self, number: u32, id: u32, time: u32) -> io::Result<u64> {
        let fill = self.fill;
        let n = Block::seal_header(
            number,
            id,
            time,
            self.block.get_mut(..fill).unwrap_or(&mut []),
        )
        .map_err(|e| invalid(&format!("cannot build block: {e}")))?;
        let start = self
            .out
            .put_unsealed_block(&mut self.block, n, self.offset)?;
        self.offset = start + n as u64;
        // The sink may have swapped in a recycled buffer of another length.
        self.block.resize(self.block_size, 0);
        Ok(start)
    }

    /// Append `bytes` to the block being filled (the caller checked the room).
    fn put(&mut self, bytes: &[u8]) {
        let end = self.fill + bytes.len();
        if let Some(to) = self.block.get_mut(self.fill..end) {
            to.copy_from_slice(bytes);
            self.fill = end;
        }
    }

    /// Write a block of `payload` alone (the volume label).
    fn write_block_of(
        &mut self,
        number: u32,
        id: u32,
        time: u32,
        payload: &[u8],
    ) -> io::Result<u64> {
        let mut buf = vec![0u8; BLOCK_HEADER_LEN + payload.len()];
        let n = Block::emit_new(number, id, time, payload, &mut buf)
            .map_err(|e| invalid(&format!("cannot build block: {e}")))?;
        let start = self
            .out
            .put_block(buf.get(..n).unwrap_or(&[]), self.offset)?;
        self.offset = start + n as u64;
        Ok(start)
    }

    /// Write the volume label alone in a block numbered 0. `stream` is the record's stream
    /// (0 for a fresh label; Bareos writes the job's count of written volumes when it
    /// relabels), (`id`, `time`) the session written into the block header (the labelling
    /// job's, or 0/0 for a console `label`). Returns the block's offset.
    pub fn write_volume_label(
        &mut self,
        label: &VolumeLabel<'_>,
        stream: i32,
        id: u32,
        time: u32,
    ) -> io::Result<u64> {
        if self.session.is_some() {
            return Err(invalid("volume label inside a session"));
        }
        let data = label
            .to_vec()
            .map_err(|e| invalid(&format!("volume label: {e}")))?;
        let mut payload = vec![0u8; RECORD_HEADER_LEN];
        RecordHeader {
            file_index: label.label_type.file_index(),
            stream: Stream(stream),
            data_len: u32::try_from(data.len()).map_err(|_| invalid("label too long"))?,
        }
        .emit(&mut payload)
        .map_err(|e| invalid(&format!("{e}")))?;
        payload.extend_from_slice(&data);
        if payload.len() + BLOCK_HEADER_LEN > self.block_size {
            return Err(invalid("volume label larger than a block"));
        }
        self.write_block_of(0, id, time, &payload)
    }

    /// Start a session (`id`, `time`) with its SOS label; the block counter restarts at 0.
    pub fn begin_session(&mut self, id: u32, time: u32, sos: &SessionLabel<'_>) -> io::Result<()> {
        if self.session.is_some() {
            return Err(invalid("a session is already open"));
        }
        if sos.eos.is_some() {
            return Err(invalid("begin_session needs an SOS label"));
        }
        self.session = Some(OpenSession {
            id,
            time,
            block_number: 0,
            summary: SessionSummary {
                vol_session_id: id,
                vol_session_time: time,
                ..SessionSummary::default()
            },
            started: false,
        });
        self.fill = BLOCK_HEADER_LEN;
        let data = sos.to_vec().map_err(|e| invalid(&format!("SOS: {e}")))?;
        self.write_label_record(Label::SosLabel, sos.job_id, &data)
    }

    /// Append one file record of the open session; it is split across blocks as needed.
    pub fn write_record(&mut self, file_index: i32, stream: Stream, data: &[u8]) -> io::Result<()> {
        let len = Self::check_record(file_index, stream, data.len())?;
        self.count_record(file_index, len)?;
        self.write_split(file_index, stream, data)
    }

    fn check_record(file_index: i32, stream: Stream, len: usize) -> io::Result<u32> {
        if file_index <= 0 || stream.0 < 0 {
            return Err(invalid(
                "file records need FileIndex > 0 and a positive stream",
            ));
        }
        u32::try_from(len)
            .ok()
            .filter(|&l| l < MAX_BLOCK_LEN)
            .ok_or_else(|| invalid("record longer than 20,000,000 bytes"))
    }

    /// Count a record of the open session in its summary.
    fn count_record(&mut self, file_index: i32, len: u32) -> io::Result<()> {
        let s = self
            .session
            .as_mut()
            .ok_or_else(|| invalid("no open session"))?;
        s.summary.job_bytes += u64::from(len);
        if s.summary.first_index == 0 {
            s.summary.first_index = file_index;
        }
        s.summary.last_index = file_index;
        Ok(())
    }

    /// True if a record of `len` bytes can be received in place ([`begin_record`](Self::begin_record)):
    /// a session is open, its header and at least one payload byte go into the block being
    /// filled, and what does not fit goes into the next block whole (behind its
    /// continuation header). Other records are written with [`write_record`](Self::write_record).
    pub fn receives_in_place(&self, len: usize) -> bool {
        let free = self.free();
        if self.session.is_none() || free <= RECORD_HEADER_LEN {
            return false;
        }
        let rest = len.saturating_sub(free - RECORD_HEADER_LEN);
        rest == 0 || rest + RECORD_HEADER_LEN <= self.block_size - BLOCK_HEADER_LEN
    }

    /// Begin a file record of `len` bytes whose payload the caller writes straight into the
    /// volume's blocks (a network receive into the block, saving a copy): the record headers
    /// are placed, and the returned [`RecordRoom`] tells where the payload goes. The layout is
    /// [`write_record`](Self::write_record)'s, byte for byte. Nothing counts as written until
    /// [`RecordRoom::commit`], so a payload that never arrived whole leaves no cut record on
    /// the volume. An error if [`receives_in_place`](Self::receives_in_place) is false.
    pub fn begin_record(
        &mut self,
        file_index: i32,
        stream: Stream,
        len: usize,
    ) -> io::Result<RecordRoom<'_, W>> {
        let len32 = Self::check_record(file_index, stream, len)?;
        if !self.receives_in_place(len) {
            return Err(invalid("record cannot be received in place here"));
        }
        let first = len.min(self.free() - RECORD_HEADER_LEN);
        let rest = len - first;
        let at = self.fill;
        self.block
            .get_mut(at..at + RECORD_HEADER_LEN)
            .ok_or_else(|| invalid("block buffer too short"))?
            .copy_from_slice(&record_header(file_index, stream, len32));
        if rest > 0 {
            self.next.resize(self.block_size, 0);
            self.next
                .get_mut(BLOCK_HEADER_LEN..BLOCK_HEADER_LEN + RECORD_HEADER_LEN)
                .ok_or_else(|| invalid("block buffer too short"))?
                .copy_from_slice(&record_header(
                    file_index,
                    Stream(stream.0.wrapping_neg()),
                    rest as u32,
                ));
        }
        Ok(RecordRoom {
            w: self,
            file_index,
            len: len32,
            first,
        })
    }

    /// Write the EOS label, flush the last block and close the session.
    pub fn end_session(&mut self, eos: &SessionLabel<'_>) -> io::Result<SessionSummary> {
        if self.session.is_none() {
            return Err(invalid("no open session"));
        }
        if eos.eos.is_none() {
            return Err(invalid("end_session needs an EOS label"));
        }
        let data = eos.to_vec().map_err(|e| invalid(&format!("EOS: {e}")))?;
        self.write_label_record(Label::EosLabel, eos.job_id, &data)?;
        self.flush_block()?;
        let s = self
            .session
            .take()
            .ok_or_else(|| invalid("no open session"))?;
        self.out.flush_blocks()?;
        Ok(s.summary)
    }

    fn write_label_record(&mut self, label: Label, job_id: u32, data: &[u8]) -> io::Result<()> {
        let need = RECORD_HEADER_LEN + data.len();
        if need > self.block_size - BLOCK_HEADER_LEN {
            return Err(invalid("session label larger than a block"));
        }
        if need > self.free() {
            self.flush_block()?;
        }
        self.push_header(label.file_index(), Stream(job_id as i32), data.len() as u32);
        self.put(data);
        Ok(())
    }

    fn push_header(&mut self, file_index: i32, stream: Stream, remaining: u32) {
        if self.payload_len() == 0 {
            self.payload_first_index = file_index;
        }
        self.put(&record_header(file_index, stream, remaining));
    }

    /// `WriteRecordToBlock()`'s state machine.
    fn write_split(&mut self, file_index: i32, stream: Stream, data: &[u8]) -> io::Result<()> {
        let mut rest = data;
        let mut continuation = false;
        loop {
            if !continuation {
                if self.free() < RECORD_HEADER_LEN {
                    self.flush_block()?;
                    continue;
                }
                self.push_header(file_index, stream, rest.len() as u32);
                if self.free() == 0 {
                    // Header fit, no data did: the next block starts with a continuation.
                    self.flush_block()?;
                    continuation = true;
                    continue;
                }
            } else {
                self.push_header(
                    file_index,
                    Stream(stream.0.wrapping_neg()),
                    rest.len() as u32,
                );
                if self.free() == 0 {
                    self.flush_block()?;
                    // Bareos goes straight to writing data into the next block, which then
                    // has no header for it; that cannot happen with blocks > 24 + 12 bytes
                    // because a fresh block always has room after one header.
                    continue;
                }
            }
            let n = rest.len().min(self.free());
            let (now, later) = rest.split_at(n);
            self.put(now);
            rest = later;
            if rest.is_empty() {
                return Ok(());
            }
            self.flush_block()?;
            continuation = true;
        }
    }

    fn flush_block(&mut self) -> io::Result<()> {
        if self.payload_len() == 0 {
            return Ok(());
        }
        let s = self.session.ok_or_else(|| invalid("no open session"))?;
        let start = self.write_block(s.block_number, s.id, s.time)?;
        self.fill = BLOCK_HEADER_LEN;
        let end = self.offset.saturating_sub(1);
        if let Some(s) = self.session.as_mut() {
            if !s.started {
                s.summary.start_addr = start;
                s.started = true;
            }
            s.summary.end_addr = end;
            s.summary.blocks = s.summary.blocks.saturating_add(1);
            s.block_number = s.block_number.wrapping_add(1);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::reader::RecordReader;
    use crate::volume::testdata;

    /// Every record of a volume.
    fn records_of(v: &[u8]) -> Vec<crate::volume::Record> {
        RecordReader::new(v).map(|r| r.unwrap()).collect()
    }

    /// Re-write the records of a real volume and compare bytes.
    fn rewrite(v: &[u8], block_size: usize) -> Vec<u8> {
        let recs: Vec<_> = RecordReader::new(v).map(|r| r.unwrap()).collect();
        let mut w = VolumeWriter::new(Vec::new(), block_size, 0).unwrap();
        let first = &recs[0];
        let vl = VolumeLabel::parse(Label::VolLabel, &first.data).unwrap();
        w.write_volume_label(
            &vl,
            first.stream.0,
            first.vol_session_id,
            first.vol_session_time,
        )
        .unwrap();
        for r in &recs[1..] {
            match r.label() {
                Some(Label::SosLabel) => {
                    let l = SessionLabel::parse(Label::SosLabel, &r.data).unwrap();
                    w.begin_session(r.vol_session_id, r.vol_session_time, &l)
                        .unwrap();
                }
                Some(Label::EosLabel) => {
                    let l = SessionLabel::parse(Label::EosLabel, &r.data).unwrap();
                    let s = w.end_session(&l).unwrap();
                    assert_eq!(Some(s.job_bytes), l.eos.map(|e| e.job_bytes));
                }
                _ => w.write_record(r.file_index, r.stream, &r.data).unwrap(),
            }
        }
        w.into_inner()
    }

    #[test]
    fn test_rewrite_volume_full_byte_identical() {
        let v = testdata::volume_full();
        assert_eq!(rewrite(&v, 1_048_576), v);
    }

    #[test]
    fn test_rewrite_volume_multiblock_byte_identical() {
        let Some(v) = testdata::volume_multiblock() else {
            return;
        };
        let out = rewrite(&v, 1_048_576);
        assert_eq!(out.len(), v.len());
        assert!(out == v, "rewritten volume differs");
    }

    #[test]
    fn test_summary_addresses() {
        let recs = records_of(&testdata::volume_full());
        let vl = VolumeLabel::parse(Label::VolLabel, &recs[0].data).unwrap();
        let sos = SessionLabel::parse(Label::SosLabel, &recs[1].data).unwrap();
        let eos = SessionLabel::parse(Label::EosLabel, &recs[14].data).unwrap();
        let mut w = VolumeWriter::new(Vec::new(), 1_048_576, 0).unwrap();
        w.write_volume_label(&vl, 0, 1, 1_795_362_407).unwrap();
        w.begin_session(1, 1_795_362_407, &sos).unwrap();
        for r in &recs[2..14] {
            w.write_record(r.file_index, r.stream, &r.data).unwrap();
        }
        let s = w.end_session(&eos).unwrap();
        // CapBackup-1.bsr: VolAddr=203-1786, FileIndex=1-6; catalog JobBytes 1062.
        assert_eq!((s.start_addr, s.end_addr), (203, 1786));
        assert_eq!((s.first_index, s.last_index), (1, 6));
        assert_eq!((s.blocks, s.job_bytes), (1, 1062));
    }

    #[test]
    fn test_switch_output_continues_session() {
        let recs = records_of(&testdata::volume_full());
        let sos = SessionLabel::parse(Label::SosLabel, &recs[1].data).unwrap();
        let eos = SessionLabel::parse(Label::EosLabel, &recs[14].data).unwrap();
        let mut w = VolumeWriter::new(Vec::new(), 1000, 0).unwrap();
        assert!(w.switch_output(Vec::new(), 0).is_err());
        w.begin_session(1, 2, &sos).unwrap();
        w.write_record(1, Stream(2), &[1u8; 1500]).unwrap();
        assert!(w.would_flush(600));
        let (first, part) = w.switch_output(Vec::new(), 0).unwrap();
        w.write_record(2, Stream(2), &[2u8; 700]).unwrap();
        let s = w.end_session(&eos).unwrap();
        let second = w.into_inner();
        assert_eq!(
            (part.start_addr, part.end_addr),
            (0, first.len() as u64 - 1)
        );
        assert_eq!((part.first_index, part.blocks), (1, 1));
        assert_eq!((s.start_addr, s.end_addr), (0, second.len() as u64 - 1));
        assert_eq!((s.first_index, s.last_index), (1, 2));
        assert_eq!(s.job_bytes, 2200);
        // Buffered whole records of FileIndex 3 and 4, then a switch: the new volume's range
        // starts at 3, not at the last index.
        let mut w = VolumeWriter::new(Vec::new(), 1000, 0).unwrap();
        w.begin_session(1, 2, &sos).unwrap();
        w.write_record(3, Stream(2), &[3u8; 1200]).unwrap();
        w.write_record(4, Stream(1), &[4u8; 10]).unwrap();
        let (_, part) = w.switch_output(Vec::new(), 0).unwrap();
        assert_eq!((part.first_index, part.last_index), (3, 4));
        let s = w.end_session(&eos).unwrap();
        assert_eq!(s.first_index, 3);
        // Read as one stream (what a reader does across the two volumes): the record
        // split at the switch comes out whole.
        let mut both = first.clone();
        both.extend_from_slice(&second);
        let out: Vec<_> = RecordReader::new(both.as_slice())
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(out.len(), 4);
        assert_eq!(out[1].data, vec![1u8; 1500]);
        assert_eq!(out[2].data, vec![2u8; 700]);
    }

    #[test]
    fn test_append_session_to_existing_volume() {
        // Append a second job to a copy of vectors/volume-full, as an SD does with a volume
        // that is not full: offsets continue at the file length, block numbers restart at 0.
        let v = testdata::volume_full();
        let recs = records_of(&v);
        let sos = SessionLabel::parse(Label::SosLabel, &recs[1].data).unwrap();
        let eos = SessionLabel::parse(Label::EosLabel, &recs[14].data).unwrap();
        let mut w = VolumeWriter::new(v.clone(), 1_048_576, v.len() as u64).unwrap();
        w.begin_session(2, 1_795_362_432, &sos).unwrap();
        w.write_record(1, Stream(2), &[7u8; 5000]).unwrap();
        let s = w.end_session(&eos).unwrap();
        assert_eq!(s.start_addr, 1787);
        assert_eq!(s.end_addr, w.offset() - 1);
        let out = w.into_inner();
        assert_eq!(&out[..1787], v.as_slice());
        let sessions: Vec<_> = RecordReader::new(out.as_slice())
            .map(|r| r.unwrap())
            .filter(|r| r.label() == Some(Label::SosLabel))
            .map(|r| (r.vol_session_id, r.vol_session_time))
            .collect();
        assert_eq!(sessions, vec![(1, 1_795_362_407), (2, 1_795_362_432)]);
    }

    #[test]
    fn test_a_record_begun_in_place_and_dropped_is_not_written() {
        let recs = records_of(&testdata::volume_full());
        let sos = SessionLabel::parse(Label::SosLabel, &recs[1].data).unwrap();
        let eos = SessionLabel::parse(Label::EosLabel, &recs[14].data).unwrap();
        let mut w = VolumeWriter::new(Vec::new(), 1000, 0).unwrap();
        assert!(!w.receives_in_place(10), "no session open");
        assert!(w.begin_record(1, Stream(2), 10).is_err(), "no session open");
        w.begin_session(1, 2, &sos).unwrap();
        w.write_record(1, Stream(2), &[1u8; 300]).unwrap();
        // Too long to go on in one next block: the whole-record path only.
        assert!(!w.receives_in_place(3000));
        assert!(w.begin_record(2, Stream(2), 3000).is_err());
        assert!(w.receives_in_place(1200));
        let mut room = w.begin_record(2, Stream(2), 1200).unwrap();
        let (a, b) = room.parts();
        assert!(!a.is_empty() && !b.is_empty());
        a.fill(2);
        b.fill(2);
        // Not committed (the FD went away mid-record): the EOS label comes next.
        let s = w.end_session(&eos).unwrap();
        assert_eq!((s.last_index, s.job_bytes), (1, 300));
        let out: Vec<_> = RecordReader::new(w.into_inner().as_slice())
            .map(|r| r.unwrap())
            .filter(|r| r.file_index > 0)
            .map(|r| (r.file_index, r.data.len()))
            .collect();
        assert_eq!(out, vec![(1, 300)]);
    }

    #[test]
    fn test_misuse_is_an_error() {
        let v = testdata::volume_full();
        let recs = records_of(&v);
        let sos = SessionLabel::parse(Label::SosLabel, &recs[1].data).unwrap();
        assert!(VolumeWriter::new(Vec::new(), 36, 0).is_err());
        let mut w = VolumeWriter::new(Vec::new(), 4096, 0).unwrap();
        assert!(w.write_record(1, Stream(2), b"x").is_err());
        w.begin_session(1, 2, &sos).unwrap();
        assert!(w.begin_session(1, 2, &sos).is_err());
        assert!(w.write_record(0, Stream(2), b"x").is_err());
        assert!(w.write_record(1, Stream(-2), b"x").is_err());
        assert!(w.end_session(&sos).is_err());
        // A block too small for the SOS label.
        let mut w = VolumeWriter::new(Vec::new(), 100, 0).unwrap();
        assert!(w.begin_session(1, 2, &sos).is_err());
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use crate::volume::label::EosTrailer;
    use crate::volume::reader::{RecordReader, VolumeReader};
    use proptest::prelude::*;

    fn sos(job_id: u32) -> SessionLabel<'static> {
        SessionLabel {
            ver_num: 20,
            job_id,
            write_btime: 1,
            write_time: 0,
            pool_name: b"Pool",
            pool_type: b"Backup",
            job_name: b"Job",
            client_name: b"fd",
            job: b"Job.2026",
            fileset_name: b"Set",
            job_type: 66,
            job_level: 70,
            fileset_md5: b"md5",
            eos: None,
        }
    }

    fn vol_label() -> VolumeLabel<'static> {
        VolumeLabel {
            label_type: Label::VolLabel,
            ver_num: 20,
            label_btime: 1,
            write_btime: 2,
            write_date: 0,
            write_time: 0,
            volume_name: b"V",
            prev_volume_name: b"",
            pool_name: b"Pool",
            pool_type: b"Backup",
            media_type: b"File",
            host_name: b"h",
            label_prog: b"barque-sd",
            prog_version: b"v",
            prog_date: b"d",
        }
    }

    type Session = Vec<(i32, Vec<u8>)>;

    fn sessions() -> impl Strategy<Value = Vec<Session>> {
        let rec = (1i32..0x7ff, proptest::collection::vec(any::<u8>(), 0..3000));
        proptest::collection::vec(proptest::collection::vec(rec, 0..12), 1..3)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Random records in random block sizes come back identical, every block verifies and
        /// stays within the block size, and writing what was read reproduces the bytes.
        #[test]
        fn prop_written_records_read_back(block_size in 190usize..2500, sess in sessions()) {
            let mut w = VolumeWriter::new(Vec::new(), block_size, 0).unwrap();
            w.write_volume_label(&vol_label(), 0, 9, 99).unwrap();
            let mut expect = Vec::new();
            for (j, recs) in sess.iter().enumerate() {
                let id = j as u32 + 1;
                w.begin_session(id, 99, &sos(id)).unwrap();
                for (i, (stream, data)) in recs.iter().enumerate() {
                    let fi = i as i32 + 1;
                    w.write_record(fi, Stream(*stream), data).unwrap();
                    expect.push((id, fi, *stream, data.clone()));
                }
                let mut eos = sos(id);
                eos.eos = Some(EosTrailer::default());
                w.end_session(&eos).unwrap();
            }
            let v = w.into_inner();
            for b in VolumeReader::new(v.as_slice()) {
                let b = b.unwrap();
                prop_assert!(b.bytes.len() <= block_size);
            }
            let recs: Vec<_> = RecordReader::new(v.as_slice()).map(|r| r.unwrap()).collect();
            let got: Vec<_> = recs
                .iter()
                .filter(|r| r.file_index > 0)
                .map(|r| (r.vol_session_id, r.file_index, r.stream.0, r.data.clone()))
                .collect();
            prop_assert_eq!(got, expect);
            let labels = recs.iter().filter(|r| r.file_index < 0).count();
            prop_assert_eq!(labels, 1 + 2 * sess.len());
        }

        /// Records received in place (where the writer allows it; begun, filled, committed)
        /// give the same volume, byte for byte, as the same records written whole; a record
        /// begun and aborted (a payload that never arrived) leaves no trace.
        #[test]
        fn prop_records_received_in_place_are_written_identically(
            block_size in 190usize..2500,
            sess in sessions(),
            aborts in proptest::collection::vec(any::<bool>(), 24),
        ) {
            let write = |in_place: bool| {
                let mut w = VolumeWriter::new(Vec::new(), block_size, 0).unwrap();
                w.write_volume_label(&vol_label(), 0, 9, 99).unwrap();
                let mut placed = 0;
                for (j, recs) in sess.iter().enumerate() {
                    let id = j as u32 + 1;
                    w.begin_session(id, 99, &sos(id)).unwrap();
                    for (i, (stream, data)) in recs.iter().enumerate() {
                        let fi = i as i32 + 1;
                        if in_place && w.receives_in_place(data.len()) {
                            if aborts[(i + j) % aborts.len()] {
                                let mut room = w.begin_record(fi, Stream(*stream), data.len()).unwrap();
                                let (a, b) = room.parts();
                                a.fill(0xEE);
                                b.fill(0xEE);
                            }
                            let mut room = w.begin_record(fi, Stream(*stream), data.len()).unwrap();
                            let (a, b) = room.parts();
                            assert_eq!(a.len() + b.len(), data.len());
                            let (x, y) = data.split_at(a.len());
                            a.copy_from_slice(x);
                            b.copy_from_slice(y);
                            room.commit().unwrap();
                            placed += 1;
                        } else {
                            w.write_record(fi, Stream(*stream), data).unwrap();
                        }
                    }
                    let mut eos = sos(id);
                    eos.eos = Some(EosTrailer::default());
                    w.end_session(&eos).unwrap();
                }
                (w.into_inner(), placed)
            };
            let (whole, _) = write(false);
            let (placed, n) = write(true);
            prop_assert_eq!(placed.len(), whole.len());
            prop_assert!(placed == whole, "volume differs with {} records received in place", n);
        }
    }
}
