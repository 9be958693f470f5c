//! The BB02 block: a 24-byte header protected by a CRC-32, then records.
//!
//! `core/src/stored/block.cc` `SerBlockHeader()` writes, and `unSerBlockHeader()` reads:
//!
//! ```text
//! off size field
//!   0   4  CheckSum       CRC-32 of bytes [4, block_len)
//!   4   4  block_len      whole block, header included
//!   8   4  BlockNumber    0, 1, 2, … per writer, restarting at 0 for every job's buffer
//!  12   4  "BB02"
//!  16   4  VolSessionId
//!  20   4  VolSessionTime
//! ```
//!
//! All big-endian. The CRC is the zlib/IEEE 802.3 one (reflected polynomial 0xEDB88320, init
//! and final xor 0xFFFFFFFF; `crc32_fast()` in `core/src/lib/crc32.cc`), computed over
//! everything after the checksum field: `vectors/volume-full` block 1 has `e3ca2418` = CRC of
//! bytes 4..203 ([`crc32`], tested below). A File device writes exactly `block_len` bytes, no
//! padding, so blocks follow each other back to back.
//!
//! `BlockNumber` is *not* a position: the volume-label block and a job's first block both
//! carry 0 (`vectors/volume-full` `bls-k.txt`: `Block: 0 size=203`, `Block: 0 size=1584`), so a
//! reader identifies a block by its file offset (or its ordinal), and only prints the number.
//!
//! The older BB01 format (16-byte header, session ids in every record header) is still read by
//! Bareos but no longer written; this codec decodes it to [`Error::Unrecognized`] rather than
//! guess, since no capture holds one.

use fd_core::wire::{Error, Result};

/// Length of a BB02 block header.
pub const BLOCK_HEADER_LEN: usize = 24;
/// The block id this codec reads and writes.
pub const BLOCK_ID: [u8; 4] = *b"BB02";
/// Bareos' sanity limit for `block_len` and record lengths (`MAX_BLOCK_LENGTH`,
/// `core/src/stored/block.h`).
pub const MAX_BLOCK_LEN: u32 = 20_000_000;
/// The File device's default maximum block size (`Max block=1048576` in the SD's status,
/// `vectors/clear-status-client-storage` conn 3 msg 38; full blocks of `vectors/volume-multiblock`).
pub const DEFAULT_BLOCK_SIZE: usize = 1_048_576;
/// The buffer size Bareos uses for the volume-label block (`DEFAULT_BLOCK_SIZE` in
/// `core/src/stored/block.h`, 64,512 bytes); a label block is far smaller in practice.
pub const LABEL_BLOCK_SIZE: usize = 64_512;

/// A running CRC-32 (zlib's `crc32`), so a caller can checksum a block in pieces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crc32(u32);

impl Crc32 {
    /// A fresh CRC.
    pub const fn new() -> Self {
        Self(0)
    }

    /// Feed bytes. `crc32fast` uses the CPU's carry-less multiply (PCLMULQDQ on x86-64,
    /// PMULL on aarch64) where it has one and falls back to table slicing: the CRC is
    /// computed over every block written and read, and was the SD's largest CPU cost.
    pub fn update(&mut self, data: &[u8]) {
        let mut h = crc32fast::Hasher::new_with_initial(self.0);
        h.update(data);
        self.0 = h.finalize();
    }

    /// The CRC of everything fed so far.
    pub const fn finish(self) -> u32 {
        self.0
    }
}

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

/// CRC-32 of `data` (zlib `crc32(0, data, len)`).
pub fn crc32(data: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(data);
    c.finish()
}

/// A BB02 block header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockHeader {
    /// The stored CRC-32 of bytes `[4, block_len)`.
    pub checksum: u32,
    /// Length of the whole block, header included.
    pub block_len: u32,
    /// The writer's block counter (not unique on a volume).
    pub block_number: u32,
    /// Session of every record in the block.
    pub vol_session_id: u32,
    /// Session time (the SD's start time) of every record in the block.
    pub vol_session_time: u32,
}

