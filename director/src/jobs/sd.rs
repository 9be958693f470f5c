//! The Director ↔ SD control channel of a job (jobs.md §2) and the catalog requests the SD
//! makes while the job runs (§2.5, `core/src/dird/catreq.cc`).
//!
//! The setup half (`JobId=`, `getSecureEraseCmd`, `use storage`/`use device`, `bootstrap`,
//! `passive client`, `run`) is a strict request/reply exchange with `Jmsg`s allowed in
//! between. After `run` the SD drives: [`SdChannel::job_loop`] answers `CatReq`s from the
//! catalog with the exact reply formats fd-core's [`DirToSd`] emits, turns `UpdCat`
//! attribute/digest pairs into File rows (inserted in one batch at the end of the job, as
//! Bareos' batch insert does, with the same two messages), forwards `Jmsg`s and follows
//! `Status Job=… JobStatus=…` until `3099 Job … end …`, after which the Director stops reading
//! (the SD's trailing EOD, TERMINATE, EOD, TERMINATE are not read; Bareos closes with a RST,
//! vectors/clear-backup-full conn 2 msgs 63–67).
//!
//! Columns Barque's catalog does not keep (`VolReadTime`, `VolWriteTime`) are remembered per
//! volume in memory ([`MediaTimes`]) so that the `1000 OK VolName=…` echo carries what the SD
//! last reported, as the captured replies do (conn 2 msg 32 echoes `VolWriteTime=11`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use barque_common::config::typed::DirStorage;
use barque_common::conn::AuthenticatedConnection;
use fd_core::wire::attr::Record;
use fd_core::wire::bnet::{Frame, Signal};
use fd_core::wire::codes::{JobLevel, JobStatus, JobType};
use fd_core::wire::sd_ctl::{CatReq, DirToSd, JobCmd, JobEnd, MediaInfo, SdToDir, UseStorage};

use super::fd::encode;
use super::{JobCtx, JobError};
use crate::catalog::{MediaRecord, MediaUpdate, NewJobMedia, NextVolume, OwnedFileAttr, VolStatus};

/// The `JobId=` command to the SD for one job, with the values the Director always sends
/// there (no spooling, prefer mounted volumes, native format, no session to continue).
#[allow(clippy::too_many_arguments)]
pub fn sd_job_cmd<'a>(
    job_id: u32,
    job: &'a str,
    job_name: &'a str,
    client_name: &'a str,
    job_type: JobType,
    level: JobLevel,
    file_set: &'a str,
    file_set_md5: &'a str,
) -> JobCmd<'a> {
    JobCmd {
        job_id,
        job: job.as_bytes(),
        job_name: job_name.as_bytes(),
        client_name: client_name.as_bytes(),
        job_type,
        level,
        file_set: file_set.as_bytes(),
        no_attr: 0,
        spool_attr: 0,
        file_set_md5: file_set_md5.as_bytes(),
        spool_data: 0,
        prefer_mounted_vols: 1,
        spool_size: 0,
        rerunning: 0,
        vol_session_id: 0,
        vol_session_time: 0,
        quota: 0,
        protocol: 0,
        backup_format: b"Native",
    }
}

/// A name as Bareos' `bash_spaces` sends it: spaces as `\x01`.
pub fn bash(s: &str) -> String {
    s.replace(' ', "\x01")
}

/// VolReadTime/VolWriteTime per MediaId, as last reported by an SD.
pub type MediaTimes = Arc<Mutex<HashMap<i64, (u64, u64)>>>;

/// An authenticated control connection to the SD for one job.
pub struct SdChannel {
    /// The connection.
    pub conn: AuthenticatedConnection,
    /// The Storage resource name.
    pub storage: String,
}

/// What the SD said at the end of a job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SdEnd {
    /// Final status letter.
    pub status: u8,
    /// JobFiles.
    pub files: u32,
    /// JobBytes.
    pub bytes: u64,
    /// JobErrors.
    pub errors: u32,
}

