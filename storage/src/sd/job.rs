//! One job on the SD: `run`, the FD session, the backup (append) and restore (read) data
//! paths, and the end-of-job reports (jobs.md §2.4–§2.5, §3, §6).
//!
//! # Backup, in the captured order
//!
//! `vectors/clear-backup-full` conn 2 (Director) and conn 4 (FD):
//!
//! ```text
//! Dir: run                 SD→Dir: Status …=70, [FD connects], 3010 Job … start, Status …=82, Jmsg Version
//! FD: append open session  SD→FD: 3000 OK open ticket = «SDid»
//! FD: append data N        SD→FD: 3000 OK data            (just-in-time: nothing reserved yet)
//! FD: first header         SD→Dir: Jmsg Finding drive, Status …=83, CatReq FindMedia → 1000 OK VolName=…,
//!                          Jmsg Using Device, GetVolInfo write=1 → …, [new volume: label it,
//!                          UpdateMedia relabel=1 → …, Jmsg Labeled new Volume, GetVolInfo → …],
//!                          Jmsg Moving to end of data, Jmsg Ready to append … size=N,
//!                          UpdateMedia VolMounts+1 → …, UpdateMedia VolJobs+1 → …, Status …=82
//! FD: records …            SD: SOS label, records into blocks; at the first written block
//!                          CatReq CreateJobMedia FirstIndex=0 … (placeholder) → 1000 OK CreateJobMedia,
//!                          then UpdCat for every attribute/digest record in written blocks
//! FD: EOD (end of data)    SD: EOS label, last block, remaining UpdCats; SD→FD: 3000 OK append data
//! FD: append end/close     SD→FD: 3000 OK end, 3000 OK close Status = 84, EOD; FD: TERMINATE
//!                          SD→Dir: Jmsg Releasing device, CreateJobMedia «range» → …,
//!                          UpdateMedia → …, DeleteNullJobmediaRecords → …, Jmsg Elapsed time,
//!                          Status …=84, 3099 Job … end …, EOD, TERMINATE, EOD, TERMINATE
//! ```
//!
//! # Restore
//!
//! `vectors/clear-restore` conn 2 and 4: `read open session` → ticket; `read data` → for each
//! bootstrap entry `CatReq GetVolInfo … write=0`, Jmsgs `Ready to read from volume`,
//! `Forward spacing Volume`, then `3000 OK data` (once) and every selected record as a
//! `rechdr «VolSessionId» «VolSessionTime» «FileIndex» «Stream» «len»` message followed by the
//! whole record (records split across blocks are joined by the reader; the messages are
//! batched into shared TLS records, as the UpdCat records of a block are), EOD after the last;
//! `read close session` → `3000 OK close Status = 82`, EOD. The job ends with `UpdateMedia`
//! of the last volume and `3099 … JobFiles=0 JobBytes=0`.
//!
//! # Full volumes
//!
//! The limit is the Director's `MaxVolBytes` from the media record (current Bareos has no
//! SD-side `Maximum Volume Size`). A volume already at its limit when a job starts is
//! reported `VolStatus=Full` and another one requested (`FindMedia=2 …
//! unwanted_volumes=«name»`). During a job, before a block that would take the volume past
//! the limit, the SD switches volumes the way `core/src/stored/device.cc`
//! `FixupDeviceBlockWriteError()` does: Jmsg `User defined maximum volume capacity …
//! exceeded`, `UpdateMedia … VolStatus=Full`, `CreateJobMedia` for the part on the old
//! volume, Jmsg `End of medium on Volume …`, FindMedia/label/mount of the next volume, Jmsg
//! `New volume … mounted …`; the session goes on there with no new SOS label, and a record
//! may continue from one volume into the next (the restore path joins it). Differences from
//! Bareos: the switch happens between records, so a volume can pass its limit by one record
//! (at most one data message, < 1,000,000 bytes), and the first block a job writes on a
//! volume is always written there. Other jobs writing to the same device
//! (`Maximum Concurrent Jobs`) wait while one job switches, then follow it before their next
//! block: `CreateJobMedia` for their part on the old volume, `GetVolInfo … write=1` of the
//! new one, and their sessions go on there (`place_block`, [`DeviceState`]). None of this
//! was captured; the messages are from the Bareos source.
//!
//! # Copy and migrate (SD → SD)
//!
//! The Director defines a writing job on the target SD and answers its `3000 OK Job …` by
//! sending `listen` instead of `run`: the job waits (JobStatus `S`) for the reading SD, which
//! connects like an FD with `Hello Start Storage Job «writing job»` and the writing job's
//! session key. On the source SD the Director defines a read job with the bootstrap of the
//! job(s) to copy and sends `replicate JobId=… Job=«writing job» address=… port=… ssl=…
//! Authorization=«key»` (the SD connects and answers `3000 OK replicate`), then `run`. The
//! reading SD sends `start replicate` (→ `3000 OK start replicate ticket = «n»`), `replicate
//! data «n»` (→ `3000 OK data`), every selected record as an FD sends backup data
//! (`core/src/stored/mac.cc` `CloneRecordToRemoteSd()`), EOD, EOD (→ `3000 OK replicate
//! data`), `end replicate` (→ `3000 OK end replicate`) and TERMINATE. The writing SD stores
//! the records in a session of its own, with the usual catalog requests (JobMedia, UpdCat)
//! to its Director. Not captured; from the Bareos source.
//!
//! # Copy, migrate and Virtual Full within one SD
//!
//! When the read and the write Storage name the same SD (same address, port and password),
//! bareos-dir uses one connection (`core/src/dird/migrate.cc`, `vbackup.cc`): `JobId=` of the
//! control job (type `c`, `g`, or `B` with level `f` for a Virtual Full), `bootstrap`,
//! `getSecureEraseCmd`, a read reservation (`append=0`), a write reservation (`append=1`,
//! the Next Pool), `run`. The SD acquires the write volume, then reads the bootstrap's
//! records and writes them into a session of its own (`mac.cc` `CloneRecordInternally()`):
//! this job's VolSessionId/VolSessionTime, FileIndexes counted from 1, labels not copied; the
//! session labels take the first copied SOS label's job, client and fileset ([`Adopted`]).
//! The catalog requests are a backup's (FindMedia, CreateJobMedia, UpdCat), which the
//! Director books to the new job. Not captured; from the Bareos source, and run against the
//! real Director (host-tests real_bareos copy, migrate and Virtual Full scenarios).
//!
//! # Failures
//!
//! A malformed data header, FileIndex out of order, a volume the Director does not know or
//! that is missing on disk, a cancel (`cancel Job=` on another connection) or a lost FD end
//! the job: a `Fatal error:` Jmsg names the cause, the open session is closed with an EOS
//! label (so the volume stays readable), JobMedia is reported for what was written, and the
//! job ends with `3099 … JobStatus=«f or A»`, never 84. The daemon keeps serving.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use barque_common::conn::{AuthenticatedConnection, FrameHead};
use fd_core::wire::bnet::{Frame, Signal};
use fd_core::wire::bsr;
use fd_core::wire::codes::{JobStatus, MessageType};
use fd_core::wire::jmsg::Jmsg;
use fd_core::wire::sd_cmd::{SdDataCommand, SdDataReply};
use fd_core::wire::sd_ctl::{
    CreateJobMedia, DeleteNullJobmedia, DirToSd, FindMedia, GetVolInfo, JobEnd, JobStart,
    JobStatusMsg, MediaInfo, SdToDir, UpdCat, UpdCatHeader, UpdateMedia,
};
use fd_core::wire::sd_dev::{
    Replication, END_REPLICATE_OK, REPLICATE_DATA_ERROR, REPLICATE_DATA_OK, START_REPLICATE_OK,
};
use fd_core::wire::stream::{AppendEvent, AppendTracker, DataHeader, Label, RecHdr, Stream};
use tokio::sync::{oneshot, watch};

use super::devcmd::write_label_to;
use super::device::{BlockPlace, Claim, DeviceState, DeviceUse, VolumeFile, VolumeSink};
use super::dir::{emit, printable};
use super::{lock, now_micros, now_unix, DeviceRes, Finished, RunningInfo, Shared};
use crate::volume::label::{EosTrailer, SessionLabel, VolumeLabel, BAREOS_TAPE_VERSION};
use crate::volume::{Reassembler, RecordReader, VolumeReader, VolumeWriter};

/// Everything the Director told the SD about a job before `run`.
pub struct JobCtx {
    /// JobId.
    pub job_id: u32,
    /// Unique job name.
    pub job: String,
    /// Job resource name.
    pub job_name: String,
    /// Client name.
    pub client: String,
    /// FileSet name.
    pub fileset: String,
    /// FileSet MD5.
    pub fileset_md5: String,
    /// Type letter.
    pub job_type: u8,
    /// Level letter.
    pub level: u8,
    /// `rerunning=1`.
    pub rerunning: bool,
    /// VolSessionId.
    pub sd_id: u32,
    /// VolSessionTime (the daemon's start time).
    pub sd_time: u32,
    /// The session key.
    pub session_key: String,
    /// Pool.
    pub pool: String,
    /// Pool type.
    pub pool_type: String,
    /// Media type.
    pub media_type: String,
    /// `append=1`.
    pub append: bool,
    /// Devices the Director offered.
    pub devices: Vec<String>,
    /// Device reserved for reading.
    pub read_device: Option<String>,
    /// Bootstrap text.
    pub bootstrap: Option<Vec<u8>>,
    /// The passive FD connection, if the SD dialled it.
    pub fd: Option<AuthenticatedConnection>,
    /// Where the FD's connection arrives.
    pub fd_rx: Option<oneshot::Receiver<AuthenticatedConnection>>,
    /// Cancel flag.
    pub cancel: watch::Receiver<bool>,
    /// Live facts for status.
    pub info: Arc<Mutex<RunningInfo>>,
    /// JobErrors.
    pub errors: u32,
    /// Job messages queued before `run` (type, text, time), sent after the job starts.
    pub queued: Vec<(MessageType, String, i64)>,
    /// Copy/migrate, reading side: the connection to the writing SD (`replicate …`).
    pub replicate: Option<AuthenticatedConnection>,
    /// Copy/migrate, writing side: started by `listen`, the data comes from another SD.
    pub listen: bool,
    /// Copy/migrate within this SD: the first copied session's identity, for this job's
    /// session labels.
    pub adopted: Option<Adopted>,
}

/// What a copy within one SD takes over from the first Start Of Session label it reads, as
/// bareos-sd does (`core/src/stored/mac.cc` `CloneRecordInternally()`): the copy's session
/// labels name the original job, so `bls -j` and `bscan` see the job that was copied.
pub struct Adopted {
    job: String,
    job_name: String,
    client: String,
    fileset: String,
    fileset_md5: String,
    job_type: u32,
    level: u32,
}

impl JobCtx {
    /// Copy, migrate, archive or Virtual Full: the SD reads and writes itself, no FD
    /// (bareos-sd `RunCmd()`: `NoClientUsed()`).
    pub fn is_mac(&self) -> bool {
        matches!(self.job_type, b'c' | b'g' | b'A') || (self.job_type == b'B' && self.level == b'f')
    }
}