impl BlockHeader {
    /// Parse the first 24 bytes of `buf`. A short buffer is [`Error::Truncated`], an id other
    /// than `BB02` is [`Error::Unrecognized`], a `block_len` below 24 or above
    /// [`MAX_BLOCK_LEN`] is [`Error::BadNumber`].
    pub fn parse(buf: &[u8]) -> Result<Self> {
        let (h, _) = buf
            .split_first_chunk::<BLOCK_HEADER_LEN>()
            .ok_or(Error::Truncated)?;
        let [c0, c1, c2, c3, l0, l1, l2, l3, n0, n1, n2, n3, i0, i1, i2, i3, s0, s1, s2, s3, t0, t1, t2, t3] =
            *h;
        if [i0, i1, i2, i3] != BLOCK_ID {
            return Err(Error::Unrecognized);
        }
        let block_len = u32::from_be_bytes([l0, l1, l2, l3]);
        if block_len < BLOCK_HEADER_LEN as u32 || block_len > MAX_BLOCK_LEN {
            return Err(Error::BadNumber);
        }
        Ok(Self {
            checksum: u32::from_be_bytes([c0, c1, c2, c3]),
            block_len,
            block_number: u32::from_be_bytes([n0, n1, n2, n3]),
            vol_session_id: u32::from_be_bytes([s0, s1, s2, s3]),
            vol_session_time: u32::from_be_bytes([t0, t1, t2, t3]),
        })
    }

    /// Write the 24 header bytes exactly as given (see [`Block::emit`] for a header with a
    /// computed checksum).
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let out = buf
            .get_mut(..BLOCK_HEADER_LEN)
            .ok_or(Error::BufferTooSmall)?;
        let fields = [
            self.checksum.to_be_bytes(),
            self.block_len.to_be_bytes(),
            self.block_number.to_be_bytes(),
            BLOCK_ID,
            self.vol_session_id.to_be_bytes(),
            self.vol_session_time.to_be_bytes(),
        ];
        for (dst, src) in out.chunks_exact_mut(4).zip(fields.iter()) {
            dst.copy_from_slice(src);
        }
        Ok(BLOCK_HEADER_LEN)
    }

    /// Always 24.
    pub const fn buffer_len(&self) -> usize {
        BLOCK_HEADER_LEN
    }
}

/// A whole block borrowed from a buffer: the header and the record bytes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<'a> {
    /// The header as stored.
    pub header: BlockHeader,
    /// Bytes 24..block_len: the records.
    pub payload: &'a [u8],
    /// Bytes 4..block_len, what the checksum covers.
    checked: &'a [u8],
}

