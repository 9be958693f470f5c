//! Stream ids, the FD → SD record header, the SD → FD `rechdr` line and the sparse-data
//! offset prefix.
//!
//! # What a stream is
//!
//! Every piece of a backed-up file travels as a *record*: a FileIndex (which file), a stream
//! word (what kind of bytes) and the bytes. The stream word (`core/src/include/streams.h`) packs
//! a type into its low 11 bits (`STREAMMASK_TYPE` = 0x7FF) and flag bits above it (1<<30
//! 64-bit, 1<<29 BITS, 1<<28 PLUGIN, 1<<27 DELTA, 1<<26 OFFSETS, 1<<25 PORTABLE_DATA).
//! Receivers mask with 0x7FF before they dispatch (the FD in `DoRestore()`, the SD in
//! `maskedStream`), but the full word is written to the volume and echoed back on restore, so
//! [`Stream`] keeps the raw signed word and exposes the type ([`StreamType`]) and flags
//! ([`StreamFlags`]) as views. A *negative* stream appears only on volumes, where a record
//! continued from the previous block carries the negated stream (`0xfffffffa` = -6,
//! `core/src/stored/record.cc`); [`Stream::is_continuation`] reports it and the type is taken
//! from the absolute value.
//!
//! # The two record headers on the wire
//!
//! - Backup, FD → SD (`core/src/filed/backup.cc`, read by `core/src/stored/append.cc`
//!   `DoAppendData()` with `%ld %ld`): `"<FileIndex> <Stream> 0"`, **no newline**; the third
//!   field is an ignored "info" number that the FD always sends as `0`. The data messages that
//!   follow, up to an EOD, belong to that header ([`DataHeader`]).
//! - Restore, SD → FD (`core/src/stored/read.cc` `RecordCb()`):
//!   `"rechdr <VolSessionId> <VolSessionTime> <FileIndex> <Stream> <len>"`, no newline, then
//!   exactly one message of `len` bytes ([`RecHdr`]). The session ids are those of the *backup*
//!   session that wrote the record.
//!
//! Both were checked byte for byte against `vectors/clear-backup-full` conn 4 (e.g. msg 12
//! `1 1 0`, msg 18 `1 17 0`) and `vectors/clear-restore` conn 4 (msg 12
//! `rechdr 1 1795362407 2 1 113`).
//!
//! # FileIndex
//!
//! FileIndex is a positive counter for files (1 = first file of the job). Zero and negative
//! values are *labels* on a volume (`core/src/stored/record.h`: -1 PRE_LABEL, -2 VOL_LABEL,
//! -3 EOM_LABEL, -4 SOS_LABEL, -5 EOS_LABEL, -6 EOT_LABEL, -7 SOB_LABEL, -8 EOB_LABEL); the SD never sends
//! them to the FD but [`Label`] names them for anyone decoding a volume.
//!
//! # Sparse data
//!
//! With the `s` fileset option every data message of stream 6 (SPARSE_DATA) starts with the
//! 8-byte big-endian file offset of its first byte ([`SparseChunk`], `vectors/clear-backup-
//! multiblock` conn 4: 262,144-byte messages = 8-byte offset + 262,136 data bytes).

use core::fmt;

use super::text::{Scanner, Writer};
use super::{Error, Result};

/// Mask of the type bits of a stream word (`STREAMMASK_TYPE`).
pub const STREAM_TYPE_MASK: u32 = 0x7ff;