/// Why a job stops early.
#[derive(Debug)]
enum Fail {
    /// `cancel Job=`.
    Canceled,
    /// Anything else: the text for the fatal Jmsg.
    Fatal(String),
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Self {
        let text = e.to_string();
        if text.starts_with("Write error on Volume") {
            // Already names the volume, the device and the fix (`device::VolumeFile`).
            Fail::Fatal(text)
        } else {
            Fail::Fatal(format!("volume I/O error: {e}"))
        }
    }
}

/// Send a job message to the Director (`Jmsg Job=… type=… level=«now» «sd» JobId «n»: …`).
pub(crate) async fn jmsg(
    sh: &Shared,
    d: &mut AuthenticatedConnection,
    ctx: &JobCtx,
    t: MessageType,
    text: &str,
) {
    jmsg_at(sh, d, ctx, t, text, now_unix()).await
}

/// [`jmsg`] with an explicit message time.
pub(crate) async fn jmsg_at(
    sh: &Shared,
    d: &mut AuthenticatedConnection,
    ctx: &JobCtx,
    t: MessageType,
    text: &str,
    time: i64,
) {
    let prefix = match t {
        MessageType::Fatal => "Fatal error: ",
        MessageType::Error => "Error: ",
        MessageType::Warning => "Warning: ",
        _ => "",
    };
    match t {
        MessageType::Fatal | MessageType::Error => {
            log::error!("job {}: {}", ctx.job, text.trim_end())
        }
        MessageType::Warning => log::warn!("job {}: {}", ctx.job, text.trim_end()),
        _ => log::info!("job {}: {}", ctx.job, text.trim_end()),
    }
    let body = format!("{} JobId {}: {prefix}{text}", sh.cfg.name, ctx.job_id);
    let route = super::messages::route(sh.cfg.job_messages.as_ref(), t);
    if !route.files.is_empty() {
        let mut line = format!("{}{body}", super::messages::time_prefix(time));
        if !line.ends_with('\n') {
            line.push('\n');
        }
        for f in &route.files {
            super::messages::append(f, &line);
        }
    }
    if !route.director {
        return;
    }
    let m = Jmsg {
        job: ctx.job.as_bytes(),
        msg_type: t,
        time,
        text: body.as_bytes(),
    };
    let mut v = vec![0u8; m.buffer_len()];
    if let Ok(n) = m.emit(&mut v) {
        v.truncate(n);
        let _ = d.send(&v).await;
    }
}

async fn send_status(d: &mut AuthenticatedConnection, ctx: &JobCtx, status: u8) {
    let m = SdToDir::JobStatus(JobStatusMsg {
        job: ctx.job.as_bytes(),
        job_status: JobStatus::from_u8(status),
    });
    let _ = d.send(&emit(&m)).await;
}

/// A catalog request and the Director's reply (digit-led; heartbeats skipped).
async fn catreq(d: &mut AuthenticatedConnection, msg: &[u8]) -> Result<Vec<u8>, Fail> {
    d.send(msg).await.map_err(|e| {
        Fail::Fatal(format!(
            "cannot send a catalog request to the Director: {e}"
        ))
    })?;
    loop {
        match d.recv().await {
            Ok(Frame::Data(r)) => return Ok(r.to_vec()),
            Ok(Frame::Signal(Signal::Heartbeat)) | Ok(Frame::Signal(Signal::HbResponse)) => {
                continue
            }
            Ok(Frame::Signal(s)) => {
                return Err(Fail::Fatal(format!(
                    "Director sent signal {} instead of a catalog reply",
                    s.name()
                )))
            }
            Ok(Frame::Chunk(_)) => return Err(Fail::Fatal("unexpected chunk".into())),
            Err(e) => {
                return Err(Fail::Fatal(format!(
                    "lost the Director while waiting for a catalog reply: {e}"
                )))
            }
        }
    }
}

fn emit_catreq(m: SdToDir<'_>) -> Vec<u8> {
    emit(&m)
}

/// The Director's media record, owned.
#[derive(Debug, Clone, Default)]
struct Media {
    name: String,
    jobs: u32,
    files: u32,
    blocks: u32,
    bytes: u64,
    mounts: u32,
    errors: u32,
    writes: u32,
    max_vol_bytes: u64,
    status: String,
    slot: i32,
    in_changer: i32,
    read_time: u64,
    write_time: u64,
    media_id: u64,
}

impl Media {
    fn from_reply(reply: &[u8], what: &str) -> Result<Media, Fail> {
        match DirToSd::parse(reply) {
            Ok(DirToSd::Media(m)) => Ok(Media::from_info(&m)),
            Ok(DirToSd::NoMedia) => Err(Fail::Fatal(format!(
                "{what}: the Director has no appendable volume (1901 No Media.)\n"
            ))),
            _ => Err(Fail::Fatal(format!(
                "{what}: the Director answered {}\n",
                printable(reply)
            ))),
        }
    }

    fn from_info(m: &MediaInfo<'_>) -> Media {
        Media {
            name: String::from_utf8_lossy(m.vol_name).into_owned(),
            jobs: m.vol_jobs,
            files: m.vol_files,
            blocks: m.vol_blocks,
            bytes: m.vol_bytes,
            mounts: m.vol_mounts,
            errors: m.vol_errors,
            writes: m.vol_writes,
            max_vol_bytes: m.max_vol_bytes,
            status: String::from_utf8_lossy(m.vol_status).into_owned(),
            slot: m.slot,
            in_changer: m.in_changer,
            read_time: m.vol_read_time,
            write_time: m.vol_write_time,
            media_id: m.media_id,
        }
    }

    fn update_msg(&self, job: &str, status: &str, relabel: bool) -> Vec<u8> {
        emit_catreq(SdToDir::CatReq(fd_core::wire::sd_ctl::CatReq::UpdateMedia(
            UpdateMedia {
                job: job.as_bytes(),
                vol_name: self.name.as_bytes(),
                vol_jobs: self.jobs,
                vol_files: self.files,
                vol_blocks: self.blocks,
                vol_bytes: self.bytes,
                vol_mounts: self.mounts,
                vol_errors: self.errors,
                vol_writes: self.writes,
                max_vol_bytes: self.max_vol_bytes,
                end_time: now_unix(),
                vol_status: status.as_bytes(),
                slot: self.slot,
                relabel: i32::from(relabel),
                in_changer: self.in_changer,
                vol_read_time: self.read_time,
                vol_write_time: self.write_time,
                vol_first_written: 0,
            },
        )))
    }
}

/// The FD's next message, or the cancel flag.
enum In<'a> {
    Data(&'a [u8]),
    Signal(Signal),
}

/// A read from the FD connection, or the cancel flag (set before or while it waits).
async fn from_fd<T>(
    read: impl std::future::Future<Output = Result<T, barque_common::error::ConnError>>,
    cancel: &mut watch::Receiver<bool>,
) -> Result<T, Fail> {
    if *cancel.borrow() {
        return Err(Fail::Canceled);
    }
    tokio::select! {
        r = read => r.map_err(|e| Fail::Fatal(format!("Error reading data from FD: {e}"))),
        _ = cancel.wait_for(|v| *v) => Err(Fail::Canceled),
    }
}

/// The FD's next message, borrowed from the connection's buffer (no copy per record).
async fn recv_fd<'a>(
    fd: &'a mut AuthenticatedConnection,
    cancel: &mut watch::Receiver<bool>,
) -> Result<In<'a>, Fail> {
    match from_fd(fd.recv(), cancel).await? {
        Frame::Data(d) => Ok(In::Data(d)),
        Frame::Signal(s) => Ok(In::Signal(s)),
        Frame::Chunk(_) => Err(Fail::Fatal("unexpected chunk from the FD".into())),
    }
}

async fn send_raw(c: &mut AuthenticatedConnection, line: &[u8]) -> Result<(), Fail> {
    c.send(line)
        .await
        .map_err(|e| Fail::Fatal(format!("cannot send to the other Storage daemon: {e}")))
}

/// Copy/migrate, reading side: `start replicate`, `replicate data`, every selected record
/// of the bootstrap, EOD, EOD, `end replicate`, TERMINATE, with the writing SD's answers
/// checked (`core/src/stored/mac.cc` `DoMacRun()`).
async fn replicate_out(
    sh: &Arc<Shared>,
    d: &mut AuthenticatedConnection,
    ctx: &mut JobCtx,
    sd: &mut AuthenticatedConnection,
    r: &mut Run,
) -> Result<(), Fail> {
    async fn answer(sd: &mut AuthenticatedConnection, what: &str) -> Result<Vec<u8>, Fail> {
        loop {
            match sd.recv().await {
                Ok(Frame::Data(m)) => return Ok(m.to_vec()),
                Ok(Frame::Signal(Signal::Heartbeat)) => continue,
                Ok(other) => {
                    return Err(Fail::Fatal(format!(
                        "Bad response to {what} from the writing Storage daemon: {other:?}"
                    )))
                }
                Err(e) => {
                    return Err(Fail::Fatal(format!(
                        "lost the writing Storage daemon waiting for the answer to {what}: {e}"
                    )))
                }
            }
        }
    }
    send_raw(sd, b"start replicate\n").await?;
    let a = answer(sd, "start replicate").await?;
    let ticket: u32 = a
        .strip_prefix(START_REPLICATE_OK)
        .and_then(|t| t.strip_suffix(b"\n"))
        .and_then(|t| std::str::from_utf8(t).ok())
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| {
            Fail::Fatal(format!(
                "Bad response to start replicate: {}",
                printable(&a)
            ))
        })?;
    send_raw(sd, format!("replicate data {ticket}\n").as_bytes()).await?;
    let a = answer(sd, "replicate data").await?;
    if a != b"3000 OK data\n" {
        return Err(Fail::Fatal(format!(
            "Bad response to replicate data: {}",
            printable(&a)
        )));
    }
    let mut out = Out::Sd {
        conn: sd,
        last: None,
        files: 0,
        bytes: 0,
    };
    read_data(sh, d, ctx, &mut out, r).await?;
    if let Out::Sd { files, bytes, .. } = out {
        r.files = files;
        r.bytes = bytes;
    }
    let a = answer(sd, "replicate data").await?;
    if a != REPLICATE_DATA_OK {
        return Err(Fail::Fatal(format!(
            "the writing Storage daemon refused the data: {}",
            printable(&a)
        )));
    }
    send_raw(sd, b"end replicate\n").await?;
    let a = answer(sd, "end replicate").await?;
    if a != END_REPLICATE_OK {
        return Err(Fail::Fatal(format!(
            "Bad response to end replicate: {}",
            printable(&a)
        )));
    }
    let _ = sd.signal(Signal::Terminate).await;
    Ok(())
}

async fn send_fd(fd: &mut AuthenticatedConnection, r: &SdDataReply<'_>) -> Result<(), Fail> {
    let mut v = vec![0u8; r.buffer_len()];
    let n = r
        .emit(&mut v)
        .map_err(|e| Fail::Fatal(format!("cannot form a reply to the FD: {e}")))?;
    v.truncate(n);
    fd.send(&v)
        .await
        .map_err(|e| Fail::Fatal(format!("cannot send to the FD: {e}")))
}

