//! Typed catalog operations: clients, filesets, pools, storages, media, jobs, JobMedia, file
//! attributes, the since-time lookup and the list queries.
//!
//! Each operation is one or a few statements of the common SQL subset ([`super::sql`]). The
//! Bareos function each one mirrors is named in its doc; the semantics (lookup keys, ordering,
//! which statuses count) are Bareos', the SQL is ours.

use std::collections::HashMap;

use super::sql::{placeholders, time_value, Conn, Row, Value};
use super::{Catalog, Error, JobLevel, JobStatus, JobType, PoolType, VolStatus};

/// Rows per multi-row `INSERT` of file attributes: 7 parameters each stays far below SQLite's
/// 32,766 and PostgreSQL's 65,535 parameter limits.
const FILE_INSERT_CHUNK: usize = 256;

/// The path cache is dropped when it grows past this many entries (a 1,000,000-file job
/// with deep trees should not keep every directory name in memory).
const PATH_CACHE_MAX: usize = 100_000;

/// A `Client` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    /// `ClientId`.
    pub client_id: i64,
    /// `Name` (the Client resource name).
    pub name: String,
    /// `UName`: the FD's version string from its `2000 OK Job …` reply.
    pub uname: String,
    /// `AutoPrune`.
    pub auto_prune: bool,
    /// `FileRetention` (seconds).
    pub file_retention: i64,
    /// `JobRetention` (seconds).
    pub job_retention: i64,
}

/// What the Director knows about a client when it first needs its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClient<'a> {
    /// Client resource name.
    pub name: &'a str,
    /// FD version string (may be empty until the FD has answered).
    pub uname: &'a str,
    /// `AutoPrune`.
    pub auto_prune: bool,
    /// `File Retention` (seconds).
    pub file_retention: i64,
    /// `Job Retention` (seconds).
    pub job_retention: i64,
}

/// A `FileSet` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSetRecord {
    /// `FileSetId`.
    pub fileset_id: i64,
    /// `FileSet` (resource name).
    pub fileset: String,
    /// `MD5` (Bareos' non-standard base64 of the MD5 of the `File =`/`Plugin =` lines,
    /// jobs.md §8.2).
    pub md5: String,
    /// `CreateTime`.
    pub create_time: i64,
    /// `FileSetText` (the resource as text).
    pub fileset_text: String,
}

/// A Pool resource as the catalog stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolSpec {
    /// `Name`.
    pub name: String,
    /// `PoolType`.
    pub pool_type: PoolType,
    /// `LabelFormat` (empty: no automatic labelling).
    pub label_format: String,
    /// `MaxVols` (0 = unlimited).
    pub max_vols: i64,
    /// `MaxVolJobs` (0 = unlimited).
    pub max_vol_jobs: i64,
    /// `MaxVolFiles` (0 = unlimited).
    pub max_vol_files: i64,
    /// `MaxVolBytes` (0 = unlimited).
    pub max_vol_bytes: i64,
    /// `VolRetention` (seconds).
    pub vol_retention: i64,
    /// `VolUseDuration` (seconds, 0 = unlimited).
    pub vol_use_duration: i64,
    /// `Recycle`.
    pub recycle: bool,
    /// `AutoPrune`.
    pub auto_prune: bool,
    /// `LabelType` (0 = Bareos).
    pub label_type: i64,
}

impl PoolSpec {
    /// A Backup pool with Bareos' defaults (Recycle and AutoPrune on, one year retention).
    pub fn backup(name: &str, label_format: &str) -> Self {
        Self {
            name: name.to_owned(),
            pool_type: PoolType::Backup,
            label_format: label_format.to_owned(),
            max_vols: 0,
            max_vol_jobs: 0,
            max_vol_files: 0,
            max_vol_bytes: 0,
            vol_retention: 365 * 86_400,
            vol_use_duration: 0,
            recycle: true,
            auto_prune: true,
            label_type: 0,
        }
    }
}

/// A `Pool` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolRecord {
    /// `PoolId`.
    pub pool_id: i64,
    /// `NumVols`: volumes created in this pool.
    pub num_vols: i64,
    /// Everything else.
    pub spec: PoolSpec,
}

/// A volume to add (`label` command, or [`Catalog::create_volume`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMedia<'a> {
    /// `VolumeName`.
    pub volume_name: &'a str,
    /// `PoolId`.
    pub pool_id: i64,
    /// `MediaType` (the Storage resource's Media Type, `File` in the captures).
    pub media_type: &'a str,
    /// `StorageId` (0 when unknown).
    pub storage_id: i64,
    /// `VolStatus` (`Append` for a labelled volume).
    pub vol_status: VolStatus,
    /// `LabelDate` if already labelled.
    pub label_date: Option<i64>,
}

/// A `Media` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRecord {
    /// `MediaId`.
    pub media_id: i64,
    /// `VolumeName`.
    pub volume_name: String,
    /// `PoolId`.
    pub pool_id: i64,
    /// `MediaType`.
    pub media_type: String,
    /// `StorageId`.
    pub storage_id: i64,
    /// `VolStatus`.
    pub vol_status: VolStatus,
    /// `Enabled`.
    pub enabled: bool,
    /// `VolJobs`.
    pub vol_jobs: i64,
    /// `VolFiles`.
    pub vol_files: i64,
    /// `VolBlocks`.
    pub vol_blocks: i64,
    /// `VolBytes`.
    pub vol_bytes: i64,
    /// `VolMounts`.
    pub vol_mounts: i64,
    /// `VolErrors`.
    pub vol_errors: i64,
    /// `VolWrites`.
    pub vol_writes: i64,
    /// `MaxVolJobs` (copied from the pool at creation).
    pub max_vol_jobs: i64,
    /// `MaxVolFiles`.
    pub max_vol_files: i64,
    /// `MaxVolBytes`.
    pub max_vol_bytes: i64,
    /// `VolRetention`.
    pub vol_retention: i64,
    /// `VolUseDuration`.
    pub vol_use_duration: i64,
    /// `Recycle`.
    pub recycle: bool,
    /// `Slot`.
    pub slot: i64,
    /// `InChanger`.
    pub in_changer: bool,
    /// `LabelType`.
    pub label_type: i64,
    /// `FirstWritten`.
    pub first_written: Option<i64>,
    /// `LastWritten`.
    pub last_written: Option<i64>,
    /// `LabelDate`.
    pub label_date: Option<i64>,
    /// `EndFile`.
    pub end_file: i64,
    /// `EndBlock`.
    pub end_block: i64,
}

/// A volume's counters as the SD reports them in its `UpdateMedia` catalog request (jobs.md
/// §2.5, `core/src/dird/catreq.cc`): absolute values, not deltas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaUpdate {
    /// `MediaId` (the Director looks it up from `VolName=`).
    pub media_id: i64,
    /// `VolJobs`.
    pub vol_jobs: i64,
    /// `VolFiles`.
    pub vol_files: i64,
    /// `VolBlocks`.
    pub vol_blocks: i64,
    /// `VolBytes`.
    pub vol_bytes: i64,
    /// `VolMounts`.
    pub vol_mounts: i64,
    /// `VolErrors`.
    pub vol_errors: i64,
    /// `VolWrites`.
    pub vol_writes: i64,
    /// `VolStatus` as the SD sent it.
    pub vol_status: VolStatus,
    /// `EndTime=`: becomes LastWritten when the block count changed (0: unknown).
    pub end_time: i64,
    /// `relabel=1`: the SD just labelled the volume; LabelDate becomes the job's start.
    pub relabel: bool,
    /// `VolFirstWritten=` (0 in every capture: the job's start is used instead).
    pub first_written: i64,
    /// StartTime of the job the SD is writing for (`jcr->start_time`).
    pub job_start_time: i64,
}

/// Bareos' `HasVolumeExpired()` (`core/src/dird/next_vol.cc`): an `Append` volume that has
/// taken at least one job becomes `Full` at `MaxVolBytes`, `Used` at `MaxVolJobs`, at
/// `MaxVolFiles` or when `VolUseDuration` has passed since FirstWritten. Other statuses are
/// kept. `now` is Unix seconds.
pub fn status_after_limits(m: &MediaRecord, now: i64) -> VolStatus {
    if m.vol_status != VolStatus::Append || m.vol_jobs <= 0 {
        return m.vol_status.clone();
    }
    if m.max_vol_bytes > 0 && m.vol_bytes >= m.max_vol_bytes {
        VolStatus::Full
    } else if m.max_vol_jobs > 0 && m.max_vol_jobs <= m.vol_jobs
        || m.max_vol_files > 0 && m.max_vol_files <= m.vol_files
        || m.vol_use_duration > 0 && m.vol_use_duration <= now - m.first_written.unwrap_or(now)
    {
        VolStatus::Used
    } else {
        VolStatus::Append
    }
}