macro_rules! stream_types {
    ($( $(#[$m:meta])* $name:ident = $v:expr, )*) => {
        /// The type part (low 11 bits) of a stream word (`core/src/include/streams.h`).
        ///
        /// ACL (1000–1020) and extended-attribute (1988–1999) streams are many platform
        /// variants of one idea; they keep their number in [`StreamType::Acl`] and
        /// [`StreamType::Xattr`]. Anything else not listed is [`StreamType::Unknown`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub enum StreamType {
            $( $(#[$m])* $name, )*
            /// An ACL stream, 1000..=1020 (1007 Linux default ACL, 1008 Linux access ACL,
            /// 1020 plugin ACL).
            Acl(u16),
            /// An extended-attribute stream, 1988..=1999 (1998 Linux, 1988 plugin).
            Xattr(u16),
            /// A type this codec does not know (value of the low 11 bits).
            Unknown(u16),
        }

        impl StreamType {
            /// Decode the low 11 bits of a stream word.
            pub const fn from_bits(v: u16) -> Self {
                match v {
                    $( $v => StreamType::$name, )*
                    1000..=1020 => StreamType::Acl(v),
                    1988..=1999 => StreamType::Xattr(v),
                    _ => StreamType::Unknown(v & STREAM_TYPE_MASK as u16),
                }
            }

            /// The numeric type (fits in 11 bits).
            pub const fn bits(self) -> u16 {
                match self {
                    $( StreamType::$name => $v, )*
                    StreamType::Acl(v) | StreamType::Xattr(v) | StreamType::Unknown(v) => {
                        v & STREAM_TYPE_MASK as u16
                    }
                }
            }
        }
    };
}

stream_types! {
    /// 0, no stream.
    None = 0,
    /// 1, the attribute record ([`super::attr`]).
    UnixAttributes = 1,
    /// 2, raw file bytes.
    FileData = 2,
    /// 3, 16-byte binary MD5.
    Md5Digest = 3,
    /// 4, legacy zlib data without compression header.
    GzipData = 4,
    /// 5, Win32 attributes (same record layout, attrEx filled).
    UnixAttributesEx = 5,
    /// 6, 8-byte big-endian offset + bytes ([`SparseChunk`]).
    SparseData = 6,
    /// 7, legacy sparse zlib data.
    SparseGzipData = 7,
    /// 8, ignored.
    ProgramNames = 8,
    /// 9, ignored.
    ProgramData = 9,
    /// 10, 20-byte binary SHA-1.
    Sha1Digest = 10,
    /// 11, Windows BackupRead stream.
    Win32Data = 11,
    /// 12, legacy.
    Win32GzipData = 12,
    /// 13, macOS resource fork.
    MacosForkData = 13,
    /// 14, 32-byte Finder info.
    HfsplusAttributes = 14,
    /// 15, deprecated.
    UnixAccessAcl = 15,
    /// 16, deprecated.
    UnixDefaultAcl = 16,
    /// 17, 32-byte binary SHA-256.
    Sha256Digest = 17,
    /// 18, 64-byte binary SHA-512.
    Sha512Digest = 18,
    /// 19, ASN.1 DER signature.
    SignedDigest = 19,
    /// 20.
    EncryptedFileData = 20,
    /// 21.
    EncryptedWin32Data = 21,
    /// 22, ASN.1 DER session key.
    EncryptedSessionData = 22,
    /// 23, legacy.
    EncryptedFileGzipData = 23,
    /// 24, legacy.
    EncryptedWin32GzipData = 24,
    /// 25.
    EncryptedMacosForkData = 25,
    /// 26, plugin start/stop marker.
    PluginName = 26,
    /// 27.
    PluginData = 27,
    /// 28, plugin restore object record.
    RestoreObject = 28,
    /// 29, 12-byte compression header + compressed bytes.
    CompressedData = 29,
    /// 30, offset + compression header + compressed bytes.
    SparseCompressedData = 30,
    /// 31.
    Win32CompressedData = 31,
    /// 32.
    EncryptedFileCompressedData = 32,
    /// 33.
    EncryptedWin32CompressedData = 33,
    /// 40, 16-byte XXH3-128, big-endian.
    Xxh128Digest = 40,
    /// 999.
    NdmpSeparator = 999,
}

impl StreamType {
    /// True for the streams whose record the SD forwards to the Director as `UpdCat`
    /// (`core/src/stored/askdir.cc`): attributes, restore objects and digests.
    pub const fn is_catalogued(self) -> bool {
        matches!(
            self,
            StreamType::UnixAttributes
                | StreamType::UnixAttributesEx
                | StreamType::RestoreObject
                | StreamType::Md5Digest
                | StreamType::Sha1Digest
                | StreamType::Sha256Digest
                | StreamType::Sha512Digest
                | StreamType::Xxh128Digest
        )
    }

    /// Length of the binary digest a digest stream carries, `None` for other streams.
    pub const fn digest_len(self) -> Option<usize> {
        match self {
            StreamType::Md5Digest | StreamType::Xxh128Digest => Some(16),
            StreamType::Sha1Digest => Some(20),
            StreamType::Sha256Digest => Some(32),
            StreamType::Sha512Digest => Some(64),
            _ => None,
        }
    }
}

/// The flag bits of a stream word (bits 11..31, of which Bareos defines six).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StreamFlags(pub u32);

impl StreamFlags {
    /// `STREAM_BIT_64`, 1<<30.
    pub const BIT_64: u32 = 1 << 30;
    /// `STREAM_BIT_BITS`, 1<<29.
    pub const BITS: u32 = 1 << 29;
    /// `STREAM_BIT_PLUGIN`, 1<<28.
    pub const PLUGIN: u32 = 1 << 28;
    /// `STREAM_BIT_DELTA`, 1<<27.
    pub const DELTA: u32 = 1 << 27;
    /// `STREAM_BIT_OFFSETS`, 1<<26.
    pub const OFFSETS: u32 = 1 << 26;
    /// `STREAM_BIT_PORTABLE_DATA`, 1<<25.
    pub const PORTABLE_DATA: u32 = 1 << 25;

    /// True if `bit` (one of the constants) is set.
    pub const fn contains(self, bit: u32) -> bool {
        self.0 & bit == bit
    }
}

/// A stream word exactly as sent (`%d`): type, flags, and the sign that marks a volume
/// continuation record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Stream(pub i32);

impl Stream {
    /// Attribute record stream.
    pub const UNIX_ATTRIBUTES: Stream = Stream(1);
    /// Plain file data stream.
    pub const FILE_DATA: Stream = Stream(2);

    /// Build a stream word from a type and flag bits (flags outside bits 11..30 are dropped).
    pub const fn new(kind: StreamType, flags: StreamFlags) -> Self {
        let flags = flags.0 & !STREAM_TYPE_MASK & 0x7fff_ffff;
        Stream((kind.bits() as u32 | flags) as i32)
    }

    /// The positive stream word (the absolute value for a continuation record).
    pub const fn word(self) -> u32 {
        self.0.unsigned_abs()
    }

    /// The type in the low 11 bits.
    pub const fn kind(self) -> StreamType {
        StreamType::from_bits((self.word() & STREAM_TYPE_MASK) as u16)
    }

    /// The flag bits above the type.
    pub const fn flags(self) -> StreamFlags {
        StreamFlags(self.word() & !STREAM_TYPE_MASK)
    }

    /// True for a negative stream: a record continued from the previous volume block.
    pub const fn is_continuation(self) -> bool {
        self.0 < 0
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Volume label kinds, the non-positive FileIndex values (`core/src/stored/record.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Label {
    /// -1, PRE_LABEL (volume not yet labelled by Bareos).
    PreLabel,
    /// -2, VOL_LABEL.
    VolLabel,
    /// -3, EOM_LABEL.
    EomLabel,
    /// -4, SOS_LABEL (start of session).
    SosLabel,
    /// -5, EOS_LABEL (end of session).
    EosLabel,
    /// -6, EOT_LABEL.
    EotLabel,
    /// -7, SOB_LABEL.
    SobLabel,
    /// -8, EOB_LABEL.
    EobLabel,
    /// Zero or another negative value.
    Unknown(i32),
}

impl Label {
    /// The label a non-positive FileIndex denotes, `None` for a file (FileIndex > 0).
    pub const fn from_file_index(fi: i32) -> Option<Self> {
        Some(match fi {
            1.. => return None,
            -1 => Label::PreLabel,
            -2 => Label::VolLabel,
            -3 => Label::EomLabel,
            -4 => Label::SosLabel,
            -5 => Label::EosLabel,
            -6 => Label::EotLabel,
            -7 => Label::SobLabel,
            -8 => Label::EobLabel,
            v => Label::Unknown(v),
        })
    }

    /// The FileIndex value of this label.
    pub const fn file_index(self) -> i32 {
        match self {
            Label::PreLabel => -1,
            Label::VolLabel => -2,
            Label::EomLabel => -3,
            Label::SosLabel => -4,
            Label::EosLabel => -5,
            Label::EotLabel => -6,
            Label::SobLabel => -7,
            Label::EobLabel => -8,
            Label::Unknown(v) => v,
        }
    }
}

/// Backup record header, FD → SD: `"<FileIndex> <Stream> <info>"`, no newline.
///
/// The SD reads it with `%ld %ld` and ignores the rest; the FD always sends `info` = 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DataHeader {
    /// FileIndex, > 0 for every header the SD accepts.
    pub file_index: i32,
    /// The stream of the data messages that follow.
    pub stream: Stream,
    /// The third number, always 0 from Bareos.
    pub info: i64,
}

impl DataHeader {
    /// A header as Bareos' FD sends it (`info` = 0).
    pub const fn new(file_index: i32, stream: Stream) -> Self {
        Self {
            file_index,
            stream,
            info: 0,
        }
    }

    /// Parse one header message. Exactly three decimal numbers separated by single spaces.
    pub fn parse(buf: &[u8]) -> Result<Self> {
        let mut s = Scanner::new(buf);
        let file_index = s.i32()?;
        s.lit(b" ")?;
        let stream = Stream(s.i32()?);
        s.lit(b" ")?;
        let info = s.i64()?;
        s.end(false)?;
        let h = Self {
            file_index,
            stream,
            info,
        };
        if h.buffer_len() != buf.len() {
            // Extra spaces, leading zeros or `+` signs: bsscanf would take them, Bareos never
            // sends them, and we could not re-emit them.
            return Err(Error::Malformed);
        }
        Ok(h)
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.i64(i64::from(self.file_index));
        w.byte(b' ');
        w.i64(i64::from(self.stream.0));
        w.byte(b' ');
        w.i64(self.info);
    }
}

/// Restore record header, SD → FD:
/// `"rechdr <VolSessionId> <VolSessionTime> <FileIndex> <Stream> <len>"`, no newline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RecHdr {
    /// VolSessionId of the backup session that wrote the record.
    pub vol_session_id: u32,
    /// VolSessionTime of that session (the SD's start time then).
    pub vol_session_time: u32,
    /// FileIndex (> 0; labels are never sent).
    pub file_index: i32,
    /// The full stream word.
    pub stream: Stream,
    /// Length of the next message, which holds the whole record.
    pub data_len: u32,
}

impl RecHdr {
    /// Parse one `rechdr` message.
    pub fn parse(buf: &[u8]) -> Result<Self> {
        let mut s = Scanner::new(buf);
        s.lit(b"rechdr")?;
        s.lit(b" ")?;
        let vol_session_id = s.u32()?;
        s.lit(b" ")?;
        let vol_session_time = s.u32()?;
        s.lit(b" ")?;
        let file_index = s.i32()?;
        s.lit(b" ")?;
        let stream = Stream(s.i32()?);
        s.lit(b" ")?;
        let data_len = s.u32()?;
        s.end(false)?;
        let h = Self {
            vol_session_id,
            vol_session_time,
            file_index,
            stream,
            data_len,
        };
        if h.buffer_len() != buf.len() {
            return Err(Error::Malformed);
        }
        Ok(h)
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.bytes(b"rechdr ");
        w.u64(u64::from(self.vol_session_id));
        w.byte(b' ');
        w.u64(u64::from(self.vol_session_time));
        w.byte(b' ');
        w.i64(i64::from(self.file_index));
        w.byte(b' ');
        w.i64(i64::from(self.stream.0));
        w.byte(b' ');
        w.u64(u64::from(self.data_len));
    }
}

/// Length of the sparse offset prefix.
pub const SPARSE_OFFSET_LEN: usize = 8;

/// One SPARSE_DATA (or OFFSETS-flagged) message: a big-endian file offset and the bytes that
/// start there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SparseChunk<'a> {
    /// File offset of `data[0]`.
    pub offset: u64,
    /// The bytes (possibly compressed, for stream 30).
    pub data: &'a [u8],
}

impl<'a> SparseChunk<'a> {
    /// Split a message into offset and data. Fewer than 8 bytes is [`Error::Truncated`].
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let (head, data) = buf
            .split_first_chunk::<SPARSE_OFFSET_LEN>()
            .ok_or(Error::Truncated)?;
        Ok(Self {
            offset: u64::from_be_bytes(*head),
            data,
        })
    }

    /// Write offset and data; returns the length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        w.bytes(&self.offset.to_be_bytes());
        w.bytes(self.data);
        w.finish()
    }

    /// Bytes [`SparseChunk::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        SPARSE_OFFSET_LEN + self.data.len()
    }
}

/// Length of the compression header of streams 29–33.
pub const COMPRESSION_HEADER_LEN: usize = 12;

/// The 12-byte compression header (`core/src/filed/backup.cc` `SendDataToSd()`): magic,
/// compressed length (without header), level, version, all big-endian, in that order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CompressionHeader {
    /// Algorithm magic (`GZIP` 0x475A4950, `LZOX` 0x4C5A4F58, `FZFZ`, `FZ4L`, `FZ4H`, `NONE`).
    pub magic: u32,
    /// Length of the compressed bytes after the header.
    pub size: u32,
    /// Compression level.
    pub level: u16,
    /// Header version, 1.
    pub version: u16,
}

impl CompressionHeader {
    /// Parse the first 12 bytes of `buf`; returns the header and the bytes after it.
    pub fn parse(buf: &[u8]) -> Result<(Self, &[u8])> {
        let (h, rest) = buf
            .split_first_chunk::<COMPRESSION_HEADER_LEN>()
            .ok_or(Error::Truncated)?;
        let [m0, m1, m2, m3, s0, s1, s2, s3, l0, l1, v0, v1] = *h;
        Ok((
            Self {
                magic: u32::from_be_bytes([m0, m1, m2, m3]),
                size: u32::from_be_bytes([s0, s1, s2, s3]),
                level: u16::from_be_bytes([l0, l1]),
                version: u16::from_be_bytes([v0, v1]),
            },
            rest,
        ))
    }

    /// Write the 12 bytes.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let mut w = Writer::new(buf);
        w.bytes(&self.magic.to_be_bytes());
        w.bytes(&self.size.to_be_bytes());
        w.bytes(&self.level.to_be_bytes());
        w.bytes(&self.version.to_be_bytes());
        w.finish()
    }

    /// Always 12.
    pub const fn buffer_len(&self) -> usize {
        COMPRESSION_HEADER_LEN
    }
}

/// What one message of the backup data phase (FD → SD) was, as [`AppendTracker`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AppendEvent<'a> {
    /// A record header: the data messages that follow belong to it.
    Header(DataHeader),
    /// One data message = one volume record of the current header's file and stream.
    Data {
        /// The header in force.
        header: DataHeader,
        /// The record bytes.
        data: &'a [u8],
    },
    /// EOD after a header and its data: the stream is complete.
    EndOfStream,
    /// EOD where a header was expected: the whole data phase is over.
    EndOfData,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum AppendState {
    ExpectHeader,
    InStream(DataHeader),
    Done,
}

/// Sans-IO tracker of the FD → SD data phase (between `3000 OK data⏎` and
/// `3000 OK append data⏎`) with the SD's rules from `core/src/stored/append.cc`
/// `DoAppendData()`: each stream is a header message, data messages and an EOD; an EOD where a
/// header is expected ends the phase; FileIndex must be > 0 and equal to the previous one or
/// one more, starting at 1 (any positive start when the job is `rerunning`). A violation is
/// [`Error::Malformed`] (fatal for the SD), as is anything after the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AppendTracker {
    state: AppendState,
    last_file_index: i32,
    rerunning: bool,
}

impl AppendTracker {
    /// A tracker for a fresh data phase.
    pub const fn new(rerunning: bool) -> Self {
        Self {
            state: AppendState::ExpectHeader,
            last_file_index: 0,
            rerunning,
        }
    }

    /// Feed one data message (not a signal).
    pub fn on_message<'a>(&mut self, payload: &'a [u8]) -> Result<AppendEvent<'a>> {
        match self.state {
            AppendState::ExpectHeader => {
                let h = DataHeader::parse(payload)?;
                let fi = h.file_index;
                let first_rerun = self.rerunning && self.last_file_index == 0 && fi > 0;
                let sequential = fi > 0
                    && (fi == self.last_file_index
                        || Some(fi) == self.last_file_index.checked_add(1));
                if !(first_rerun || sequential) {
                    warn!(
                        "FileIndex {} not sequential after {}",
                        fi, self.last_file_index
                    );
                    return Err(Error::Malformed);
                }
                self.last_file_index = fi;
                self.state = AppendState::InStream(h);
                Ok(AppendEvent::Header(h))
            }
            AppendState::InStream(header) => Ok(AppendEvent::Data {
                header,
                data: payload,
            }),
            AppendState::Done => Err(Error::Malformed),
        }
    }

    /// Feed an EOD signal.
    pub fn on_eod(&mut self) -> Result<AppendEvent<'static>> {
        match self.state {
            AppendState::ExpectHeader => {
                self.state = AppendState::Done;
                Ok(AppendEvent::EndOfData)
            }
            AppendState::InStream(_) => {
                self.state = AppendState::ExpectHeader;
                Ok(AppendEvent::EndOfStream)
            }
            AppendState::Done => Err(Error::Malformed),
        }
    }

    /// The FileIndex of the last header (0 before the first): the job's file count so far.
    pub const fn last_file_index(&self) -> i32 {
        self.last_file_index
    }

    /// True once the final EOD arrived.
    pub const fn is_done(&self) -> bool {
        matches!(self.state, AppendState::Done)
    }

    /// The header in force while its data messages come (between a header and its EOD):
    /// the next data message is a record of it.
    pub const fn in_stream(&self) -> Option<DataHeader> {
        match self.state {
            AppendState::InStream(h) => Some(h),
            _ => None,
        }
    }
}