/// An open append session on one volume.
struct Append {
    dev: DeviceRes,
    /// The job's place on the device.
    use_: DeviceUse,
    media: Media,
    path: PathBuf,
    writer: Option<VolumeWriter<VolumeSink>>,
    /// The volume the writer appends to.
    sink: VolumeSink,
    placeholder_sent: bool,
    /// The volume passed the Director's MaxVolBytes during this job.
    over_limit: bool,
    /// Catalogued records in blocks not yet written: (FileIndex, stream, where its bytes
    /// are in `pending_bytes`), the bytes one after the other in one buffer reused per block.
    pending: Vec<(i32, Stream, std::ops::Range<usize>)>,
    pending_bytes: Vec<u8>,
    summary: Option<crate::volume::SessionSummary>,
    session_open: bool,
}

/// State of a job while it runs.
struct Run {
    status: u8,
    files: u32,
    bytes: u64,
    append: Option<Append>,
    /// Volume last read (restore), for the final UpdateMedia.
    read_media: Option<Media>,
    started: Instant,
}

fn version_line() -> String {
    format!(
        "Version: {} (barque) {} {}\n",
        super::VERSION,
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// The job starts running: `JobStart`, status `R`, the messages queued before, the version.
async fn announce_running(sh: &Arc<Shared>, d: &mut AuthenticatedConnection, ctx: &mut JobCtx) {
    lock(&ctx.info).status = b'R';
    let start = SdToDir::JobStart(JobStart {
        job: ctx.job.as_bytes(),
    });
    let _ = d.send(&emit(&start)).await;
    send_status(d, ctx, b'R').await;
    for (t, text, time) in std::mem::take(&mut ctx.queued) {
        jmsg_at(sh, d, ctx, t, &text, time).await;
    }
    jmsg(sh, d, ctx, MessageType::Info, &version_line()).await;
}

/// Run the job after `run`: the whole FD session and the end-of-job reports.
pub(crate) async fn run(sh: &Arc<Shared>, d: &mut AuthenticatedConnection, mut ctx: JobCtx) {
    let mut r = Run {
        status: b'R',
        files: 0,
        bytes: 0,
        append: None,
        read_media: None,
        started: Instant::now(),
    };
    {
        let mut info = lock(&ctx.info);
        info.status = if ctx.listen { b'S' } else { b'F' };
        info.started = now_unix();
        info.pool = ctx.pool.clone();
    }
    if let Some(mut sd) = ctx.replicate.take() {
        // Copy/migrate, reading side (`core/src/stored/mac.cc` `DoMacRun()`).
        announce_running(sh, d, &mut ctx).await;
        if let Err(f) = replicate_out(sh, d, &mut ctx, &mut sd, &mut r).await {
            fail(sh, d, &ctx, &mut r, f).await;
        }
        if r.status == b'R' {
            r.status = b'T';
        }
        finish(sh, d, &mut ctx, &mut r).await;
        return;
    }
    if ctx.is_mac() && !ctx.listen {
        // Copy, migrate or Virtual Full within this SD (`DoMacRun()` without a remote SD).
        announce_running(sh, d, &mut ctx).await;
        if let Err(f) = local_copy(sh, d, &mut ctx, &mut r).await {
            fail(sh, d, &ctx, &mut r, f).await;
        }
        if r.status == b'R' {
            r.status = b'T';
        }
        finish(sh, d, &mut ctx, &mut r).await;
        return;
    }
    // Waiting for the FD (`F`), or for the reading SD after `listen` (`S`).
    let waiting = if ctx.listen { b'S' } else { b'F' };
    send_status(d, &ctx, waiting).await;
    let fd = match wait_fd(sh, &mut ctx).await {
        Ok(fd) => Some(fd),
        Err(f) => {
            fail(sh, d, &ctx, &mut r, f).await;
            None
        }
    };
    if let Some(mut fd) = fd {
        if ctx.append {
            // The FD's data comes in bulk: larger reads from the socket.
            fd.receive_bulk();
        }
        announce_running(sh, d, &mut ctx).await;
        if let Err(f) = fd_session(sh, d, &mut ctx, &mut fd, &mut r).await {
            fail(sh, d, &ctx, &mut r, f).await;
        }
        if r.status == b'R' {
            r.status = b'T';
        }
    }
    finish(sh, d, &mut ctx, &mut r).await;
}

/// A copy within this SD: the write volume first (as `DoMacRun()` acquires it before
/// reading), then every selected record of the bootstrap into this job's session.
async fn local_copy(
    sh: &Arc<Shared>,
    d: &mut AuthenticatedConnection,
    ctx: &mut JobCtx,
    r: &mut Run,
) -> Result<(), Fail> {
    if ctx.read_device.is_none() || !ctx.append {
        let missing = if ctx.read_device.is_none() {
            "a device to read (use storage=… append=0)"
        } else {
            "devices to write (use storage=… append=1)"
        };
        return Err(Fail::Fatal(format!(
            "job {} copies within this Storage daemon but the Director reserved no {missing}; \
             check the Storage of the source volumes and of the Next Pool",
            ctx.job
        )));
    }
    r.append = Some(reserve(sh, d, ctx).await?);
    let mut out = Out::Local(Local::default());
    read_data(sh, d, ctx, &mut out, r).await?;
    if r.append.as_ref().is_some_and(|a| !a.session_open) {
        // Nothing was selected: an empty session still records the job on the volume.
        begin_session(ctx, r)?;
    }
    end_append(sh, d, ctx, r).await
}

async fn wait_fd(sh: &Shared, ctx: &mut JobCtx) -> Result<AuthenticatedConnection, Fail> {
    if let Some(fd) = ctx.fd.take() {
        return Ok(fd);
    }
    let Some(rx) = ctx.fd_rx.take() else {
        return Err(Fail::Fatal("no FD connection expected".into()));
    };
    let wait = sh.cfg.client_connect_wait;
    let mut cancel = ctx.cancel.clone();
    tokio::select! {
        r = tokio::time::timeout(wait, rx) => match r {
            Ok(Ok(fd)) => Ok(fd),
            Ok(Err(_)) => Err(Fail::Fatal("the FD connection was dropped before the job started".into())),
            Err(_) => Err(Fail::Fatal(format!(
                "the File daemon did not connect within {} s (Client Connect Wait)",
                wait.as_secs()
            ))),
        },
        _ = cancel.wait_for(|v| *v) => Err(Fail::Canceled),
    }
}

/// Report a failure: fatal Jmsg (not for a cancel), close the open session with an EOS so the
/// volume stays readable.
async fn fail(sh: &Shared, d: &mut AuthenticatedConnection, ctx: &JobCtx, r: &mut Run, f: Fail) {
    match f {
        Fail::Canceled => {
            r.status = b'A';
            jmsg(
                sh,
                d,
                ctx,
                MessageType::Info,
                "Job marked to be canceled.\n",
            )
            .await;
        }
        Fail::Fatal(text) => {
            r.status = b'f';
            let t = if text.ends_with('\n') {
                text
            } else {
                format!("{text}\n")
            };
            jmsg(sh, d, ctx, MessageType::Fatal, &t).await;
        }
    }
    if let Some(a) = r.append.as_mut() {
        if a.session_open {
            if let Err(e) = close_session(ctx, a, r.status, r.files) {
                log::error!(
                    "job {}: cannot close the session on the volume: {e:?}",
                    ctx.job
                );
            }
        }
    }
}

async fn fd_session(
    sh: &Arc<Shared>,
    d: &mut AuthenticatedConnection,
    ctx: &mut JobCtx,
    fd: &mut AuthenticatedConnection,
    r: &mut Run,
) -> Result<(), Fail> {
    let mut cancel = ctx.cancel.clone();
    loop {
        let msg = match recv_fd(fd, &mut cancel).await {
            // Commands are short; copy so the connection is free for the reply.
            Ok(In::Data(m)) => m.to_vec(),
            // The FD's TERMINATE ends the session (a restore's FD sends a second one, which
            // nobody reads: clear-restore conn 4 msgs 45-47).
            Ok(In::Signal(Signal::Terminate)) => return Ok(()),
            Ok(In::Signal(_)) => continue,
            Err(Fail::Fatal(e)) if r.append.as_ref().is_none_or(|a| !a.session_open) => {
                // The FD went away between commands: the session is over.
                log::debug!("job {}: FD session ended: {e}", ctx.job);
                return Ok(());
            }
            Err(f) => return Err(f),
        };
        if ctx.listen {
            if let Some(rep) = Replication::parse(&msg) {
                // The reading SD of a copy/migrate (`core/src/stored/sd_cmds.cc`).
                match rep {
                    Replication::Start => {
                        let mut line = START_REPLICATE_OK.to_vec();
                        line.extend_from_slice(format!("{}\n", ctx.sd_id).as_bytes());
                        send_raw(fd, &line).await?;
                    }
                    Replication::Data(_) => {
                        send_fd(fd, &SdDataReply::Data).await?;
                        match append_data(sh, d, ctx, fd, r).await {
                            Ok(()) => send_raw(fd, REPLICATE_DATA_OK).await?,
                            Err(f) => {
                                let _ = send_raw(fd, REPLICATE_DATA_ERROR).await;
                                return Err(f);
                            }
                        }
                    }
                    Replication::End => send_raw(fd, END_REPLICATE_OK).await?,
                }
                continue;
            }
        }
        let cmd = match SdDataCommand::parse(&msg) {
            Ok(c) => c,
            Err(e) => {
                let _ = send_fd(fd, &SdDataReply::InvalidCommand).await;
                return Err(Fail::Fatal(format!(
                    "malformed FD command {:?}: {e}",
                    printable(&msg)
                )));
            }
        };
        match cmd {
            SdDataCommand::AppendOpen => {
                if !ctx.append {
                    send_fd(fd, &SdDataReply::InvalidCommand).await?;
                    return Err(Fail::Fatal("append open session in a read job".into()));
                }
                send_fd(fd, &SdDataReply::OpenTicket { ticket: ctx.sd_id }).await?;
            }
            SdDataCommand::AppendData { .. } => {
                send_fd(fd, &SdDataReply::Data).await?;
                match append_data(sh, d, ctx, fd, r).await {
                    Ok(()) => send_fd(fd, &SdDataReply::AppendData).await?,
                    Err(f) => {
                        let _ = send_fd(fd, &SdDataReply::FailedAppend).await;
                        return Err(f);
                    }
                }
            }
            SdDataCommand::AppendEnd { .. } => send_fd(fd, &SdDataReply::End).await?,
            SdDataCommand::AppendClose { .. } => {
                let status = if r.status == b'R' { b'T' } else { r.status };
                send_fd(
                    fd,
                    &SdDataReply::Close {
                        status: JobStatus::from_u8(status),
                    },
                )
                .await?;
                let _ = fd.signal(Signal::Eod).await;
            }
            SdDataCommand::ReadOpen(_) => {
                if ctx.append {
                    send_fd(fd, &SdDataReply::InvalidCommand).await?;
                    return Err(Fail::Fatal("read open session in a backup job".into()));
                }
                send_fd(fd, &SdDataReply::OpenTicket { ticket: ctx.sd_id }).await?;
            }
            SdDataCommand::ReadData { .. } => read_data(sh, d, ctx, &mut Out::Fd(fd), r).await?,
            SdDataCommand::ReadClose { .. } => {
                send_fd(
                    fd,
                    &SdDataReply::Close {
                        status: JobStatus::from_u8(r.status),
                    },
                )
                .await?;
                let _ = fd.signal(Signal::Eod).await;
            }
            SdDataCommand::Unknown(m) => {
                send_fd(fd, &SdDataReply::InvalidCommand).await?;
                return Err(Fail::Fatal(format!(
                    "invalid command from the FD: {:?}",
                    printable(m)
                )));
            }
        }
    }
}

/// The data phase of a backup: headers and records until the EOD in header position.
async fn append_data(
    sh: &Arc<Shared>,
    d: &mut AuthenticatedConnection,
    ctx: &mut JobCtx,
    fd: &mut AuthenticatedConnection,
    r: &mut Run,
) -> Result<(), Fail> {
    let mut tracker = AppendTracker::new(ctx.rerunning);
    let mut cancel = ctx.cancel.clone();
    loop {
        // A file-data record goes from the connection straight into the volume block.
        if let (Some(h), Some(a)) = (tracker.in_stream(), r.append.as_mut()) {
            if !h.stream.kind().is_catalogued() {
                if let FrameHead::Data(n) = from_fd(fd.recv_head(), &mut cancel).await? {
                    receive_record(sh, d, ctx, a, fd, &mut cancel, h, n).await?;
                    count_record(ctx, r, n);
                    continue;
                }
            }
        }
        let ev = match recv_fd(fd, &mut cancel).await? {
            In::Data(p) => {
                let before = tracker.last_file_index();
                match tracker.on_message(p) {
                    Ok(AppendEvent::Header(h)) => {
                        if r.append.is_none() {
                            r.append = Some(reserve(sh, d, ctx).await?);
                            begin_session(ctx, r)?;
                        }
                        r.files = u32::try_from(h.file_index).unwrap_or(0);
                        continue;
                    }
                    Ok(AppendEvent::Data { header, data }) => {
                        let a = r
                            .append
                            .as_mut()
                            .ok_or_else(|| Fail::Fatal("data before a header".into()))?;
                        write_record(sh, d, ctx, a, header.file_index, header.stream, data).await?;
                        count_record(ctx, r, data.len());
                        continue;
                    }
                    Ok(AppendEvent::EndOfStream) => AppendEvent::EndOfStream,
                    Ok(AppendEvent::EndOfData) => AppendEvent::EndOfData,
                    Err(e) => {
                        let why = match DataHeaderProblem::of(p) {
                            DataHeaderProblem::OutOfOrder(fi) => format!(
                                "FileIndex {fi} from the FD is out of order after FileIndex {before}; records must come in FileIndex order"
                            ),
                            DataHeaderProblem::Bad => format!(
                                "Error reading data header from FD: {:?} is not \"FileIndex Stream 0\" ({e})",
                                printable(p)
                            ),
                        };
                        return Err(Fail::Fatal(why));
                    }
                }
            }
            In::Signal(Signal::Eod) => tracker
                .on_eod()
                .map_err(|e| Fail::Fatal(format!("unexpected EOD from the FD: {e}")))?,
            In::Signal(Signal::Heartbeat) => continue,
            In::Signal(s) => {
                return Err(Fail::Fatal(format!(
                    "Error reading data header from FD: got signal {} in the data stream",
                    s.name()
                )))
            }
        };
        if ev == AppendEvent::EndOfData {
            break;
        }
    }
    end_append(sh, d, ctx, r).await
}

/// A record of `len` bytes from the FD is written: the job's counters and its status.
fn count_record(ctx: &JobCtx, r: &mut Run, len: usize) {
    r.bytes += len as u64;
    let mut info = lock(&ctx.info);
    info.files = r.files;
    info.bytes = r.bytes;
    info.fd_messages += 1;
}

/// The end of the data: the EOS label, the last block, the remaining catalog updates.
async fn end_append(
    sh: &Arc<Shared>,
    d: &mut AuthenticatedConnection,
    ctx: &JobCtx,
    r: &mut Run,
) -> Result<(), Fail> {
    if let Some(a) = r.append.as_mut() {
        let eos_len = session_label(ctx, Some(EosTrailer::default())).buffer_len();
        let vol_end = a.sink.len();
        let full = needs_switch(a, |w| {
            vol_end.saturating_add((w.buffered_len() + 2 * 24 + 12 + eos_len) as u64)
                >= a.media.max_vol_bytes
        });
        place_block(sh, d, ctx, a, full).await?;
        close_session(ctx, a, b'T', r.files)?;
        let end = a.media.bytes;
        check_limit(sh, d, ctx, a, end).await;
        flush_catalog(d, ctx, a).await?;
    }
    Ok(())
}

enum DataHeaderProblem {
    OutOfOrder(i32),
    Bad,
}

impl DataHeaderProblem {
    fn of(p: &[u8]) -> DataHeaderProblem {
        match fd_core::wire::stream::DataHeader::parse(p) {
            Ok(h) => DataHeaderProblem::OutOfOrder(h.file_index),
            Err(_) => DataHeaderProblem::Bad,
        }
    }
}

/// Just-in-time reservation and volume mount, in the captured order.
async fn reserve(
    sh: &Arc<Shared>,
    d: &mut AuthenticatedConnection,
    ctx: &mut JobCtx,
) -> Result<Append, Fail> {
    jmsg(
        sh,
        d,
        ctx,
        MessageType::Info,
        "JustInTime Reservation: Finding drive to reserve.\n",
    )
    .await;
    send_status(d, ctx, b'S').await;
    let candidates: Vec<(DeviceRes, Arc<DeviceState>)> = ctx
        .devices
        .iter()
        .filter_map(|n| sh.cfg.device(n.as_bytes()))
        .filter(|dev| dev.media_type == ctx.media_type)
        .filter_map(|dev| Some((dev.clone(), sh.device_state(&dev.name)?)))
        .collect();
    if candidates.is_empty() {
        return Err(Fail::Fatal(format!(
            "no device of Media Type \"{}\" among the devices the Director offered ({})",
            ctx.media_type,
            ctx.devices.join(", ")
        )));
    }
    // The first device that is idle or has a volume of this pool with room for one more
    // job; else wait for a change on any of them (a job leaving, a volume mounted).
    let mut cancel = ctx.cancel.clone();
    let mut told = false;
    let (dev, claim) = loop {
        let waits: Vec<_> = candidates.iter().map(|(_, st)| st.clone()).collect();
        let mut notified: Vec<_> = waits.iter().map(|st| Box::pin(st.changed())).collect();
        for n in notified.iter_mut() {
            n.as_mut().enable();
        }
        if let Some(found) = candidates
            .iter()
            .find_map(|(dev, st)| st.try_claim(&ctx.pool).map(|c| (dev.clone(), c)))
        {
            break found;
        }
        if !told {
            told = true;
            let names: Vec<String> = candidates
                .iter()
                .map(|(dev, st)| {
                    format!(
                        "\"{}\" ({} of {} jobs)",
                        dev.name,
                        st.places(),
                        dev.maximum_concurrent_jobs
                    )
                })
                .collect();
            jmsg(
                sh,
                d,
                ctx,
                MessageType::Info,
                &format!(
                    "Job {} is waiting for a device: {} busy (Maximum Concurrent Jobs, or a volume of another pool mounted).\n",
                    ctx.job,
                    names.join(", ")
                ),
            )
            .await;
        }
        let any = futures_any(notified);
        tokio::select! {
            _ = any => {}
            _ = cancel.wait_for(|v| *v) => return Err(Fail::Canceled),
        }
    };
    let devdesc = format!("\"{}\" ({})", dev.name, dev.archive.display());
    let (use_, media, path, sink, size) = match claim {
        Claim::Mount(mut use_) => {
            let (media, path, file, size) =
                mount_volume(sh, d, ctx, &dev, Vec::new(), true).await?;
            let mut vf = VolumeFile::new(
                &media.name,
                &dev.name,
                dev.archive.clone(),
                path.clone(),
                file,
                size,
            );
            vf.cat_jobs = media.jobs;
            vf.cat_blocks = media.blocks;
            vf.cat_writes = media.writes;
            let sink = VolumeSink::new(vf);
            let st = use_.device().clone();
            st.mounted(sink.clone(), &ctx.pool, &mut use_);
            use_.acquired();
            (use_, media, path, sink, size)
        }
        Claim::Join(mut use_, sink) => {
            // The volume is mounted and being written by other jobs: count this job on it.
            let name = sink.name();
            jmsg(
                sh,
                d,
                ctx,
                MessageType::Info,
                &format!("Using Device {devdesc} to write.\n"),
            )
            .await;
            let get = get_vol_info(ctx, &name, true);
            let mut media = Media::from_reply(&catreq(d, &get).await?, "GetVolInfo")?;
            let (jobs, blocks, writes, path, size) = sink.with(|v| {
                v.cat_jobs = v.cat_jobs.saturating_add(1);
                (
                    v.cat_jobs,
                    v.cat_blocks,
                    v.cat_writes,
                    v.path.clone(),
                    v.len(),
                )
            });
            media.jobs = jobs;
            media.blocks = blocks;
            media.writes = writes;
            let status = media.status.clone();
            let upd = media.update_msg(&ctx.job, &status, false);
            media = Media::from_reply(&catreq(d, &upd).await?, "UpdateMedia")?;
            jmsg(
                sh,
                d,
                ctx,
                MessageType::Info,
                &format!(
                    "Volume \"{name}\" on device {devdesc} is shared with {} other running job(s); appending at {size}.\n",
                    use_.device().places().saturating_sub(1)
                ),
            )
            .await;
            use_.acquired();
            send_status(d, ctx, b'R').await;
            (use_, media, path, sink, size)
        }
    };
    {
        let mut info = lock(&ctx.info);
        info.volume = media.name.clone();
        info.device = dev.name.clone();
        info.device_desc = devdesc;
        info.writing = true;
    }
    let writer = VolumeWriter::new(sink.clone(), dev.block_size, size)?;
    Ok(Append {
        dev,
        use_,
        media,
        path,
        writer: Some(writer),
        sink,
        placeholder_sent: false,
        over_limit: false,
        pending: Vec::new(),
        pending_bytes: Vec::new(),
        summary: None,
        session_open: false,
    })
}

/// Resolves when any of `futs` does.
async fn futures_any<F: std::future::Future + Unpin>(mut futs: Vec<F>) {
    std::future::poll_fn(move |cx| {
        for f in futs.iter_mut() {
            if std::pin::Pin::new(f).poll(cx).is_ready() {
                return std::task::Poll::Ready(());
            }
        }
        std::task::Poll::Pending
    })
    .await
}

/// Find (`FindMedia`), check (`GetVolInfo`), label if new, and open a volume for appending,
/// with the captured messages; `unwanted` are volumes already refused. Returns the media
/// record, the file path, the open file and its size.
async fn mount_volume(
    sh: &Shared,
    d: &mut AuthenticatedConnection,
    ctx: &JobCtx,
    dev: &DeviceRes,
    mut unwanted: Vec<String>,
    first: bool,
) -> Result<(Media, PathBuf, File, u64), Fail> {
    let devdesc = format!("\"{}\" ({})", dev.name, dev.archive.display());
    // FindMedia; a volume already at its MaxVolBytes is marked Full and another one asked
    // for (`FindMedia=2 … unwanted_volumes=«names»`, `core/src/stored/askdir.cc`).
    let mut index = 1;
    let (mut media, path, existing) = loop {
        let unwanted_text = unwanted.join(",");
        let find = emit_catreq(SdToDir::CatReq(fd_core::wire::sd_ctl::CatReq::FindMedia(
            FindMedia {
                job: ctx.job.as_bytes(),
                index,
                pool_name: ctx.pool.as_bytes(),
                media_type: ctx.media_type.as_bytes(),
                unwanted_volumes: unwanted_text.as_bytes(),
            },
        )));
        let media = Media::from_reply(&catreq(d, &find).await?, "FindMedia")?;
        if media.name.is_empty()
            || media.name.contains('/')
            || media.name.starts_with('.')
            || media.name.len() > 127
        {
            return Err(Fail::Fatal(format!(
                "the Director proposed the volume name {:?}, which cannot be a file name",
                media.name
            )));
        }
        if index == 1 && first {
            jmsg(
                sh,
                d,
                ctx,
                MessageType::Info,
                &format!("Using Device {devdesc} to write.\n"),
            )
            .await;
        }
        let get = get_vol_info(ctx, &media.name, true);
        let media = Media::from_reply(&catreq(d, &get).await?, "GetVolInfo")?;
        let path = dev.archive.join(&media.name);
        let existing = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        if media.max_vol_bytes > 0 && existing >= media.max_vol_bytes && index < 4 {
            jmsg(
                sh,
                d,
                ctx,
                MessageType::Info,
                &format!(
                    "Volume \"{}\" is full ({existing} bytes, MaxVolBytes {}); marking it Full.\n",
                    media.name, media.max_vol_bytes
                ),
            )
            .await;
            let upd = media.update_msg(&ctx.job, "Full", false);
            catreq(d, &upd).await?;
            unwanted.push(media.name.clone());
            index += 1;
            continue;
        }
        break (media, path, existing);
    };
    // A volume the Director recycled (`VolStatus=Recycle`, its jobs purged from the
    // catalog): relabel it with the same name, dropping the old data, as Bareos' SD does.
    let recycled = media.status == "Recycle" && existing > 0;
    let existing = if recycled {
        check_label(&path, &media.name)?;
        std::fs::remove_file(&path).map_err(|e| {
            Fail::Fatal(format!(
                "cannot truncate recycled volume file {}: {e}",
                path.display()
            ))
        })?;
        0
    } else {
        existing
    };
    if media.status == "Unlabeled" || existing == 0 {
        if existing > 0 {
            return Err(Fail::Fatal(format!(
                "volume file {} exists with {existing} bytes but the catalog says it is unlabeled; refusing to overwrite it",
                path.display()
            )));
        }
        if !dev.label_media {
            return Err(Fail::Fatal(format!(
                "volume {} is not labeled and device {} has Label Media = no",
                media.name, dev.name
            )));
        }
        let label_len = write_label(ctx, dev, &path, &media.name, sh.sd_time)?;
        media.blocks = 1;
        media.bytes = label_len;
        media.writes = media.writes.saturating_add(1);
        let upd = media.update_msg(&ctx.job, "Append", true);
        media = Media::from_reply(&catreq(d, &upd).await?, "UpdateMedia")?;
        jmsg(
            sh,
            d,
            ctx,
            MessageType::Info,
            &if recycled {
                format!(
                    "Recycled volume \"{}\" on device {devdesc}, all previous data lost.\n",
                    media.name
                )
            } else {
                format!(
                    "Labeled new Volume \"{}\" on device {devdesc}.\n",
                    media.name
                )
            },
        )
        .await;
        let get = get_vol_info(ctx, &media.name, true);
        media = Media::from_reply(&catreq(d, &get).await?, "GetVolInfo")?;
    } else {
        check_label(&path, &media.name)?;
    }
    jmsg(
        sh,
        d,
        ctx,
        MessageType::Info,
        &format!("Moving to end of data on volume \"{}\"\n", media.name),
    )
    .await;
    let removed = super::repair_volume(&path)?;
    if removed > 0 {
        jmsg(
            sh,
            d,
            ctx,
            MessageType::Warning,
            &format!(
                "Volume \"{}\": removed {removed} bytes of a partly written last block (crash recovery).\n",
                media.name
            ),
        )
        .await;
    }
    let size = std::fs::metadata(&path)?.len();
    jmsg(
        sh,
        d,
        ctx,
        MessageType::Info,
        &format!(
            "Ready to append to end of Volume \"{}\" size={size}\n",
            media.name
        ),
    )
    .await;
    media.mounts = media.mounts.saturating_add(1);
    let status = media.status.clone();
    let upd = media.update_msg(&ctx.job, &status, false);
    media = Media::from_reply(&catreq(d, &upd).await?, "UpdateMedia")?;
    media.jobs = media.jobs.saturating_add(1);
    let status = media.status.clone();
    let upd = media.update_msg(&ctx.job, &status, false);
    media = Media::from_reply(&catreq(d, &upd).await?, "UpdateMedia")?;
    let file = OpenOptions::new().append(true).open(&path)?;
    if first {
        send_status(d, ctx, b'R').await;
    }
    Ok((media, path, file, size))
}

fn get_vol_info(ctx: &JobCtx, name: &str, write: bool) -> Vec<u8> {
    emit_catreq(SdToDir::CatReq(fd_core::wire::sd_ctl::CatReq::GetVolInfo(
        GetVolInfo {
            job: ctx.job.as_bytes(),
            vol_name: name.as_bytes(),
            write: i32::from(write),
        },
    )))
}

fn write_label(
    ctx: &JobCtx,
    dev: &DeviceRes,
    path: &std::path::Path,
    name: &str,
    sd_time: u32,
) -> Result<u64, Fail> {
    let file = OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(path)
        .map_err(|e| Fail::Fatal(format!("cannot create volume file {}: {e}", path.display())))?;
    let written = write_label_to(
        file,
        dev,
        name,
        &ctx.pool,
        &ctx.pool_type,
        ctx.sd_id,
        sd_time,
    );
    written.map_err(|e| {
        // A label that did not fit (a full file system) must not leave a torn volume file.
        let _ = std::fs::remove_file(path);
        Fail::Fatal(format!(
            "cannot write the label of Volume \"{name}\" on device \"{}\" ({}): {e}. Free \
             space in {} and run the job again.",
            dev.name,
            path.display(),
            dev.archive.display()
        ))
    })
}

/// The volume's label must name the volume the Director chose.
fn check_label(path: &std::path::Path, want: &str) -> Result<(), Fail> {
    let f = File::open(path)
        .map_err(|e| Fail::Fatal(format!("cannot open volume file {}: {e}", path.display())))?;
    let mut rr = RecordReader::new(BufReader::new(f));
    match rr.next_record() {
        Ok(Some(rec)) if rec.label() == Some(Label::VolLabel) => {
            match VolumeLabel::parse(Label::VolLabel, &rec.data) {
                Ok(l) if l.volume_name == want.as_bytes() => Ok(()),
                Ok(l) => Err(Fail::Fatal(format!(
                    "Wrong Volume mounted: wanted {want}, the file {} is labeled {}",
                    path.display(),
                    String::from_utf8_lossy(l.volume_name)
                ))),
                Err(e) => Err(Fail::Fatal(format!(
                    "volume {}: unreadable label: {e}",
                    path.display()
                ))),
            }
        }
        Ok(_) => Err(Fail::Fatal(format!(
            "volume {} does not start with a volume label",
            path.display()
        ))),
        Err(e) => Err(Fail::Fatal(format!(
            "volume {}: not a Bareos volume: {e}",
            path.display()
        ))),
    }
}

fn session_label<'a>(ctx: &'a JobCtx, eos: Option<EosTrailer>) -> SessionLabel<'a> {
    let mut l = SessionLabel {
        ver_num: BAREOS_TAPE_VERSION,
        job_id: ctx.job_id,
        write_btime: now_micros(),
        write_time: 0,
        pool_name: ctx.pool.as_bytes(),
        pool_type: ctx.pool_type.as_bytes(),
        job_name: ctx.job_name.as_bytes(),
        client_name: ctx.client.as_bytes(),
        job: ctx.job.as_bytes(),
        fileset_name: ctx.fileset.as_bytes(),
        job_type: u32::from(ctx.job_type),
        job_level: u32::from(ctx.level),
        fileset_md5: ctx.fileset_md5.as_bytes(),
        eos,
    };
    if let Some(a) = &ctx.adopted {
        l.job_type = a.job_type;
        l.job_level = a.level;
        if ctx.job_type != b'B' {
            l.job = a.job.as_bytes();
            l.job_name = a.job_name.as_bytes();
            l.client_name = a.client.as_bytes();
            l.fileset_name = a.fileset.as_bytes();
            l.fileset_md5 = a.fileset_md5.as_bytes();
        }
    }
    l
}