/// A job row to insert when a job is created (`CreateJobRecord`, status `C`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob<'a> {
    /// `Job`: the unique job name, `CapBackup.2026-11-22_15.46.52_03`.
    pub job: &'a str,
    /// `Name`: the Job resource name.
    pub name: &'a str,
    /// `Type`.
    pub job_type: JobType,
    /// `Level`.
    pub level: JobLevel,
    /// `SchedTime`.
    pub sched_time: i64,
}

/// What `UpdateJobStartRecord` sets when the job starts running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStart {
    /// `JobId`.
    pub job_id: i64,
    /// `JobStatus` (`R`).
    pub status: JobStatus,
    /// `Level` (after a possible upgrade to Full).
    pub level: JobLevel,
    /// `StartTime`; also `JobTDate`.
    pub start_time: i64,
    /// `ClientId`.
    pub client_id: i64,
    /// `PoolId`.
    pub pool_id: i64,
    /// `FileSetId`.
    pub fileset_id: i64,
}

/// What `UpdateJobEndRecord` sets when the job ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobEnd {
    /// `JobId`.
    pub job_id: i64,
    /// `JobStatus`.
    pub status: JobStatus,
    /// `Type`.
    pub job_type: JobType,
    /// `Level`.
    pub level: JobLevel,
    /// `EndTime`.
    pub end_time: i64,
    /// `RealEndTime`.
    pub real_end_time: i64,
    /// `JobFiles`.
    pub job_files: u32,
    /// `JobBytes`.
    pub job_bytes: u64,
    /// `ReadBytes`.
    pub read_bytes: u64,
    /// `JobErrors`.
    pub job_errors: u32,
    /// `VolSessionId`.
    pub vol_session_id: u32,
    /// `VolSessionTime`.
    pub vol_session_time: u32,
    /// `PriorJobId` (0 if none).
    pub prior_job_id: i64,
}

/// A `Job` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    /// `JobId`.
    pub job_id: i64,
    /// `Job` (unique name).
    pub job: String,
    /// `Name` (resource).
    pub name: String,
    /// `Type`.
    pub job_type: JobType,
    /// `Level`.
    pub level: JobLevel,
    /// `ClientId`.
    pub client_id: i64,
    /// `JobStatus`.
    pub status: JobStatus,
    /// `SchedTime`.
    pub sched_time: Option<i64>,
    /// `StartTime`.
    pub start_time: Option<i64>,
    /// `EndTime`.
    pub end_time: Option<i64>,
    /// `RealEndTime`.
    pub real_end_time: Option<i64>,
    /// `JobTDate`.
    pub job_tdate: i64,
    /// `VolSessionId`.
    pub vol_session_id: u32,
    /// `VolSessionTime`.
    pub vol_session_time: u32,
    /// `JobFiles`.
    pub job_files: u32,
    /// `JobBytes`.
    pub job_bytes: i64,
    /// `ReadBytes`.
    pub read_bytes: i64,
    /// `JobErrors`.
    pub job_errors: u32,
    /// `PoolId`.
    pub pool_id: i64,
    /// `FileSetId`.
    pub fileset_id: i64,
    /// `PriorJobId`.
    pub prior_job_id: i64,
}

/// A JobMedia row to insert (`CreateJobMediaRecord`, from the SD's `CatReq … CreateJobMedia`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewJobMedia {
    /// `JobId`.
    pub job_id: i64,
    /// `MediaId`.
    pub media_id: i64,
    /// `FirstIndex`.
    pub first_index: u32,
    /// `LastIndex`.
    pub last_index: u32,
    /// `StartFile`.
    pub start_file: u32,
    /// `EndFile`.
    pub end_file: u32,
    /// `StartBlock`.
    pub start_block: u32,
    /// `EndBlock`.
    pub end_block: u32,
    /// `VolIndex`.
    pub vol_index: u32,
    /// `JobBytes`.
    pub job_bytes: u64,
}

/// A `JobMedia` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobMediaRecord {
    /// `JobMediaId`.
    pub job_media_id: i64,
    /// The row's fields.
    pub row: NewJobMedia,
}

/// One file attribute row to insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileAttr<'a> {
    /// `FileIndex` (0 for a file deleted since the previous backup, FT_DELETED).
    pub file_index: u32,
    /// Directory part with its trailing `/` (`Path.Path`).
    pub path: &'a str,
    /// Base name, `''` for a directory entry (`File.Name`).
    pub name: &'a str,
    /// The stat packet string (`File.LStat`).
    pub lstat: &'a str,
    /// The digest in standard unpadded base64, or `0` (`File.MD5`).
    pub md5: &'a str,
    /// `DeltaSeq`.
    pub delta_seq: u16,
}

impl<'a> FileAttr<'a> {
    /// Split an attribute record's file name as Bareos does (`core/src/cats/sql_create.cc`
    /// `SplitPathAndFile()`): everything up to and including the last `/` is the path, the
    /// rest the name; a directory (`…/sub/`) has an empty name.
    pub fn split_fname(fname: &'a str) -> (&'a str, &'a str) {
        match fname.rfind('/') {
            Some(i) => fname.split_at(i + 1),
            None => ("", fname),
        }
    }

    /// A row from a full file name (`…/tree/hello.txt` or `…/tree/sub/`).
    pub fn from_fname(file_index: u32, fname: &'a str, lstat: &'a str, md5: &'a str) -> Self {
        let (path, name) = Self::split_fname(fname);
        Self {
            file_index,
            path,
            name,
            lstat,
            md5,
            delta_seq: 0,
        }
    }
}

/// An owned file row built from what the SD forwards (`UpdCat … FileAttributes`): the
/// attribute record and, when the FileSet has a `Signature`, the digest record that follows it
/// (`core/src/dird/catreq.cc` `UpdateAttribute()`, jobs.md §2.5 item 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedFileAttr {
    /// `FileIndex`, forced to 0 for FT_DELETED.
    pub file_index: u32,
    /// `Path.Path`.
    pub path: String,
    /// `File.Name`.
    pub name: String,
    /// `File.LStat`: the stat packet re-encoded by fd-core (byte-identical to the wire).
    pub lstat: String,
    /// `File.MD5`: standard unpadded base64 of the digest, or `0`.
    pub md5: String,
    /// `DeltaSeq` (regular files only).
    pub delta_seq: u16,
}

impl OwnedFileAttr {
    /// Build the row; a non-UTF-8 file name is [`Error::InvalidInput`] (see the module doc),
    /// a negative FileIndex or DeltaSeq [`Error::OutOfRange`].
    pub fn from_record(
        rec: &fd_core::wire::attr::AttrRecord<'_>,
        digest: Option<&fd_core::wire::attr::Digest<'_>>,
    ) -> Result<Self, Error> {
        use fd_core::wire::attr::FileType;
        let fname = std::str::from_utf8(rec.fname)
            .map_err(|_| Error::InvalidInput("non-UTF-8 file name"))?;
        let (path, name) = FileAttr::split_fname(fname);
        let file_index = if rec.file_type == FileType::Deleted {
            0
        } else {
            u32::try_from(rec.file_index).map_err(|_| Error::OutOfRange)?
        };
        let delta_seq = if rec.file_type == FileType::Reg {
            u16::try_from(rec.delta_seq).map_err(|_| Error::OutOfRange)?
        } else {
            0
        };
        let mut buf = vec![0u8; rec.stat.buffer_len()];
        let n = rec.stat.emit(&mut buf).map_err(Error::Wire)?;
        buf.truncate(n);
        let lstat = String::from_utf8(buf).map_err(|_| Error::Schema("stat packet not ASCII"))?;
        let md5 = match digest {
            Some(d) => {
                let mut out = vec![0u8; d.bytes.len() * 4 / 3 + 4];
                let n = d.encode_catalog(&mut out).map_err(Error::Wire)?;
                out.truncate(n);
                String::from_utf8(out).map_err(|_| Error::Schema("base64 not ASCII"))?
            }
            None => "0".to_owned(),
        };
        Ok(Self {
            file_index,
            path: path.to_owned(),
            name: name.to_owned(),
            lstat,
            md5,
            delta_seq,
        })
    }