/// What one message of the restore record stream (SD → FD, after `3000 OK data⏎` of a read
/// session) was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RestoreEvent<'a> {
    /// A `rechdr` line; the next message is its record.
    Header(RecHdr),
    /// The record announced by the header.
    Record {
        /// The header.
        header: RecHdr,
        /// Exactly `header.data_len` bytes.
        data: &'a [u8],
    },
    /// The EOD after the last record.
    End,
}

/// Sans-IO tracker of the restore record stream with the FD's checks from
/// `core/src/filed/restore.cc` `DoRestore()`: `rechdr` and record alternate with no EOD between
/// records; a record whose length differs from the header's is fatal ([`Error::Malformed`]);
/// an EOD in place of a record is [`Error::Truncated`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RestoreTracker {
    pending: Option<RecHdr>,
    done: bool,
}

impl RestoreTracker {
    /// A tracker for a fresh read session.
    pub const fn new() -> Self {
        Self {
            pending: None,
            done: false,
        }
    }

    /// Feed one data message.
    pub fn on_message<'a>(&mut self, payload: &'a [u8]) -> Result<RestoreEvent<'a>> {
        if self.done {
            return Err(Error::Malformed);
        }
        match self.pending.take() {
            None => {
                let h = RecHdr::parse(payload)?;
                self.pending = Some(h);
                Ok(RestoreEvent::Header(h))
            }
            Some(header) => {
                if usize::try_from(header.data_len).ok() != Some(payload.len()) {
                    return Err(Error::Malformed);
                }
                Ok(RestoreEvent::Record {
                    header,
                    data: payload,
                })
            }
        }
    }

    /// Feed an EOD signal.
    pub fn on_eod(&mut self) -> Result<RestoreEvent<'static>> {
        if self.done || self.pending.is_some() {
            return Err(if self.done {
                Error::Malformed
            } else {
                Error::Truncated
            });
        }
        self.done = true;
        Ok(RestoreEvent::End)
    }

    /// True once the final EOD arrived.
    pub const fn is_done(&self) -> bool {
        self.done
    }
}