fn begin_session(ctx: &JobCtx, r: &mut Run) -> Result<(), Fail> {
    let a = r
        .append
        .as_mut()
        .ok_or_else(|| Fail::Fatal("no volume".into()))?;
    let w = a
        .writer
        .as_mut()
        .ok_or_else(|| Fail::Fatal("volume closed".into()))?;
    let sos = session_label(ctx, None);
    w.begin_session(ctx.sd_id, ctx.sd_time, &sos)?;
    a.session_open = true;
    Ok(())
}

async fn write_record(
    sh: &Shared,
    d: &mut AuthenticatedConnection,
    ctx: &JobCtx,
    a: &mut Append,
    fi: i32,
    stream: Stream,
    data: &[u8],
) -> Result<(), Fail> {
    writer_for_record(sh, d, ctx, a, data.len()).await?;
    write_placed(sh, d, ctx, a, fi, stream, data).await
}

/// [`write_record`] once the block it may complete has its place.
async fn write_placed(
    sh: &Shared,
    d: &mut AuthenticatedConnection,
    ctx: &JobCtx,
    a: &mut Append,
    fi: i32,
    stream: Stream,
    data: &[u8],
) -> Result<(), Fail> {
    let w = open_writer(a)?;
    let before = w.offset();
    w.write_record(fi, stream, data)?;
    after_record(sh, d, ctx, a, before).await?;
    if stream.kind().is_catalogued() {
        let at = a.pending_bytes.len();
        a.pending_bytes.extend_from_slice(data);
        a.pending.push((fi, stream, at..a.pending_bytes.len()));
    }
    Ok(())
}