    /// Borrow as a [`FileAttr`] for [`Catalog::insert_file_attributes`].
    pub fn as_attr(&self) -> FileAttr<'_> {
        FileAttr {
            file_index: self.file_index,
            path: &self.path,
            name: &self.name,
            lstat: &self.lstat,
            md5: &self.md5,
            delta_seq: self.delta_seq,
        }
    }
}

/// The FileSet MD5 the catalog keys FileSets on (`core/src/dird/job.cc`
/// `GetOrCreateFilesetRecord()`, jobs.md §8.2): MD5 over the concatenation, without
/// separators, of every `File =` and `Plugin =` string of the FileSet in configuration order
/// (Include and Exclude blocks; options are not hashed), in Bareos' sign-extending base64
/// ([`fd_core::wire::base64::Variant::Bacula`]), 22 characters.
pub fn fileset_md5<'a>(entries: impl IntoIterator<Item = &'a str>) -> String {
    use md5::{Digest as _, Md5};
    let mut h = Md5::new();
    for e in entries {
        h.update(e.as_bytes());
    }
    let digest = h.finalize();
    let mut out = [0u8; 24];
    let n = fd_core::wire::base64::encode_bin(
        &digest,
        fd_core::wire::base64::Variant::Bacula,
        &mut out,
    )
    .unwrap_or(0);
    String::from_utf8_lossy(out.get(..n).unwrap_or(&[])).into_owned()
}

/// Result of the since-time lookup (`GetLevelSinceTime()`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinceTime {
    /// The job is a Full (or another level without a since time): nothing to look up.
    Full,
    /// No prior Full of this Job name, Client and FileSet: the job must be upgraded to Full
    /// ("No prior or suitable Full backup found in catalog. Doing FULL backup.").
    UpgradeToFull,
    /// Back up what changed since the start of `job`.
    Since {
        /// `StartTime` of that job (sent as `since_utime=`).
        start_time: i64,
        /// Its `JobId` (becomes PriorJobId in Bareos' accurate code paths).
        job_id: i64,
        /// Its unique `Job` name.
        job: String,
    },
}

/// A row of `list jobs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobListRow {
    /// `jobid`.
    pub job_id: i64,
    /// `name`.
    pub name: String,
    /// `client` (Client.Name, empty when the job has none).
    pub client: String,
    /// `starttime`.
    pub start_time: Option<i64>,
    /// `EndTime` (for the duration column).
    pub end_time: Option<i64>,
    /// `type`.
    pub job_type: JobType,
    /// `level`.
    pub level: JobLevel,
    /// `jobfiles`.
    pub job_files: u32,
    /// `jobbytes`.
    pub job_bytes: i64,
    /// `jobstatus`.
    pub status: JobStatus,
}

impl JobListRow {
    /// The `duration` column in seconds (EndTime − StartTime, 0 when either is missing).
    pub fn duration(&self) -> i64 {
        match (self.start_time, self.end_time) {
            (Some(s), Some(e)) if e > s => e - s,
            _ => 0,
        }
    }
}

/// A job found created or running when the Director started ([`Catalog::fail_orphaned_jobs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrphanedJob {
    /// JobId.
    pub job_id: i64,
    /// The unique job name (`Job` column).
    pub job: String,
    /// `Created` or `Running`: what the catalog said before.
    pub was: JobStatus,
}

fn code(row: &Row, i: usize) -> Result<u8, Error> {
    let s = row.text(i)?;
    match s.as_bytes() {
        [c] => Ok(*c),
        _ => Err(Error::Schema("expected a one-character code")),
    }
}

fn level_value(l: JobLevel) -> Value {
    Value::Text(char::from(l.to_u8()).to_string())
}

fn type_value(t: JobType) -> Value {
    Value::Text(char::from(t.to_u8()).to_string())
}

fn status_value(s: JobStatus) -> Value {
    Value::Text(char::from(s.to_u8()).to_string())
}

fn u64_value(v: u64) -> Result<Value, Error> {
    i64::try_from(v)
        .map(Value::Int)
        .map_err(|_| Error::OutOfRange)
}

const CLIENT_COLS: &str = "ClientId, Name, UName, AutoPrune, FileRetention, JobRetention";

fn client_from(r: &Row) -> Result<ClientRecord, Error> {
    Ok(ClientRecord {
        client_id: r.int(0)?,
        name: r.text(1)?,
        uname: r.text(2)?,
        auto_prune: r.int_or_zero(3)? != 0,
        file_retention: r.int_or_zero(4)?,
        job_retention: r.int_or_zero(5)?,
    })
}

const FILESET_COLS: &str = "FileSetId, FileSet, MD5, CreateTime, FileSetText";

fn fileset_from(r: &Row) -> Result<FileSetRecord, Error> {
    Ok(FileSetRecord {
        fileset_id: r.int(0)?,
        fileset: r.text(1)?,
        md5: r.text(2)?,
        create_time: r.time(3)?.unwrap_or(0),
        fileset_text: r.text(4)?,
    })
}

const POOL_COLS: &str = "PoolId, Name, NumVols, MaxVols, MaxVolJobs, MaxVolFiles, MaxVolBytes, \
     VolRetention, VolUseDuration, Recycle, AutoPrune, PoolType, LabelType, LabelFormat";

fn pool_from(r: &Row) -> Result<PoolRecord, Error> {
    Ok(PoolRecord {
        pool_id: r.int(0)?,
        num_vols: r.int_or_zero(2)?,
        spec: PoolSpec {
            name: r.text(1)?,
            max_vols: r.int_or_zero(3)?,
            max_vol_jobs: r.int_or_zero(4)?,
            max_vol_files: r.int_or_zero(5)?,
            max_vol_bytes: r.int_or_zero(6)?,
            vol_retention: r.int_or_zero(7)?,
            vol_use_duration: r.int_or_zero(8)?,
            recycle: r.int_or_zero(9)? != 0,
            auto_prune: r.int_or_zero(10)? != 0,
            pool_type: PoolType::parse(&r.text(11)?),
            label_type: r.int_or_zero(12)?,
            label_format: r.text(13)?,
        },
    })
}

const MEDIA_COLS: &str = "MediaId, VolumeName, PoolId, MediaType, StorageId, VolStatus, \
     Enabled, VolJobs, VolFiles, VolBlocks, VolBytes, VolMounts, VolErrors, VolWrites, \
     MaxVolJobs, MaxVolFiles, MaxVolBytes, VolRetention, VolUseDuration, Recycle, Slot, \
     InChanger, LabelType, FirstWritten, LastWritten, LabelDate, EndFile, EndBlock";

fn media_from(r: &Row) -> Result<MediaRecord, Error> {
    Ok(MediaRecord {
        media_id: r.int(0)?,
        volume_name: r.text(1)?,
        pool_id: r.int_or_zero(2)?,
        media_type: r.text(3)?,
        storage_id: r.int_or_zero(4)?,
        vol_status: VolStatus::parse(&r.text(5)?),
        enabled: r.int_or_zero(6)? != 0,
        vol_jobs: r.int_or_zero(7)?,
        vol_files: r.int_or_zero(8)?,
        vol_blocks: r.int_or_zero(9)?,
        vol_bytes: r.int_or_zero(10)?,
        vol_mounts: r.int_or_zero(11)?,
        vol_errors: r.int_or_zero(12)?,
        vol_writes: r.int_or_zero(13)?,
        max_vol_jobs: r.int_or_zero(14)?,
        max_vol_files: r.int_or_zero(15)?,
        max_vol_bytes: r.int_or_zero(16)?,
        vol_retention: r.int_or_zero(17)?,
        vol_use_duration: r.int_or_zero(18)?,
        recycle: r.int_or_zero(19)? != 0,
        slot: r.int_or_zero(20)?,
        in_changer: r.int_or_zero(21)? != 0,
        label_type: r.int_or_zero(22)?,
        first_written: r.time(23)?,
        last_written: r.time(24)?,
        label_date: r.time(25)?,
        end_file: r.int_or_zero(26)?,
        end_block: r.int_or_zero(27)?,
    })
}

const JOB_COLS: &str = "JobId, Job, Name, Type, Level, ClientId, JobStatus, SchedTime, \
     StartTime, EndTime, RealEndTime, JobTDate, VolSessionId, VolSessionTime, JobFiles, \
     JobBytes, ReadBytes, JobErrors, PoolId, FileSetId, PriorJobId";