codec_impl!(DataHeader, infallible);
codec_impl!(RecHdr, infallible);

#[cfg(test)]
mod tests {
    use super::*;

    use crate::wire::test_util::emit_vec;

    #[test]
    fn append_tracker_follows_sd_rules() {
        // vectors/clear-backup-full conn 4 msgs 12-19 then the final EODs (msgs 47-48).
        let mut t = AppendTracker::new(false);
        assert_eq!(
            t.on_message(b"1 1 0"),
            Ok(AppendEvent::Header(DataHeader::new(1, Stream(1))))
        );
        assert!(matches!(
            t.on_message(b"1 3 /x\0"),
            Ok(AppendEvent::Data { .. })
        ));
        assert_eq!(t.on_eod(), Ok(AppendEvent::EndOfStream));
        assert_eq!(t.in_stream(), None);
        assert!(t.on_message(b"1 2 0").is_ok());
        assert_eq!(t.in_stream(), Some(DataHeader::new(1, Stream(2))));
        assert!(t.on_message(b"hello\n").is_ok());
        assert_eq!(t.in_stream(), Some(DataHeader::new(1, Stream(2))));
        assert_eq!(t.on_eod(), Ok(AppendEvent::EndOfStream));
        assert_eq!(t.in_stream(), None);
        assert!(t.on_message(b"2 1 0").is_ok());
        assert_eq!(t.on_eod(), Ok(AppendEvent::EndOfStream));
        assert_eq!(t.last_file_index(), 2);
        // Skipping a FileIndex, going back, zero: fatal.
        let mut bad = t;
        assert_eq!(bad.on_message(b"4 1 0"), Err(Error::Malformed));
        let mut bad = t;
        assert_eq!(bad.on_message(b"1 1 0"), Err(Error::Malformed));
        let mut bad = t;
        assert_eq!(bad.on_message(b"0 1 0"), Err(Error::Malformed));
        assert_eq!(t.on_eod(), Ok(AppendEvent::EndOfData));
        assert!(t.is_done());
        assert_eq!(t.on_eod(), Err(Error::Malformed));
        assert_eq!(t.on_message(b"3 1 0"), Err(Error::Malformed));
        // The first FileIndex must be 1 unless the job is rerunning.
        assert_eq!(
            AppendTracker::new(false).on_message(b"5 1 0"),
            Err(Error::Malformed)
        );
        assert!(AppendTracker::new(true).on_message(b"5 1 0").is_ok());
    }

