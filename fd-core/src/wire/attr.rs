//! File types, the attribute record, the stat packet and digest records.
//!
//! # The attribute record
//!
//! Every file of a backup starts with one record of stream 1 (UNIX_ATTRIBUTES, or 5 for
//! Windows), built by `core/src/filed/backup.cc` `EncodeAndSendAttributes()` and taken apart by
//! `core/src/lib/attr.cc` `UnpackAttributesRecord()`:
//!
//! ```text
//! «FileIndex» «type» «fname»\0«stat»\0«link»\0«attrEx»\0«delta_seq»\0
//! ```
//!
//! FileIndex and type are decimal with one space each; `fname` is the path (directories with a
//! trailing `/`); `stat` is the 16-field [`Stat`] packet; `link` the symlink target or the first
//! name of a hard link; `attrEx` is empty on Unix; `delta_seq` is decimal. The final NUL is part
//! of the record. The same bytes travel FD → SD, are written to the volume unchanged, are
//! forwarded SD → Director inside `UpdCat` ([`super::sd_ctl`]) and come back SD → FD on restore.
//! [`AttrRecord`] borrows the strings and decodes the stat packet; `emit` reproduces the record
//! byte for byte (checked against every attribute record in the captures, and against the
//! records of `vectors/volume-full`).
//!
//! # The stat packet
//!
//! `core/src/lib/attribs.cc` `EncodeStat()` writes 16 signed 64-bit numbers in Bareos' base64
//! ([`super::base64::encode_i64`]) separated by single spaces: st_dev, st_ino, st_mode,
//! st_nlink, st_uid, st_gid, st_rdev, st_size, st_blksize, st_blocks, st_atime, st_mtime,
//! st_ctime, LinkFI, st_flags, data_stream. `DecodeStat()` treats the last three as optional
//! (older records); [`Stat::fields`] remembers how many were present so that such a packet
//! re-encodes to the same bytes. The catalog's `File.LStat` column holds exactly this string
//! (`vectors/catalog-dump.txt`).
//!
//! Stricter than Bareos: `FromBase64` maps unknown characters to 0, we reject them
//! ([`Error::BadNumber`]), and we reject empty fields and double spaces, which no Bareos
//! daemon writes.
//!
//! # Digest records
//!
//! Streams 3/10/17/18/40 carry the **raw binary** digest (16/20/32/64/16 bytes), not base64:
//! `vectors/clear-backup-full` conn 4 msg 19 is the 32 bytes `58 91 b5 b5 …` of SHA-256
//! (`hello\n`). The catalog and `bls -v` show it in standard base64 without padding
//! ([`Digest::encode_catalog`]).

use super::base64::{self, decode_i64, encode_i64, Variant};
use super::stream::{SparseChunk, StreamType};
use super::text::{Scanner, Writer};
use super::{Error, Result};