impl<'a> Block<'a> {
    /// Parse the block at the start of `buf` (bytes after `block_len` are ignored). The
    /// checksum is *not* verified here; see [`Block::checksum_ok`].
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let header = BlockHeader::parse(buf)?;
        let len = usize::try_from(header.block_len).map_err(|_| Error::BadNumber)?;
        let whole = buf.get(..len).ok_or(Error::Truncated)?;
        Ok(Self {
            header,
            payload: whole.get(BLOCK_HEADER_LEN..).unwrap_or(&[]),
            checked: whole.get(4..).unwrap_or(&[]),
        })
    }

    /// CRC-32 of bytes `[4, block_len)`.
    pub fn computed_checksum(&self) -> u32 {
        crc32(self.checked)
    }

    /// True when the stored checksum matches the bytes.
    pub fn checksum_ok(&self) -> bool {
        self.computed_checksum() == self.header.checksum
    }

    /// Build a block from a session, number and record bytes (the checksum and length are
    /// computed by [`Block::emit`]).
    pub fn emit_new(
        block_number: u32,
        vol_session_id: u32,
        vol_session_time: u32,
        payload: &[u8],
        buf: &mut [u8],
    ) -> Result<usize> {
        let len = BLOCK_HEADER_LEN
            .checked_add(payload.len())
            .ok_or(Error::FieldTooLong)?;
        let block_len = u32::try_from(len).map_err(|_| Error::FieldTooLong)?;
        if block_len > MAX_BLOCK_LEN {
            return Err(Error::FieldTooLong);
        }
        let out = buf.get_mut(..len).ok_or(Error::BufferTooSmall)?;
        out.get_mut(BLOCK_HEADER_LEN..)
            .ok_or(Error::BufferTooSmall)?
            .copy_from_slice(payload);
        Self::seal_in_place(block_number, vol_session_id, vol_session_time, out)
    }

    /// Fill in the header of the block `buf`, whose first [`BLOCK_HEADER_LEN`] bytes are
    /// reserved for it and the rest is the payload (the writer builds blocks in place this
    /// way, saving [`Block::emit_new`]'s copy); returns the block's length.
    pub fn seal_in_place(
        block_number: u32,
        vol_session_id: u32,
        vol_session_time: u32,
        buf: &mut [u8],
    ) -> Result<usize> {
        let len = Self::seal_header(block_number, vol_session_id, vol_session_time, buf)?;
        Self::fill_checksum(buf);
        Ok(len)
    }

    /// [`Block::seal_in_place`] without the checksum (left 0): whoever writes the block
    /// fills it in with [`Block::fill_checksum`] (the SD's volume writer thread does, off the
    /// job's thread).
    pub fn seal_header(
        block_number: u32,
        vol_session_id: u32,
        vol_session_time: u32,
        buf: &mut [u8],
    ) -> Result<usize> {
        let len = buf.len();
        if len < BLOCK_HEADER_LEN {
            return Err(Error::BufferTooSmall);
        }
        let block_len = u32::try_from(len).map_err(|_| Error::FieldTooLong)?;
        if block_len > MAX_BLOCK_LEN {
            return Err(Error::FieldTooLong);
        }
        let header = BlockHeader {
            checksum: 0,
            block_len,
            block_number,
            vol_session_id,
            vol_session_time,
        };
        header.emit(
            buf.get_mut(..BLOCK_HEADER_LEN)
                .ok_or(Error::BufferTooSmall)?,
        )?;
        Ok(len)
    }

    /// Store the CRC-32 of `block[4..]` in its first four bytes (big-endian), the checksum
    /// field of a block whose header [`Block::seal_header`] wrote. A buffer shorter than a
    /// checksum is left alone.
    pub fn fill_checksum(block: &mut [u8]) {
        if let Some((sum, rest)) = block.split_first_chunk_mut::<4>() {
            *sum = crc32(rest).to_be_bytes();
        }
    }

    /// Write this block with its header's number and session, a freshly computed length and
    /// checksum, and its payload.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        Self::emit_new(
            self.header.block_number,
            self.header.vol_session_id,
            self.header.vol_session_time,
            self.payload,
            buf,
        )
    }

    /// Bytes [`Block::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        BLOCK_HEADER_LEN + self.payload.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::volume::testdata;

    #[test]
    fn test_crc32_known_values() {
        // zlib's check value for "123456789".
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }

    /// The byte-wise definition (reflected polynomial 0xEDB88320) the fast CRC must agree
    /// with.
    fn crc32_bytewise(data: &[u8]) -> u32 {
        let mut t = [0u32; 256];
        for (n, e) in t.iter_mut().enumerate() {
            let mut c = n as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        let mut c = 0xffff_ffffu32;
        for &b in data {
            c = t[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
        }
        !c
    }

    #[test]
    fn test_crc32_fast_matches_bytewise() {
        let data: Vec<u8> = (0..4099u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for len in [
            0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 127, 128, 129, 1000, 4099,
        ] {
            assert_eq!(
                crc32(&data[..len]),
                crc32_bytewise(&data[..len]),
                "len {len}"
            );
        }
        // Fed in uneven pieces.
        let mut c = Crc32::new();
        for part in data.chunks(13) {
            c.update(part);
        }
        assert_eq!(c.finish(), crc32_bytewise(&data));
    }

    #[test]
    fn test_parse_label_block() {
        let full = testdata::volume_full();
        let volume_full = full.as_slice();
        // vectors/volume-full Cap-0001 bytes 0..24: e3ca2418 000000cb 00000000 BB02 1 6b030e67.
        let b = Block::parse(volume_full).unwrap();
        assert_eq!(
            b.header,
            BlockHeader {
                checksum: 0xe3ca_2418,
                block_len: 203,
                block_number: 0,
                vol_session_id: 1,
                vol_session_time: 1_795_362_407,
            }
        );
        assert_eq!(b.payload.len(), 203 - 24);
        assert!(b.checksum_ok());
    }

    #[test]
    fn test_parse_job_block_and_reemit() {
        let full = testdata::volume_full();
        let volume_full = full.as_slice();
        // vectors/volume-full Cap-0001 bytes 203..1787: 4470c05c 00000630 0 BB02 1 6b030e67.
        let rest = volume_full.get(203..).unwrap();
        let b = Block::parse(rest).unwrap();
        assert_eq!(b.header.checksum, 0x4470_c05c);
        assert_eq!(b.header.block_len, 1584);
        assert!(b.checksum_ok());
        let mut out = vec![0u8; b.buffer_len()];
        assert_eq!(b.emit(&mut out).unwrap(), 1584);
        assert_eq!(out.as_slice(), rest);
        // Header alone re-emits too.
        let mut h = [0u8; 24];
        b.header.emit(&mut h).unwrap();
        assert_eq!(&h[..], &rest[..24]);
    }

    #[test]
    fn test_truncated() {
        let full = testdata::volume_full();
        let volume_full = full.as_slice();
        for n in 0..24 {
            assert_eq!(BlockHeader::parse(&volume_full[..n]), Err(Error::Truncated));
        }
        assert_eq!(Block::parse(&volume_full[..202]), Err(Error::Truncated));
        assert!(Block::parse(&volume_full[..203]).is_ok());
    }

    #[test]
    fn test_impossible_values() {
        let full = testdata::volume_full();
        let volume_full = full.as_slice();
        let mut v = volume_full[..203].to_vec();
        v[12..16].copy_from_slice(b"BB01");
        assert_eq!(BlockHeader::parse(&v), Err(Error::Unrecognized));
        let mut v = volume_full[..203].to_vec();
        v[4..8].copy_from_slice(&23u32.to_be_bytes());
        assert_eq!(BlockHeader::parse(&v), Err(Error::BadNumber));
        v[4..8].copy_from_slice(&(MAX_BLOCK_LEN + 1).to_be_bytes());
        assert_eq!(BlockHeader::parse(&v), Err(Error::BadNumber));
        // A flipped payload byte is caught by the checksum.
        let mut v = volume_full[..203].to_vec();
        v[100] ^= 0x01;
        assert!(!Block::parse(&v).unwrap().checksum_ok());
        let mut small = [0u8; 10];
        let b = Block::parse(volume_full).unwrap();
        assert_eq!(b.emit(&mut small), Err(Error::BufferTooSmall));
    }

    proptest::proptest! {
        #[test]
        fn prop_block_roundtrip(
            number: u32,
            id: u32,
            time: u32,
            payload in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
        ) {
            let mut buf = vec![0u8; 24 + payload.len()];
            let n = Block::emit_new(number, id, time, &payload, &mut buf).unwrap();
            let b = Block::parse(&buf[..n]).unwrap();
            proptest::prop_assert!(b.checksum_ok());
            proptest::prop_assert_eq!(b.header.block_number, number);
            proptest::prop_assert_eq!(b.header.vol_session_id, id);
            proptest::prop_assert_eq!(b.header.vol_session_time, time);
            proptest::prop_assert_eq!(b.payload, payload.as_slice());
            let mut again = vec![0u8; n];
            b.emit(&mut again).unwrap();
            proptest::prop_assert_eq!(again, buf);
        }

        #[test]
        fn prop_block_parse_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..100)) {
            let _ = Block::parse(&bytes).map(|b| b.checksum_ok());
        }
    }
}