    #[test]
    fn restore_tracker_checks_lengths() {
        // vectors/clear-restore conn 4 msgs 20-21 and 42.
        let mut t = RestoreTracker::new();
        assert!(matches!(
            t.on_message(b"rechdr 1 1795362407 3 2 44"),
            Ok(RestoreEvent::Header(_))
        ));
        assert_eq!(t.on_eod(), Err(Error::Truncated));
        let rec = b"Bareos wire capture test file.\nSecond line.\n";
        assert!(matches!(t.on_message(rec), Ok(RestoreEvent::Record { .. })));
        t.on_message(b"rechdr 1 1795362407 3 2 44").unwrap();
        assert_eq!(t.on_message(&rec[..43]), Err(Error::Malformed));
        let mut t = RestoreTracker::new();
        assert_eq!(t.on_eod(), Ok(RestoreEvent::End));
        assert!(t.is_done());
        assert_eq!(t.on_message(b"rechdr 1 1 1 1 1"), Err(Error::Malformed));
    }

    #[test]
    fn test_parse_data_header() {
        // vectors/clear-backup-full conn 4 msgs 12, 18, 45 ("1 1 0", "1 17 0", "6 1 0").
        for (bytes, fi, st, kind) in [
            (&b"1 1 0"[..], 1, 1, StreamType::UnixAttributes),
            (b"1 17 0", 1, 17, StreamType::Sha256Digest),
            (b"6 1 0", 6, 1, StreamType::UnixAttributes),
            // vectors/clear-backup-multiblock conn 4 msg 58: sparse data.
            (b"7 6 0", 7, 6, StreamType::SparseData),
        ] {
            let h = DataHeader::parse(bytes).unwrap();
            assert_eq!(h, DataHeader::new(fi, Stream(st)));
            assert_eq!(h.stream.kind(), kind);
            assert_eq!(h.buffer_len(), bytes.len());
            assert_eq!(emit_vec(h.buffer_len(), |b| h.emit(b)), bytes);
        }
    }

