//! The Director ↔ Storage Daemon control channel.
//!
//! # The conversation
//!
//! After hello and CRAM-MD5 ([`super::hello`], [`super::cram_md5`]) the SD greets with
//! `3000 OK Hello⏎` and the Director drives a job (`core/src/dird/msgchan.cc`
//! `StartStorageDaemonJob()`, answered by `core/src/stored/dir_cmd.cc` and `job.cc`):
//!
//! ```text
//! Dir: JobId=1 job=… job_name=… … BackupFormat=Native⏎     SD: 3000 OK Job SDid=1 SDtime=… Authorization=…⏎
//! Dir: getSecureEraseCmd⏎                                  SD: 2000 OK SDSecureEraseCmd *None* ⏎
//! Dir: use storage=File media_type=File … stripe=0⏎
//! Dir: use device=FileStorage⏎, EOD, EOD                   SD: 3000 OK use device device=JustInTime\x01Device⏎
//! [restore] Dir: bootstrap⏎, one bsr line per message, EOD SD: 3000 OK bootstrap⏎
//! [passive] Dir: passive client address=… port=… ssl=0⏎    SD: 2000 OK passive client⏎
//! Dir: run                                                 SD: Status Job=… JobStatus=70⏎, 3010 Job … start⏎, …
//! ```
//!
//! While the job runs the SD talks and the Director answers only catalog requests: `Jmsg`
//! job messages ([`super::jmsg`], shared with the FD), `Status Job=… JobStatus=N⏎` (the
//! status letter's decimal value, [`super::codes::JobStatus`]), `CatReq Job=… FindMedia/
//! GetVolInfo/UpdateMedia/CreateJobMedia/DeleteNullJobmediaRecords …` (answered with
//! `1000 OK VolName=…` media records or `1000 OK …`), and `UpdCat Job=… FileAttributes ` + a
//! 20-byte binary header + one attribute or digest record as the FD sent it. The job ends with
//! `3099 Job … end JobStatus=… JobFiles=… JobBytes=… JobErrors=…⏎` and EOD, TERMINATE, EOD,
//! TERMINATE (`vectors/clear-backup-full` conn 2 msgs 9–67, `vectors/clear-restore` conn 2).
//! Separate short connections carry `cancel Job=…⏎` (`vectors/clear-cancel` conns 7, 8),
//! `status «device»⏎` and `.status header⏎` (`vectors/clear-status-client-storage` conn 3,
//! `vectors/clear-dot-status` conn 4), whose replies are [`super::status::StatusFrame`]s up to EOD.
//!
//! # Codec
//!
//! [`DirToSd`] and [`SdToDir`] are one enum per direction; every variant emits the exact bytes
//! of the captures (the fixture test `tools/dissect/tests/fixtures.rs` parses and re-emits every
//! Director ↔ SD message of every cleartext capture). Lines are `bsscanf`-shaped `key=value`
//! lists; parsing is strict (a message is accepted only if re-emitting it gives the same bytes)
//! because a Barque SD or Director must produce exactly these strings. Names in these lines
//! are *bashed* by the sender (spaces replaced by 0x01, `core/src/lib/bsys.cc` `BashSpaces()`),
//! so each is a single word; this codec hands them out as bytes without unbashing
//! (`JustInTime\x01Device`).
//!
//! Messages that only make sense in context are not guessed from their bytes: the bootstrap
//! lines after `bootstrap⏎` are [`super::bsr::BsrLine`]s, and the status text after `status`
//! is [`super::status::StatusFrame`]; the caller knows which state it is in. A line this codec does not
//! recognise is `Unknown(bytes)`.

use super::codes::{JobLevel, JobStatus, JobType};
use super::jmsg::Jmsg;
use super::stream::Stream;
use super::text::{Scanner, Writer};
use super::{Error, Result};

/// One field of a `key=value` line: how it is scanned and written.
trait Field<'a>: Sized {
    fn scan(s: &mut Scanner<'a>) -> Result<Self>;
    fn put(&self, w: &mut Writer<'_>);
}

impl<'a> Field<'a> for u32 {
    fn scan(s: &mut Scanner<'a>) -> Result<Self> {
        s.u32()
    }
    fn put(&self, w: &mut Writer<'_>) {
        w.u64(u64::from(*self));
    }
}

impl<'a> Field<'a> for u64 {
    fn scan(s: &mut Scanner<'a>) -> Result<Self> {
        s.u64()
    }
    fn put(&self, w: &mut Writer<'_>) {
        w.u64(*self);
    }
}

impl<'a> Field<'a> for i32 {
    fn scan(s: &mut Scanner<'a>) -> Result<Self> {
        s.i32()
    }
    fn put(&self, w: &mut Writer<'_>) {
        w.i64(i64::from(*self));
    }
}

impl<'a> Field<'a> for i64 {
    fn scan(s: &mut Scanner<'a>) -> Result<Self> {
        s.i64()
    }
    fn put(&self, w: &mut Writer<'_>) {
        w.i64(*self);
    }
}

/// A character code sent as its decimal value (`JobStatus=70`, `type=66`, `level=32`).
macro_rules! char_code_field {
    ($($ty:ty),*) => {$(
        impl<'a> Field<'a> for $ty {
            fn scan(s: &mut Scanner<'a>) -> Result<Self> {
                u8::try_from(s.u32()?)
                    .map(<$ty>::from_u8)
                    .map_err(|_| Error::BadNumber)
            }
            fn put(&self, w: &mut Writer<'_>) {
                w.u64(u64::from(self.to_u8()));
            }
        }
        impl CheckField for $ty {
            fn check(&self) -> Result<()> {
                Ok(())
            }
        }
    )*};
}
char_code_field!(JobStatus, JobType, JobLevel);

/// A `%s` word (possibly empty, e.g. `EncryptionKey=` or `unwanted_volumes=`).
impl<'a> Field<'a> for &'a [u8] {
    fn scan(s: &mut Scanner<'a>) -> Result<Self> {
        Ok(s.word())
    }
    fn put(&self, w: &mut Writer<'_>) {
        w.bytes(self);
    }
}

/// Require that exactly `tail` is left.
fn exact_tail(s: &Scanner<'_>, tail: &[u8]) -> Result<()> {
    let rest = s.rest();
    if rest == tail {
        Ok(())
    } else if tail.starts_with(rest) {
        Err(Error::Truncated)
    } else {
        Err(Error::Malformed)
    }
}

/// Words must not contain whitespace, or the line could not be parsed back.
fn check_word(w: &[u8]) -> Result<()> {
    if w.iter().any(|&b| super::text::is_space(b)) {
        Err(Error::Malformed)
    } else {
        Ok(())
    }
}