fn job_from(r: &Row) -> Result<JobRecord, Error> {
    Ok(JobRecord {
        job_id: r.int(0)?,
        job: r.text(1)?,
        name: r.text(2)?,
        job_type: JobType::from_u8(code(r, 3)?),
        level: JobLevel::from_u8(code(r, 4)?),
        client_id: r.int_or_zero(5)?,
        status: JobStatus::from_u8(code(r, 6)?),
        sched_time: r.time(7)?,
        start_time: r.time(8)?,
        end_time: r.time(9)?,
        real_end_time: r.time(10)?,
        job_tdate: r.int_or_zero(11)?,
        vol_session_id: r.u32(12)?,
        vol_session_time: r.u32(13)?,
        job_files: r.u32(14)?,
        job_bytes: r.int_or_zero(15)?,
        read_bytes: r.int_or_zero(16)?,
        job_errors: r.u32(17)?,
        pool_id: r.int_or_zero(18)?,
        fileset_id: r.int_or_zero(19)?,
        prior_job_id: r.int_or_zero(20)?,
    })
}

/// The id a `INSERT … RETURNING x` produced.
fn returned_id(rows: &[Row]) -> Result<i64, Error> {
    rows.first()
        .ok_or(Error::Schema("INSERT … RETURNING returned no row"))?
        .int(0)
}

impl Catalog {
    pub(super) fn conn(&mut self) -> &mut dyn Conn {
        self.conn.as_mut()
    }