/// State the job loop accumulates.
#[derive(Debug, Default)]
pub struct SdJobState {
    /// File rows waiting for the batch insert.
    pub rows: Vec<OwnedFileAttr>,
    /// File rows already inserted during the job (memory bound, see [`SdJobState::batch`]).
    pub inserted: usize,
    /// Insert the waiting rows once this many have accumulated (0: only at the end).
    pub batch: usize,
    /// An attribute record waiting for its digest: (FileIndex, stream, bytes).
    pending: Option<(i32, i32, Vec<u8>)>,
    /// Volumes used, in order.
    pub volumes: Vec<String>,
    /// Next JobMedia VolIndex.
    vol_index: u32,
    /// Last SD status letter.
    pub sd_status: u8,
    /// VolBytes of the last volume updated.
    pub last_volume_bytes: u64,
    /// A copy within one SD: where its catalog rows go.
    pub within: Option<Within>,
}

/// A copy within one SD books JobMedia and File rows to the new job, not the connection's
/// control job, and new volumes to the write Storage (bareos-dir's `mig_jcr` and write
/// storage, `core/src/dird/catreq.cc`).
#[derive(Debug)]
pub struct Within {
    /// The new job.
    pub job_id: u32,
    /// The Storage the copy writes to.
    pub storage: String,
}

impl SdChannel {
    /// Send one message.
    pub async fn send(&mut self, m: &DirToSd<'_>) -> Result<(), JobError> {
        let b = encode!(m)?;
        self.send_raw(&b).await
    }

    /// Send raw bytes as one message.
    pub async fn send_raw(&mut self, b: &[u8]) -> Result<(), JobError> {
        let s = self.storage.clone();
        self.conn.send(b).await.map_err(|e| sd_err(&s, e))
    }

    /// Send a signal.
    pub async fn signal(&mut self, sig: Signal) -> Result<(), JobError> {
        let s = self.storage.clone();
        self.conn.signal(sig).await.map_err(|e| sd_err(&s, e))
    }

    /// The next data frame that is not a `Jmsg` (forwarded) or heartbeat.
    pub async fn reply(&mut self, ctx: &JobCtx, what: &str) -> Result<Vec<u8>, JobError> {
        loop {
            let s = self.storage.clone();
            let frame = self.conn.recv().await.map_err(|e| sd_err(&s, e))?;
            match frame {
                Frame::Data(d) => {
                    if let Ok(SdToDir::Jmsg(j)) = SdToDir::parse(d) {
                        let text = String::from_utf8_lossy(j.text).into_owned();
                        ctx.msg_raw(j.time, j.msg_type, text).await;
                        continue;
                    }
                    return Ok(d.to_vec());
                }
                Frame::Signal(Signal::Heartbeat) => continue,
                Frame::Signal(sig) => {
                    return Err(JobError::Protocol(format!(
                        "Storage daemon \"{s}\": expected the reply to {what}, got signal {}",
                        sig.name()
                    )))
                }
                Frame::Chunk(_) => {
                    return Err(JobError::Protocol(format!(
                        "Storage daemon \"{s}\": unexpected chunked frame"
                    )))
                }
            }
        }
    }

    /// Read the SD's answer to `JobId=`: (SDid, SDtime, authorization key), or the refusal
    /// naming Storage `storage`.
    pub async fn job_reply(
        &mut self,
        ctx: &JobCtx,
        storage: &DirStorage,
    ) -> Result<(u32, u32, Vec<u8>), JobError> {
        let r = self.reply(ctx, "JobId").await?;
        match SdToDir::parse(&r) {
            Ok(SdToDir::JobReply(j)) => Ok((j.sd_id, j.sd_time, j.authorization.to_vec())),
            _ => Err(JobError::Refused(format!(
                "Storage daemon \"{}\" refused the job: {}",
                storage.name,
                String::from_utf8_lossy(&r).trim_end()
            ))),
        }
    }