/// A data frame of `len` bytes of the stream `h` (not catalogued) is next from the FD: a
/// record of the session. Where the volume writer allows it, the payload is read from the
/// connection straight into the block (and the next one); the block it fills is written
/// only once the whole record is there, so an FD that fails mid-record leaves no cut
/// record behind. Otherwise the frame is received whole and written as [`write_record`]
/// does.
#[allow(clippy::too_many_arguments)]
async fn receive_record(
    sh: &Shared,
    d: &mut AuthenticatedConnection,
    ctx: &JobCtx,
    a: &mut Append,
    fd: &mut AuthenticatedConnection,
    cancel: &mut watch::Receiver<bool>,
    h: DataHeader,
    len: usize,
) -> Result<(), Fail> {
    let w = writer_for_record(sh, d, ctx, a, len).await?;
    if !w.receives_in_place(len) {
        return match recv_fd(fd, cancel).await? {
            In::Data(data) => write_placed(sh, d, ctx, a, h.file_index, h.stream, data).await,
            In::Signal(s) => Err(Fail::Fatal(format!(
                "Error reading data from FD: got signal {} where a data record was announced",
                s.name()
            ))),
        };
    }
    let before = w.offset();
    let mut room = w.begin_record(h.file_index, h.stream, len)?;
    let (first, rest) = room.parts();
    // On an error the room is dropped uncommitted: nothing of the record is written.
    from_fd(fd.recv_payload_into(first, rest), cancel).await?;
    room.commit()?;
    after_record(sh, d, ctx, a, before).await
}