macro_rules! file_types {
    ($( $(#[$m:meta])* $name:ident = $v:expr, )*) => {
        /// File type of an attribute record (`core/src/include/filetypes.h`, `FT_*`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub enum FileType {
            $( $(#[$m])* $name, )*
            /// A value this codec does not know (including values with the legacy flag bits
            /// in the upper 16 bits set).
            Unknown(u32),
        }

        impl FileType {
            /// Decode the decimal type word.
            pub const fn from_u32(v: u32) -> Self {
                match v {
                    $( $v => FileType::$name, )*
                    v => FileType::Unknown(v),
                }
            }

            /// The numeric value sent on the wire.
            pub const fn to_u32(self) -> u32 {
                match self {
                    $( FileType::$name => $v, )*
                    FileType::Unknown(v) => v,
                }
            }
        }
    };
}

file_types! {
    /// 1, FT_LNKSAVED: hard link to a file already saved; link = first name, no data.
    LnkSaved = 1,
    /// 2, FT_REGE: empty regular file.
    RegE = 2,
    /// 3, FT_REG: regular file.
    Reg = 3,
    /// 4, FT_LNK: symbolic link; link = target.
    Lnk = 4,
    /// 5, FT_DIREND: directory, sent after its contents, name ends in `/`.
    DirEnd = 5,
    /// 6, FT_SPEC: device or FIFO.
    Spec = 6,
    /// 7, FT_NOACCESS.
    NoAccess = 7,
    /// 8, FT_NOFOLLOW.
    NoFollow = 8,
    /// 9, FT_NOSTAT.
    NoStat = 9,
    /// 10, FT_NOCHG.
    NoChg = 10,
    /// 11, FT_DIRNOCHG.
    DirNoChg = 11,
    /// 12, FT_ISARCH.
    IsArch = 12,
    /// 13, FT_NORECURSE.
    NoRecurse = 13,
    /// 14, FT_NOFSCHG.
    NoFsChg = 14,
    /// 15, FT_NOOPEN.
    NoOpen = 15,
    /// 16, FT_RAW: block device read as data.
    Raw = 16,
    /// 17, FT_FIFO: FIFO read as data.
    Fifo = 17,
    /// 18, FT_DIRBEGIN (internal).
    DirBegin = 18,
    /// 19, FT_INVALIDFS.
    InvalidFs = 19,
    /// 20, FT_INVALIDDT.
    InvalidDt = 20,
    /// 21, FT_REPARSE.
    Reparse = 21,
    /// 22, FT_PLUGIN.
    Plugin = 22,
    /// 23, FT_DELETED: vanished since the last backup (accurate mode).
    Deleted = 23,
    /// 24, FT_BASE.
    Base = 24,
    /// 25, FT_RESTORE_FIRST: restore object.
    RestoreFirst = 25,
    /// 26, FT_JUNCTION.
    Junction = 26,
    /// 27, FT_PLUGIN_CONFIG.
    PluginConfig = 27,
    /// 28, FT_PLUGIN_CONFIG_FILLED.
    PluginConfigFilled = 28,
}

/// Number of fields `EncodeStat()` writes.
pub const STAT_FIELDS: u8 = 16;
/// Fewest fields `DecodeStat()` accepts (LinkFI, flags and data stream are optional).
pub const STAT_MIN_FIELDS: u8 = 13;
/// Longest stat packet: 16 numbers of at most 12 characters and 15 spaces.
pub const STAT_MAX_LEN: usize = 16 * base64::MAX_I64_LEN + 15;

/// A decoded stat packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stat {
    /// st_dev.
    pub dev: i64,
    /// st_ino.
    pub ino: i64,
    /// st_mode (type and permission bits).
    pub mode: i64,
    /// st_nlink.
    pub nlink: i64,
    /// st_uid.
    pub uid: i64,
    /// st_gid.
    pub gid: i64,
    /// st_rdev.
    pub rdev: i64,
    /// st_size.
    pub size: i64,
    /// st_blksize.
    pub blksize: i64,
    /// st_blocks.
    pub blocks: i64,
    /// st_atime (unix seconds).
    pub atime: i64,
    /// st_mtime.
    pub mtime: i64,
    /// st_ctime.
    pub ctime: i64,
    /// FileIndex of the saved copy for FT_LNKSAVED, else 0.
    pub link_fi: i64,
    /// st_flags (BSD; 0 on Linux).
    pub flags: i64,
    /// The data stream chosen for the file (written even when no data follows).
    pub data_stream: i64,
    /// How many fields the packet had, 13..=16; [`Stat::emit`] writes this many. Use
    /// [`STAT_FIELDS`] for a packet of your own.
    pub fields: u8,
}

impl Stat {
    /// A 16-field packet with every number 0.
    pub const fn zeroed() -> Self {
        Self {
            dev: 0,
            ino: 0,
            mode: 0,
            nlink: 0,
            uid: 0,
            gid: 0,
            rdev: 0,
            size: 0,
            blksize: 0,
            blocks: 0,
            atime: 0,
            mtime: 0,
            ctime: 0,
            link_fi: 0,
            flags: 0,
            data_stream: 0,
            fields: STAT_FIELDS,
        }
    }

    fn values(&self) -> [i64; 16] {
        [
            self.dev,
            self.ino,
            self.mode,
            self.nlink,
            self.uid,
            self.gid,
            self.rdev,
            self.size,
            self.blksize,
            self.blocks,
            self.atime,
            self.mtime,
            self.ctime,
            self.link_fi,
            self.flags,
            self.data_stream,
        ]
    }

    fn from_values(v: [i64; 16], fields: u8) -> Self {
        let [dev, ino, mode, nlink, uid, gid, rdev, size, blksize, blocks, atime, mtime, ctime, link_fi, flags, data_stream] =
            v;
        Self {
            dev,
            ino,
            mode,
            nlink,
            uid,
            gid,
            rdev,
            size,
            blksize,
            blocks,
            atime,
            mtime,
            ctime,
            link_fi,
            flags,
            data_stream,
            fields,
        }
    }

    /// Parse a whole stat packet (no NUL): 13 to 16 base64 numbers separated by single spaces.
    pub fn parse(buf: &[u8]) -> Result<Self> {
        let mut v = [0i64; 16];
        let mut n: u8 = 0;
        for tok in buf.split(|&b| b == b' ') {
            let slot = v.get_mut(usize::from(n)).ok_or(Error::Malformed)?;
            *slot = decode_i64(tok)?;
            n += 1;
        }
        if n < STAT_MIN_FIELDS {
            return Err(Error::Truncated);
        }
        let st = Self::from_values(v, n);
        // decode_i64 tolerates leading `A`s (zero digits) that encode_i64 never writes.
        if st.buffer_len() != buf.len() {
            return Err(Error::Malformed);
        }
        Ok(st)
    }

    /// Write the packet text (the base64 numbers separated by blanks), as in an attribute
    /// record and a verify line.
    pub fn write_to(&self, w: &mut Writer<'_>) -> Result<()> {
        self.write(w)
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        if !(STAT_MIN_FIELDS..=STAT_FIELDS).contains(&self.fields) {
            return Err(Error::Malformed);
        }
        let values = self.values();
        let used = values.get(..usize::from(self.fields)).unwrap_or(&values);
        for (i, v) in used.iter().enumerate() {
            if i > 0 {
                w.byte(b' ');
            }
            let mut tmp = [0u8; base64::MAX_I64_LEN];
            let n = encode_i64(*v, &mut tmp)?;
            w.bytes(tmp.get(..n).ok_or(Error::BufferTooSmall)?);
        }
        Ok(())
    }
}

/// One attribute record (stream 1 or 5), borrowing its strings from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AttrRecord<'a> {
    /// FileIndex (the same as in the record header).
    pub file_index: i32,
    /// File type.
    pub file_type: FileType,
    /// Path as sent (directories end in `/`).
    pub fname: &'a [u8],
    /// The decoded stat packet.
    pub stat: Stat,
    /// Symlink target, first name of a hard link, or empty.
    pub link: &'a [u8],
    /// Extended attributes (Windows, macOS resource-fork length), empty on Unix.
    pub attr_ex: &'a [u8],
    /// Delta sequence number, normally 0 (`%d` in `EncodeAndSendAttributes()`).
    pub delta_seq: i32,
}

impl<'a> AttrRecord<'a> {
    /// Parse a whole record, final NUL included.
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let mut s = Scanner::new(buf);
        let file_index = s.i32()?;
        s.lit(b" ")?;
        let file_type = FileType::from_u32(s.u32()?);
        // Exactly one space: a file name may start with a blank.
        match s.rest().first() {
            Some(b' ') => {}
            Some(_) => return Err(Error::Malformed),
            None => return Err(Error::Truncated),
        }
        let mut s = Scanner::new(s.rest().get(1..).unwrap_or(&[]));
        let fname = s.until(0)?;
        let stat = Stat::parse(s.until(0)?)?;
        let link = s.until(0)?;
        let attr_ex = s.until(0)?;
        let mut d = Scanner::new(s.until(0)?);
        let delta_seq = d.i32()?;
        d.end(false)?;
        s.end(false)?;
        let r = Self {
            file_index,
            file_type,
            fname,
            stat,
            link,
            attr_ex,
            delta_seq,
        };
        if r.buffer_len() != buf.len() {
            // Leading zeros or signs in the numbers: not what Bareos writes.
            return Err(Error::Malformed);
        }
        Ok(r)
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        if self.fname.contains(&0) || self.link.contains(&0) || self.attr_ex.contains(&0) {
            return Err(Error::Malformed);
        }
        w.i64(i64::from(self.file_index));
        w.byte(b' ');
        w.u64(u64::from(self.file_type.to_u32()));
        w.byte(b' ');
        w.bytes(self.fname);
        w.byte(0);
        self.stat.write(w)?;
        w.byte(0);
        w.bytes(self.link);
        w.byte(0);
        w.bytes(self.attr_ex);
        w.byte(0);
        w.i64(i64::from(self.delta_seq));
        w.byte(0);
        Ok(())
    }
}