    /// `getSecureEraseCmd`; the answer is read and not used.
    pub async fn secure_erase(&mut self, ctx: &JobCtx) -> Result<(), JobError> {
        self.send(&DirToSd::GetSecureEraseCmd).await?;
        let _ = self.reply(ctx, "getSecureEraseCmd").await?;
        Ok(())
    }

    /// Reserve a device: `use storage` with Storage `storage`'s devices (names with spaces
    /// sent as Bareos' `bash_spaces` does), then the `Using Device … to read/write.` job
    /// message, or the refusal naming the Storage.
    pub async fn reserve_device(
        &mut self,
        ctx: &JobCtx,
        storage: &DirStorage,
        pool_name: &str,
        pool_type: &str,
        append: bool,
    ) -> Result<(), JobError> {
        let (sn, mt, pn) = (
            bash(&storage.name),
            bash(&storage.media_type),
            bash(pool_name),
        );
        self.send(&DirToSd::UseStorage(UseStorage {
            storage: sn.as_bytes(),
            media_type: mt.as_bytes(),
            pool_name: pn.as_bytes(),
            pool_type: pool_type.as_bytes(),
            append: i32::from(append),
            copy: 0,
            stripe: 0,
        }))
        .await?;
        for d in &storage.devices {
            let d = bash(d);
            self.send(&DirToSd::UseDevice(d.as_bytes())).await?;
        }
        self.signal(Signal::Eod).await?;
        self.signal(Signal::Eod).await?;
        let r = self.reply(ctx, "use storage").await?;
        match SdToDir::parse(&r) {
            Ok(SdToDir::UseDeviceOk(dev)) => {
                let dev = String::from_utf8_lossy(dev).replace('\x01', " ");
                let what = if append { "write" } else { "read" };
                ctx.msg(&format!("Using Device \"{dev}\" to {what}.")).await;
                Ok(())
            }
            _ => Err(JobError::Refused(format!(
                "Storage daemon \"{}\" could not reserve a device: {}",
                storage.name,
                String::from_utf8_lossy(&r).trim_end()
            ))),
        }
    }

