//! A restore job (`core/src/dird/restore.cc` `DoNativeRestoreBootstrap()`, jobs.md §6.1),
//! in the order of vectors/clear-restore conns 2 and 3:
//!
//! ```text
//! D→S  JobId=3 job=… type=82 level=32 FileSet=… …       S→D 3000 OK Job SDid=… Authorization=…
//! D→S  getSecureEraseCmd                                 S→D 2000 OK SDSecureEraseCmd *None*
//! D→S  use storage=… append=0 …, use device=…, EOD, EOD  S→D 3000 OK use device device=FileStorage
//! D→F  hello …, JobId=3 Job=… SDid= SDtime= Authorization=…   F→D 2000 OK Job …
//! D→F  getSecureEraseCmd                                 F→D 2000 OK FDSecureEraseCmd *None*
//! D→S  bootstrap, one bsr line per message, EOD          S→D 3000 OK bootstrap
//!      (2 s pause)
//! D→S  run
//! D→F  storage address=… port=… ssl=0 Authorization=…    F→D 2000 OK storage
//! D→F  restore replace=a prelinks=0 where=…              F→D 2000 OK restore
//! S→D  GetVolInfo write=0 per volume, UpdateMedia, 3099 Job … end
//! F→D  2000 OK storage end
//! D→F  endrestore                                         F→D 2800 End Job …
//! ```
//!
//! The bootstrap comes from the catalog ([`crate::catalog::Catalog::build_bootstrap`]); with
//! the catalog rows of JobIds 1 and 2 it is byte-identical to the captured one (the catalog's
//! own tests prove this; the replay test here checks it again on the wire).

use fd_core::wire::bnet::Signal;
use fd_core::wire::codes::{JobLevel, JobStatus, JobType, MessageType};
use fd_core::wire::dir_cmd::{
    DirCommand, FdReply, JobStart, OkReply, Replace, Restore, RestoreTarget, Storage,
};
use fd_core::wire::sd_ctl::{DirToSd, PassiveClient, SdToDir};

use super::fd::{connected_lines as fd_lines, FdChannel};
use super::report::RestoreReport;
use super::sd::{bash, connected_lines as sd_lines, sd_failed, sd_job_cmd, SdEnd, SdJobState};
use super::{JobCtx, JobEngine, JobError, JobOutcome, Plan, RestoreRequest, RestoreSelect};
use crate::catalog::{fileset_md5, JobEnd as CatJobEnd, SelectedFile};

#[derive(Default)]
struct Facts {
    start: i64,
    client_info: String,
    expected: u64,
    sd_id: u32,
    sd_time: u32,
    fd_end: Option<fd_core::wire::dir_cmd::EndJob>,
    sd_end: Option<SdEnd>,
}

/// Run one restore to its end.
pub async fn run_restore(
    engine: &JobEngine,
    ctx: &JobCtx,
    plan: &Plan,
    req: &RestoreRequest,
) -> JobOutcome {
    let mut f = Facts::default();
    let res = inner(engine, ctx, plan, req, &mut f).await;
    let canceled = ctx.is_canceled();
    let status = match (&res, canceled) {
        (_, true) => JobStatus::Canceled,
        (Err(_), _) => JobStatus::FatalError,
        (Ok(()), _) => {
            let fd_ok = f
                .fd_end
                .is_some_and(|e| matches!(e.term_code, JobStatus::Terminated));
            let sd_ok = f.sd_end.is_some_and(|e| !sd_failed(e.status));
            if fd_ok && sd_ok {
                JobStatus::Terminated
            } else {
                JobStatus::ErrorTerminated
            }
        }
    };
    if let Err(e) = &res {
        if !canceled {
            ctx.msg_typed(MessageType::Fatal, &format!("Fatal error: {e}"))
                .await;
        }
    }
    let end = ctx.now();
    let fd = f.fd_end;
    let (files, bytes, errors) = fd.map_or((0, 0, 0), |e| (e.job_files, e.job_bytes, e.errors));
    let job_id = i64::from(ctx.job_id);
    let (sd_id, sd_time) = (f.sd_id, f.sd_time);
    let r = ctx
        .cat(move |c| {
            c.update_job_end(&CatJobEnd {
                job_id,
                status,
                job_type: JobType::Restore,
                level: JobLevel::Full,
                end_time: end,
                real_end_time: end,
                job_files: files,
                job_bytes: bytes,
                read_bytes: bytes,
                job_errors: errors,
                vol_session_id: sd_id,
                vol_session_time: sd_time,
                prior_job_id: 0,
            })
        })
        .await;
    if let Err(e) = r {
        log::warn!("JobId {}: cannot close the Job row: {e}", ctx.job_id);
    }
    let termination = match status {
        JobStatus::Terminated => "Restore OK",
        JobStatus::Canceled => "Restore Canceled",
        _ => "*** Restore Error ***",
    };
    let report = RestoreReport {
        director: plan.director.name.clone(),
        version: engine.inner.opts.version.clone(),
        os: engine.inner.opts.os.clone(),
        job_id: ctx.job_id,
        job: ctx.job.clone(),
        client: plan.client.name.clone(),
        client_info: f.client_info.clone(),
        start_time: if f.start > 0 { f.start } else { end },
        end_time: end,
        expected_files: f.expected,
        restored_files: files,
        restored_bytes: bytes,
        fd_errors: errors,
        fd_status: fd.map(|e| e.term_code.to_u8()).unwrap_or(b'E'),
        sd_status: f.sd_end.map(|e| e.status).unwrap_or(b'E'),
        termination: termination.into(),
    }
    .render();
    let t = if status == JobStatus::Terminated {
        MessageType::Term
    } else {
        MessageType::ErrorTerm
    };
    ctx.msg_typed(t, &report).await;
    ctx.set_status(status);
    JobOutcome {
        job_id: ctx.job_id,
        job: ctx.job.clone(),
        status,
        files,
        bytes,
        error: res.err().map(|e| e.to_string()),
        report: Some(report),
    }
}