/// Which digest a digest stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DigestKind {
    /// Stream 3, 16 bytes.
    Md5,
    /// Stream 10, 20 bytes.
    Sha1,
    /// Stream 17, 32 bytes.
    Sha256,
    /// Stream 18, 64 bytes.
    Sha512,
    /// Stream 40, 16 bytes (XXH3-128, big-endian).
    Xxh128,
}

impl DigestKind {
    /// The digest kind of a stream type, `None` if it is not a digest stream.
    pub const fn from_stream(t: StreamType) -> Option<Self> {
        Some(match t {
            StreamType::Md5Digest => DigestKind::Md5,
            StreamType::Sha1Digest => DigestKind::Sha1,
            StreamType::Sha256Digest => DigestKind::Sha256,
            StreamType::Sha512Digest => DigestKind::Sha512,
            StreamType::Xxh128Digest => DigestKind::Xxh128,
            _ => return None,
        })
    }

    /// The stream type that carries this digest.
    pub const fn stream(self) -> StreamType {
        match self {
            DigestKind::Md5 => StreamType::Md5Digest,
            DigestKind::Sha1 => StreamType::Sha1Digest,
            DigestKind::Sha256 => StreamType::Sha256Digest,
            DigestKind::Sha512 => StreamType::Sha512Digest,
            DigestKind::Xxh128 => StreamType::Xxh128Digest,
        }
    }