    /// Run the job's SD side after `run`: answer catalog requests until `3099 Job … end`.
    pub async fn job_loop(
        &mut self,
        ctx: &JobCtx,
        times: &MediaTimes,
        st: &mut SdJobState,
    ) -> Result<SdEnd, JobError> {
        loop {
            let s = self.storage.clone();
            let frame = self.conn.recv().await.map_err(|e| sd_err(&s, e))?;
            let d = match frame {
                Frame::Data(d) => d.to_vec(),
                Frame::Signal(Signal::Heartbeat) => continue,
                Frame::Signal(Signal::Eod) => continue,
                Frame::Signal(sig) => {
                    return Err(JobError::Protocol(format!(
                        "Storage daemon \"{s}\" ended the job channel with {} before the job end",
                        sig.name()
                    )))
                }
                Frame::Chunk(_) => continue,
            };
            let m = match SdToDir::parse(&d) {
                Ok(m) => m,
                Err(e) => {
                    log::warn!(
                        "JobId {}: unparsable SD message {:?}: {e:?}",
                        ctx.job_id,
                        String::from_utf8_lossy(&d)
                    );
                    continue;
                }
            };
            match m {
                SdToDir::Jmsg(j) => {
                    let text = String::from_utf8_lossy(j.text).into_owned();
                    ctx.msg_raw(j.time, j.msg_type, text).await;
                }
                SdToDir::JobStatus(js) => {
                    st.sd_status = js.job_status.to_u8();
                    ctx.set_sd_status(js.job_status);
                }
                SdToDir::JobStart(_) => {}
                SdToDir::JobEnd(JobEnd {
                    job_status,
                    job_files,
                    job_bytes,
                    job_errors,
                    ..
                }) => {
                    self.flush_pending(st)?;
                    return Ok(SdEnd {
                        status: job_status.to_u8(),
                        files: job_files,
                        bytes: job_bytes,
                        errors: job_errors,
                    });
                }
                SdToDir::UpdCat(u) => {
                    let kind = u.header.stream.kind();
                    match Record::parse(kind, u.data) {
                        Ok(Record::Attributes(_)) => {
                            self.flush_pending(st)?;
                            st.pending =
                                Some((u.header.file_index, u.header.stream.0, u.data.to_vec()));
                            ctx.add_file();
                        }
                        Ok(Record::Digest(dg)) => {
                            if let Some((fi, stream, raw)) = st.pending.take() {
                                if fi == u.header.file_index {
                                    let row = owned_row(fi, stream, &raw, Some(&dg))?;
                                    st.rows.push(row);
                                } else {
                                    st.rows.push(owned_row(fi, stream, &raw, None)?);
                                }
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            return Err(JobError::Protocol(format!(
                                "Storage daemon \"{}\" forwarded a bad attribute record: {e:?}",
                                self.storage
                            )))
                        }
                    }
                    if st.batch > 0 && st.rows.len() >= st.batch {
                        flush_rows(ctx, st).await?;
                    }
                }
                SdToDir::CatReq(req) => {
                    let reply = self.catreq(ctx, times, st, &req).await?;
                    self.send_raw(&reply).await?;
                }
                other => {
                    log::debug!("JobId {}: SD message ignored: {other:?}", ctx.job_id);
                }
            }
        }
    }

    fn flush_pending(&mut self, st: &mut SdJobState) -> Result<(), JobError> {
        if let Some((fi, stream, raw)) = st.pending.take() {
            st.rows.push(owned_row(fi, stream, &raw, None)?);
        }
        Ok(())
    }

    async fn catreq(
        &mut self,
        ctx: &JobCtx,
        times: &MediaTimes,
        st: &mut SdJobState,
        req: &CatReq<'_>,
    ) -> Result<Vec<u8>, JobError> {
        let job_id = i64::from(st.within.as_ref().map_or(ctx.job_id, |w| w.job_id));
        match *req {
            CatReq::FindMedia(f) => {
                let pool = String::from_utf8_lossy(f.pool_name).replace('\x01', " ");
                let media_type = String::from_utf8_lossy(f.media_type).replace('\x01', " ");
                let storage = st
                    .within
                    .as_ref()
                    .map_or_else(|| self.storage.clone(), |w| w.storage.clone());
                let now = ctx.now();
                let r = ctx
                    .cat(move |c| {
                        let p = c
                            .pool(&pool)?
                            .ok_or(crate::catalog::Error::NotFound("pool"))?;
                        let sid = c.get_or_create_storage(&storage)?;
                        c.next_volume_for_append(p.pool_id, &media_type, sid, now)
                    })
                    .await;
                match r {
                    Ok(next) => {
                        match &next {
                            NextVolume::Created(m) => {
                                ctx.msg(&format!(
                                    "Created new Volume \"{}\" in catalog.",
                                    m.volume_name
                                ))
                                .await
                            }
                            // recycle.cc: `Recycled volume "%s"`.
                            NextVolume::Recycled(m) => {
                                ctx.msg(&format!("Recycled volume \"{}\"", m.volume_name))
                                    .await
                            }
                            NextVolume::Existing(_) => {}
                        }
                        media_reply(next.media(), times)
                    }
                    Err(e) => {
                        ctx.msg(&format!("Cannot find or create a volume: {e}"))
                            .await;
                        encode!(DirToSd::NoMedia)
                    }
                }
            }
            CatReq::GetVolInfo(g) => {
                let name = String::from_utf8_lossy(g.vol_name).replace('\x01', " ");
                let n2 = name.clone();
                match ctx.cat(move |c| c.media(&n2)).await? {
                    Some(m) => media_reply(&m, times),
                    None => Ok(format!("1997 Volume \"{name}\" not in catalog.\n").into_bytes()),
                }
            }
            CatReq::UpdateMedia(u) => {
                let name = String::from_utf8_lossy(u.vol_name).replace('\x01', " ");
                let n2 = name.clone();
                let Some(before) = ctx.cat(move |c| c.media(&n2)).await? else {
                    return Ok(format!(
                        "1991 Update Media error: Volume \"{name}\" not in catalog.\n"
                    )
                    .into_bytes());
                };
                if let Ok(mut t) = times.lock() {
                    t.insert(before.media_id, (u.vol_read_time, u.vol_write_time));
                }
                let upd = MediaUpdate {
                    media_id: before.media_id,
                    vol_jobs: u.vol_jobs.into(),
                    vol_files: u.vol_files.into(),
                    vol_blocks: u.vol_blocks.into(),
                    vol_bytes: i64::try_from(u.vol_bytes).unwrap_or(i64::MAX),
                    vol_mounts: u.vol_mounts.into(),
                    vol_errors: u.vol_errors.into(),
                    vol_writes: u.vol_writes.into(),
                    vol_status: VolStatus::parse(&String::from_utf8_lossy(u.vol_status)),
                    end_time: u.end_time,
                    relabel: u.relabel != 0,
                    first_written: u.vol_first_written,
                    job_start_time: ctx.start_time(),
                };
                let m = ctx.cat(move |c| c.update_media(&upd)).await?;
                if m.vol_status == VolStatus::Used
                    && !matches!(
                        VolStatus::parse(&String::from_utf8_lossy(u.vol_status)),
                        VolStatus::Used
                    )
                    && m.max_vol_jobs > 0
                    && m.vol_jobs >= m.max_vol_jobs
                {
                    ctx.msg(&format!(
                        "Max Volume jobs={} exceeded. Marking Volume \"{}\" as Used.",
                        m.max_vol_jobs, m.volume_name
                    ))
                    .await;
                }
                // Within one SD the job also updates the volumes it read: only those it
                // wrote (a JobMedia row, below) are the job's volumes.
                if st.within.is_none() && !st.volumes.contains(&m.volume_name) {
                    st.volumes.push(m.volume_name.clone());
                }
                if st.volumes.contains(&m.volume_name) {
                    st.last_volume_bytes = u64::try_from(m.vol_bytes).unwrap_or(0);
                }
                media_reply(&m, times)
            }
            CatReq::CreateJobMedia(j) => {
                st.vol_index += 1;
                let row = NewJobMedia {
                    job_id,
                    media_id: i64::try_from(j.media_id).unwrap_or(i64::MAX),
                    first_index: j.first_index,
                    last_index: j.last_index,
                    start_file: j.start_file,
                    end_file: j.end_file,
                    start_block: j.start_block,
                    end_block: j.end_block,
                    vol_index: st.vol_index,
                    job_bytes: 0,
                };
                let media_id = row.media_id;
                match ctx.cat(move |c| c.create_job_media(&row)).await {
                    Ok(_) => {
                        if st.within.is_some() && j.first_index > 0 {
                            if let Some(m) = ctx.cat(move |c| c.media_by_id(media_id)).await? {
                                if !st.volumes.contains(&m.volume_name) {
                                    st.volumes.push(m.volume_name);
                                }
                            }
                        }
                        encode!(DirToSd::CreateJobMediaOk)
                    }
                    Err(e) => {
                        ctx.msg(&format!("Error creating JobMedia record: {e}"))
                            .await;
                        encode!(DirToSd::CreateJobMediaError)
                    }
                }
            }
            CatReq::DeleteNullJobmedia(_) => {
                ctx.cat(move |c| c.delete_null_job_media(job_id)).await?;
                encode!(DirToSd::DeleteNullJobmediaOk)
            }
        }
    }
}

/// Insert the waiting file rows now (bounded memory for large jobs).
pub async fn flush_rows(ctx: &JobCtx, st: &mut SdJobState) -> Result<(), JobError> {
    let rows = std::mem::take(&mut st.rows);
    let n = rows.len();
    let job_id = i64::from(st.within.as_ref().map_or(ctx.job_id, |w| w.job_id));
    ctx.cat(move |c| {
        let attrs: Vec<_> = rows.iter().map(OwnedFileAttr::as_attr).collect();
        c.insert_file_attributes(job_id, &attrs)
    })
    .await?;
    st.inserted += n;
    Ok(())
}

/// A File row from an attribute record; its FileIndex is the record header's (`fi`), as
/// bareos-dir's `UpdateAttribute` takes it: a copy or Virtual Full within one SD renumbers the
/// headers, not the attribute text. A deletion marker keeps FileIndex 0.
fn owned_row(
    fi: i32,
    stream: i32,
    raw: &[u8],
    digest: Option<&fd_core::wire::attr::Digest<'_>>,
) -> Result<OwnedFileAttr, JobError> {
    let kind = fd_core::wire::stream::Stream(stream).kind();
    match Record::parse(kind, raw) {
        Ok(Record::Attributes(a)) => {
            let mut row = OwnedFileAttr::from_record(&a, digest)
                .map_err(|e| JobError::Catalog(format!("file attributes: {e}")))?;
            if row.file_index != 0 {
                row.file_index = u32::try_from(fi).map_err(|_| {
                    JobError::Protocol(format!("negative FileIndex {fi} in an attribute record"))
                })?;
            }
            Ok(row)
        }
        _ => Err(JobError::Protocol("attribute record changed".into())),
    }
}

/// The `1000 OK VolName=…` reply for a volume (`OK_media`, 24 fields).
pub fn media_reply(m: &MediaRecord, times: &MediaTimes) -> Result<Vec<u8>, JobError> {
    let (rt, wt) = times
        .lock()
        .ok()
        .and_then(|t| t.get(&m.media_id).copied())
        .unwrap_or((0, 0));
    let u = |v: i64| u32::try_from(v).unwrap_or(0);
    let status = m.vol_status.as_str().to_owned();
    let info = MediaInfo {
        vol_name: m.volume_name.as_bytes(),
        vol_jobs: u(m.vol_jobs),
        vol_files: u(m.vol_files),
        vol_blocks: u(m.vol_blocks),
        vol_bytes: u64::try_from(m.vol_bytes).unwrap_or(0),
        vol_mounts: u(m.vol_mounts),
        vol_errors: u(m.vol_errors),
        vol_writes: u(m.vol_writes),
        max_vol_bytes: u64::try_from(m.max_vol_bytes).unwrap_or(0),
        vol_capacity_bytes: 0,
        vol_status: status.as_bytes(),
        slot: i32::try_from(m.slot).unwrap_or(0),
        max_vol_jobs: u(m.max_vol_jobs),
        max_vol_files: u(m.max_vol_files),
        in_changer: i32::from(m.in_changer),
        vol_read_time: rt,
        vol_write_time: wt,
        end_file: u(m.end_file),
        end_block: u(m.end_block),
        label_type: i32::try_from(m.label_type).unwrap_or(0),
        media_id: u64::try_from(m.media_id).unwrap_or(0),
        encryption_key: b"",
        min_blocksize: 0,
        max_blocksize: 0,
    };
    encode!(DirToSd::Media(info))
}

pub(crate) fn sd_err(storage: &str, e: barque_common::error::ConnError) -> JobError {
    JobError::Connection(format!("Storage daemon \"{storage}\": {e}"))
}

/// `Connected Storage daemon at …:…, encryption: …` and the line after it.
pub fn connected_lines(st: &DirStorage, conn: &AuthenticatedConnection) -> Vec<String> {
    let enc = conn
        .tls()
        .map(|t| t.cipher.clone())
        .unwrap_or_else(|| "None".into());
    vec![
        format!(
            "Connected Storage daemon at {}:{}, encryption: {enc}",
            st.address, st.port
        ),
        format!(" Encryption: {enc}"),
    ]
}

/// True if the status letter means the SD side failed.
pub fn sd_failed(status: u8) -> bool {
    !matches!(
        JobStatus::from_u8(status),
        JobStatus::Terminated | JobStatus::Warnings
    )
}