    /// Run `f` in one transaction; roll back on error.
    pub(super) fn in_tx<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.conn.batch("BEGIN")?;
        match f(self) {
            Ok(v) => {
                self.conn.batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                let _ = self.conn.batch("ROLLBACK");
                Err(e)
            }
        }
    }

    // ---- Client ------------------------------------------------------------------------

    /// The client named `name`.
    pub fn client(&mut self, name: &str) -> Result<Option<ClientRecord>, Error> {
        let rows = self.conn.query(
            &format!("SELECT {CLIENT_COLS} FROM Client WHERE Name = ?"),
            &[name.into()],
        )?;
        rows.first().map(client_from).transpose()
    }

    /// The client row for `c`, created if missing; an existing row's UName is updated when
    /// `c.uname` is non-empty and differs (`CreateClientRecord()` + `UpdateClientRecord()`).
    pub fn get_or_create_client(&mut self, c: &NewClient<'_>) -> Result<ClientRecord, Error> {
        if let Some(mut existing) = self.client(c.name)? {
            if !c.uname.is_empty() && existing.uname != c.uname {
                self.conn.execute(
                    "UPDATE Client SET UName = ? WHERE ClientId = ?",
                    &[c.uname.into(), existing.client_id.into()],
                )?;
                existing.uname = c.uname.to_owned();
            }
            return Ok(existing);
        }
        let rows = self.conn.query(
            "INSERT INTO Client (Name, UName, AutoPrune, FileRetention, JobRetention) \
             VALUES (?, ?, ?, ?, ?) RETURNING ClientId",
            &[
                c.name.into(),
                c.uname.into(),
                c.auto_prune.into(),
                c.file_retention.into(),
                c.job_retention.into(),
            ],
        )?;
        Ok(ClientRecord {
            client_id: returned_id(&rows)?,
            name: c.name.to_owned(),
            uname: c.uname.to_owned(),
            auto_prune: c.auto_prune,
            file_retention: c.file_retention,
            job_retention: c.job_retention,
        })
    }

    /// `list clients`: every client, by ClientId.
    pub fn list_clients(&mut self) -> Result<Vec<ClientRecord>, Error> {
        let rows = self.conn.query(
            &format!("SELECT {CLIENT_COLS} FROM Client ORDER BY ClientId"),
            &[],
        )?;
        rows.iter().map(client_from).collect()
    }

    // ---- FileSet -----------------------------------------------------------------------

    /// The FileSet row with this name and MD5, created (with `create_time`) if missing
    /// (`GetOrCreateFilesetRecord()`): a FileSet whose MD5 changed gets a new FileSetId, which
    /// forces the next Incremental to Full.
    pub fn get_or_create_fileset(
        &mut self,
        name: &str,
        md5: &str,
        fileset_text: &str,
        create_time: i64,
    ) -> Result<FileSetRecord, Error> {
        let rows = self.conn.query(
            &format!(
                "SELECT {FILESET_COLS} FROM FileSet WHERE FileSet = ? AND MD5 = ? \
                 ORDER BY FileSetId DESC LIMIT 1"
            ),
            &[name.into(), md5.into()],
        )?;
        if let Some(r) = rows.first() {
            return fileset_from(r);
        }
        let rows = self.conn.query(
            "INSERT INTO FileSet (FileSet, MD5, CreateTime, FileSetText) VALUES (?, ?, ?, ?) \
             RETURNING FileSetId",
            &[
                name.into(),
                md5.into(),
                Value::Time(create_time),
                fileset_text.into(),
            ],
        )?;
        Ok(FileSetRecord {
            fileset_id: returned_id(&rows)?,
            fileset: name.to_owned(),
            md5: md5.to_owned(),
            create_time,
            fileset_text: fileset_text.to_owned(),
        })
    }

    /// The FileSet row `fileset_id`.
    pub fn fileset_by_id(&mut self, fileset_id: i64) -> Result<Option<FileSetRecord>, Error> {
        let rows = self.conn.query(
            &format!("SELECT {FILESET_COLS} FROM FileSet WHERE FileSetId = ?"),
            &[fileset_id.into()],
        )?;
        rows.first().map(fileset_from).transpose()
    }

    // ---- Pool and Storage --------------------------------------------------------------

    /// The pool named `name`.
    pub fn pool(&mut self, name: &str) -> Result<Option<PoolRecord>, Error> {
        let rows = self.conn.query(
            &format!("SELECT {POOL_COLS} FROM Pool WHERE Name = ?"),
            &[name.into()],
        )?;
        rows.first().map(pool_from).transpose()
    }

    /// The pool `pool_id`.
    pub fn pool_by_id(&mut self, pool_id: i64) -> Result<Option<PoolRecord>, Error> {
        let rows = self.conn.query(
            &format!("SELECT {POOL_COLS} FROM Pool WHERE PoolId = ?"),
            &[pool_id.into()],
        )?;
        rows.first().map(pool_from).transpose()
    }

    /// The pool row for a Pool resource, created if missing (the Director does this for
    /// every pool at start, `CreatePool()`); an existing row is returned unchanged (Bareos
    /// changes it only on `update pool`).
    pub fn get_or_create_pool(&mut self, p: &PoolSpec) -> Result<PoolRecord, Error> {
        if let Some(existing) = self.pool(&p.name)? {
            return Ok(existing);
        }
        let rows = self.conn.query(
            "INSERT INTO Pool (Name, NumVols, MaxVols, MaxVolJobs, MaxVolFiles, MaxVolBytes, \
             VolRetention, VolUseDuration, Recycle, AutoPrune, PoolType, LabelType, \
             LabelFormat, UseCatalog, Enabled) \
             VALUES (?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1) RETURNING PoolId",
            &[
                p.name.as_str().into(),
                p.max_vols.into(),
                p.max_vol_jobs.into(),
                p.max_vol_files.into(),
                p.max_vol_bytes.into(),
                p.vol_retention.into(),
                p.vol_use_duration.into(),
                p.recycle.into(),
                p.auto_prune.into(),
                p.pool_type.as_str().into(),
                p.label_type.into(),
                p.label_format.as_str().into(),
            ],
        )?;
        Ok(PoolRecord {
            pool_id: returned_id(&rows)?,
            num_vols: 0,
            spec: p.clone(),
        })
    }

    /// `list pools`: every pool, by PoolId.
    pub fn list_pools(&mut self) -> Result<Vec<PoolRecord>, Error> {
        let rows = self.conn.query(
            &format!("SELECT {POOL_COLS} FROM Pool ORDER BY PoolId"),
            &[],
        )?;
        rows.iter().map(pool_from).collect()
    }

    /// The StorageId of the Storage resource `name`, created if missing.
    pub fn get_or_create_storage(&mut self, name: &str) -> Result<i64, Error> {
        let rows = self.conn.query(
            "SELECT StorageId FROM Storage WHERE Name = ?",
            &[name.into()],
        )?;
        if let Some(r) = rows.first() {
            return r.int(0);
        }
        let rows = self.conn.query(
            "INSERT INTO Storage (Name, AutoChanger) VALUES (?, 0) RETURNING StorageId",
            &[name.into()],
        )?;
        returned_id(&rows)
    }

    // ---- Media -------------------------------------------------------------------------

    /// The volume named `name`.
    pub fn media(&mut self, name: &str) -> Result<Option<MediaRecord>, Error> {
        let rows = self.conn.query(
            &format!("SELECT {MEDIA_COLS} FROM Media WHERE VolumeName = ?"),
            &[name.into()],
        )?;
        rows.first().map(media_from).transpose()
    }

    /// The volume `media_id`.
    pub fn media_by_id(&mut self, media_id: i64) -> Result<Option<MediaRecord>, Error> {
        let rows = self.conn.query(
            &format!("SELECT {MEDIA_COLS} FROM Media WHERE MediaId = ?"),
            &[media_id.into()],
        )?;
        rows.first().map(media_from).transpose()
    }

    /// Add a volume to a pool, with the pool's limits copied into it
    /// (`SetPoolDbrDefaultsInMediaDbr()` + `CreateMediaRecord()`), and count it in the pool's
    /// NumVols.
    pub fn create_media(&mut self, m: &NewMedia<'_>) -> Result<MediaRecord, Error> {
        if m.volume_name.is_empty() {
            return Err(Error::InvalidInput("empty volume name"));
        }
        self.in_tx(|c| c.create_media_in_tx(m))
    }

    fn create_media_in_tx(&mut self, m: &NewMedia<'_>) -> Result<MediaRecord, Error> {
        let pool = self.pool_by_id(m.pool_id)?.ok_or(Error::NotFound("pool"))?;
        let rows = self.conn.query(
            "INSERT INTO Media (VolumeName, PoolId, MediaType, StorageId, VolStatus, Enabled, \
             MaxVolJobs, MaxVolFiles, MaxVolBytes, VolRetention, VolUseDuration, Recycle, \
             LabelType, LabelDate) \
             VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING MediaId",
            &[
                m.volume_name.into(),
                m.pool_id.into(),
                m.media_type.into(),
                m.storage_id.into(),
                m.vol_status.as_str().into(),
                pool.spec.max_vol_jobs.into(),
                pool.spec.max_vol_files.into(),
                pool.spec.max_vol_bytes.into(),
                pool.spec.vol_retention.into(),
                pool.spec.vol_use_duration.into(),
                pool.spec.recycle.into(),
                pool.spec.label_type.into(),
                time_value(m.label_date),
            ],
        )?;
        let id = returned_id(&rows)?;
        self.conn.execute(
            "UPDATE Pool SET NumVols = NumVols + 1 WHERE PoolId = ?",
            &[m.pool_id.into()],
        )?;
        self.media_by_id(id)?.ok_or(Error::NotFound("media"))
    }

    /// Create the next volume of a pool from its Label Format (`newVolume()`): refused when
    /// the pool has no Label Format (or `*`) or `MaxVols` is reached. A format without `$`/`%`
    /// variables gets `%04d` of (highest MediaId in the catalog + 1) appended, trying the next
    /// number (up to 99 more) when that name exists (`CreateSimpleName()`): the captures'
    /// `Cap-` gives `Cap-0001`, `Cap-0002`, …. The new volume is `Unlabeled` until the SD
    /// labels it (`VolStatus=Unlabeled` in the Director's reply to `FindMedia`,
    /// `vectors/clear-backup-full` conn 2 msg 27). Formats with variables are not supported yet
    /// ([`Error::NoVolume`]).
    pub fn create_volume(
        &mut self,
        pool_id: i64,
        media_type: &str,
        storage_id: i64,
    ) -> Result<MediaRecord, Error> {
        self.in_tx(|c| {
            let pool = c.pool_by_id(pool_id)?.ok_or(Error::NotFound("pool"))?;
            let fmt = pool.spec.label_format.as_str();
            if fmt.is_empty() || fmt.starts_with('*') || fmt.contains(['$', '%']) {
                return Err(Error::NoVolume);
            }
            if pool.spec.max_vols > 0 && pool.num_vols >= pool.spec.max_vols {
                return Err(Error::NoVolume);
            }
            let rows = c.conn.query("SELECT MAX(MediaId) FROM Media", &[])?;
            let base = rows.first().map_or(Ok(0), |r| r.int_or_zero(0))?;
            for i in base + 1..base + 100 {
                let name = format!("{fmt}{i:04}");
                if c.media(&name)?.is_none() {
                    log::info!(
                        "catalog: created new volume \"{name}\" in pool {}",
                        pool.spec.name
                    );
                    return c.create_media_in_tx(&NewMedia {
                        volume_name: &name,
                        pool_id,
                        media_type,
                        storage_id,
                        vol_status: VolStatus::Unlabeled,
                        label_date: None,
                    });
                }
                log::warn!("catalog: wanted to create volume \"{name}\", but it already exists");
            }
            Err(Error::NoVolume)
        })
    }

    /// The volume a backup to this pool and media type should use
    /// (`FindNextVolumeForAppend()` steps 1–2, `FindNextVolume()`): an enabled `Append`
    /// volume, most recently written first, never-written last, then lowest MediaId; failing
    /// that an `Unlabeled` one (created earlier but never labelled), in the same order.
    pub fn find_appendable_media(
        &mut self,
        pool_id: i64,
        media_type: &str,
    ) -> Result<Option<MediaRecord>, Error> {
        for status in [VolStatus::Append, VolStatus::Unlabeled] {
            let rows = self.conn.query(
                &format!(
                    "SELECT {MEDIA_COLS} FROM Media WHERE PoolId = ? AND MediaType = ? \
                     AND Enabled = 1 AND VolStatus = ? \
                     ORDER BY LastWritten IS NULL, LastWritten DESC, MediaId LIMIT 1"
                ),
                &[pool_id.into(), media_type.into(), status.as_str().into()],
            )?;
            if let Some(r) = rows.first() {
                return media_from(r).map(Some);
            }
        }
        Ok(None)
    }

    /// [`Catalog::find_appendable_media`], or else a new volume from the Label Format
    /// ([`Catalog::create_volume`]).
    pub fn find_or_create_media(
        &mut self,
        pool_id: i64,
        media_type: &str,
        storage_id: i64,
    ) -> Result<MediaRecord, Error> {
        match self.find_appendable_media(pool_id, media_type)? {
            Some(m) => Ok(m),
            None => self.create_volume(pool_id, media_type, storage_id),
        }
    }

    /// Apply the SD's `UpdateMedia` request as `core/src/dird/catreq.cc` does, and return
    /// the stored row (what the Director echoes back in its `1000 OK VolName=…` reply):
    /// FirstWritten is set once (to `first_written`, or the job's start when that is 0),
    /// LabelDate on `relabel` or when still empty (the job's start), LastWritten to `end_time`
    /// only when the block count changed, VolBytes never decreases, and the volume limits are
    /// applied to the status ([`status_after_limits`], with `end_time` as now).
    pub fn update_media(&mut self, u: &MediaUpdate) -> Result<MediaRecord, Error> {
        self.in_tx(|c| {
            let mut m = c.media_by_id(u.media_id)?.ok_or(Error::NotFound("media"))?;
            if m.first_written.is_none() {
                m.first_written = Some(if u.first_written == 0 {
                    u.job_start_time
                } else {
                    u.first_written
                });
            }
            if u.relabel || m.label_date.is_none() {
                m.label_date = Some(u.job_start_time);
            }
            if m.vol_blocks != u.vol_blocks && u.end_time != 0 {
                m.last_written = Some(u.end_time);
            }
            m.vol_bytes = m.vol_bytes.max(u.vol_bytes);
            m.vol_jobs = u.vol_jobs;
            m.vol_files = u.vol_files;
            m.vol_blocks = u.vol_blocks;
            m.vol_mounts = u.vol_mounts;
            m.vol_errors = u.vol_errors;
            m.vol_writes = u.vol_writes;
            m.vol_status = u.vol_status.clone();
            m.vol_status = status_after_limits(&m, u.end_time);
            c.conn.execute(
                "UPDATE Media SET VolJobs = ?, VolFiles = ?, VolBlocks = ?, VolBytes = ?, \
                 VolMounts = ?, VolErrors = ?, VolWrites = ?, VolStatus = ?, LastWritten = ?, \
                 FirstWritten = ?, LabelDate = ? WHERE MediaId = ?",
                &[
                    m.vol_jobs.into(),
                    m.vol_files.into(),
                    m.vol_blocks.into(),
                    m.vol_bytes.into(),
                    m.vol_mounts.into(),
                    m.vol_errors.into(),
                    m.vol_writes.into(),
                    m.vol_status.as_str().into(),
                    time_value(m.last_written),
                    time_value(m.first_written),
                    time_value(m.label_date),
                    m.media_id.into(),
                ],
            )?;
            Ok(m)
        })
    }

    /// Set only the status of a volume (`update volume=… volstatus=…`, SD errors).
    pub fn set_media_status(&mut self, media_id: i64, status: &VolStatus) -> Result<(), Error> {
        let n = self.conn.execute(
            "UPDATE Media SET VolStatus = ? WHERE MediaId = ?",
            &[status.as_str().into(), media_id.into()],
        )?;
        if n == 0 {
            return Err(Error::NotFound("media"));
        }
        Ok(())
    }

    /// `list volumes [pool=…]`: (pool name, volume), by pool then MediaId.
    pub fn list_volumes(
        &mut self,
        pool: Option<&str>,
    ) -> Result<Vec<(String, MediaRecord)>, Error> {
        let cols = MEDIA_COLS
            .split(", ")
            .map(|c| format!("Media.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let base =
            format!("SELECT {cols}, Pool.Name FROM Media JOIN Pool ON Pool.PoolId = Media.PoolId");
        let rows = match pool {
            Some(p) => self.conn.query(
                &format!("{base} WHERE Pool.Name = ? ORDER BY Media.PoolId, Media.MediaId"),
                &[p.into()],
            )?,
            None => self
                .conn
                .query(&format!("{base} ORDER BY Media.PoolId, Media.MediaId"), &[])?,
        };
        rows.iter()
            .map(|r| Ok((r.text(28)?, media_from(r)?)))
            .collect()
    }

    // ---- Job ---------------------------------------------------------------------------

    /// Insert a job at creation with status `C` (`CreateJobRecord()`); returns the JobId.
    pub fn create_job(&mut self, j: &NewJob<'_>) -> Result<i64, Error> {
        let rows = self.conn.query(
            "INSERT INTO Job (Job, Name, Type, Level, JobStatus, SchedTime, JobTDate, ClientId) \
             VALUES (?, ?, ?, ?, ?, ?, ?, 0) RETURNING JobId",
            &[
                j.job.into(),
                j.name.into(),
                type_value(j.job_type),
                level_value(j.level),
                status_value(JobStatus::Created),
                Value::Time(j.sched_time),
                j.sched_time.into(),
            ],
        )?;
        returned_id(&rows)
    }

    /// Mark a job started (`UpdateJobStartRecord()`): status, level, StartTime, JobTDate,
    /// client, pool and fileset. This StartTime is the next Incremental's since time.
    pub fn update_job_start(&mut self, s: &JobStart) -> Result<(), Error> {
        let n = self.conn.execute(
            "UPDATE Job SET JobStatus = ?, Level = ?, StartTime = ?, JobTDate = ?, \
             ClientId = ?, PoolId = ?, FileSetId = ? WHERE JobId = ?",
            &[
                status_value(s.status),
                level_value(s.level),
                Value::Time(s.start_time),
                s.start_time.into(),
                s.client_id.into(),
                s.pool_id.into(),
                s.fileset_id.into(),
                s.job_id.into(),
            ],
        )?;
        if n == 0 {
            return Err(Error::NotFound("job"));
        }
        Ok(())
    }

    /// Give job `job_id` the StartTime, EndTime and JobTDate of job `from` (a Virtual Full
    /// takes the last joined job's, `core/src/dird/vbackup.cc` `NativeVbackupCleanup()`, so
    /// that the next Incremental is taken since that job).
    pub fn adopt_job_times(&mut self, job_id: i64, from: i64) -> Result<(), Error> {
        let src = self.job(from)?.ok_or(Error::NotFound("job"))?;
        let n = self.conn.execute(
            "UPDATE Job SET StartTime = ?, EndTime = ?, JobTDate = ? WHERE JobId = ?",
            &[
                time_value(src.start_time),
                time_value(src.end_time),
                src.job_tdate.into(),
                job_id.into(),
            ],
        )?;
        if n == 0 {
            return Err(Error::NotFound("job"));
        }
        Ok(())
    }

    /// Record a job's end (`UpdateJobEndRecord()`).
    pub fn update_job_end(&mut self, e: &JobEnd) -> Result<(), Error> {
        let n = self.conn.execute(
            "UPDATE Job SET JobStatus = ?, Type = ?, Level = ?, EndTime = ?, RealEndTime = ?, \
             JobFiles = ?, JobBytes = ?, ReadBytes = ?, JobErrors = ?, VolSessionId = ?, \
             VolSessionTime = ?, PriorJobId = ? WHERE JobId = ?",
            &[
                status_value(e.status),
                type_value(e.job_type),
                level_value(e.level),
                Value::Time(e.end_time),
                Value::Time(e.real_end_time),
                e.job_files.into(),
                u64_value(e.job_bytes)?,
                u64_value(e.read_bytes)?,
                e.job_errors.into(),
                e.vol_session_id.into(),
                e.vol_session_time.into(),
                e.prior_job_id.into(),
                e.job_id.into(),
            ],
        )?;
        if n == 0 {
            return Err(Error::NotFound("job"));
        }
        Ok(())
    }

    /// Mark the jobs a previous Director left created (`C`) or running (`R`) as failed
    /// (`f`), as Bareos' `CheckCatalog` does at start (`cleanup_created_job`,
    /// `cleanup_running_job`): a created job gets StartTime = EndTime = SchedTime, a running
    /// one EndTime = StartTime. Returns them (JobId order) so the caller can log why.
    pub fn fail_orphaned_jobs(&mut self) -> Result<Vec<OrphanedJob>, Error> {
        let rows = self.conn.query(
            "SELECT JobId, Job, JobStatus FROM Job WHERE JobStatus IN ('C', 'R') \
             ORDER BY JobId",
            &[],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let job = OrphanedJob {
                job_id: r.int(0)?,
                job: r.text(1)?,
                was: JobStatus::from_u8(code(r, 2)?),
            };
            let sql = if job.was == JobStatus::Created {
                "UPDATE Job SET JobStatus = 'f', StartTime = SchedTime, EndTime = SchedTime \
                 WHERE JobId = ? AND JobStatus = 'C'"
            } else {
                "UPDATE Job SET JobStatus = 'f', EndTime = StartTime \
                 WHERE JobId = ? AND JobStatus = 'R'"
            };
            if self.conn.execute(sql, &[job.job_id.into()])? == 1 {
                out.push(job);
            }
        }
        Ok(out)
    }

    /// The job `job_id`.
    pub fn job(&mut self, job_id: i64) -> Result<Option<JobRecord>, Error> {
        let rows = self.conn.query(
            &format!("SELECT {JOB_COLS} FROM Job WHERE JobId = ?"),
            &[job_id.into()],
        )?;
        rows.first().map(job_from).transpose()
    }

    /// The since time of a backup of `level` for this Job name, Client and FileSet
    /// (`GetLevelSinceTime()`/`FindJobStartTime()`): only Backup jobs that ended `T` or `W`
    /// count. A Differential is since the newest Full; an Incremental needs some Full and is
    /// since the newest Full, Differential or Incremental. Without a Full the job becomes a
    /// Full ([`SinceTime::UpgradeToFull`]). Other levels have no since time.
    pub fn since_time(
        &mut self,
        job_name: &str,
        client_id: i64,
        fileset_id: i64,
        level: JobLevel,
    ) -> Result<SinceTime, Error> {
        let levels: &[JobLevel] = match level {
            JobLevel::Differential => &[JobLevel::Full],
            JobLevel::Incremental => &[
                JobLevel::Full,
                JobLevel::Differential,
                JobLevel::Incremental,
            ],
            _ => return Ok(SinceTime::Full),
        };
        let newest = |c: &mut Self, levels: &[JobLevel]| -> Result<Option<Row>, Error> {
            let mut params = vec![
                type_value(JobType::Backup),
                job_name.into(),
                client_id.into(),
                fileset_id.into(),
            ];
            params.extend(levels.iter().map(|l| level_value(*l)));
            let rows = c.conn.query(
                &format!(
                    "SELECT StartTime, JobId, Job FROM Job WHERE JobStatus IN ('T', 'W') \
                     AND Type = ? AND Name = ? AND ClientId = ? AND FileSetId = ? \
                     AND Level IN ({}) AND StartTime IS NOT NULL \
                     ORDER BY StartTime DESC, JobId DESC LIMIT 1",
                    placeholders(levels.len())
                ),
                &params,
            )?;
            Ok(rows.into_iter().next())
        };
        if newest(self, &[JobLevel::Full])?.is_none() {
            return Ok(SinceTime::UpgradeToFull);
        }
        let row = newest(self, levels)?.ok_or(Error::NotFound("job"))?;
        Ok(SinceTime::Since {
            start_time: row.time(0)?.ok_or(Error::Schema("StartTime is NULL"))?,
            job_id: row.int(1)?,
            job: row.text(2)?,
        })
    }

    /// `list jobs` (all jobs) or `list jobid=N` (`job_id` given), by JobId, with the client
    /// name joined in.
    pub fn list_jobs(&mut self, job_id: Option<i64>) -> Result<Vec<JobListRow>, Error> {
        let base = "SELECT Job.JobId, Job.Name, Client.Name, Job.StartTime, Job.EndTime, \
                    Job.Type, Job.Level, Job.JobFiles, Job.JobBytes, Job.JobStatus \
                    FROM Job LEFT JOIN Client ON Client.ClientId = Job.ClientId";
        let rows = match job_id {
            Some(id) => self.conn.query(
                &format!("{base} WHERE Job.JobId = ? ORDER BY Job.JobId"),
                &[id.into()],
            )?,
            None => self
                .conn
                .query(&format!("{base} ORDER BY Job.JobId"), &[])?,
        };
        rows.iter()
            .map(|r| {
                Ok(JobListRow {
                    job_id: r.int(0)?,
                    name: r.text(1)?,
                    client: r.text(2)?,
                    start_time: r.time(3)?,
                    end_time: r.time(4)?,
                    job_type: JobType::from_u8(code(r, 5)?),
                    level: JobLevel::from_u8(code(r, 6)?),
                    job_files: r.u32(7)?,
                    job_bytes: r.int_or_zero(8)?,
                    status: JobStatus::from_u8(code(r, 9)?),
                })
            })
            .collect()
    }

    // ---- JobMedia, Log -----------------------------------------------------------------

    /// Insert a JobMedia row; returns its JobMediaId.
    pub fn create_job_media(&mut self, jm: &NewJobMedia) -> Result<i64, Error> {
        if jm.last_index < jm.first_index || jm.end_file < jm.start_file {
            return Err(Error::InvalidInput("JobMedia LastIndex < FirstIndex"));
        }
        let rows = self.conn.query(
            "INSERT INTO JobMedia (JobId, MediaId, FirstIndex, LastIndex, StartFile, EndFile, \
             StartBlock, EndBlock, VolIndex, JobBytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             RETURNING JobMediaId",
            &[
                jm.job_id.into(),
                jm.media_id.into(),
                jm.first_index.into(),
                jm.last_index.into(),
                jm.start_file.into(),
                jm.end_file.into(),
                jm.start_block.into(),
                jm.end_block.into(),
                jm.vol_index.into(),
                u64_value(jm.job_bytes)?,
            ],
        )?;
        let id = returned_id(&rows)?;
        // CreateJobMediaRecord() also moves the volume's end position.
        self.conn.execute(
            "UPDATE Media SET EndFile = ?, EndBlock = ? WHERE MediaId = ?",
            &[jm.end_file.into(), jm.end_block.into(), jm.media_id.into()],
        )?;
        Ok(id)
    }

    /// Drop a job's placeholder JobMedia rows (all indexes 0), as the SD's
    /// `DeleteNullJobmediaRecords jobid=N` asks at the end of a job; returns how many.
    pub fn delete_null_job_media(&mut self, job_id: i64) -> Result<u64, Error> {
        self.conn.execute(
            "DELETE FROM JobMedia WHERE JobId = ? AND FirstIndex = 0 AND LastIndex = 0",
            &[job_id.into()],
        )
    }

    /// The JobMedia rows of a job, in restore order (`VolIndex`, `JobMediaId`).
    pub fn job_media(&mut self, job_id: i64) -> Result<Vec<JobMediaRecord>, Error> {
        let rows = self.conn.query(
            "SELECT JobMediaId, JobId, MediaId, FirstIndex, LastIndex, StartFile, EndFile, \
             StartBlock, EndBlock, VolIndex, JobBytes FROM JobMedia WHERE JobId = ? \
             ORDER BY VolIndex, JobMediaId",
            &[job_id.into()],
        )?;
        rows.iter()
            .map(|r| {
                Ok(JobMediaRecord {
                    job_media_id: r.int(0)?,
                    row: NewJobMedia {
                        job_id: r.int(1)?,
                        media_id: r.int(2)?,
                        first_index: r.u32(3)?,
                        last_index: r.u32(4)?,
                        start_file: r.u32(5)?,
                        end_file: r.u32(6)?,
                        start_block: r.u32(7)?,
                        end_block: r.u32(8)?,
                        vol_index: r.u32(9)?,
                        job_bytes: u64::try_from(r.int_or_zero(10)?)
                            .map_err(|_| Error::OutOfRange)?,
                    },
                })
            })
            .collect()
    }

    /// The job messages of a job in the order they were stored (`list joblog`: Bareos'
    /// `list_joblog_2` query, `SELECT Time, LogText FROM Log WHERE JobId=… ORDER BY LogId`).
    pub fn list_joblog(&mut self, job_id: i64) -> Result<Vec<(Option<i64>, String)>, Error> {
        let rows = self.conn.query(
            "SELECT Time, LogText FROM Log WHERE JobId = ? ORDER BY LogId",
            &[job_id.into()],
        )?;
        rows.iter().map(|r| Ok((r.time(0)?, r.text(1)?))).collect()
    }

    /// The JobId of the job whose unique name (`Job.Job`, e.g.
    /// `backup-fd.2026-11-22_15.46.52_03`) is `job`.
    pub fn job_id_of(&mut self, job: &str) -> Result<Option<i64>, Error> {
        let rows = self
            .conn
            .query("SELECT JobId FROM Job WHERE Job = ?", &[job.into()])?;
        rows.first().map(|r| r.int(0)).transpose()
    }

    /// Store a job message (the `Log` table, what `list joblog` shows).
    pub fn insert_log(&mut self, job_id: i64, time: i64, text: &str) -> Result<(), Error> {
        self.conn.execute(
            "INSERT INTO Log (JobId, Time, LogText) VALUES (?, ?, ?)",
            &[job_id.into(), Value::Time(time), text.into()],
        )?;
        Ok(())
    }

    // ---- File attributes ---------------------------------------------------------------

    /// Insert the file attributes of a job in one transaction (the batch insert of
    /// `core/src/cats/sql_create.cc` / `postgresql.cc` `SqlBatch*`): paths are looked up or
    /// added to `Path` once each (an `ON CONFLICT DO NOTHING` insert, so two Directors
    /// sharing a catalog do not collide), file rows go in multi-row `INSERT`s of
    /// [`FILE_INSERT_CHUNK`].
    pub fn insert_file_attributes(
        &mut self,
        job_id: i64,
        files: &[FileAttr<'_>],
    ) -> Result<(), Error> {
        for f in files {
            if f.lstat.is_empty() || f.md5.is_empty() {
                return Err(Error::InvalidInput(
                    "empty LStat or MD5 (use \"0\" for no digest)",
                ));
            }
        }
        let result = self.in_tx(|c| {
            let mut ids: Vec<i64> = Vec::with_capacity(files.len());
            for f in files {
                ids.push(c.path_id(f.path)?);
            }
            for (chunk, chunk_ids) in files.chunks(FILE_INSERT_CHUNK).zip(ids.chunks(FILE_INSERT_CHUNK)) {
                let mut sql = String::from(
                    "INSERT INTO File (FileIndex, JobId, PathId, Name, LStat, Md5, DeltaSeq) VALUES ",
                );
                let mut params = Vec::with_capacity(chunk.len() * 7);
                for (i, (f, pid)) in chunk.iter().zip(chunk_ids).enumerate() {
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str("(?, ?, ?, ?, ?, ?, ?)");
                    params.extend([
                        f.file_index.into(),
                        job_id.into(),
                        (*pid).into(),
                        f.name.into(),
                        f.lstat.into(),
                        f.md5.into(),
                        i64::from(f.delta_seq).into(),
                    ]);
                }
                c.conn.execute(&sql, &params)?;
            }
            Ok(())
        });
        if result.is_err() {
            // Paths added inside the rolled-back transaction are gone again.
            self.path_cache.clear();
        }
        result
    }

    /// PathId of `path`, inserted if missing.
    fn path_id(&mut self, path: &str) -> Result<i64, Error> {
        if let Some(id) = self.path_cache.get(path) {
            return Ok(*id);
        }
        let lookup = |c: &mut Self| -> Result<Option<i64>, Error> {
            let rows = c
                .conn
                .query("SELECT PathId FROM Path WHERE Path = ?", &[path.into()])?;
            rows.first().map(|r| r.int(0)).transpose()
        };
        let id = match lookup(self)? {
            Some(id) => id,
            None => {
                self.conn.execute(
                    "INSERT INTO Path (Path) VALUES (?) ON CONFLICT (Path) DO NOTHING",
                    &[path.into()],
                )?;
                lookup(self)?.ok_or(Error::NotFound("path just inserted"))?
            }
        };
        if self.path_cache.len() >= PATH_CACHE_MAX {
            self.path_cache.clear();
        }
        self.path_cache.insert(path.to_owned(), id);
        Ok(id)
    }

    /// `list files jobid=N`: the full names (Path + Name) of a job's file rows, in FileIndex
    /// order (deleted-file markers, FileIndex 0, excluded).
    pub fn list_files(&mut self, job_id: i64) -> Result<Vec<String>, Error> {
        let rows = self.conn.query(
            "SELECT Path.Path, File.Name FROM File JOIN Path ON Path.PathId = File.PathId \
             WHERE File.JobId = ? AND File.FileIndex > 0 ORDER BY File.FileIndex, File.FileId",
            &[job_id.into()],
        )?;
        rows.iter()
            .map(|r| Ok(format!("{}{}", r.text(0)?, r.text(1)?)))
            .collect()
    }

    /// Number of File rows of a job (all, including deleted-file markers).
    pub fn count_files(&mut self, job_id: i64) -> Result<i64, Error> {
        let rows = self.conn.query(
            "SELECT COUNT(*) FROM File WHERE JobId = ?",
            &[job_id.into()],
        )?;
        rows.first()
            .ok_or(Error::Schema("COUNT returned no row"))?
            .int(0)
    }
}

/// Group helper used by tests and the restore code: `HashMap` of JobId → sorted file indexes.
pub(super) fn group_by_job(pairs: impl Iterator<Item = (i64, u32)>) -> HashMap<i64, Vec<u32>> {
    let mut m: HashMap<i64, Vec<u32>> = HashMap::new();
    for (j, fi) in pairs {
        m.entry(j).or_default().push(fi);
    }
    for v in m.values_mut() {
        v.sort_unstable();
        v.dedup();
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_fname_like_bareos() {
        // vectors/catalog-dump.txt: file, directory, top directory.
        assert_eq!(
            FileAttr::split_fname("/srv/bareos-capture/testdata/tree/hello.txt"),
            ("/srv/bareos-capture/testdata/tree/", "hello.txt")
        );
        assert_eq!(
            FileAttr::split_fname("/srv/bareos-capture/testdata/tree/sub/"),
            ("/srv/bareos-capture/testdata/tree/sub/", "")
        );
        assert_eq!(FileAttr::split_fname("noslash"), ("", "noslash"));
    }

    #[test]
    fn limits_like_has_volume_expired() {
        let m = MediaRecord {
            media_id: 1,
            volume_name: "Cap-0001".into(),
            pool_id: 1,
            media_type: "File".into(),
            storage_id: 1,
            vol_status: VolStatus::Append,
            enabled: true,
            vol_jobs: 1,
            vol_files: 0,
            vol_blocks: 2,
            vol_bytes: 1787,
            vol_mounts: 1,
            vol_errors: 0,
            vol_writes: 2,
            max_vol_jobs: 1,
            max_vol_files: 0,
            max_vol_bytes: 0,
            vol_retention: 0,
            vol_use_duration: 0,
            recycle: true,
            slot: 0,
            in_changer: false,
            label_type: 0,
            first_written: Some(1000),
            last_written: None,
            label_date: None,
            end_file: 0,
            end_block: 0,
        };
        // vectors/clear-backup-full conn 2 msg 41: VolJobs=1 with MaxVolJobs=1 -> Used.
        assert_eq!(status_after_limits(&m, 0), VolStatus::Used);
        let unused = MediaRecord {
            vol_jobs: 0,
            ..m.clone()
        };
        assert_eq!(status_after_limits(&unused, 0), VolStatus::Append);
        let full = MediaRecord {
            max_vol_bytes: 1787,
            ..m.clone()
        };
        assert_eq!(status_after_limits(&full, 0), VolStatus::Full);
        let open = MediaRecord {
            max_vol_jobs: 0,
            ..m.clone()
        };
        assert_eq!(status_after_limits(&open, 0), VolStatus::Append);
        let files = MediaRecord {
            max_vol_files: 1,
            vol_files: 1,
            ..open.clone()
        };
        assert_eq!(status_after_limits(&files, 0), VolStatus::Used);
        let dur = MediaRecord {
            vol_use_duration: 60,
            ..open.clone()
        };
        assert_eq!(status_after_limits(&dur, 1059), VolStatus::Append);
        assert_eq!(status_after_limits(&dur, 1060), VolStatus::Used);
        let err = MediaRecord {
            vol_status: VolStatus::Error,
            ..m
        };
        assert_eq!(status_after_limits(&err, 0), VolStatus::Error);
    }

    #[test]
    fn row_from_captured_records() {
        use fd_core::wire::attr::{AttrRecord, Digest};
        // vectors/clear-backup-full conn 4 msg 13 (attributes of hello.txt) and msg 19 (its
        // SHA-256); the row must equal vectors/catalog-dump.txt JobId 1 FileIndex 1.
        let rec = AttrRecord::parse(
            b"1 3 /srv/bareos-capture/testdata/tree/hello.txt\x00P4A DwZD IGk B A A A G BAA I \
              BrAw5j BpVzWl BrAw5j A A C\x00\x00\x000\x00",
        )
        .unwrap();
        let sha: [u8; 32] = [
            0x58, 0x91, 0xb5, 0xb5, 0x22, 0xd5, 0xdf, 0x08, 0x6d, 0x0f, 0xf0, 0xb1, 0x10, 0xfb,
            0xd9, 0xd2, 0x1b, 0xb4, 0xfc, 0x71, 0x63, 0xaf, 0x34, 0xd0, 0x82, 0x86, 0xa2, 0xe8,
            0x46, 0xf6, 0xbe, 0x03,
        ];
        let d = Digest::parse(fd_core::wire::stream::StreamType::Sha256Digest, &sha).unwrap();
        let row = OwnedFileAttr::from_record(&rec, Some(&d)).unwrap();
        assert_eq!(row.file_index, 1);
        assert_eq!(row.path, "/srv/bareos-capture/testdata/tree/");
        assert_eq!(row.name, "hello.txt");
        assert_eq!(
            row.lstat,
            "P4A DwZD IGk B A A A G BAA I BrAw5j BpVzWl BrAw5j A A C"
        );
        assert_eq!(row.md5, "WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM");
        assert_eq!(OwnedFileAttr::from_record(&rec, None).unwrap().md5, "0");

        // vectors/clear-diff-accurate conn 8 msg 25: FT_DELETED is stored with FileIndex 0.
        let del = AttrRecord::parse(
            b"3 23 /srv/bareos-capture2/testdata/tree/empty.txt\x00A A A A A A A A A A A BpVzWl \
              BrAxu7 A A C\x00\x00\x000\x00",
        )
        .unwrap();
        let row = OwnedFileAttr::from_record(&del, None).unwrap();
        assert_eq!((row.file_index, row.name.as_str()), (0, "empty.txt"));
        assert_eq!(
            row.as_attr().lstat,
            "A A A A A A A A A A A BpVzWl BrAxu7 A A C"
        );

        // Impossible values.
        let neg = AttrRecord {
            file_index: -1,
            ..rec
        };
        assert_eq!(
            OwnedFileAttr::from_record(&neg, None),
            Err(Error::OutOfRange)
        );
        let bad = AttrRecord {
            fname: b"/x/\xff",
            ..rec
        };
        assert!(matches!(
            OwnedFileAttr::from_record(&bad, None),
            Err(Error::InvalidInput(_))
        ));
    }

    #[test]
    fn fileset_md5_like_bareos() {
        // The captured FileSet CapSet: FileSetMD5 in the SD job command
        // (vectors/clear-backup-full conn 2 msg 9).
        assert_eq!(
            fileset_md5(["/srv/bareos-capture/testdata/tree"]),
            "y1xbU8+FNRFC/6/HUl9MRB"
        );
        // jobs.md §8.2 example; the split into entries does not matter, only the order.
        assert_eq!(fileset_md5(["/etc"]), "GC8VO9lIA5VcIE/m8lgdXB");
        assert_eq!(fileset_md5(["/e", "tc"]), fileset_md5(["/etc"]));
        assert_ne!(fileset_md5(["/etc", "/usr"]), fileset_md5(["/usr", "/etc"]));
    }
}