    #[test]
    fn test_parse_rechdr() {
        // vectors/clear-restore conn 4 msg 12 and clear-restore-multiblock conn 4 msg 24.
        let h = RecHdr::parse(b"rechdr 1 1795362407 2 1 113").unwrap();
        assert_eq!(
            h,
            RecHdr {
                vol_session_id: 1,
                vol_session_time: 1_795_362_407,
                file_index: 2,
                stream: Stream(1),
                data_len: 113
            }
        );
        let b = b"rechdr 1 1795365821 3 6 262144";
        let h = RecHdr::parse(b).unwrap();
        assert_eq!(h.stream.kind(), StreamType::SparseData);
        assert_eq!(h.data_len, 262_144);
        assert_eq!(emit_vec(h.buffer_len(), |x| h.emit(x)), b);
    }

    #[test]
    fn test_truncated_and_impossible() {
        assert_eq!(DataHeader::parse(b"1 1"), Err(Error::Truncated));
        assert_eq!(DataHeader::parse(b""), Err(Error::Truncated));
        assert!(DataHeader::parse(b"1 1 0\n").is_err());
        assert!(DataHeader::parse(b"1  1 0").is_err());
        assert!(DataHeader::parse(b"01 1 0").is_err());
        assert_eq!(DataHeader::parse(b"99999999999 1 0"), Err(Error::BadNumber));
        assert_eq!(RecHdr::parse(b"rechdr 1 2 3 4"), Err(Error::Truncated));
        assert_eq!(RecHdr::parse(b"rechdr 1 2 3 4 -5"), Err(Error::BadNumber));
        assert_eq!(RecHdr::parse(b"rechdx 1 2 3 4 5"), Err(Error::Malformed));
        assert_eq!(SparseChunk::parse(&[0; 7]), Err(Error::Truncated));
        assert_eq!(
            CompressionHeader::parse(&[0; 11]).map(|x| x.0),
            Err(Error::Truncated)
        );
        let mut small = [0u8; 4];
        assert_eq!(
            DataHeader::new(10, Stream(17)).emit(&mut small),
            Err(Error::BufferTooSmall)
        );
    }