/// Before a record of `len` bytes: the place of the block it may complete
/// ([`place_block`]); then the session's writer.
async fn writer_for_record<'a>(
    sh: &Shared,
    d: &mut AuthenticatedConnection,
    ctx: &JobCtx,
    a: &'a mut Append,
    len: usize,
) -> Result<&'a mut VolumeWriter<VolumeSink>, Fail> {
    if a.writer.as_ref().is_some_and(|w| w.would_flush(len)) {
        let full = needs_switch(a, |_| true);
        place_block(sh, d, ctx, a, full).await?;
    }
    open_writer(a)
}

/// The session's volume writer.
fn open_writer(a: &mut Append) -> Result<&mut VolumeWriter<VolumeSink>, Fail> {
    a.writer
        .as_mut()
        .ok_or_else(|| Fail::Fatal("volume closed".into()))
}

/// After a record: if it wrote a block (the writer's offset moved from `before`), the
/// catalog records of that block go to the Director and the volume's size limit is checked.
async fn after_record(
    sh: &Shared,
    d: &mut AuthenticatedConnection,
    ctx: &JobCtx,
    a: &mut Append,
    before: u64,
) -> Result<(), Fail> {
    if a.writer.as_ref().is_some_and(|w| w.offset() != before) {
        let offset = a.sink.len();
        flush_catalog(d, ctx, a).await?;
        check_limit(sh, d, ctx, a, offset).await;
    }
    Ok(())
}

/// True if the next block written would pass the volume's MaxVolBytes (Bareos' check in
/// `core/src/stored/block.cc` `DoWriteBlockToDevice()`: VolBytes + block ≥ MaxVolBytes), a
/// block of this session is already on the volume (so a new volume always gets at least one
/// block), and `writes_block` says the next write writes a block.
fn needs_switch(a: &Append, writes_block: impl Fn(&VolumeWriter<VolumeSink>) -> bool) -> bool {
    let Some(w) = a.writer.as_ref() else {
        return false;
    };
    let max = a.media.max_vol_bytes;
    let on_this_volume = w.session_summary().map(|s| s.blocks).unwrap_or(0);
    max > 0
        && on_this_volume > 0
        && a.sink.len().saturating_add(w.block_size() as u64) >= max
        && writes_block(w)
}

/// Before a block of this job is written: write it where the device is (`full`: this
/// job's volume has no room for it). One job switches a full volume ([`switch_volume`]);
/// while it does, the device's other jobs wait, then follow it to the new volume
/// ([`follow_volume`]) (see [`DeviceState`]).
async fn place_block(
    sh: &Shared,
    d: &mut AuthenticatedConnection,
    ctx: &JobCtx,
    a: &mut Append,
    full: bool,
) -> Result<(), Fail> {
    let st = a.use_.device().clone();
    let mut cancel = ctx.cancel.clone();
    loop {
        let changed = st.changed();
        tokio::pin!(changed);
        changed.as_mut().enable();
        match a.use_.volume_for_block(&a.sink, full) {
            BlockPlace::Here => return Ok(()),
            BlockPlace::Switch => {
                let r = switch_volume(sh, d, ctx, a).await;
                if r.is_err() {
                    a.use_.switch_failed();
                }
                return r;
            }
            BlockPlace::Follow(sink) => return follow_volume(sh, d, ctx, a, sink).await,
            BlockPlace::Wait => {
                tokio::select! {
                    _ = changed => {}
                    _ = cancel.wait_for(|v| *v) => return Err(Fail::Canceled),
                }
            }
        }
    }
}

/// Another job on the device switched it to the volume `sink`: report the JobMedia of the
/// part of this job's session on the old volume (if it wrote a block there), read the new
/// volume's catalog record (`GetVolInfo … write=1`) and go on writing the session there,
/// no new SOS label (`core/src/stored/block.cc` `DoWriteBlockToDevice()` with `NewVol` set
/// by `FixupDeviceBlockWriteError()` for every attached DCR, then
/// `SetNewVolumeParameters()`). The new volume's VolJobs is not raised for a job that
/// follows (Bareos counts the job that mounted it only).
async fn follow_volume(
    sh: &Shared,
    d: &mut AuthenticatedConnection,
    ctx: &JobCtx,
    a: &mut Append,
    sink: VolumeSink,
) -> Result<(), Fail> {
    let old_name = a.media.name.clone();
    // Blocks this job wrote to the old volume after the switch began, which the switching
    // job's `VolStatus=Full` update did not count.
    let late = a.sink.with(|v| std::mem::take(&mut v.late_blocks));
    if late > 0 {
        sync_counters(a);
        let upd = a.media.update_msg(&ctx.job, "Full", false);
        catreq(d, &upd).await?;
    }
    let name = sink.name();
    let get = get_vol_info(ctx, &name, true);
    let media = Media::from_reply(&catreq(d, &get).await?, "GetVolInfo")?;
    let (size, path) = sink.with(|v| (v.len(), v.path.clone()));
    let w = a
        .writer
        .as_mut()
        .ok_or_else(|| Fail::Fatal("volume closed".into()))?;
    let (old, part) = w.switch_output(sink.clone(), size)?;
    if late > 0 {
        old.sync()?;
    }
    if part.blocks > 0 {
        send_job_media(d, ctx, a.media.media_id, &part).await?;
    }
    let devdesc = format!("\"{}\" ({})", a.dev.name, a.dev.archive.display());
    jmsg(
        sh,
        d,
        ctx,
        MessageType::Info,
        &format!(
            "Volume \"{old_name}\" is full; the job continues on Volume \"{name}\", which another job mounted on device {devdesc}, at {size}.\n"
        ),
    )
    .await;
    a.sink = sink;
    lock(&ctx.info).volume = media.name.clone();
    a.media = media;
    a.path = path;
    a.over_limit = false;
    Ok(())
}

/// The volume is full: report it (`UpdateMedia … VolStatus=Full`, the JobMedia of the part
/// written to it), mount the next one the Director gives (labelling it), and go on writing
/// the session there (`core/src/stored/device.cc` `FixupDeviceBlockWriteError()`: the next
/// block goes to the new volume, no new SOS label).
async fn switch_volume(
    sh: &Shared,
    d: &mut AuthenticatedConnection,
    ctx: &JobCtx,
    a: &mut Append,
) -> Result<(), Fail> {
    let devdesc = format!("\"{}\" ({})", a.dev.name, a.dev.archive.display());
    jmsg(
        sh,
        d,
        ctx,
        MessageType::Info,
        &format!(
            "User defined maximum volume capacity {} exceeded on device {devdesc}.\n",
            crate::bls::with_commas(a.media.max_vol_bytes)
        ),
    )
    .await;
    let w = a
        .writer
        .as_ref()
        .ok_or_else(|| Fail::Fatal("volume closed".into()))?;
    let part = w.session_summary().unwrap_or_default();
    sync_counters(a);
    // Blocks other jobs wrote after the switch began are in these counters.
    a.sink.with(|v| v.late_blocks = 0);
    let upd = a.media.update_msg(&ctx.job, "Full", false);
    catreq(d, &upd).await?;
    send_job_media(d, ctx, a.media.media_id, &part).await?;
    jmsg(
        sh,
        d,
        ctx,
        MessageType::Info,
        &format!(
            "End of medium on Volume \"{}\" Bytes={} Blocks={} at {}.\n",
            a.media.name,
            crate::bls::with_commas(a.media.bytes),
            crate::bls::with_commas(u64::from(a.media.blocks)),
            crate::bls::fmt_date_min(now_unix())
        ),
    )
    .await;
    let old_name = a.media.name.clone();
    let (media, path, file, size) = mount_volume(sh, d, ctx, &a.dev, vec![old_name], false).await?;
    jmsg(
        sh,
        d,
        ctx,
        MessageType::Info,
        &format!(
            "New volume \"{}\" mounted on device {devdesc} at {}.\n",
            media.name,
            crate::bls::fmt_date_min(now_unix())
        ),
    )
    .await;
    let w = a
        .writer
        .as_mut()
        .ok_or_else(|| Fail::Fatal("volume closed".into()))?;
    let mut vf = VolumeFile::new(
        &media.name,
        &a.dev.name,
        a.dev.archive.clone(),
        path.clone(),
        file,
        size,
    );
    vf.cat_jobs = media.jobs;
    vf.cat_blocks = media.blocks;
    vf.cat_writes = media.writes;
    let sink = VolumeSink::new(vf);
    let (old, _) = w.switch_output(sink.clone(), size)?;
    old.sync()?;
    // Jobs that start on this device from now on join the new volume; those writing to it
    // follow before their next block.
    let st = a.use_.device().clone();
    st.mounted(sink.clone(), &ctx.pool, &mut a.use_);
    a.sink = sink;
    lock(&ctx.info).volume = media.name.clone();
    a.media = media;
    a.path = path;
    Ok(())
}

async fn send_job_media(
    d: &mut AuthenticatedConnection,
    ctx: &JobCtx,
    media_id: u64,
    s: &crate::volume::SessionSummary,
) -> Result<(), Fail> {
    let m = emit_catreq(SdToDir::CatReq(
        fd_core::wire::sd_ctl::CatReq::CreateJobMedia(CreateJobMedia {
            job: ctx.job.as_bytes(),
            first_index: u32::try_from(s.first_index).unwrap_or(0),
            last_index: u32::try_from(s.last_index).unwrap_or(0),
            start_file: (s.start_addr >> 32) as u32,
            end_file: (s.end_addr >> 32) as u32,
            start_block: s.start_addr as u32,
            end_block: s.end_addr as u32,
            copy: 0,
            strip: 0,
            media_id,
        }),
    ));
    let reply = catreq(d, &m).await?;
    if !matches!(DirToSd::parse(&reply), Ok(DirToSd::CreateJobMediaOk)) {
        return Err(Fail::Fatal(format!(
            "CreateJobMedia refused: {}",
            printable(&reply)
        )));
    }
    Ok(())
}

/// Warn once when the volume passes the Director's MaxVolBytes.
async fn check_limit(
    sh: &Shared,
    d: &mut AuthenticatedConnection,
    ctx: &JobCtx,
    a: &mut Append,
    offset: u64,
) {
    if a.media.max_vol_bytes > 0 && offset >= a.media.max_vol_bytes && !a.over_limit {
        a.over_limit = true;
        jmsg(
            sh,
            d,
            ctx,
            MessageType::Warning,
            &format!(
                "Volume \"{}\" reached its MaxVolBytes {} at {offset} bytes (its first block of this job, or a record longer than the space left, passed it); it is marked Full.\n",
                a.media.name, a.media.max_vol_bytes
            ),
        )
        .await;
    }
}