macro_rules! kv_line {
    (
        $(#[$m:meta])*
        $name:ident, tail = $tail:literal,
        { $( $(#[$fm:meta])* $lit:literal $field:ident : $ty:ty ),* $(,)? }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub struct $name<'a> {
            $( $(#[$fm])* pub $field: $ty, )*
        }

        impl<'a> $name<'a> {
            /// Parse the whole message.
            pub fn parse(buf: &'a [u8]) -> Result<Self> {
                let mut s = Scanner::new(buf);
                $(
                    s.lit($lit)?;
                    let $field = <$ty as Field<'a>>::scan(&mut s)?;
                )*
                exact_tail(&s, $tail)?;
                let v = Self { $( $field, )* };
                if v.buffer_len() != buf.len() {
                    // Extra blanks, leading zeros or signs: never sent by Bareos.
                    return Err(Error::Malformed);
                }
                Ok(v)
            }

            fn write(&self, w: &mut Writer<'_>) -> Result<()> {
                $(
                    w.bytes($lit);
                    Field::put(&self.$field, w);
                )*
                w.bytes($tail);
                self.check()
            }

            #[allow(unused_variables)]
            fn check(&self) -> Result<()> {
                $( check_field(&self.$field)?; )*
                Ok(())
            }
        }

        codec_impl!($name<'_>);
    };
}

/// Field validation for emit: words must be single words.
trait CheckField {
    fn check(&self) -> Result<()>;
}
impl CheckField for u32 {
    fn check(&self) -> Result<()> {
        Ok(())
    }
}
impl CheckField for u64 {
    fn check(&self) -> Result<()> {
        Ok(())
    }
}
impl CheckField for i32 {
    fn check(&self) -> Result<()> {
        Ok(())
    }
}
impl CheckField for i64 {
    fn check(&self) -> Result<()> {
        Ok(())
    }
}
impl CheckField for &[u8] {
    fn check(&self) -> Result<()> {
        check_word(self)
    }
}
fn check_field<T: CheckField>(v: &T) -> Result<()> {
    v.check()
}

kv_line! {
    /// Director → SD `JobId=…`: the 19 fields `core/src/stored/job.cc` `job_cmd()` scans
    /// (`vectors/clear-backup-full` conn 2 msg 9).
    JobCmd, tail = b"\n", {
        /// JobId.
        b"JobId=" job_id: u32,
        /// Unique job name (`CapBackup.2026-11-22_15.46.52_03`).
        b" job=" job: &'a [u8],
        /// Job resource name.
        b" job_name=" job_name: &'a [u8],
        /// Client name (bashed).
        b" client_name=" client_name: &'a [u8],
        /// Job type, sent as the character's decimal value (66 `B`, 82 `R`).
        b" type=" job_type: JobType,
        /// Job level, sent as the character's decimal value (70 `F`, 73 `I`, 32 for
        /// restores).
        b" level=" level: JobLevel,
        /// FileSet name (bashed), `**None**` if none.
        b" FileSet=" file_set: &'a [u8],
        /// 1 if the pool does not catalogue files.
        b" NoAttr=" no_attr: i32,
        /// Attribute spooling.
        b" SpoolAttr=" spool_attr: i32,
        /// FileSet MD5 in Bareos' base64, or `**Dummy**`.
        b" FileSetMD5=" file_set_md5: &'a [u8],
        /// Data spooling.
        b" SpoolData=" spool_data: i32,
        /// Prefer mounted volumes.
        b" PreferMountedVols=" prefer_mounted_vols: i32,
        /// Spool size in bytes.
        b" SpoolSize=" spool_size: u64,
        /// 1 for a rescheduled job reusing its session.
        b" rerunning=" rerunning: i32,
        /// Session id to reuse, 0 normally.
        b" VolSessionId=" vol_session_id: u32,
        /// Session time to reuse, 0 normally.
        b" VolSessionTime=" vol_session_time: u32,
        /// Remaining quota in bytes, 0 = none.
        b" Quota=" quota: u64,
        /// 0 native, 1 NDMP_BAREOS, 2 NDMP_NATIVE.
        b" Protocol=" protocol: i32,
        /// `Native` (bashed).
        b" BackupFormat=" backup_format: &'a [u8],
    }
}

kv_line! {
    /// SD → Director reply to `JobId=`: the session and its key.
    JobReply, tail = b"\n", {
        /// VolSessionId.
        b"3000 OK Job SDid=" sd_id: u32,
        /// VolSessionTime (SD start time).
        b" SDtime=" sd_time: u32,
        /// Session key, 8 groups of 4 letters A–P.
        b" Authorization=" authorization: &'a [u8],
    }
}

kv_line! {
    /// Director → SD `use storage=…` (followed by `use device=` lines and EOD).
    UseStorage, tail = b"\n", {
        /// Storage name.
        b"use storage=" storage: &'a [u8],
        /// Media type.
        b" media_type=" media_type: &'a [u8],
        /// Pool name.
        b" pool_name=" pool_name: &'a [u8],
        /// Pool type (`Backup`).
        b" pool_type=" pool_type: &'a [u8],
        /// 1 for writing, 0 for reading.
        b" append=" append: i32,
        /// Always 0.
        b" copy=" copy: i32,
        /// Always 0.
        b" stripe=" stripe: i32,
    }
}

kv_line! {
    /// Director → SD `passive client address=… port=… ssl=…`: the SD dials the FD.
    PassiveClient, tail = b"\n", {
        /// FD address.
        b"passive client address=" address: &'a [u8],
        /// FD port.
        b" port=" port: u32,
        /// TLS policy (connect.md).
        b" ssl=" ssl: u32,
    }
}

kv_line! {
    /// Director → SD media record (`OK_media`, 24 fields): the reply to FindMedia, GetVolInfo
    /// and UpdateMedia.
    MediaInfo, tail = b"\n", {
        /// Volume name.
        b"1000 OK VolName=" vol_name: &'a [u8],
        /// VolJobs.
        b" VolJobs=" vol_jobs: u32,
        /// VolFiles.
        b" VolFiles=" vol_files: u32,
        /// VolBlocks.
        b" VolBlocks=" vol_blocks: u32,
        /// VolBytes.
        b" VolBytes=" vol_bytes: u64,
        /// VolMounts.
        b" VolMounts=" vol_mounts: u32,
        /// VolErrors.
        b" VolErrors=" vol_errors: u32,
        /// VolWrites.
        b" VolWrites=" vol_writes: u32,
        /// MaxVolBytes.
        b" MaxVolBytes=" max_vol_bytes: u64,
        /// VolCapacityBytes.
        b" VolCapacityBytes=" vol_capacity_bytes: u64,
        /// VolStatus (`Append`, `Used`, `Unlabeled`, …).
        b" VolStatus=" vol_status: &'a [u8],
        /// Slot.
        b" Slot=" slot: i32,
        /// MaxVolJobs.
        b" MaxVolJobs=" max_vol_jobs: u32,
        /// MaxVolFiles.
        b" MaxVolFiles=" max_vol_files: u32,
        /// InChanger.
        b" InChanger=" in_changer: i32,
        /// VolReadTime.
        b" VolReadTime=" vol_read_time: u64,
        /// VolWriteTime.
        b" VolWriteTime=" vol_write_time: u64,
        /// EndFile.
        b" EndFile=" end_file: u32,
        /// EndBlock.
        b" EndBlock=" end_block: u32,
        /// LabelType.
        b" LabelType=" label_type: i32,
        /// MediaId.
        b" MediaId=" media_id: u64,
        /// EncryptionKey, usually empty.
        b" EncryptionKey=" encryption_key: &'a [u8],
        /// MinBlocksize.
        b" MinBlocksize=" min_blocksize: u32,
        /// MaxBlocksize.
        b" MaxBlocksize=" max_blocksize: u32,
    }
}

kv_line! {
    /// SD → Director `CatReq … FindMedia=`: find or create an appendable volume.
    FindMedia, tail = b"\n", {
        /// Job.
        b"CatReq Job=" job: &'a [u8],
        /// Attempt number, 1, 2, ….
        b" FindMedia=" index: i32,
        /// Pool.
        b" pool_name=" pool_name: &'a [u8],
        /// Media type.
        b" media_type=" media_type: &'a [u8],
        /// Comma list of rejected volumes, empty at first.
        b" unwanted_volumes=" unwanted_volumes: &'a [u8],
    }
}

kv_line! {
    /// SD → Director `CatReq … GetVolInfo`.
    GetVolInfo, tail = b"\n", {
        /// Job.
        b"CatReq Job=" job: &'a [u8],
        /// Volume.
        b" GetVolInfo VolName=" vol_name: &'a [u8],
        /// 1 for append, 0 for read.
        b" write=" write: i32,
    }
}

kv_line! {
    /// SD → Director `CatReq … UpdateMedia` (17 fields).
    UpdateMedia, tail = b"\n", {
        /// Job.
        b"CatReq Job=" job: &'a [u8],
        /// Volume.
        b" UpdateMedia VolName=" vol_name: &'a [u8],
        /// VolJobs.
        b" VolJobs=" vol_jobs: u32,
        /// VolFiles.
        b" VolFiles=" vol_files: u32,
        /// VolBlocks.
        b" VolBlocks=" vol_blocks: u32,
        /// VolBytes.
        b" VolBytes=" vol_bytes: u64,
        /// VolMounts.
        b" VolMounts=" vol_mounts: u32,
        /// VolErrors.
        b" VolErrors=" vol_errors: u32,
        /// VolWrites.
        b" VolWrites=" vol_writes: u32,
        /// MaxVolBytes.
        b" MaxVolBytes=" max_vol_bytes: u64,
        /// LastWritten, unix time.
        b" EndTime=" end_time: i64,
        /// VolStatus.
        b" VolStatus=" vol_status: &'a [u8],
        /// Slot.
        b" Slot=" slot: i32,
        /// 1 after (re)labelling.
        b" relabel=" relabel: i32,
        /// InChanger.
        b" InChanger=" in_changer: i32,
        /// VolReadTime.
        b" VolReadTime=" vol_read_time: u64,
        /// VolWriteTime.
        b" VolWriteTime=" vol_write_time: u64,
        /// VolFirstWritten.
        b" VolFirstWritten=" vol_first_written: i64,
    }
}

kv_line! {
    /// SD → Director `CatReq … CreateJobMedia`.
    CreateJobMedia, tail = b"\n", {
        /// Job.
        b"CatReq Job=" job: &'a [u8],
        /// First FileIndex (0 in the placeholder).
        b" CreateJobMedia FirstIndex=" first_index: u32,
        /// Last FileIndex.
        b" LastIndex=" last_index: u32,
        /// High 32 bits of the start address.
        b" StartFile=" start_file: u32,
        /// High 32 bits of the end address.
        b" EndFile=" end_file: u32,
        /// Low 32 bits of the start address.
        b" StartBlock=" start_block: u32,
        /// Low 32 bits of the end address.
        b" EndBlock=" end_block: u32,
        /// Copy, 0.
        b" Copy=" copy: i32,
        /// Stripe, 0.
        b" Strip=" strip: i32,
        /// MediaId.
        b" MediaId=" media_id: u64,
    }
}

kv_line! {
    /// SD → Director `CatReq … DeleteNullJobmediaRecords jobid=N`, **no newline**.
    DeleteNullJobmedia, tail = b"", {
        /// Job.
        b"CatReq Job=" job: &'a [u8],
        /// JobId.
        b" DeleteNullJobmediaRecords jobid=" job_id: u32,
    }
}

kv_line! {
    /// SD → Director `Status Job=… JobStatus=N`.
    JobStatusMsg, tail = b"\n", {
        /// Job.
        b"Status Job=" job: &'a [u8],
        /// Job status, sent as the character's decimal value (70 `F`, 82 `R`, 83 `S`, 84 `T`).
        b" JobStatus=" job_status: JobStatus,
    }
}

kv_line! {
    /// SD → Director `3010 Job … start`.
    JobStart, tail = b" start\n", {
        /// Job.
        b"3010 Job " job: &'a [u8],
    }
}

kv_line! {
    /// SD → Director `3099 Job … end …`: the job's totals (the last line of the job).
    JobEnd, tail = b"\n", {
        /// Job.
        b"3099 Job " job: &'a [u8],
        /// Final job status, sent as the character's decimal value.
        b" end JobStatus=" job_status: JobStatus,
        /// Last FileIndex.
        b" JobFiles=" job_files: u32,
        /// Bytes of all records written (labels excluded).
        b" JobBytes=" job_bytes: u64,
        /// Errors.
        b" JobErrors=" job_errors: u32,
    }
}

/// Catalog request, SD → Director.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CatReq<'a> {
    /// `FindMedia=`.
    FindMedia(FindMedia<'a>),
    /// `GetVolInfo`.
    GetVolInfo(GetVolInfo<'a>),
    /// `UpdateMedia`.
    UpdateMedia(UpdateMedia<'a>),
    /// `CreateJobMedia`.
    CreateJobMedia(CreateJobMedia<'a>),
    /// `DeleteNullJobmediaRecords`.
    DeleteNullJobmedia(DeleteNullJobmedia<'a>),
}

impl<'a> CatReq<'a> {
    /// Parse a `CatReq Job=…` message; a request word this codec does not know is
    /// [`Error::Unrecognized`].
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let mut s = Scanner::new(buf);
        s.lit(b"CatReq Job=")?;
        let _job = s.word();
        let rest = s.rest();
        Ok(if rest.starts_with(b" FindMedia=") {
            CatReq::FindMedia(FindMedia::parse(buf)?)
        } else if rest.starts_with(b" GetVolInfo ") {
            CatReq::GetVolInfo(GetVolInfo::parse(buf)?)
        } else if rest.starts_with(b" UpdateMedia ") {
            CatReq::UpdateMedia(UpdateMedia::parse(buf)?)
        } else if rest.starts_with(b" CreateJobMedia ") {
            CatReq::CreateJobMedia(CreateJobMedia::parse(buf)?)
        } else if rest.starts_with(b" DeleteNullJobmediaRecords ") {
            CatReq::DeleteNullJobmedia(DeleteNullJobmedia::parse(buf)?)
        } else {
            return Err(Error::Unrecognized);
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            CatReq::FindMedia(v) => v.write(w),
            CatReq::GetVolInfo(v) => v.write(w),
            CatReq::UpdateMedia(v) => v.write(w),
            CatReq::CreateJobMedia(v) => v.write(w),
            CatReq::DeleteNullJobmedia(v) => v.write(w),
        }
    }
}

codec_impl!(CatReq<'_>);

/// Length of the binary header inside `UpdCat`.
pub const UPDCAT_HEADER_LEN: usize = 20;

/// The binary header of an `UpdCat` message: five big-endian 32-bit words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UpdCatHeader {
    /// VolSessionId of the writing session.
    pub vol_session_id: u32,
    /// VolSessionTime.
    pub vol_session_time: u32,
    /// FileIndex.
    pub file_index: i32,
    /// Full stream word.
    pub stream: Stream,
    /// Length of the record that follows.
    pub data_len: u32,
}

/// `UpdCat Job=«job» FileAttributes ` + [`UpdCatHeader`] + record, SD → Director, no reply
/// (`core/src/stored/askdir.cc` `DirUpdateFileAttributes()`). The record is an attribute
/// record ([`super::attr::AttrRecord`]) or a digest ([`super::attr::Digest`]), exactly as the
/// FD sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct UpdCat<'a> {
    /// Job.
    pub job: &'a [u8],
    /// Session, FileIndex, stream and length of the record.
    pub header: UpdCatHeader,
    /// The record bytes (`header.data_len` of them).
    pub data: &'a [u8],
}

impl<'a> UpdCat<'a> {
    /// Parse an `UpdCat` message. The record length must match the header.
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let mut s = Scanner::new(buf);
        s.lit(b"UpdCat Job=")?;
        let job = s.nonempty_word()?;
        let rest = s.rest().strip_prefix(b" FileAttributes ").ok_or(
            if b" FileAttributes ".starts_with(s.rest()) {
                Error::Truncated
            } else {
                Error::Malformed
            },
        )?;
        let (h, data) = rest
            .split_first_chunk::<UPDCAT_HEADER_LEN>()
            .ok_or(Error::Truncated)?;
        let word = |i: usize| -> [u8; 4] {
            let mut b = [0u8; 4];
            if let Some(src) = h.get(i * 4..i * 4 + 4) {
                b.copy_from_slice(src);
            }
            b
        };
        let header = UpdCatHeader {
            vol_session_id: u32::from_be_bytes(word(0)),
            vol_session_time: u32::from_be_bytes(word(1)),
            file_index: i32::from_be_bytes(word(2)),
            stream: Stream(i32::from_be_bytes(word(3))),
            data_len: u32::from_be_bytes(word(4)),
        };
        let want = usize::try_from(header.data_len).map_err(|_| Error::BadNumber)?;
        match data.len().cmp(&want) {
            core::cmp::Ordering::Less => return Err(Error::Truncated),
            core::cmp::Ordering::Greater => return Err(Error::Malformed),
            core::cmp::Ordering::Equal => {}
        }
        Ok(Self { job, header, data })
    }

    /// Decode the forwarded record according to the header's stream (attributes, restore
    /// object or digest; see [`super::attr::Record`]).
    pub fn record(&self) -> Result<super::attr::Record<'a>> {
        super::attr::Record::parse(self.header.stream.kind(), self.data)
    }

    /// `emit` fails unless `header.data_len` equals `data.len()`.
    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        check_word(self.job)?;
        if usize::try_from(self.header.data_len).ok() != Some(self.data.len()) {
            return Err(Error::Malformed);
        }
        w.bytes(b"UpdCat Job=");
        w.bytes(self.job);
        w.bytes(b" FileAttributes ");
        w.bytes(&self.header.vol_session_id.to_be_bytes());
        w.bytes(&self.header.vol_session_time.to_be_bytes());
        w.bytes(&self.header.file_index.to_be_bytes());
        w.bytes(&self.header.stream.0.to_be_bytes());
        w.bytes(&self.header.data_len.to_be_bytes());
        w.bytes(self.data);
        Ok(())
    }
}

/// A message from the Director to the SD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DirToSd<'a> {
    /// `JobId=…`.
    Job(JobCmd<'a>),
    /// `getSecureEraseCmd⏎`.
    GetSecureEraseCmd,
    /// `use storage=…⏎`.
    UseStorage(UseStorage<'a>),
    /// `use device=«name»⏎`.
    UseDevice(&'a [u8]),
    /// `bootstrap⏎`; bsr lines follow, one per message, then EOD.
    Bootstrap,
    /// `passive client …⏎`.
    PassiveClient(PassiveClient<'a>),
    /// `run`, without newline.
    Run,
    /// `listen`, without newline (`core/src/dird/migrate.cc`), instead of `run` on the
    /// writing SD of a copy or migrate: wait for the reading SD (`core/src/stored/dir_cmd.cc`
    /// `ListenCmd()`). `listen⏎` parses too (the SD matches commands by prefix).
    Listen,
    /// `status «device»⏎`.
    Status(&'a [u8]),
    /// `.status «what»⏎` (`header`, `running`, …).
    DotStatus(&'a [u8]),
    /// `cancel Job=«job»⏎` (a job name or a JobId).
    Cancel(&'a [u8]),
    /// `1000 OK VolName=…⏎`, the media record reply.
    Media(MediaInfo<'a>),
    /// `1000 OK CreateJobMedia⏎`.
    CreateJobMediaOk,
    /// `1000 OK DeleteNullJobmediaRecords⏎`.
    DeleteNullJobmediaOk,
    /// `1901 No Media.⏎`.
    NoMedia,
    /// `1992 Create JobMedia error⏎`.
    CreateJobMediaError,
    /// Anything else.
    Unknown(&'a [u8]),
}

const DIR_FIXED: &[(&[u8], DirToSd<'static>)] = &[
    (b"getSecureEraseCmd\n", DirToSd::GetSecureEraseCmd),
    (b"bootstrap\n", DirToSd::Bootstrap),
    (b"run", DirToSd::Run),
    (b"listen", DirToSd::Listen),
    (b"listen\n", DirToSd::Listen),
    (b"1000 OK CreateJobMedia\n", DirToSd::CreateJobMediaOk),
    (
        b"1000 OK DeleteNullJobmediaRecords\n",
        DirToSd::DeleteNullJobmediaOk,
    ),
    (b"1901 No Media.\n", DirToSd::NoMedia),
    (
        b"1992 Create JobMedia error\n",
        DirToSd::CreateJobMediaError,
    ),
];

/// `prefix «word»⏎` with nothing else.
fn word_line<'a>(buf: &'a [u8], prefix: &[u8], tail: &[u8]) -> Result<&'a [u8]> {
    let rest = buf.strip_prefix(prefix).ok_or(Error::Malformed)?;
    let mut s = Scanner::new(rest);
    let w = s.nonempty_word()?;
    exact_tail(&s, tail)?;
    Ok(w)
}

fn write_word_line(w: &mut Writer<'_>, prefix: &[u8], word: &[u8], tail: &[u8]) -> Result<()> {
    check_word(word)?;
    if word.is_empty() {
        return Err(Error::Malformed);
    }
    w.bytes(prefix);
    w.bytes(word);
    w.bytes(tail);
    Ok(())
}

impl<'a> DirToSd<'a> {
    /// Parse one message of the Director.
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        if let Some((_, m)) = DIR_FIXED.iter().find(|(b, _)| *b == buf) {
            return Ok(*m);
        }
        Ok(if buf.starts_with(b"JobId=") {
            DirToSd::Job(JobCmd::parse(buf)?)
        } else if buf.starts_with(b"use storage=") {
            DirToSd::UseStorage(UseStorage::parse(buf)?)
        } else if buf.starts_with(b"use device=") {
            DirToSd::UseDevice(word_line(buf, b"use device=", b"\n")?)
        } else if buf.starts_with(b"passive client ") {
            DirToSd::PassiveClient(PassiveClient::parse(buf)?)
        } else if buf.starts_with(b"status ") {
            DirToSd::Status(word_line(buf, b"status ", b"\n")?)
        } else if buf.starts_with(b".status ") {
            DirToSd::DotStatus(word_line(buf, b".status ", b"\n")?)
        } else if buf.starts_with(b"cancel Job=") {
            DirToSd::Cancel(word_line(buf, b"cancel Job=", b"\n")?)
        } else if buf.starts_with(b"1000 OK VolName=") {
            DirToSd::Media(MediaInfo::parse(buf)?)
        } else {
            DirToSd::Unknown(buf)
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            DirToSd::Job(v) => v.write(w),
            DirToSd::UseStorage(v) => v.write(w),
            DirToSd::PassiveClient(v) => v.write(w),
            DirToSd::Media(v) => v.write(w),
            DirToSd::UseDevice(d) => write_word_line(w, b"use device=", d, b"\n"),
            DirToSd::Status(d) => write_word_line(w, b"status ", d, b"\n"),
            DirToSd::DotStatus(d) => write_word_line(w, b".status ", d, b"\n"),
            DirToSd::Cancel(d) => write_word_line(w, b"cancel Job=", d, b"\n"),
            DirToSd::Unknown(b) => {
                w.bytes(b);
                Ok(())
            }
            fixed => {
                let (b, _) = DIR_FIXED
                    .iter()
                    .find(|(_, m)| m == fixed)
                    .ok_or(Error::Malformed)?;
                w.bytes(b);
                Ok(())
            }
        }
    }
}

/// SD → Director reply to `cancel Job=`:
/// `3000 JobId=«id» Job="«job»" marked to be canceled.⏎`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Canceled<'a> {
    /// JobId.
    pub job_id: u32,
    /// Job name (between quotes).
    pub job: &'a [u8],
}

/// A message from the SD to the Director.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum SdToDir<'a> {
    /// `3000 OK Hello⏎`, the greeting after authentication.
    Hello,
    /// `3000 OK Job SDid=… SDtime=… Authorization=…⏎`.
    JobReply(JobReply<'a>),
    /// `2000 OK SDSecureEraseCmd «cmd» ⏎` (note the space before the newline).
    SecureEraseCmd(&'a [u8]),
    /// `3000 OK use device device=«name»⏎`.
    UseDeviceOk(&'a [u8]),
    /// `3000 OK bootstrap⏎`.
    BootstrapOk,
    /// `3904 Error bootstrap⏎`.
    BootstrapError,
    /// `2000 OK passive client⏎`.
    PassiveClientOk,
    /// `3010 Job … start⏎`.
    JobStart(JobStart<'a>),
    /// `3099 Job … end …⏎`.
    JobEnd(JobEnd<'a>),
    /// `Status Job=… JobStatus=…⏎`.
    JobStatus(JobStatusMsg<'a>),
    /// `Jmsg …`: a job message, the same codec as the FD's ([`super::jmsg`]).
    Jmsg(Jmsg<'a>),
    /// `CatReq …`.
    CatReq(CatReq<'a>),
    /// `UpdCat …`.
    UpdCat(UpdCat<'a>),
    /// `3000 JobId=… Job="…" marked to be canceled.⏎`.
    Canceled(Canceled<'a>),
    /// `3904 Job «job» not found.⏎` (reply to `cancel`).
    JobNotFound(&'a [u8]),
    /// `3903 Error scanning cancel command.⏎`.
    CancelScanError,
    /// Anything else.
    Unknown(&'a [u8]),
}

const SD_FIXED: &[(&[u8], SdToDir<'static>)] = &[
    (b"3000 OK Hello\n", SdToDir::Hello),
    (b"3000 OK bootstrap\n", SdToDir::BootstrapOk),
    (b"3904 Error bootstrap\n", SdToDir::BootstrapError),
    (b"2000 OK passive client\n", SdToDir::PassiveClientOk),
    (
        b"3903 Error scanning cancel command.\n",
        SdToDir::CancelScanError,
    ),
];

const CANCELED_TAIL: &[u8] = b"\" marked to be canceled.\n";

impl<'a> SdToDir<'a> {
    /// Parse one message of the SD (not status text, see [`super::status::StatusFrame`]).
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        if let Some((_, m)) = SD_FIXED.iter().find(|(b, _)| *b == buf) {
            return Ok(*m);
        }
        Ok(if buf.starts_with(b"3000 OK Job ") {
            SdToDir::JobReply(JobReply::parse(buf)?)
        } else if buf.starts_with(b"2000 OK SDSecureEraseCmd ") {
            SdToDir::SecureEraseCmd(word_line(buf, b"2000 OK SDSecureEraseCmd ", b" \n")?)
        } else if buf.starts_with(b"3000 OK use device device=") {
            SdToDir::UseDeviceOk(word_line(buf, b"3000 OK use device device=", b"\n")?)
        } else if buf.starts_with(b"3904 Job ") {
            SdToDir::JobNotFound(word_line(buf, b"3904 Job ", b" not found.\n")?)
        } else if buf.starts_with(b"3010 Job ") {
            SdToDir::JobStart(JobStart::parse(buf)?)
        } else if buf.starts_with(b"3099 Job ") {
            SdToDir::JobEnd(JobEnd::parse(buf)?)
        } else if buf.starts_with(b"Status Job=") {
            SdToDir::JobStatus(JobStatusMsg::parse(buf)?)
        } else if buf.starts_with(b"Jmsg Job=") {
            SdToDir::Jmsg(Jmsg::parse(buf)?)
        } else if buf.starts_with(b"CatReq Job=") {
            SdToDir::CatReq(CatReq::parse(buf)?)
        } else if buf.starts_with(b"UpdCat Job=") {
            SdToDir::UpdCat(UpdCat::parse(buf)?)
        } else if let Some(rest) = buf.strip_prefix(b"3000 JobId=") {
            let mut s = Scanner::new(rest);
            let job_id = s.u32()?;
            s.lit(b" Job=\"")?;
            let job = s.until(b'"')?;
            // `until` consumed the closing quote; the tail starts after it.
            let tail = s.rest();
            if tail != CANCELED_TAIL.get(1..).unwrap_or(&[]) {
                return Err(Error::Malformed);
            }
            let c = Canceled { job_id, job };
            let m = SdToDir::Canceled(c);
            if m.buffer_len() != buf.len() {
                return Err(Error::Malformed);
            }
            m
        } else {
            SdToDir::Unknown(buf)
        })
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<()> {
        match self {
            SdToDir::JobReply(v) => v.write(w),
            SdToDir::JobStart(v) => v.write(w),
            SdToDir::JobEnd(v) => v.write(w),
            SdToDir::JobStatus(v) => v.write(w),
            SdToDir::Jmsg(v) => v.write(w),
            SdToDir::UpdCat(v) => v.write(w),
            SdToDir::CatReq(c) => c.write(w),
            SdToDir::SecureEraseCmd(c) => {
                write_word_line(w, b"2000 OK SDSecureEraseCmd ", c, b" \n")
            }
            SdToDir::UseDeviceOk(d) => write_word_line(w, b"3000 OK use device device=", d, b"\n"),
            SdToDir::JobNotFound(j) => write_word_line(w, b"3904 Job ", j, b" not found.\n"),
            SdToDir::Canceled(c) => {
                if c.job.contains(&b'"') || c.job.contains(&b'\n') {
                    return Err(Error::Malformed);
                }
                w.bytes(b"3000 JobId=");
                w.u64(u64::from(c.job_id));
                w.bytes(b" Job=\"");
                w.bytes(c.job);
                w.bytes(CANCELED_TAIL);
                Ok(())
            }
            SdToDir::Unknown(b) => {
                w.bytes(b);
                Ok(())
            }
            fixed => {
                let (b, _) = SD_FIXED
                    .iter()
                    .find(|(_, m)| m == fixed)
                    .ok_or(Error::Malformed)?;
                w.bytes(b);
                Ok(())
            }
        }
    }
}

codec_impl!(UpdCat<'_>);
codec_impl!(DirToSd<'_>);
codec_impl!(SdToDir<'_>);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::codes::MessageType;
    use crate::wire::status::StatusFrame;

    use crate::wire::test_util::emit_vec;

    fn dir_rt(b: &[u8]) -> DirToSd<'_> {
        let m = DirToSd::parse(b).unwrap();
        assert!(!matches!(m, DirToSd::Unknown(_)), "{:?}", m);
        assert_eq!(emit_vec(m.buffer_len(), |x| m.emit(x)), b);
        m
    }

    fn sd_rt(b: &[u8]) -> SdToDir<'_> {
        let m = SdToDir::parse(b).unwrap();
        assert!(!matches!(m, SdToDir::Unknown(_)), "{:?}", m);
        assert_eq!(emit_vec(m.buffer_len(), |x| m.emit(x)), b);
        m
    }

    // vectors/clear-backup-full conn 2 msg 9.
    const JOB: &[u8] = b"JobId=1 job=CapBackup.2026-11-22_15.46.52_03 job_name=CapBackup client_name=bareos-fd type=66 level=70 FileSet=CapSet NoAttr=0 SpoolAttr=0 FileSetMD5=y1xbU8+FNRFC/6/HUl9MRB SpoolData=0 PreferMountedVols=1 SpoolSize=0 rerunning=0 VolSessionId=0 VolSessionTime=0 Quota=0 Protocol=0 BackupFormat=Native\n";
    // vectors/clear-backup-full conn 2 msg 27.
    const MEDIA: &[u8] = b"1000 OK VolName=Cap-0001 VolJobs=0 VolFiles=0 VolBlocks=0 VolBytes=0 VolMounts=0 VolErrors=0 VolWrites=0 MaxVolBytes=0 VolCapacityBytes=0 VolStatus=Unlabeled Slot=0 MaxVolJobs=1 MaxVolFiles=0 InChanger=0 VolReadTime=0 VolWriteTime=0 EndFile=0 EndBlock=0 LabelType=0 MediaId=1 EncryptionKey= MinBlocksize=0 MaxBlocksize=0\n";
    // vectors/clear-backup-full conn 2 msg 45.
    const UPDCAT: &[u8] = b"UpdCat Job=CapBackup.2026-11-22_15.46.52_03 FileAttributes \x00\x00\x00\x01k\x03\x0eg\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00l1 3 /srv/bareos-capture/testdata/tree/hello.txt\x00P4A DwZD IGk B A A A G BAA I BrAw5j BpVzWl BrAw5j A A C\x00\x00\x000\x00";

    #[test]
    fn test_parse_dir_to_sd() {
        let DirToSd::Job(j) = dir_rt(JOB) else {
            panic!()
        };
        assert_eq!(j.job_id, 1);
        assert_eq!(j.job, b"CapBackup.2026-11-22_15.46.52_03");
        assert_eq!(j.job_type, JobType::Backup);
        assert_eq!(j.job_type.to_u8(), 66);
        assert_eq!(j.level, JobLevel::Full);
        assert_eq!(j.level.to_u8(), 70);
        assert_eq!(j.file_set_md5, b"y1xbU8+FNRFC/6/HUl9MRB");
        assert_eq!(j.prefer_mounted_vols, 1);
        assert_eq!(j.backup_format, b"Native");
        // conn 2 msgs 11, 13, 14, 19.
        assert_eq!(dir_rt(b"getSecureEraseCmd\n"), DirToSd::GetSecureEraseCmd);
        let DirToSd::UseStorage(u) = dir_rt(
            b"use storage=File media_type=File pool_name=Cap pool_type=Backup append=1 copy=0 stripe=0\n",
        ) else {
            panic!()
        };
        assert_eq!((u.storage, u.append), (&b"File"[..], 1));
        assert_eq!(
            dir_rt(b"use device=FileStorage\n"),
            DirToSd::UseDevice(b"FileStorage")
        );
        assert_eq!(dir_rt(b"run"), DirToSd::Run);
        // bareos-dir sends the bare word; `listen⏎` is read as the same command.
        assert_eq!(dir_rt(b"listen"), DirToSd::Listen);
        assert_eq!(DirToSd::parse(b"listen\n").unwrap(), DirToSd::Listen);
        assert_eq!(
            DirToSd::parse(b"listen now").unwrap(),
            DirToSd::Unknown(b"listen now")
        );
        // vectors/clear-restore conn 2 msg 18; clear-backup-passive conn 2 msg 19;
        // clear-status-client-storage conn 3 msg 9; clear-dot-status conn 4 msg 9;
        // clear-cancel conn 7 msg 9.
        assert_eq!(dir_rt(b"bootstrap\n"), DirToSd::Bootstrap);
        let DirToSd::PassiveClient(p) =
            dir_rt(b"passive client address=127.0.0.1 port=39202 ssl=0\n")
        else {
            panic!()
        };
        assert_eq!((p.address, p.port, p.ssl), (&b"127.0.0.1"[..], 39202, 0));
        assert_eq!(
            dir_rt(b"status FileStorage\n"),
            DirToSd::Status(b"FileStorage")
        );
        assert_eq!(dir_rt(b".status header\n"), DirToSd::DotStatus(b"header"));
        assert_eq!(
            dir_rt(b"cancel Job=CapSlowBackup.2026-11-22_16.46.10_11\n"),
            DirToSd::Cancel(b"CapSlowBackup.2026-11-22_16.46.10_11")
        );
        // Catalog replies, conn 2 msgs 27, 44, 60.
        let DirToSd::Media(m) = dir_rt(MEDIA) else {
            panic!()
        };
        assert_eq!(m.vol_name, b"Cap-0001");
        assert_eq!(m.vol_status, b"Unlabeled");
        assert_eq!(m.encryption_key, b"");
        assert_eq!(m.media_id, 1);
        assert_eq!(
            dir_rt(b"1000 OK CreateJobMedia\n"),
            DirToSd::CreateJobMediaOk
        );
        assert_eq!(
            dir_rt(b"1000 OK DeleteNullJobmediaRecords\n"),
            DirToSd::DeleteNullJobmediaOk
        );
    }

    #[test]
    fn test_parse_sd_to_dir() {
        // vectors/clear-backup-full conn 2 msgs 8, 10, 12, 18, 20, 21, 26, 29, 31, 43, 59, 63.
        assert_eq!(sd_rt(b"3000 OK Hello\n"), SdToDir::Hello);
        let SdToDir::JobReply(r) = sd_rt(
            b"3000 OK Job SDid=1 SDtime=1795362407 Authorization=HLCO-EFBN-FKHA-HBFC-DIEI-MGND-JDEM-ILMP\n",
        ) else {
            panic!()
        };
        assert_eq!((r.sd_id, r.sd_time), (1, 1_795_362_407));
        assert_eq!(r.authorization, b"HLCO-EFBN-FKHA-HBFC-DIEI-MGND-JDEM-ILMP");
        assert_eq!(
            sd_rt(b"2000 OK SDSecureEraseCmd *None* \n"),
            SdToDir::SecureEraseCmd(b"*None*")
        );
        assert_eq!(
            sd_rt(b"3000 OK use device device=JustInTime\x01Device\n"),
            SdToDir::UseDeviceOk(b"JustInTime\x01Device")
        );
        let SdToDir::JobStatus(s) =
            sd_rt(b"Status Job=CapBackup.2026-11-22_15.46.52_03 JobStatus=70\n")
        else {
            panic!()
        };
        assert_eq!(s.job_status, JobStatus::WaitFd);
        assert_eq!(s.job_status.to_u8(), 70);
        assert!(matches!(
            sd_rt(b"3010 Job CapBackup.2026-11-22_15.46.52_03 start\n"),
            SdToDir::JobStart(JobStart {
                job: b"CapBackup.2026-11-22_15.46.52_03"
            })
        ));
        let SdToDir::CatReq(CatReq::FindMedia(f)) = sd_rt(
            b"CatReq Job=CapBackup.2026-11-22_15.46.52_03 FindMedia=1 pool_name=Cap media_type=File unwanted_volumes=\n",
        ) else {
            panic!()
        };
        assert_eq!((f.index, f.unwanted_volumes), (1, &b""[..]));
        let SdToDir::CatReq(CatReq::GetVolInfo(g)) = sd_rt(
            b"CatReq Job=CapBackup.2026-11-22_15.46.52_03 GetVolInfo VolName=Cap-0001 write=1\n",
        ) else {
            panic!()
        };
        assert_eq!((g.vol_name, g.write), (&b"Cap-0001"[..], 1));
        let SdToDir::CatReq(CatReq::UpdateMedia(u)) = sd_rt(
            b"CatReq Job=CapBackup.2026-11-22_15.46.52_03 UpdateMedia VolName=Cap-0001 VolJobs=0 VolFiles=0 VolBlocks=1 VolBytes=203 VolMounts=0 VolErrors=0 VolWrites=1 MaxVolBytes=0 EndTime=1795362414 VolStatus=Append Slot=0 relabel=1 InChanger=0 VolReadTime=0 VolWriteTime=11 VolFirstWritten=0\n",
        ) else {
            panic!()
        };
        assert_eq!((u.vol_bytes, u.relabel, u.vol_write_time), (203, 1, 11));
        let SdToDir::CatReq(CatReq::CreateJobMedia(c)) = sd_rt(
            b"CatReq Job=CapBackup.2026-11-22_15.46.52_03 CreateJobMedia FirstIndex=1 LastIndex=6 StartFile=0 EndFile=0 StartBlock=203 EndBlock=1786 Copy=0 Strip=0 MediaId=1\n",
        ) else {
            panic!()
        };
        assert_eq!((c.first_index, c.last_index, c.end_block), (1, 6, 1786));
        let SdToDir::CatReq(CatReq::DeleteNullJobmedia(d)) =
            sd_rt(b"CatReq Job=CapBackup.2026-11-22_15.46.52_03 DeleteNullJobmediaRecords jobid=1")
        else {
            panic!()
        };
        assert_eq!(d.job_id, 1);
        let SdToDir::JobEnd(e) = sd_rt(
            b"3099 Job CapBackup.2026-11-22_15.46.52_03 end JobStatus=84 JobFiles=6 JobBytes=1062 JobErrors=0\n",
        ) else {
            panic!()
        };
        assert_eq!(
            (e.job_status.to_u8(), e.job_files, e.job_bytes),
            (84, 6, 1062)
        );
        assert_eq!(e.job_status, JobStatus::Terminated);
        // clear-backup-passive conn 2 msg 20; clear-restore conn 2 msg 39;
        // clear-cancel conn 7 msg 10.
        assert_eq!(sd_rt(b"2000 OK passive client\n"), SdToDir::PassiveClientOk);
        assert_eq!(sd_rt(b"3000 OK bootstrap\n"), SdToDir::BootstrapOk);
        // Cancel failures, from core/src/stored/dir_cmd.cc CancelCmd() (not captured).
        assert_eq!(
            sd_rt(b"3904 Job 17 not found.\n"),
            SdToDir::JobNotFound(b"17")
        );
        assert_eq!(
            sd_rt(b"3903 Error scanning cancel command.\n"),
            SdToDir::CancelScanError
        );
        assert_eq!(
            sd_rt(b"3000 JobId=4 Job=\"CapSlowBackup.2026-11-22_16.46.10_11\" marked to be canceled.\n"),
            SdToDir::Canceled(Canceled {
                job_id: 4,
                job: b"CapSlowBackup.2026-11-22_16.46.10_11"
            })
        );
    }

    #[test]
    fn test_jmsg() {
        // vectors/clear-backup-full conn 2 msg 17; clear-cancel conn 2 msg 45 (type 3).
        let SdToDir::Jmsg(j) = sd_rt(b"Jmsg Job=CapBackup.2026-11-22_15.46.52_03 type=6 level=1795362414 bareos-sd JobId 1: Using just in time reservation for job 1\n") else {
            panic!()
        };
        assert_eq!(j.msg_type, MessageType::Info);
        assert_eq!(j.time, 1_795_362_414);
        assert_eq!(
            j.text,
            b"bareos-sd JobId 1: Using just in time reservation for job 1\n"
        );
        let SdToDir::Jmsg(j) = sd_rt(b"Jmsg Job=CapSlowBackup.2026-11-22_16.46.10_11 type=3 level=1795365976 bareos-sd JobId 4: Fatal error: stored/append.cc:504 Error reading data header from FD. ERR=No data available\n") else {
            panic!()
        };
        assert_eq!(j.msg_type, MessageType::Fatal);
        for v in 0..20 {
            assert_eq!(MessageType::from_u8(v).to_u8(), v);
        }
        assert_eq!(MessageType::from_u8(0), MessageType::Unknown(0));
        // A type that is no message_severity.h value at all.
        assert_eq!(
            SdToDir::parse(b"Jmsg Job=x type=-1 level=1 t\n"),
            Err(Error::BadNumber)
        );
    }

    #[test]
    fn test_updcat() {
        let SdToDir::UpdCat(u) = sd_rt(UPDCAT) else {
            panic!()
        };
        assert_eq!(
            u.header,
            UpdCatHeader {
                vol_session_id: 1,
                vol_session_time: 1_795_362_407,
                file_index: 1,
                stream: Stream(1),
                data_len: 108
            }
        );
        let Ok(crate::wire::attr::Record::Attributes(rec)) = u.record() else {
            panic!()
        };
        assert_eq!(rec.fname, b"/srv/bareos-capture/testdata/tree/hello.txt");
        // Truncated record, and one byte too many.
        assert_eq!(
            UpdCat::parse(&UPDCAT[..UPDCAT.len() - 1]),
            Err(Error::Truncated)
        );
        let mut long = UPDCAT.to_vec();
        long.push(0);
        assert_eq!(UpdCat::parse(&long), Err(Error::Malformed));
        assert_eq!(UpdCat::parse(&UPDCAT[..70]), Err(Error::Truncated));
        assert_eq!(UpdCat::parse(&UPDCAT[..50]), Err(Error::Truncated));
    }

    #[test]
    fn test_status_frames() {
        // vectors/clear-status-client-storage conn 3 msgs 10, 33, 36.
        assert_eq!(StatusFrame::parse(b"\n"), Ok(StatusFrame::LEAD));
        for b in [
            &b"Attached Jobs: \x00"[..],
            b"  Archive name: /srv/bareos-capture/storage\nDevice name: FileStorage\nDevice Type: file\n\x00",
            b"\n\x00",
        ] {
            let f = StatusFrame::parse(b).unwrap();
            assert_eq!(emit_vec(f.buffer_len(), |x| f.emit(x)), b);
        }
        assert_eq!(StatusFrame::parse(b""), Err(Error::Truncated));
        // The SD sends no other plain frame; the shared codec classifies it as one.
        assert_eq!(
            StatusFrame::parse(b"abc\n"),
            Ok(StatusFrame::Plain(b"abc\n"))
        );
        assert_eq!(StatusFrame::parse(b"a\0b\0"), Err(Error::Malformed));
    }

    #[test]
    fn test_truncated() {
        for n in 0..JOB.len() {
            assert!(JobCmd::parse(&JOB[..n]).is_err(), "{n}");
        }
        for n in 0..MEDIA.len() {
            assert!(MediaInfo::parse(&MEDIA[..n]).is_err(), "{n}");
        }
        assert_eq!(
            SdToDir::parse(b"2000 OK SDSecureEraseCmd *None*\n"),
            Err(Error::Malformed)
        );
        assert_eq!(
            SdToDir::parse(b"2000 OK SDSecureEraseCmd *None* "),
            Err(Error::Truncated)
        );
        let mut small = [0u8; 10];
        let j = JobCmd::parse(JOB).unwrap();
        assert_eq!(j.emit(&mut small), Err(Error::BufferTooSmall));
    }

    #[test]
    fn test_impossible() {
        // Field out of range, extra blanks, leading zeros, unknown request.
        assert_eq!(
            JobStatusMsg::parse(b"Status Job=x JobStatus=99999999999\n"),
            Err(Error::BadNumber)
        );
        // A character code must fit in a byte.
        assert_eq!(
            JobStatusMsg::parse(b"Status Job=x JobStatus=256\n"),
            Err(Error::BadNumber)
        );
        assert_eq!(
            JobEnd::parse(b"3099 Job x end JobStatus=-84 JobFiles=0 JobBytes=0 JobErrors=0\n"),
            Err(Error::BadNumber)
        );
        assert_eq!(
            JobStatusMsg::parse(b"Status Job=x  JobStatus=70\n"),
            Err(Error::Malformed)
        );
        assert_eq!(
            JobStatusMsg::parse(b"Status Job=x JobStatus=070\n"),
            Err(Error::Malformed)
        );
        assert_eq!(
            CatReq::parse(b"CatReq Job=x UpdateFileList\n"),
            Err(Error::Unrecognized)
        );
        assert_eq!(
            DirToSd::parse(b"label storage=x\n"),
            Ok(DirToSd::Unknown(b"label storage=x\n"))
        );
        // A name with a blank cannot be emitted as one word.
        let mut j = JobCmd::parse(JOB).unwrap();
        j.job_name = b"two words";
        let mut buf = [0u8; 400];
        assert_eq!(j.emit(&mut buf), Err(Error::Malformed));
        let u = UpdCat {
            job: b"j",
            header: UpdCatHeader {
                vol_session_id: 1,
                vol_session_time: 2,
                file_index: 3,
                stream: Stream(17),
                data_len: 5,
            },
            data: b"abc",
        };
        assert_eq!(u.emit(&mut buf), Err(Error::Malformed));
    }

    proptest::proptest! {
        #[test]
        fn job_status_round_trip(job in "[!-~]{1,60}", st in proptest::num::u8::ANY) {
            let m = SdToDir::JobStatus(JobStatusMsg {
                job: job.as_bytes(),
                job_status: JobStatus::from_u8(st),
            });
            let b = emit_vec(m.buffer_len(), |x| m.emit(x));
            proptest::prop_assert_eq!(SdToDir::parse(&b).unwrap(), m);
        }

        #[test]
        fn media_round_trip(name in "[!-~]{1,30}", n in proptest::array::uniform8(proptest::num::u32::ANY),
                            big in proptest::array::uniform4(proptest::num::u64::ANY),
                            key in "[!-~]{0,10}", slot in proptest::num::i32::ANY) {
            let m = MediaInfo { vol_name: name.as_bytes(), vol_jobs: n[0], vol_files: n[1],
                vol_blocks: n[2], vol_bytes: big[0], vol_mounts: n[3], vol_errors: n[4],
                vol_writes: n[5], max_vol_bytes: big[1], vol_capacity_bytes: big[2],
                vol_status: b"Append", slot, max_vol_jobs: n[6], max_vol_files: n[7],
                in_changer: 0, vol_read_time: big[3], vol_write_time: 1, end_file: 2,
                end_block: 3, label_type: 0, media_id: 7, encryption_key: key.as_bytes(),
                min_blocksize: 0, max_blocksize: 1_048_576 };
            let d = DirToSd::Media(m);
            let b = emit_vec(d.buffer_len(), |x| d.emit(x));
            proptest::prop_assert_eq!(DirToSd::parse(&b).unwrap(), d);
        }

        #[test]
        fn updcat_round_trip(job in "[!-~]{1,40}", a in proptest::num::u32::ANY,
                             t in proptest::num::u32::ANY, fi in proptest::num::i32::ANY,
                             st in proptest::num::i32::ANY,
                             data in proptest::collection::vec(proptest::num::u8::ANY, 0..100)) {
            let u = UpdCat { job: job.as_bytes(), header: UpdCatHeader { vol_session_id: a,
                vol_session_time: t, file_index: fi, stream: Stream(st),
                data_len: data.len() as u32 }, data: &data };
            let m = SdToDir::UpdCat(u);
            let b = emit_vec(m.buffer_len(), |x| m.emit(x));
            proptest::prop_assert_eq!(SdToDir::parse(&b).unwrap(), m);
        }

        #[test]
        fn jmsg_round_trip(job in "[!-~]{1,40}", ty in proptest::num::u8::ANY,
                           time in proptest::num::i64::ANY, text in ".{0,80}") {
            let j = Jmsg { job: job.as_bytes(), msg_type: MessageType::from_u8(ty), time,
                           text: text.as_bytes() };
            let m = SdToDir::Jmsg(j);
            let b = emit_vec(m.buffer_len(), |x| m.emit(x));
            proptest::prop_assert_eq!(SdToDir::parse(&b).unwrap(), m);
        }

        #[test]
        fn parse_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..120)) {
            let _ = SdToDir::parse(&data);
            let _ = DirToSd::parse(&data);
            let _ = StatusFrame::parse(&data);
        }
    }
}