/// The selection and bootstrap lines of a restore request, from the catalog.
pub async fn bootstrap_lines(
    ctx: &JobCtx,
    plan: &Plan,
    req: &RestoreRequest,
) -> Result<(Vec<Vec<u8>>, u64), JobError> {
    let (lines, expected, _) = bootstrap_with_storage(ctx, plan, req, &[]).await?;
    Ok((lines, expected))
}

/// [`bootstrap_lines`] with the `Device=` of every Storage in `storages` (besides the Job's)
/// and the Storage name of the first entry: the volume of a copy is read where it was
/// written, as Bareos reads from the Storage recorded with the volume.
pub async fn bootstrap_with_storage(
    ctx: &JobCtx,
    plan: &Plan,
    req: &RestoreRequest,
    storages: &[barque_common::config::typed::DirStorage],
) -> Result<(Vec<Vec<u8>>, u64, Option<String>), JobError> {
    let client = plan.client.name.clone();
    let fileset = plan.fileset.as_ref().map(|fs| {
        (
            fs.name.clone(),
            fileset_md5(
                fs.includes
                    .iter()
                    .chain(fs.excludes.iter())
                    .flat_map(|b| b.files.iter().chain(b.plugins.iter()))
                    .map(String::as_str),
            ),
        )
    });
    let select = req.select.clone();
    let files = req.files.clone();
    let now = ctx.now();
    let devices: Vec<(String, Option<String>)> = plan
        .storage
        .iter()
        .chain(storages.iter())
        .map(|s| (s.name.clone(), s.devices.first().cloned()))
        .collect();
    ctx.cat(move |c| {
        let mut sel = match select {
            RestoreSelect::JobIds(ids) => c.select_files(&ids)?,
            RestoreSelect::Current => {
                let cl = c
                    .client(&client)?
                    .ok_or(crate::catalog::Error::NotFound("client"))?;
                let (fs_name, md5) = fileset.ok_or(crate::catalog::Error::NotFound("fileset"))?;
                let fs = c.get_or_create_fileset(&fs_name, &md5, "", now)?;
                let ids = c.restore_jobids(cl.client_id, fs.fileset_id, now)?;
                c.select_files(&ids)?
            }
        };
        if let Some(list) = files {
            sel.files
                .retain(|f: &SelectedFile| list.iter().any(|n| *n == f.fname()));
        }
        let bsr = c.build_bootstrap(&sel)?;
        let expected = bsr.expected_files();
        let first = bsr.entries.first().map(|e| e.storage.clone());
        let lines = bsr.restore_lines(|st| {
            devices
                .iter()
                .find(|(n, _)| n == st)
                .and_then(|(_, d)| d.clone())
        })?;
        Ok((lines, expected, first))
    })
    .await
}