/// After blocks were written: the placeholder JobMedia once (`CreateJobMedia FirstIndex=0 …`,
/// clear-backup-full conn 2 msg 43), then the attribute and digest records that are on the
/// volume now (every pending one: the record being written when a block fills is queued
/// after this call).
async fn flush_catalog(
    d: &mut AuthenticatedConnection,
    ctx: &JobCtx,
    a: &mut Append,
) -> Result<(), Fail> {
    if !a.placeholder_sent {
        let m = emit_catreq(SdToDir::CatReq(
            fd_core::wire::sd_ctl::CatReq::CreateJobMedia(CreateJobMedia {
                job: ctx.job.as_bytes(),
                first_index: 0,
                last_index: 0,
                start_file: 0,
                end_file: 0,
                start_block: 0,
                end_block: 0,
                copy: 0,
                strip: 0,
                media_id: a.media.media_id,
            }),
        ));
        let reply = catreq(d, &m).await?;
        if !matches!(DirToSd::parse(&reply), Ok(DirToSd::CreateJobMediaOk)) {
            return Err(Fail::Fatal(format!(
                "CreateJobMedia refused: {}",
                printable(&reply)
            )));
        }
        a.placeholder_sent = true;
    }
    let time = ctx.sd_time;
    for (fi, stream, at) in a.pending.drain(..) {
        let data = a.pending_bytes.get(at).unwrap_or(&[]);
        let m = SdToDir::UpdCat(UpdCat {
            job: ctx.job.as_bytes(),
            header: UpdCatHeader {
                vol_session_id: ctx.sd_id,
                vol_session_time: time,
                file_index: fi,
                stream,
                data_len: data.len() as u32,
            },
            data,
        });
        // Batched, emitted straight into the batch: the attributes of a block's files share
        // TLS records and `send()`s.
        d.send_batched_emit(m.buffer_len(), |b| m.emit(b))
            .await
            .map_err(|e| Fail::Fatal(format!("cannot send attributes to the Director: {e}")))?;
    }
    a.pending_bytes.clear();
    d.flush()
        .await
        .map_err(|e| Fail::Fatal(format!("cannot send attributes to the Director: {e}")))
}

/// Take the volume's counters (shared by the jobs writing to it) into the job's media record.
fn sync_counters(a: &mut Append) {
    let (jobs, blocks, writes, len) = a
        .sink
        .with(|v| (v.cat_jobs, v.cat_blocks, v.cat_writes, v.len()));
    a.media.jobs = jobs;
    a.media.blocks = blocks;
    a.media.writes = writes;
    a.media.bytes = len;
}

/// Write the EOS label and flush; `status` goes into the label.
fn close_session(ctx: &JobCtx, a: &mut Append, status: u8, files: u32) -> Result<(), Fail> {
    if !a.session_open {
        return Ok(());
    }
    let w = a
        .writer
        .as_mut()
        .ok_or_else(|| Fail::Fatal("volume closed".into()))?;
    let so_far = w.session_summary().unwrap_or_default();
    let eos = session_label(
        ctx,
        Some(EosTrailer {
            job_files: files,
            job_bytes: so_far.job_bytes,
            start_block: 0,
            end_block: u32::try_from(so_far.start_addr.saturating_sub(1)).unwrap_or(0),
            start_file: 0,
            end_file: 0,
            job_errors: ctx.errors,
            job_status: u32::from(status),
        }),
    );
    let s = match w.end_session(&eos) {
        Ok(s) => s,
        Err(e) => {
            // The EOS label could not be written (a full file system): the session ends
            // without it, after its last whole block; JobMedia covers what was written.
            a.session_open = false;
            a.summary = Some(so_far);
            a.writer = None;
            sync_counters(a);
            return Err(e.into());
        }
    };
    a.session_open = false;
    a.summary = Some(s);
    if a.writer.take().is_some() {
        a.sink.sync()?;
    }
    sync_counters(a);
    Ok(())
}

/// Where the records a read job selects go: to the FD of a restore (`rechdr` + data, EOD at
/// the end), or to the writing SD of a copy/migrate (`core/src/stored/mac.cc`
/// `CloneRecordToRemoteSd()`: a `«FileIndex» «Stream» 0` header when the file or stream
/// changes, preceded by an EOD except before the first; the data; EOD, EOD at the end).
pub(crate) enum Out<'a> {
    /// A restore's FD.
    Fd(&'a mut AuthenticatedConnection),
    /// The writing SD.
    Sd {
        /// The connection.
        conn: &'a mut AuthenticatedConnection,
        /// (VolSessionId, VolSessionTime, FileIndex, Stream) of the last record sent.
        last: Option<(u32, u32, i32, i32)>,
        /// Files sent.
        files: u32,
        /// Bytes sent.
        bytes: u64,
    },
    /// This job's own write session: a copy, migrate or Virtual Full within this SD.
    Local(Local),
}

/// Records copied within this SD (`core/src/stored/mac.cc` `CloneRecordInternally()`):
/// labels are not copied (the job writes its own, see [`Adopted`]); the records get this
/// job's VolSessionId and VolSessionTime and FileIndexes counted from 1, a new one whenever
/// the source session or FileIndex changes (a Virtual Full joins several jobs).
#[derive(Default)]
pub(crate) struct Local {
    /// (VolSessionId, VolSessionTime, FileIndex) of the last source record.
    last: Option<(u32, u32, i32)>,
}

impl Local {
    /// A label record of the source: the first Start Of Session label names the job copied.
    fn label(&mut self, ctx: &mut JobCtx, rec: &crate::volume::Record) -> Result<(), Fail> {
        if ctx.adopted.is_some() || rec.label() != Some(Label::SosLabel) {
            return Ok(());
        }
        let sos = SessionLabel::parse(Label::SosLabel, &rec.data).map_err(|e| {
            Fail::Fatal(format!(
                "the Start Of Session label of session {}/{} cannot be read: {e}",
                rec.vol_session_id, rec.vol_session_time
            ))
        })?;
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        ctx.adopted = Some(Adopted {
            job: text(sos.job),
            job_name: text(sos.job_name),
            client: text(sos.client_name),
            fileset: text(sos.fileset_name),
            fileset_md5: text(sos.fileset_md5),
            job_type: sos.job_type,
            level: sos.job_level,
        });
        Ok(())
    }

    async fn record(
        &mut self,
        sh: &Arc<Shared>,
        d: &mut AuthenticatedConnection,
        ctx: &JobCtx,
        r: &mut Run,
        rec: &crate::volume::Record,
    ) -> Result<(), Fail> {
        let key = (rec.vol_session_id, rec.vol_session_time, rec.file_index);
        if self.last != Some(key) {
            self.last = Some(key);
            r.files += 1;
        }
        if r.append.as_ref().is_some_and(|a| !a.session_open) {
            begin_session(ctx, r)?;
        }
        let a = r
            .append
            .as_mut()
            .ok_or_else(|| Fail::Fatal("no volume to write the copy to".into()))?;
        let fi = i32::try_from(r.files).unwrap_or(i32::MAX);
        write_record(sh, d, ctx, a, fi, rec.stream, &rec.data).await?;
        r.bytes += rec.data.len() as u64;
        let mut info = lock(&ctx.info);
        info.files = r.files;
        info.bytes = r.bytes;
        Ok(())
    }
}

impl Out<'_> {
    /// Tell the reader that reading failed before any data (`3903 …` to an FD).
    async fn error(&mut self) {
        if let Out::Fd(fd) = self {
            let _ = send_fd(fd, &SdDataReply::ReadError).await;
        }
    }

    /// Before the first record (`3000 OK data` to an FD).
    async fn begin(&mut self) -> Result<(), Fail> {
        match self {
            Out::Fd(fd) => send_fd(fd, &SdDataReply::Data).await,
            Out::Sd { .. } | Out::Local(_) => Ok(()),
        }
    }

    async fn record(&mut self, rec: &crate::volume::Record) -> Result<(), Fail> {
        match self {
            Out::Fd(fd) => {
                let h = RecHdr {
                    vol_session_id: rec.vol_session_id,
                    vol_session_time: rec.vol_session_time,
                    file_index: rec.file_index,
                    stream: rec.stream,
                    data_len: rec.data.len() as u32,
                };
                // Batched: the records of small files share TLS records and `send()`s.
                fd.send_batched_emit(h.buffer_len(), |b| h.emit(b))
                    .await
                    .map_err(|e| Fail::Fatal(format!("cannot send to the FD: {e}")))?;
                fd.send_batched(&rec.data)
                    .await
                    .map_err(|e| Fail::Fatal(format!("cannot send to the FD: {e}")))
            }
            Out::Sd {
                conn,
                last,
                files,
                bytes,
            } => {
                let err = |e: barque_common::error::ConnError| {
                    Fail::Fatal(format!("Network send error to SD. ERR={e}"))
                };
                let key = (
                    rec.vol_session_id,
                    rec.vol_session_time,
                    rec.file_index,
                    rec.stream.0,
                );
                if *last != Some(key) {
                    match last {
                        Some(l) => {
                            conn.signal(Signal::Eod).await.map_err(err)?;
                            if l.2 != rec.file_index {
                                *files += 1;
                            }
                        }
                        None => *files = 1,
                    }
                    *last = Some(key);
                    conn.send(format!("{} {} 0", rec.file_index, rec.stream.0).as_bytes())
                        .await
                        .map_err(err)?;
                }
                conn.send(&rec.data).await.map_err(err)?;
                *bytes += rec.data.len() as u64;
                Ok(())
            }
            Out::Local(_) => Ok(()),
        }
    }

    /// After the last record.
    async fn end(&mut self) -> Result<(), Fail> {
        match self {
            Out::Fd(fd) => fd
                .signal(Signal::Eod)
                .await
                .map_err(|e| Fail::Fatal(format!("cannot send to the FD: {e}"))),
            Out::Sd { conn, .. } => {
                for _ in 0..2 {
                    conn.signal(Signal::Eod)
                        .await
                        .map_err(|e| Fail::Fatal(format!("Network send error to SD. ERR={e}")))?;
                }
                Ok(())
            }
            Out::Local(_) => Ok(()),
        }
    }
}