    /// Digest length in bytes.
    pub const fn size(self) -> usize {
        match self {
            DigestKind::Md5 | DigestKind::Xxh128 => 16,
            DigestKind::Sha1 => 20,
            DigestKind::Sha256 => 32,
            DigestKind::Sha512 => 64,
        }
    }
}

/// Longest digest (SHA-512).
pub const MAX_DIGEST_LEN: usize = 64;

/// A digest record: the raw binary digest of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Digest<'a> {
    /// Which digest.
    pub kind: DigestKind,
    /// The digest bytes, exactly `kind.size()` of them.
    pub bytes: &'a [u8],
}

impl<'a> Digest<'a> {
    /// Parse the payload of a record of stream type `stream`. A stream that is not a digest
    /// is [`Error::Unrecognized`]; a wrong length is [`Error::Truncated`] (short) or
    /// [`Error::Malformed`] (long).
    pub fn parse(stream: StreamType, buf: &'a [u8]) -> Result<Self> {
        let kind = DigestKind::from_stream(stream).ok_or(Error::Unrecognized)?;
        match buf.len().cmp(&kind.size()) {
            core::cmp::Ordering::Less => Err(Error::Truncated),
            core::cmp::Ordering::Greater => Err(Error::Malformed),
            core::cmp::Ordering::Equal => Ok(Self { kind, bytes: buf }),
        }
    }

    /// Write the digest bytes.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if self.bytes.len() != self.kind.size() {
            return Err(Error::Malformed);
        }
        let dst = buf
            .get_mut(..self.bytes.len())
            .ok_or(Error::BufferTooSmall)?;
        dst.copy_from_slice(self.bytes);
        Ok(self.bytes.len())
    }

    /// Bytes [`Digest::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        self.bytes.len()
    }

    /// The catalog form (`File.MD5` column, `bls -v`): RFC 4648 base64 without padding
    /// (`BinToBase64(…, true)`). Returns the number of bytes written (at most 86).
    pub fn encode_catalog(&self, out: &mut [u8]) -> Result<usize> {
        base64::encode_bin(self.bytes, Variant::Standard, out)
    }
}

/// A restore-object record (stream 28, file type FT_RESTORE_FIRST or FT_PLUGIN_CONFIG), as
/// `EncodeAndSendAttributes()` builds it:
///
/// ```text
/// «FileIndex» «type» «object_index» «comp_len» «object_len» «compression» «fname»\0«object_name»\0«object»\0
/// ```
///
/// `object` is `comp_len` bytes (zlib-compressed when `compression` = 1, which the FD does for
/// objects above 1000 bytes when that makes them smaller), followed by one extra NUL that the
/// FD adds so the Director can store the object as a C string. No capture holds one; the layout
/// is from `core/src/filed/backup.cc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RestoreObject<'a> {
    /// FileIndex.
    pub file_index: i32,
    /// FT_RESTORE_FIRST (25) or FT_PLUGIN_CONFIG (27).
    pub file_type: FileType,
    /// Object index within the plugin.
    pub object_index: i32,
    /// Uncompressed object length.
    pub object_len: i32,
    /// 0 = stored, 1 = zlib.
    pub compression: i32,
    /// File name the object belongs to.
    pub fname: &'a [u8],
    /// Object name (`job_metadata.xml`, …).
    pub object_name: &'a [u8],
    /// The object bytes as sent (compressed or not); their length is `comp_len` on the wire.
    pub object: &'a [u8],
}