    #[test]
    fn stream_word_views() {
        let s = Stream::new(
            StreamType::SparseData,
            StreamFlags(StreamFlags::OFFSETS | StreamFlags::BIT_64),
        );
        assert_eq!(s.kind(), StreamType::SparseData);
        assert!(s.flags().contains(StreamFlags::OFFSETS));
        assert!(!s.flags().contains(StreamFlags::PLUGIN));
        assert_eq!(s.word(), 6 | (1 << 26) | (1 << 30));
        // Volume continuation record: 0xfffffffa (volume-multiblock notes).
        let c = Stream(0xffff_fffa_u32 as i32);
        assert!(c.is_continuation());
        assert_eq!(c.kind(), StreamType::SparseData);
        assert_eq!(StreamType::from_bits(1008), StreamType::Acl(1008));
        assert_eq!(StreamType::from_bits(1998), StreamType::Xattr(1998));
        assert_eq!(StreamType::from_bits(41), StreamType::Unknown(41));
        assert_eq!(StreamType::Sha512Digest.digest_len(), Some(64));
        assert_eq!(Label::from_file_index(-4), Some(Label::SosLabel));
        assert_eq!(Label::from_file_index(3), None);
    }

    #[test]
    fn sparse_chunk() {
        // vectors/clear-backup-multiblock conn 4: a 262,144-byte SPARSE_DATA message whose
        // first 8 bytes are the offset; this one is a synthetic copy of that layout.
        let mut msg = std::vec![0u8; 8];
        msg[..8].copy_from_slice(&0x3_ffc0u64.to_be_bytes());
        msg.extend_from_slice(b"abc");
        let c = SparseChunk::parse(&msg).unwrap();
        assert_eq!(c.offset, 0x3_ffc0);
        assert_eq!(c.data, b"abc");
        assert_eq!(emit_vec(c.buffer_len(), |b| c.emit(b)), msg);
    }