/// Restore: send every selected record of every bootstrap volume.
async fn read_data(
    sh: &Arc<Shared>,
    d: &mut AuthenticatedConnection,
    ctx: &mut JobCtx,
    out: &mut Out<'_>,
    r: &mut Run,
) -> Result<(), Fail> {
    let text = match ctx.bootstrap.clone() {
        Some(t) => t,
        None => {
            out.error().await;
            return Err(Fail::Fatal("read data without a bootstrap".into()));
        }
    };
    let dev_name = ctx.read_device.clone().unwrap_or_default();
    let mut dev = match sh.cfg.device(dev_name.as_bytes()) {
        Some(d) => d.clone(),
        None => {
            out.error().await;
            return Err(Fail::Fatal("read data without a reserved device".into()));
        }
    };
    let mut devdesc = format!("\"{}\" ({})", dev.name, dev.archive.display());
    let entries: Vec<bsr::Entry<'_>> = bsr::entries(&text)
        .collect::<Result<_, _>>()
        .map_err(|e| Fail::Fatal(format!("bootstrap: {e}")))?;
    let mut data_sent = false;
    let mut cancel = ctx.cancel.clone();
    let mut reasm = Reassembler::new();
    for e in &entries {
        let Some(vols) = e.volume else { continue };
        for vol in vols.split(|&b| b == b'|') {
            let name = String::from_utf8_lossy(vol).into_owned();
            // A volume of another Media Type (a restore or Virtual Full that joins jobs
            // from two Storages) is read on a device of that type, the one the bootstrap
            // names if it has it, as bareos-sd's `AcquireDeviceForRead()` switches.
            if let Some(want) = e.media_type.filter(|m| *m != dev.media_type.as_bytes()) {
                let pick = |named: bool| {
                    sh.cfg.devices.iter().find(|d| {
                        d.media_type.as_bytes() == want
                            && (!named || e.device.is_some_and(|n| n == d.name.as_bytes()))
                    })
                };
                let Some(next) = pick(true).or_else(|| pick(false)).cloned() else {
                    if !data_sent {
                        out.error().await;
                    }
                    return Err(Fail::Fatal(format!(
                        "No suitable device found to read Volume \"{name}\": no Device of Media Type \"{}\" in this Storage daemon",
                        String::from_utf8_lossy(want)
                    )));
                };
                let text = format!(
                    "Changing read device. Want Media Type=\"{}\" have=\"{}\"\n  device={devdesc}\n",
                    String::from_utf8_lossy(want),
                    dev.media_type
                );
                jmsg(sh, d, ctx, MessageType::Info, &text).await;
                dev = next;
                devdesc = format!("\"{}\" ({})", dev.name, dev.archive.display());
                ctx.read_device = Some(dev.name.clone());
                let text = format!("Media Type change.  New read device {devdesc} chosen.\n");
                jmsg(sh, d, ctx, MessageType::Info, &text).await;
            }
            let get = get_vol_info(ctx, &name, false);
            let reply = catreq(d, &get).await?;
            let media = match Media::from_reply(&reply, "GetVolInfo") {
                Ok(m) => m,
                Err(_) => {
                    if !data_sent {
                        out.error().await;
                    }
                    return Err(Fail::Fatal(format!(
                        "Volume \"{name}\" from the bootstrap is unknown to the Director: {}",
                        printable(&reply)
                    )));
                }
            };
            let path = dev.archive.join(&name);
            if name.contains('/') || !path.is_file() {
                if !data_sent {
                    out.error().await;
                }
                return Err(Fail::Fatal(format!(
                    "Volume \"{name}\" from the bootstrap is not on device {devdesc}"
                )));
            }
            if let Err(f) = check_label(&path, &name) {
                if !data_sent {
                    out.error().await;
                }
                return Err(f);
            }
            jmsg(
                sh,
                d,
                ctx,
                MessageType::Info,
                &format!("Ready to read from volume \"{name}\" on device {devdesc}.\n"),
            )
            .await;
            r.read_media = Some(media);
            {
                let mut info = lock(&ctx.info);
                info.reading = true;
                info.volume = name.clone();
                info.device = dev.name.clone();
                info.device_desc = devdesc.clone();
            }
            let (start, end) = match e.vol_addr {
                Some(a) => (a.start, a.last()),
                None => (0, u64::MAX),
            };
            let mut f = BufReader::new(File::open(&path)?);
            if start > 0 {
                jmsg(
                    sh,
                    d,
                    ctx,
                    MessageType::Info,
                    &format!(
                        "Forward spacing Volume \"{name}\" to file:block {}:{}.\n",
                        start >> 32,
                        start & 0xffff_ffff
                    ),
                )
                .await;
                f.seek(SeekFrom::Start(start))?;
            }
            if !data_sent {
                out.begin().await?;
                data_sent = true;
            }
            let mut blocks = VolumeReader::new(f);
            let mut ready: std::collections::VecDeque<crate::volume::Record> = Default::default();
            loop {
                if *cancel.borrow_and_update() {
                    return Err(Fail::Canceled);
                }
                let rec = match ready.pop_front() {
                    Some(r) => r,
                    None => {
                        let block = match blocks.next_block() {
                            Ok(Some(b)) => b,
                            Ok(None) => break,
                            Err(err) => {
                                return Err(Fail::Fatal(format!(
                                "volume \"{name}\": read error at or after offset {start}: {err}"
                            )))
                            }
                        };
                        let baddr = start.saturating_add(block.pos.offset);
                        if baddr > end {
                            break;
                        }
                        // Blocks of other sessions (concurrent jobs interleave whole blocks)
                        // are skipped before their records are looked at, as bareos-sd's
                        // `MatchBsrBlock()` does: a continuation of another job's record at
                        // the start of the range is no error of this restore.
                        let (bid, btime) =
                            (block.header.vol_session_id, block.header.vol_session_time);
                        let other_id = e
                            .vol_session_id
                            .is_some_and(|r| !r.contains(u64::from(bid)));
                        let other_time = e.vol_session_time.is_some_and(|t| t != u64::from(btime));
                        if other_id || other_time {
                            continue;
                        }
                        // One reassembler for all volumes: a record the writer split at a
                        // volume change continues in the next volume's first block.
                        let mut pieces = block.pieces();
                        while let Some(p) = pieces.next() {
                            let piece = p.map_err(|err| {
                                Fail::Fatal(format!(
                                    "volume \"{name}\": bad record in the block at {baddr}: {err}"
                                ))
                            })?;
                            let last = pieces.remaining() == 0;
                            let h = block.header;
                            match reasm.push(h.vol_session_id, h.vol_session_time, baddr, &piece, last) {
                                Ok(Some(r)) => ready.push_back(r),
                                Ok(None) => {}
                                Err(err) => {
                                    return Err(Fail::Fatal(format!(
                                        "volume \"{name}\": records do not join in the block at {baddr}: {err}"
                                    )))
                                }
                            }
                        }
                        continue;
                    }
                };
                if rec.file_index <= 0 {
                    if let Out::Local(l) = &mut *out {
                        l.label(ctx, &rec)?;
                    }
                    continue;
                }
                if !e.selects(
                    rec.vol_session_id,
                    rec.vol_session_time,
                    rec.file_index as u64,
                ) {
                    continue;
                }
                match &mut *out {
                    Out::Local(l) => l.record(sh, d, ctx, r, &rec).await?,
                    other => other.record(&rec).await?,
                }
            }
            jmsg(
                sh,
                d,
                ctx,
                MessageType::Info,
                &format!("End of Volume at file 0 on device {devdesc}, Volume \"{name}\"\n"),
            )
            .await;
        }
    }
    if !data_sent {
        out.error().await;
        return Err(Fail::Fatal("the bootstrap names no volume".into()));
    }
    out.end().await?;
    jmsg(sh, d, ctx, MessageType::Info, "End of all volumes.\n").await;
    Ok(())
}

fn rate_text(bytes: u64, secs: u64) -> String {
    let rate = bytes / secs.max(1);
    let units = [
        ("", 1u64),
        ("K", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
    ];
    let (u, div) = units
        .iter()
        .rev()
        .find(|(_, d)| rate >= *d && *d > 1)
        .copied()
        .unwrap_or(("", 1));
    if div == 1 {
        format!("{rate} Bytes/second")
    } else {
        format!("{:.3} {u} Bytes/second", rate as f64 / div as f64)
    }
}

/// End-of-job reports and the closing signals.
async fn finish(sh: &Arc<Shared>, d: &mut AuthenticatedConnection, ctx: &mut JobCtx, r: &mut Run) {
    let devdesc = |dev: &DeviceRes| format!("\"{}\" ({})", dev.name, dev.archive.display());
    if let Some(mut a) = r.append.take() {
        jmsg(
            sh,
            d,
            ctx,
            MessageType::Info,
            &format!("Releasing device {}.\n", devdesc(&a.dev)),
        )
        .await;
        let s = a.summary.unwrap_or_default();
        let m = emit_catreq(SdToDir::CatReq(
            fd_core::wire::sd_ctl::CatReq::CreateJobMedia(CreateJobMedia {
                job: ctx.job.as_bytes(),
                first_index: u32::try_from(s.first_index).unwrap_or(0),
                last_index: u32::try_from(s.last_index).unwrap_or(0),
                start_file: (s.start_addr >> 32) as u32,
                end_file: (s.end_addr >> 32) as u32,
                start_block: s.start_addr as u32,
                end_block: s.end_addr as u32,
                copy: 0,
                strip: 0,
                media_id: a.media.media_id,
            }),
        ));
        let ok = catreq_timeout(d, &m, r.status).await;
        if ok {
            let status = if a.over_limit {
                "Full".to_string()
            } else {
                a.media.status.clone()
            };
            let upd = a.media.update_msg(&ctx.job, &status, false);
            if let Ok(reply) = catreq(d, &upd).await {
                if let Ok(m) = Media::from_reply(&reply, "UpdateMedia") {
                    a.media = m;
                }
            }
            let del = emit_catreq(SdToDir::CatReq(
                fd_core::wire::sd_ctl::CatReq::DeleteNullJobmedia(DeleteNullJobmedia {
                    job: ctx.job.as_bytes(),
                    job_id: ctx.job_id,
                }),
            ));
            let _ = catreq(d, &del).await;
        }
    }
    if let Some(media) = r.read_media.take() {
        if let Some(dev) = ctx
            .read_device
            .as_deref()
            .and_then(|n| sh.cfg.device(n.as_bytes()))
        {
            let text = format!("Releasing device {}.\n", devdesc(dev));
            jmsg(sh, d, ctx, MessageType::Info, &text).await;
        }
        let mut media = media;
        media.read_time = media.read_time.saturating_add(1);
        let status = media.status.clone();
        let upd = media.update_msg(&ctx.job, &status, false);
        let _ = catreq(d, &upd).await;
    }
    let secs = r.started.elapsed().as_secs().max(1);
    if ctx.append {
        let text = format!(
            "Elapsed time={:02}:{:02}:{:02}, Transfer rate={}\n",
            secs / 3600,
            (secs / 60) % 60,
            secs % 60,
            rate_text(r.bytes, secs)
        );
        jmsg(sh, d, ctx, MessageType::Info, &text).await;
        send_status(d, ctx, r.status).await;
    }
    // A restore counts nothing here (clear-restore: JobFiles=0 JobBytes=0); a copy's
    // reading side reports what it sent, like `DoMacRun()`.
    let (files, bytes) = (r.files, r.bytes);
    let end = SdToDir::JobEnd(JobEnd {
        job: ctx.job.as_bytes(),
        job_status: JobStatus::from_u8(r.status),
        job_files: files,
        job_bytes: bytes,
        job_errors: ctx.errors + u32::from(r.status == b'f'),
    });
    let _ = d.send(&emit(&end)).await;
    for s in [
        Signal::Eod,
        Signal::Terminate,
        Signal::Eod,
        Signal::Terminate,
    ] {
        let _ = d.signal(s).await;
    }
    log::info!(
        "job {} ended: JobStatus={} JobFiles={files} JobBytes={bytes}",
        ctx.job,
        r.status as char
    );
    sh.record_finished(Finished {
        job_id: ctx.job_id,
        level: if ctx.job_type == b'R' {
            b' '
        } else {
            ctx.level
        },
        job_type: ctx.job_type,
        files,
        bytes,
        status: r.status,
        finished: now_unix(),
        name: ctx.job_name.clone(),
    });
}

/// A catalog request at the end of a job; for failed jobs the Director may be gone, so do not
/// wait long.
async fn catreq_timeout(d: &mut AuthenticatedConnection, m: &[u8], status: u8) -> bool {
    if status == b'T' || status == b'R' {
        return matches!(
            catreq(d, m)
                .await
                .map(|r| DirToSd::parse(&r).map(|p| p == DirToSd::CreateJobMediaOk)),
            Ok(Ok(true))
        );
    }
    matches!(
        tokio::time::timeout(Duration::from_secs(2), catreq(d, m)).await,
        Ok(Ok(_))
    )
}