impl<'a> RestoreObject<'a> {
    /// Parse a whole restore-object record, final extra NUL included.
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let mut s = Scanner::new(buf);
        let file_index = s.i32()?;
        s.lit(b" ")?;
        let file_type = FileType::from_u32(s.u32()?);
        s.lit(b" ")?;
        let object_index = s.i32()?;
        s.lit(b" ")?;
        let comp_len = usize::try_from(s.u32()?).map_err(|_| Error::BadNumber)?;
        s.lit(b" ")?;
        let object_len = s.i32()?;
        s.lit(b" ")?;
        let compression = s.i32()?;
        match s.rest().first() {
            Some(b' ') => {}
            Some(_) => return Err(Error::Malformed),
            None => return Err(Error::Truncated),
        }
        let mut s = Scanner::new(s.rest().get(1..).unwrap_or(&[]));
        let fname = s.until(0)?;
        let object_name = s.until(0)?;
        let rest = s.rest();
        let object = rest.get(..comp_len).ok_or(Error::Truncated)?;
        match rest.get(comp_len..) {
            Some([0]) => {}
            Some([]) => return Err(Error::Truncated),
            _ => return Err(Error::Malformed),
        }
        let r = Self {
            file_index,
            file_type,
            object_index,
            object_len,
            compression,
            fname,
            object_name,
            object,
        };
        if r.buffer_len() != buf.len() {
            return Err(Error::Malformed);
        }
        Ok(r)
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        if self.fname.contains(&0) || self.object_name.contains(&0) {
            return Err(Error::Malformed);
        }
        let comp_len = u32::try_from(self.object.len()).map_err(|_| Error::FieldTooLong)?;
        w.i64(i64::from(self.file_index));
        w.byte(b' ');
        w.u64(u64::from(self.file_type.to_u32()));
        w.byte(b' ');
        w.i64(i64::from(self.object_index));
        w.byte(b' ');
        w.u64(u64::from(comp_len));
        w.byte(b' ');
        w.i64(i64::from(self.object_len));
        w.byte(b' ');
        w.i64(i64::from(self.compression));
        w.byte(b' ');
        w.bytes(self.fname);
        w.byte(0);
        w.bytes(self.object_name);
        w.byte(0);
        w.bytes(self.object);
        w.byte(0);
        Ok(())
    }
}

/// The payload of one data-channel record, decoded according to its stream.
///
/// This is what the SD stores as one volume record and what it sends back after a `rechdr`:
/// attribute records, restore objects and digests are decoded; sparse data is split into
/// offset and bytes; every other stream (file data, compressed, encrypted, ACL, xattr, …) is
/// handed over as raw bytes with its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Record<'a> {
    /// Stream 1 or 5.
    Attributes(AttrRecord<'a>),
    /// Stream 28.
    RestoreObject(RestoreObject<'a>),
    /// Streams 3, 10, 17, 18, 40.
    Digest(Digest<'a>),
    /// Stream 6.
    Sparse(SparseChunk<'a>),
    /// Any other stream: the raw bytes.
    Data {
        /// The stream type.
        kind: StreamType,
        /// The bytes.
        data: &'a [u8],
    },
}

impl<'a> Record<'a> {
    /// Decode the payload of a record of stream `kind` (use [`super::stream::Stream::kind`]).
    pub fn parse(kind: StreamType, buf: &'a [u8]) -> Result<Self> {
        Ok(match kind {
            StreamType::UnixAttributes | StreamType::UnixAttributesEx => {
                Record::Attributes(AttrRecord::parse(buf)?)
            }
            StreamType::RestoreObject => Record::RestoreObject(RestoreObject::parse(buf)?),
            StreamType::SparseData => Record::Sparse(SparseChunk::parse(buf)?),
            k => match DigestKind::from_stream(k) {
                Some(_) => Record::Digest(Digest::parse(k, buf)?),
                None => Record::Data { kind: k, data: buf },
            },
        })
    }

    /// Write the payload; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        match self {
            Record::Attributes(r) => r.emit(buf),
            Record::RestoreObject(r) => r.emit(buf),
            Record::Digest(d) => d.emit(buf),
            Record::Sparse(c) => c.emit(buf),
            Record::Data { data, .. } => {
                let dst = buf.get_mut(..data.len()).ok_or(Error::BufferTooSmall)?;
                dst.copy_from_slice(data);
                Ok(data.len())
            }
        }
    }

    /// Bytes [`Record::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            Record::Attributes(r) => r.buffer_len(),
            Record::RestoreObject(r) => r.buffer_len(),
            Record::Digest(d) => d.buffer_len(),
            Record::Sparse(c) => c.buffer_len(),
            Record::Data { data, .. } => data.len(),
        }
    }
}