async fn inner(
    engine: &JobEngine,
    ctx: &JobCtx,
    plan: &Plan,
    req: &RestoreRequest,
    f: &mut Facts,
) -> Result<(), JobError> {
    if ctx.is_canceled() {
        return Err(JobError::Canceled);
    }
    ctx.msg(&engine.inner.opts.version_line).await;
    let storages = engine.config().dir_storages();
    let (lines, expected, first) = bootstrap_with_storage(ctx, plan, req, &storages).await?;
    // The Storage recorded with the volume if it is configured (a copy's volume is on the
    // copy's Storage), else the Job's.
    let storage = first
        .and_then(|n| storages.iter().find(|s| s.name == n).cloned())
        .or_else(|| plan.storage.clone())
        .ok_or_else(|| JobError::Config(format!("Job \"{}\" has no Storage", plan.job.name)))?;
    if lines.is_empty() {
        return Err(JobError::Config("no files selected for the restore".into()));
    }
    f.expected = expected;
    let start = ctx.now();
    f.start = start;
    let (job_id, cname) = (i64::from(ctx.job_id), plan.client.name.clone());
    ctx.cat(move |c| {
        let client_id = c.client(&cname)?.map_or(0, |cl| cl.client_id);
        c.update_job_start(&crate::catalog::JobStart {
            job_id,
            status: JobStatus::Running,
            level: JobLevel::Full,
            start_time: start,
            client_id,
            pool_id: 0,
            fileset_id: 0,
        })
    })
    .await?;
    ctx.set_started(start);
    ctx.msg(&format!("Start Restore Job {}", ctx.job)).await;

    let mut sd = engine.connect_sd(&storage).await?;
    for l in sd_lines(&storage, &sd.conn) {
        ctx.msg(&l).await;
    }
    let (jn, cn) = (bash(&plan.job.name), bash(&plan.client.name));
    let (fsn, md5) = match &plan.fileset {
        Some(fs) => (
            bash(&fs.name),
            fileset_md5(
                fs.includes
                    .iter()
                    .chain(fs.excludes.iter())
                    .flat_map(|b| b.files.iter().chain(b.plugins.iter()))
                    .map(String::as_str),
            ),
        ),
        None => ("**None**".to_owned(), "**Dummy**".to_owned()),
    };
    sd.send(&DirToSd::Job(sd_job_cmd(
        ctx.job_id,
        &ctx.job,
        &jn,
        &cn,
        JobType::Restore,
        JobLevel::None,
        &fsn,
        &md5,
    )))
    .await?;
    let (sd_id, sd_time, key) = sd.job_reply(ctx, &storage).await?;
    f.sd_id = sd_id;
    f.sd_time = sd_time;
    sd.secure_erase(ctx).await?;
    let pool = plan
        .pool
        .as_ref()
        .map(|p| p.name.clone())
        .unwrap_or_default();
    let pool_type = plan
        .pool
        .as_ref()
        .map(|p| p.pool_type.as_str().to_owned())
        .unwrap_or_else(|| "Backup".into());
    sd.reserve_device(ctx, &storage, &pool, &pool_type, false)
        .await?;

    let (mut fd, probed) = engine.connect_fd(&plan.client).await?;
    if probed {
        ctx.msg("Probing client protocol... (result will be saved until config reload)")
            .await;
    }
    for l in fd_lines(&plan.client, &fd) {
        ctx.msg(&l).await;
    }
    let tls = fd.conn.is_tls();
    let sd_policy = if storage.tls.enable { 4 } else { 0 };
    fd.send(&DirCommand::JobStart(JobStart {
        job_id: ctx.job_id,
        job: ctx.job.as_bytes(),
        sd_id: f.sd_id,
        sd_time: f.sd_time,
        authorization: &key,
        ssl: tls.then_some(sd_policy),
    }))
    .await?;
    let r = fd.reply(ctx, "JobId").await?;
    match FdReply::parse(&r) {
        Ok(FdReply::JobOk { info }) => f.client_info = String::from_utf8_lossy(info).into_owned(),
        _ => {
            return Err(JobError::Refused(format!(
                "Client \"{}\" refused the job: {}",
                plan.client.name,
                String::from_utf8_lossy(&r).trim_end()
            )))
        }
    }
    fd.send(&DirCommand::GetSecureEraseCmd).await?;
    let _ = fd.reply(ctx, "getSecureEraseCmd").await?;

    sd.send(&DirToSd::Bootstrap).await?;
    for l in &lines {
        sd.send_raw(l).await?;
    }
    sd.signal(Signal::Eod).await?;
    tokio::time::sleep(engine.inner.opts.restore_run_delay).await;
    let r = sd.reply(ctx, "bootstrap").await?;
    if !matches!(SdToDir::parse(&r), Ok(SdToDir::BootstrapOk)) {
        return Err(JobError::Refused(format!(
            "Storage daemon \"{}\" refused the bootstrap: {}",
            storage.name,
            String::from_utf8_lossy(&r).trim_end()
        )));
    }
    if plan.client.passive {
        // connect.md §6 "Restore", passive: the key again to the FD, then the SD dials it.
        fd.send(&DirCommand::SetAuthorization {
            authorization: &key,
        })
        .await?;
        fd.expect_ok(ctx, OkReply::Authorization, "setauthorization")
            .await?;
        let a = plan.fd_data_address.clone();
        sd.send(&DirToSd::PassiveClient(PassiveClient {
            address: a.as_bytes(),
            port: plan.client.port.into(),
            ssl: super::backup::passive_ssl(&plan.client.tls, tls),
        }))
        .await?;
        let r = sd.reply(ctx, "passive client").await?;
        if !matches!(SdToDir::parse(&r), Ok(SdToDir::PassiveClientOk)) {
            return Err(JobError::Refused(format!(
                "Storage daemon \"{}\" could not reach the passive client: {}",
                storage.name,
                String::from_utf8_lossy(&r).trim_end()
            )));
        }
        sd.send(&DirToSd::Run).await?;
    } else {
        sd.send(&DirToSd::Run).await?;
        let addr = plan.sd_data_address.clone();
        fd.send(&DirCommand::Storage(Storage {
            address: addr.as_bytes(),
            port: storage.port.into(),
            ssl: sd_policy,
            authorization: Some(&key),
        }))
        .await?;
        fd.expect_ok(ctx, OkReply::Storage, "storage").await?;
    }
    let where_ = req
        .where_
        .clone()
        .or_else(|| plan.job.where_.clone())
        .unwrap_or_default();
    let where_b = bash(&where_);
    fd.send(&DirCommand::Restore(Restore {
        replace: Replace::from_u8(req.replace),
        prelinks: 0,
        target: RestoreTarget::Where(where_b.as_bytes()),
    }))
    .await?;
    fd.expect_ok(ctx, OkReply::Restore, "restore").await?;

    let times = engine.inner.media_times.clone();
    let mut cancel = ctx.cancel_rx();
    let sd_fut = async {
        let mut st = SdJobState::default();
        sd.job_loop(ctx, &times, &mut st).await
    };
    let fd_fut = fd_restore_end(ctx, &mut fd);
    let (sd_res, fd_res) = tokio::select! {
        r = async { tokio::join!(sd_fut, fd_fut) } => r,
        _ = cancel.wait_for(|c| *c) => return Err(JobError::Canceled),
    };
    if let Ok(e) = &sd_res {
        f.sd_end = Some(*e);
    }
    f.fd_end = Some(fd_res?);
    // After `2800 End Job` the FD sends TERMINATE and closes (vectors/clear-restore conn 3
    // msgs 22-23): read to the close (bounded) so the connection ends as in the capture. The
    // restored tree is already complete at `2800` (the FD applies directory attributes
    // before it reports, fd-core `FileSink::end_restore`).
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while fd.conn.recv().await.is_ok() {}
    })
    .await;
    sd_res?;
    Ok(())
}

/// Wait for `2000 OK storage end`, answer `endrestore`, then read `2800 End Job`.
async fn fd_restore_end(
    ctx: &JobCtx,
    fd: &mut FdChannel,
) -> Result<fd_core::wire::dir_cmd::EndJob, JobError> {
    loop {
        match fd.next(ctx).await? {
            Ok(b) => match FdReply::parse(&b) {
                Ok(FdReply::Ok(OkReply::StorageEnd)) => {
                    fd.send(&DirCommand::EndRestore).await?;
                }
                Ok(FdReply::EndJob(e)) => return Ok(e),
                _ => log::debug!(
                    "JobId {}: FD said {:?}",
                    ctx.job_id,
                    String::from_utf8_lossy(&b)
                ),
            },
            Err(Signal::Eod) => {}
            Err(s) => {
                return Err(JobError::Connection(format!(
                    "Client \"{}\" ended the restore with {} before the job end",
                    fd.client,
                    s.name()
                )))
            }
        }
    }
}