    proptest::proptest! {
        #[test]
        fn data_header_round_trip(fi in proptest::num::i32::ANY, st in proptest::num::i32::ANY,
                                  info in proptest::num::i64::ANY) {
            let h = DataHeader { file_index: fi, stream: Stream(st), info };
            let b = emit_vec(h.buffer_len(), |x| h.emit(x));
            proptest::prop_assert_eq!(DataHeader::parse(&b).unwrap(), h);
        }

        #[test]
        fn rechdr_round_trip(a in proptest::num::u32::ANY, b in proptest::num::u32::ANY,
                             fi in proptest::num::i32::ANY, st in proptest::num::i32::ANY,
                             len in proptest::num::u32::ANY) {
            let h = RecHdr { vol_session_id: a, vol_session_time: b, file_index: fi,
                             stream: Stream(st), data_len: len };
            let v = emit_vec(h.buffer_len(), |x| h.emit(x));
            proptest::prop_assert_eq!(RecHdr::parse(&v).unwrap(), h);
        }

        #[test]
        fn stream_type_bits_round_trip(v in 0u16..0x800) {
            proptest::prop_assert_eq!(StreamType::from_bits(v).bits(), v);
        }

        #[test]
        fn compression_header_round_trip(m in proptest::num::u32::ANY, s in proptest::num::u32::ANY,
                                         l in proptest::num::u16::ANY, v in proptest::num::u16::ANY) {
            let h = CompressionHeader { magic: m, size: s, level: l, version: v };
            let b = emit_vec(12, |x| h.emit(x));
            proptest::prop_assert_eq!(CompressionHeader::parse(&b).unwrap().0, h);
        }
    }
}