codec_impl!(AttrRecord<'_>);
codec_impl!(RestoreObject<'_>);

codec_impl!(Stat);

#[cfg(test)]
mod tests {
    use super::*;

    /// vectors/clear-backup-full conn 4 msg 13 (108 bytes).
    const HELLO: &[u8] = b"1 3 /srv/bareos-capture/testdata/tree/hello.txt\0P4A DwZD IGk B A A A G BAA I BrAw5j BpVzWl BrAw5j A A C\0\0\x000\0";
    /// vectors/clear-backup-full conn 4 msg 43 (symlink).
    const LINK: &[u8] = b"5 4 /srv/bareos-capture/testdata/tree/link-to-hello\0P4A DwZG KH/ B A A A J BAA A BrAw5j BpVzWl BrAw5j A A C\0hello.txt\0\x000\0";
    /// vectors/clear-diff-accurate conn 8 msg 25 (FT_DELETED).
    const DELETED: &[u8] = b"3 23 /srv/bareos-capture2/testdata/tree/empty.txt\0A A A A A A A A A A A BpVzWl BrAxu7 A A C\0\0\x000\0";

    use crate::wire::test_util::emit_vec;

    #[test]
    fn test_parse_attr() {
        let r = AttrRecord::parse(HELLO).unwrap();
        assert_eq!(HELLO.len(), 108);
        assert_eq!(r.file_index, 1);
        assert_eq!(r.file_type, FileType::Reg);
        assert_eq!(r.fname, b"/srv/bareos-capture/testdata/tree/hello.txt");
        assert_eq!(
            r.stat,
            Stat {
                dev: 65024,
                ino: 984_643,
                mode: 0o100644,
                nlink: 1,
                size: 6,
                blksize: 4096,
                blocks: 8,
                atime: 1_795_362_403,
                mtime: 1_767_323_045,
                ctime: 1_795_362_403,
                data_stream: 2,
                ..Stat::zeroed()
            }
        );
        assert_eq!(r.link, b"");
        assert_eq!(r.delta_seq, 0);

        let l = AttrRecord::parse(LINK).unwrap();
        assert_eq!(l.file_type, FileType::Lnk);
        assert_eq!(l.link, b"hello.txt");
        assert_eq!(l.stat.mode, 0o120777);

        let d = AttrRecord::parse(DELETED).unwrap();
        assert_eq!(d.file_type, FileType::Deleted);
        assert_eq!(d.stat.mtime, 1_767_323_045);
        assert_eq!(d.stat.size, 0);
    }

    #[test]
    fn test_emit_attr() {
        for rec in [HELLO, LINK, DELETED] {
            let r = AttrRecord::parse(rec).unwrap();
            assert_eq!(r.buffer_len(), rec.len());
            assert_eq!(emit_vec(r.buffer_len(), |b| r.emit(b)), rec);
        }
    }

    #[test]
    fn test_jobs_md_vector() {
        // jobs.md §12: the computed 82-byte record.
        let r = AttrRecord {
            file_index: 1,
            file_type: FileType::Reg,
            fname: b"/srv/demo/hello.txt",
            stat: Stat {
                dev: 2049,
                ino: 131_074,
                mode: 0o100644,
                nlink: 1,
                size: 6,
                blksize: 4096,
                blocks: 8,
                atime: 1_700_000_000,
                mtime: 1_700_000_000,
                ctime: 1_700_000_000,
                data_stream: 2,
                ..Stat::zeroed()
            },
            link: b"",
            attr_ex: b"",
            delta_seq: 0,
        };
        let v = emit_vec(r.buffer_len(), |b| r.emit(b));
        assert_eq!(
            v,
            b"1 3 /srv/demo/hello.txt\0gB gAC IGk B A A A G BAA I BlU/EA BlU/EA BlU/EA A A C\0\0\x000\0"
        );
        assert_eq!(v.len(), 82);
    }

    #[test]
    fn test_truncated() {
        for n in 0..HELLO.len() {
            assert!(AttrRecord::parse(&HELLO[..n]).is_err(), "prefix {n}");
        }
        assert_eq!(
            Stat::parse(b"A A A A A A A A A A A A"),
            Err(Error::Truncated)
        );
        let mut small = [0u8; 50];
        let r = AttrRecord::parse(HELLO).unwrap();
        assert_eq!(r.emit(&mut small), Err(Error::BufferTooSmall));
    }

    #[test]
    fn test_impossible() {
        // 17 fields.
        assert_eq!(
            Stat::parse(b"A A A A A A A A A A A A A A A A A"),
            Err(Error::Malformed)
        );
        // A character outside the alphabet, an empty field, a non-minimal number.
        assert_eq!(
            Stat::parse(b"A A A A A A A A A A A A A A A *"),
            Err(Error::BadNumber)
        );
        assert_eq!(
            Stat::parse(b"A A A A A A A A A A A A A A  A"),
            Err(Error::BadNumber)
        );
        assert_eq!(
            Stat::parse(b"A A A A A A A A A A A A A A A AC"),
            Err(Error::Malformed)
        );
        // Trailing byte after the last NUL, missing delta_seq digits, two spaces.
        let mut extra = HELLO.to_vec();
        extra.push(b'x');
        assert_eq!(AttrRecord::parse(&extra), Err(Error::Malformed));
        assert!(AttrRecord::parse(b"1 3 /a\0A A A A A A A A A A A A A A A A\0\0\0\0").is_err());
        assert!(AttrRecord::parse(b"1 3  /a\0A A A A A A A A A A A A A A A A\0\0\x000\0").is_ok());
        assert!(AttrRecord::parse(b"1  3 /a\0A A A A A A A A A A A A A A A A\0\0\x000\0").is_err());
        // A NUL inside a name cannot be emitted.
        let mut r = AttrRecord::parse(HELLO).unwrap();
        r.fname = b"a\0b";
        let mut buf = [0u8; 200];
        assert_eq!(r.emit(&mut buf), Err(Error::Malformed));
    }

    #[test]
    fn stat_short_packets_round_trip() {
        // DecodeStat() accepts 13 fields; we re-emit 13.
        let b = b"P4A DwZD IGk B A A A G BAA I BrAw5j BpVzWl BrAw5j";
        let s = Stat::parse(b).unwrap();
        assert_eq!(s.fields, 13);
        assert_eq!(s.link_fi, 0);
        assert_eq!(emit_vec(s.buffer_len(), |x| s.emit(x)), b);
        // Negative numbers (huge st_dev cast to int64).
        let b = b"-B DwZD IGk B A A A G BAA I BrAw5j BpVzWl BrAw5j A A C";
        let s = Stat::parse(b).unwrap();
        assert_eq!(s.dev, -1);
        assert_eq!(emit_vec(s.buffer_len(), |x| s.emit(x)), b);
    }

    #[test]
    fn test_digest() {
        // vectors/clear-backup-full conn 4 msg 19: SHA-256("hello\n"), raw binary.
        let raw = hex::decode("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
            .unwrap();
        let d = Digest::parse(StreamType::Sha256Digest, &raw).unwrap();
        assert_eq!(d.kind, DigestKind::Sha256);
        let mut out = [0u8; 86];
        let n = d.encode_catalog(&mut out).unwrap();
        // vectors/catalog-dump.txt, JobId 1 FileIndex 1.
        assert_eq!(&out[..n], b"WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM");
        assert_eq!(emit_vec(32, |b| d.emit(b)), raw);
        assert_eq!(
            Digest::parse(StreamType::Sha256Digest, &raw[..31]),
            Err(Error::Truncated)
        );
        assert_eq!(
            Digest::parse(StreamType::Md5Digest, &raw),
            Err(Error::Malformed)
        );
        assert_eq!(
            Digest::parse(StreamType::FileData, &raw),
            Err(Error::Unrecognized)
        );
    }

    #[test]
    fn file_type_codes() {
        for v in 0..40u32 {
            assert_eq!(FileType::from_u32(v).to_u32(), v);
        }
        assert_eq!(FileType::from_u32(1), FileType::LnkSaved);
        assert_eq!(FileType::from_u32(28), FileType::PluginConfigFilled);
        assert_eq!(FileType::from_u32(0x1_0003), FileType::Unknown(0x1_0003));
    }

    #[test]
    fn test_restore_object() {
        // Built after the Mmsg() format of EncodeAndSendAttributes() (no capture holds one).
        let b = b"7 25 1 5 5 0 /srv/x\0job_metadata.xml\0<a/>\0\0";
        let r = RestoreObject::parse(b).unwrap();
        assert_eq!(r.file_type, FileType::RestoreFirst);
        assert_eq!(r.object, b"<a/>\0");
        assert_eq!(r.object_len, 5);
        assert_eq!(r.object_name, b"job_metadata.xml");
        assert_eq!(emit_vec(r.buffer_len(), |x| r.emit(x)), b);
        assert_eq!(
            RestoreObject::parse(&b[..b.len() - 1]),
            Err(Error::Truncated)
        );
        let mut long = b.to_vec();
        long.push(0);
        assert_eq!(RestoreObject::parse(&long), Err(Error::Malformed));
        assert_eq!(
            RestoreObject::parse(b"7 25 1 99 5 0 /srv/x\0o\0abc\0"),
            Err(Error::Truncated)
        );
        let rec = Record::parse(StreamType::RestoreObject, b).unwrap();
        assert_eq!(rec, Record::RestoreObject(r));
    }

    #[test]
    fn test_record_dispatch() {
        assert!(matches!(
            Record::parse(StreamType::UnixAttributes, HELLO),
            Ok(Record::Attributes(_))
        ));
        assert_eq!(
            Record::parse(StreamType::FileData, b"hello\n"),
            Ok(Record::Data {
                kind: StreamType::FileData,
                data: b"hello\n"
            })
        );
        assert_eq!(
            Record::parse(StreamType::Sha256Digest, &[0; 31]),
            Err(Error::Truncated)
        );
        let s = Record::parse(StreamType::SparseData, &[0, 0, 0, 0, 0, 0, 1, 0, 9]).unwrap();
        let mut out = [0u8; 9];
        assert_eq!(s.emit(&mut out), Ok(9));
        assert_eq!(out, [0, 0, 0, 0, 0, 0, 1, 0, 9]);
    }

    fn arb_stat() -> impl proptest::strategy::Strategy<Value = Stat> {
        use proptest::prelude::*;
        (
            proptest::array::uniform16(any::<i64>()),
            STAT_MIN_FIELDS..=STAT_FIELDS,
        )
            .prop_map(|(v, n)| {
                let mut v = v;
                for x in v.iter_mut().skip(usize::from(n)) {
                    *x = 0;
                }
                Stat::from_values(v, n)
            })
    }

    proptest::proptest! {
        #[test]
        fn stat_round_trip(s in arb_stat()) {
            let b = emit_vec(s.buffer_len(), |x| s.emit(x));
            proptest::prop_assert!(b.len() <= STAT_MAX_LEN);
            proptest::prop_assert_eq!(Stat::parse(&b).unwrap(), s);
        }

        #[test]
        fn attr_round_trip(fi in proptest::num::i32::ANY, ft in proptest::num::u32::ANY,
                           fname in "[^\u{0}]{0,40}", link in "[^\u{0}]{0,20}",
                           ex in "[^\u{0}]{0,10}", delta in proptest::num::i32::ANY,
                           stat in arb_stat()) {
            let r = AttrRecord { file_index: fi, file_type: FileType::from_u32(ft),
                fname: fname.as_bytes(), stat, link: link.as_bytes(), attr_ex: ex.as_bytes(),
                delta_seq: delta };
            let b = emit_vec(r.buffer_len(), |x| r.emit(x));
            proptest::prop_assert_eq!(AttrRecord::parse(&b).unwrap(), r);
        }

        #[test]
        fn restore_object_round_trip(fi in proptest::num::i32::ANY, ft in 25u32..28,
                                     idx in proptest::num::i32::ANY, len in proptest::num::i32::ANY,
                                     comp in 0i32..2, fname in "[^\u{0}]{0,30}",
                                     oname in "[^\u{0}]{0,20}",
                                     obj in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let r = RestoreObject { file_index: fi, file_type: FileType::from_u32(ft),
                object_index: idx, object_len: len, compression: comp,
                fname: fname.as_bytes(), object_name: oname.as_bytes(), object: &obj };
            let b = emit_vec(r.buffer_len(), |x| r.emit(x));
            proptest::prop_assert_eq!(RestoreObject::parse(&b).unwrap(), r);
        }

        #[test]
        fn attr_parse_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = AttrRecord::parse(&data);
            let _ = RestoreObject::parse(&data);
        }
    }
}
