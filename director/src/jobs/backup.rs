//! A backup job, in the order of jobs.md §1.1 and vectors/clear-backup-full conns 2 and 3
//! (see the module docs of [`super`] for the sequence).
//!
//! Catalog effects, as in vectors/catalog-dump.txt for JobId 1: the Job row goes `C` → `R`
//! (StartTime, client, pool, fileset) → `T` with the FD's JobFiles/JobBytes/ReadBytes and the
//! SD session (VolSessionId/VolSessionTime); the SD's catalog requests create the Media row
//! and the JobMedia rows (the placeholder is deleted again by `DeleteNullJobmediaRecords`,
//! leaving the real row with VolIndex 2); File rows are inserted in one batch at the end
//! ("Insert of attributes batch table with N entries start/done"). An Incremental or
//! Differential takes its since time from the catalog and becomes a Full when there is no
//! prior Full ("No prior Full backup Job record found." / "No prior or suitable Full backup
//! found in catalog. Doing FULL backup.", `core/src/dird/job.cc` `GetLevelSinceTime()`).
//!
//! The FD's BTIME exchange after `level = since_utime …` (vectors/clear-backup-incr conn 3):
//! the FD sends the BTIME signal repeatedly; each is answered with `btime «µs»⏎`; an EOD
//! follows, then `2000 OK level⏎`.

use barque_common::tls::TlsSettings;
use fd_core::wire::bnet::Signal;
use fd_core::wire::codes::{JobLevel, JobStatus, JobType, MessageType};
use fd_core::wire::dir_cmd::{
    DirCommand, FdReply, FdVersionInfo, JobStart, Level, LevelWord, OkReply, Storage,
};
use fd_core::wire::sd_ctl::{DirToSd, PassiveClient, SdToDir};

use super::fd::{connected_lines as fd_lines, fileset_lines, FdChannel};
use super::report::BackupReport;
use super::sd::{bash, connected_lines as sd_lines, sd_failed, sd_job_cmd, SdEnd, SdJobState};
use super::{level_name, JobCtx, JobEngine, JobError, JobOutcome, Plan, RunOverrides};
use crate::catalog::{
    fileset_md5, JobEnd as CatJobEnd, JobStart as CatJobStart, NewClient, SinceTime,
};

/// Everything known about the job when it ends (for the Job row and the report).
#[derive(Debug, Default)]
struct Facts {
    level: Option<JobLevel>,
    since: Option<i64>,
    accurate: bool,
    start_time: i64,
    client_info: String,
    client_id: i64,
    fileset_id: i64,
    fileset_time: i64,
    pool_id: i64,
    sd_id: u32,
    sd_time: u32,
    fd_end: Option<fd_core::wire::dir_cmd::EndJob>,
    sd_end: Option<SdEnd>,
    sd: SdJobState,
    /// A Virtual Full: (level of the first job joined, last job joined).
    vfull: Option<(JobLevel, i64)>,
}

/// Run one backup to its end; never fails (a failure is the outcome's status).
pub async fn run_backup(
    engine: &JobEngine,
    ctx: &JobCtx,
    plan: &Plan,
    level: JobLevel,
    overrides: &RunOverrides,
) -> JobOutcome {
    let mut facts = Facts {
        level: Some(level),
        accurate: overrides.accurate.unwrap_or(plan.job.accurate),
        ..Default::default()
    };
    let res = backup_inner(engine, ctx, plan, level, &mut facts).await;
    let canceled = ctx.is_canceled();
    let status = match (&res, canceled) {
        (_, true) => JobStatus::Canceled,
        (Err(_), false) => JobStatus::FatalError,
        (Ok(()), false) => {
            let fd_ok = facts.fd_end.is_some_and(|e| {
                matches!(e.term_code, JobStatus::Terminated | JobStatus::Warnings)
            });
            let sd_ok = facts.sd_end.is_some_and(|e| !sd_failed(e.status));
            if fd_ok && sd_ok {
                if facts
                    .fd_end
                    .is_some_and(|e| e.errors > 0 || e.term_code == JobStatus::Warnings)
                {
                    JobStatus::Warnings
                } else {
                    JobStatus::Terminated
                }
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
    finish_backup(engine, ctx, plan, overrides, &mut facts, status, res.err()).await
}

async fn backup_inner(
    engine: &JobEngine,
    ctx: &JobCtx,
    plan: &Plan,
    level: JobLevel,
    facts: &mut Facts,
) -> Result<(), JobError> {
    if ctx.is_canceled() {
        // Canceled while waiting for a slot (Maximum Concurrent Jobs).
        return Err(JobError::Canceled);
    }
    let fileset = plan
        .fileset
        .clone()
        .ok_or_else(|| JobError::Config(format!("Job \"{}\" has no FileSet", plan.job.name)))?;
    let storage = plan
        .storage
        .clone()
        .ok_or_else(|| JobError::Config(format!("Job \"{}\" has no Storage", plan.job.name)))?;
    let pool = plan
        .pool
        .clone()
        .ok_or_else(|| JobError::Config(format!("Job \"{}\" has no Pool", plan.job.name)))?;

    ctx.msg(&engine.inner.opts.version_line).await;

    // Catalog: client, fileset, pool; since time.
    let md5 = fileset_md5(
        fileset
            .includes
            .iter()
            .chain(fileset.excludes.iter())
            .flat_map(|b| b.files.iter().chain(b.plugins.iter()))
            .map(String::as_str),
    );
    let fs_text = fileset_lines(&fileset)?
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect::<Vec<_>>()
        .join("");
    let (cname, fsname, now, md5c) = (
        plan.client.name.clone(),
        fileset.name.clone(),
        ctx.now(),
        md5.clone(),
    );
    let pool2 = pool.clone();
    let (client_id, fs, pool_id) = ctx
        .cat(move |c| {
            let cl = c.get_or_create_client(&NewClient {
                name: &cname,
                uname: "",
                auto_prune: true,
                file_retention: 60 * 86_400,
                job_retention: 180 * 86_400,
            })?;
            let fs = c.get_or_create_fileset(&fsname, &md5c, &fs_text, now)?;
            let p = c.get_or_create_pool(&pool2)?;
            Ok((cl.client_id, fs, p.pool_id))
        })
        .await?;
    facts.client_id = client_id;
    facts.fileset_id = fs.fileset_id;
    facts.fileset_time = fs.create_time;
    facts.pool_id = pool_id;

    if level == JobLevel::VirtualFull {
        let mut end = None;
        let r = super::vfull::run(
            engine,
            ctx,
            plan,
            facts.accurate,
            client_id,
            fs.fileset_id,
            (&fileset.name, &md5),
            &mut end,
        )
        .await;
        facts.start_time = ctx.start_time();
        if let Some(v) = end {
            facts.fd_end = Some(v.fd_end);
            facts.sd_end = Some(v.sd_end);
            facts.sd = v.sd;
            (facts.sd_id, facts.sd_time) = v.session;
            facts.pool_id = v.pool_id;
            facts.vfull = Some((v.first_level, v.last_job));
        }
        return r;
    }

    let mut level = level;
    let mut since: Option<(i64, String)> = None;
    if matches!(level, JobLevel::Incremental | JobLevel::Differential) {
        let (jn, fid) = (plan.job.name.clone(), fs.fileset_id);
        match ctx
            .cat(move |c| c.since_time(&jn, client_id, fid, level))
            .await?
        {
            SinceTime::UpgradeToFull => {
                ctx.msg("No prior Full backup Job record found.").await;
                ctx.msg("No prior or suitable Full backup found in catalog. Doing FULL backup.")
                    .await;
                level = JobLevel::Full;
            }
            SinceTime::Since {
                start_time, job, ..
            } => {
                ctx.msg(&format!(
                    "Using since time from previous job: {} ({})",
                    super::time::sql_time(start_time),
                    job
                ))
                .await;
                since = Some((start_time, job));
                facts.since = Some(start_time);
            }
            SinceTime::Full => {}
        }
    }
    facts.level = Some(level);
    ctx.set_level(level);

    let start = ctx.now();
    facts.start_time = start;
    let job_id = i64::from(ctx.job_id);
    ctx.cat(move |c| {
        c.update_job_start(&CatJobStart {
            job_id,
            status: JobStatus::Running,
            level,
            start_time: start,
            client_id,
            pool_id,
            fileset_id: fs.fileset_id,
        })
    })
    .await?;
    ctx.set_started(start);
    ctx.msg(&format!(
        "Start Backup JobId {}, Job={}",
        ctx.job_id, ctx.job
    ))
    .await;

    // Storage daemon: JobId=, getSecureEraseCmd.
    let mut sd = engine.connect_sd(&storage).await?;
    for l in sd_lines(&storage, &sd.conn) {
        ctx.msg(&l).await;
    }
    let (jn, cn, fsn) = (
        bash(&plan.job.name),
        bash(&plan.client.name),
        bash(&fileset.name),
    );
    sd.send(&DirToSd::Job(sd_job_cmd(
        ctx.job_id,
        &ctx.job,
        &jn,
        &cn,
        JobType::Backup,
        level,
        &fsn,
        &md5,
    )))
    .await?;
    let (sd_id, sd_time, key) = sd.job_reply(ctx, &storage).await?;
    facts.sd_id = sd_id;
    facts.sd_time = sd_time;
    sd.secure_erase(ctx).await?;

    // File daemon.
    let (mut fd, probed) = engine.connect_fd(&plan.client).await?;
    if probed {
        ctx.msg("Probing client protocol... (result will be saved until config reload)")
            .await;
    }
    for l in fd_lines(&plan.client, &fd) {
        ctx.msg(&l).await;
    }
    // The FD↔SD TLS policy (jobs.md MVP notes, §1.2): 4 (TLS-PSK with the session key) when
    // the Storage resource has TLS enabled, else 0; the `ssl=` field of `JobId=` is only sent
    // when the Director reached the FD TLS-first.
    let tls_first = fd.conn.is_tls();
    let sd_policy = if storage.tls.enable { 4 } else { 0 };
    fd.send(&DirCommand::JobStart(JobStart {
        job_id: ctx.job_id,
        job: ctx.job.as_bytes(),
        sd_id,
        sd_time,
        authorization: &key,
        ssl: tls_first.then_some(sd_policy),
    }))
    .await?;
    let r = fd.reply(ctx, "JobId").await?;
    match FdReply::parse(&r) {
        Ok(FdReply::JobOk { info }) => {
            facts.client_info = String::from_utf8_lossy(info).into_owned();
            if let Some(v) = FdVersionInfo::split(info) {
                log::debug!(
                    "client {} runs {}",
                    plan.client.name,
                    String::from_utf8_lossy(v.version)
                );
            }
        }
        _ => {
            return Err(JobError::Refused(format!(
                "Client \"{}\" refused the job: {}",
                plan.client.name,
                String::from_utf8_lossy(&r).trim_end()
            )))
        }
    }

    // Accurate mode only matters when there is a since time (Bareos sends the list for
    // Incremental/Differential); the report shows the Job's setting.
    let accurate = since.is_some() && facts.accurate;
    send_level(ctx, &mut fd, level, accurate, since.as_ref(), engine).await?;

    fd.send_fileset(&fileset).await?;
    fd.expect_ok(ctx, OkReply::Include, "the fileset").await?;

    fd.send(&DirCommand::GetSecureEraseCmd).await?;
    let _ = fd.reply(ctx, "getSecureEraseCmd").await?;

    // `setbandwidth=` (jobs.md §1.1 step 8, vectors/clear-cancel conn 3 msgs 24-25): the Job's
    // `Maximum Bandwidth`, else the Client's `Maximum Bandwidth Per Job`.
    if let Some(limit) = plan
        .job
        .maximum_bandwidth
        .or(plan.client.maximum_bandwidth_per_job)
        .filter(|&b| b > 0)
    {
        fd.send(&DirCommand::SetBandwidth {
            limit: i64::try_from(limit).unwrap_or(i64::MAX),
            job: ctx.job.as_bytes(),
        })
        .await?;
        fd.expect_ok(ctx, OkReply::Bandwidth, "setbandwidth")
            .await?;
    }
    if accurate {
        send_accurate_list(ctx, &mut fd, client_id, fs.fileset_id, level).await?;
    }

    // Device reservation.
    sd.reserve_device(ctx, &storage, &pool.name, pool.pool_type.as_str(), true)
        .await?;

    if plan.client.passive {
        let a = plan.fd_data_address.clone();
        sd.send(&DirToSd::PassiveClient(PassiveClient {
            address: a.as_bytes(),
            port: plan.client.port.into(),
            ssl: passive_ssl(&plan.client.tls, tls_first),
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
        tokio::time::sleep(engine.inner.opts.restore_run_delay).await;
    } else {
        let addr = plan.sd_data_address.clone();
        fd.send(&DirCommand::Storage(Storage {
            address: addr.as_bytes(),
            port: storage.port.into(),
            ssl: sd_policy,
            authorization: None,
        }))
        .await?;
        fd.expect_ok(ctx, OkReply::Storage, "storage").await?;
    }

    sd.send(&DirToSd::Run).await?;
    fd.send(&DirCommand::Backup { file_index: 0 }).await?;
    fd.expect_ok(ctx, OkReply::Backup, "backup").await?;

    // Both sides run until their end lines; cancel interrupts both.
    let times = engine.inner.media_times.clone();
    let mut cancel = ctx.cancel_rx();
    let batch = engine.inner.opts.attr_batch;
    let mut st = SdJobState::default();
    st.batch = batch;
    let outcome = {
        let sd_fut = sd.job_loop(ctx, &times, &mut st);
        let fd_fut = wait_end_job(ctx, &mut fd);
        let both = async { tokio::join!(sd_fut, fd_fut) };
        tokio::select! {
            r = both => Some(r),
            _ = cancel.wait_for(|c| *c) => None,
        }
    };
    // Keep what the SD reported so far (volumes, last status) for the report, also when
    // the job was canceled.
    facts.sd = st;
    let Some((sd_res, fd_res)) = outcome else {
        return Err(JobError::Canceled);
    };
    match fd_res {
        Ok(e) => {
            ctx.set_bytes(e.job_bytes);
            facts.fd_end = Some(e);
        }
        Err(e) => {
            if let Ok(end) = &sd_res {
                facts.sd_end = Some(*end);
            }
            return Err(e);
        }
    }
    facts.sd_end = Some(sd_res?);
    Ok(())
}

/// The `ssl=` of `passive client …` (connect.md §4, `ConfigureTlsRequirementsPassiveClient`):
/// when the Director reached the FD TLS-first, 4 if the Client has TLS enabled, else 0;
/// when the probing fell back to cleartext, the Client's policy (0/1/2), so that the SD
/// does not open TLS-first to an FD that just proved it speaks cleartext.
pub(crate) fn passive_ssl(client_tls: &TlsSettings, tls_first: bool) -> u32 {
    if tls_first {
        if client_tls.enable {
            4
        } else {
            0
        }
    } else {
        client_tls.policy().code()
    }
}

pub(crate) async fn send_level(
    ctx: &JobCtx,
    fd: &mut FdChannel,
    level: JobLevel,
    accurate: bool,
    since: Option<&(i64, String)>,
    engine: &JobEngine,
) -> Result<(), JobError> {
    let word = match level {
        JobLevel::Incremental => LevelWord::Incremental,
        JobLevel::Differential => LevelWord::Differential,
        JobLevel::Base => LevelWord::Base,
        _ => LevelWord::Full,
    };
    fd.send(&DirCommand::Level(Level::Backup {
        accurate: accurate && since.is_some(),
        level: word,
        rerunning: false,
        mtime_only: 0,
    }))
    .await?;
    let Some((utime, prev)) = since else {
        return fd.expect_ok(ctx, OkReply::Level, "level").await;
    };
    fd.send(&DirCommand::Level(Level::Since {
        utime: u64::try_from(*utime).unwrap_or(0),
        mtime_only: 0,
        prev_job: prev.as_bytes(),
    }))
    .await?;
    // BTIME exchange: answer every BTIME, skip the EOD, then the OK.
    for _ in 0..1000 {
        match fd.next(ctx).await? {
            Err(Signal::Btime) => {
                let micros = engine.inner.clock.now_micros();
                fd.send(&DirCommand::Btime { micros }).await?;
            }
            Err(Signal::Eod) => {}
            Err(s) => {
                return Err(JobError::Protocol(format!(
                    "Client \"{}\" sent {} during the clock exchange",
                    fd.client,
                    s.name()
                )))
            }
            Ok(b) => {
                return match FdReply::parse(&b) {
                    Ok(FdReply::Ok(OkReply::Level)) => Ok(()),
                    _ => Err(JobError::Refused(format!(
                        "Client \"{}\" refused the level: {}",
                        fd.client,
                        String::from_utf8_lossy(&b).trim_end()
                    ))),
                }
            }
        }
    }
    Err(JobError::Protocol(format!(
        "Client \"{}\": endless clock exchange",
        fd.client
    )))
}

/// The accurate list (`core/src/dird/backup.cc` `SendAccurateCurrentFiles()`, jobs.md §9.3,
/// vectors/clear-diff-accurate conn 7 msgs 46–56): `accurate files=«estimate»⏎`, one
/// `path␀lstat␀checksum␀delta_seq` frame per file the backup is taken against (the newest
/// version of each file of the Full, Differential and Incrementals a restore would use for an
/// Incremental, of the Full alone for a Differential:
/// [`crate::catalog::Catalog::accurate_jobids`]; deleted
/// files left out), EOD, no reply. The estimate is the sum of those jobs' JobFiles.
/// Checksums are sent empty (no `accurate=…5` option support) and DeltaSeq as 0.
async fn send_accurate_list(
    ctx: &JobCtx,
    fd: &mut FdChannel,
    client_id: i64,
    fileset_id: i64,
    level: JobLevel,
) -> Result<(), JobError> {
    let now = ctx.now();
    let (estimate, files) = ctx
        .cat(move |c| {
            let ids = c.accurate_jobids(client_id, fileset_id, now, level)?;
            let mut estimate = 0u64;
            for id in &ids {
                estimate += c.job(*id)?.map_or(0, |j| u64::from(j.job_files));
            }
            let sel = c.select_files(&ids)?;
            Ok((estimate, sel.files))
        })
        .await?;
    ctx.msg(&format!(
        "Sending Accurate information (estimated {estimate} files)."
    ))
    .await;
    let t0 = ctx.now();
    fd.send(&DirCommand::Accurate { files: estimate }).await?;
    for f in &files {
        let name = f.fname();
        let e = fd_core::wire::dir_cmd::AccurateEntry {
            path: name.as_bytes(),
            lstat: f.lstat.as_bytes(),
            checksum: b"",
            delta_seq: 0,
        };
        let b = super::fd::encode!(e)?;
        fd.send_raw(&b).await?;
    }
    fd.signal(Signal::Eod).await?;
    let el = (ctx.now() - t0).max(0);
    ctx.msg(&format!(
        "Sent Accurate information for {} files (skipping 0 deleted files) in {:02}:{:02}:{:02}.",
        files.len(),
        el / 3600,
        (el / 60) % 60,
        el % 60
    ))
    .await;
    Ok(())
}

/// Read the FD until `2800 End Job …` (Jmsgs forwarded).
pub(crate) async fn wait_end_job(
    ctx: &JobCtx,
    fd: &mut FdChannel,
) -> Result<fd_core::wire::dir_cmd::EndJob, JobError> {
    loop {
        match fd.next(ctx).await {
            Ok(Ok(b)) => match FdReply::parse(&b) {
                Ok(FdReply::EndJob(e)) => return Ok(e),
                _ => log::debug!(
                    "JobId {}: FD said {:?}",
                    ctx.job_id,
                    String::from_utf8_lossy(&b)
                ),
            },
            Ok(Err(Signal::Eod)) => {}
            Ok(Err(s)) => {
                return Err(JobError::Connection(format!(
                    "Client \"{}\" ended the job channel with {} before the job end",
                    fd.client,
                    s.name()
                )))
            }
            Err(JobError::Connection(m)) => {
                return Err(JobError::Connection(format!(
                    "Network error with FD during Backup: {m}"
                )))
            }
            Err(e) => return Err(e),
        }
    }
}

async fn finish_backup(
    engine: &JobEngine,
    ctx: &JobCtx,
    plan: &Plan,
    overrides: &RunOverrides,
    facts: &mut Facts,
    status: JobStatus,
    err: Option<JobError>,
) -> JobOutcome {
    let level = facts.level.unwrap_or(JobLevel::Full);
    let end = ctx.now();
    let fd = facts.fd_end.unwrap_or(fd_core::wire::dir_cmd::EndJob {
        term_code: JobStatus::ErrorTerminated,
        job_files: 0,
        read_bytes: 0,
        job_bytes: 0,
        errors: 0,
        vss: 0,
        encrypt: 0,
    });
    // File rows, batched (rows beyond `attr_batch` were inserted during the job already).
    let rows = std::mem::take(&mut facts.sd.rows);
    if !rows.is_empty() || facts.sd.inserted > 0 {
        ctx.msg(&format!(
            "Insert of attributes batch table with {} entries start",
            rows.len() + facts.sd.inserted
        ))
        .await;
        let job_id = i64::from(ctx.job_id);
        let batch = engine.inner.opts.attr_batch.max(1);
        let r = ctx
            .cat(move |c| {
                for chunk in rows.chunks(batch) {
                    let attrs: Vec<_> = chunk.iter().map(|r| r.as_attr()).collect();
                    c.insert_file_attributes(job_id, &attrs)?;
                }
                Ok(())
            })
            .await;
        match r {
            Ok(()) => ctx.msg("Insert of attributes batch table done").await,
            Err(e) => {
                ctx.msg_typed(MessageType::Error, &format!("Attribute insert failed: {e}"))
                    .await
            }
        }
    }
    let job_id = i64::from(ctx.job_id);
    let (sd_id, sd_time) = (facts.sd_id, facts.sd_time);
    let ok = matches!(status, JobStatus::Terminated | JobStatus::Warnings);
    // A Virtual Full that ended OK is recorded at the first joined job's level, with the
    // last joined job's times (`NativeVbackupCleanup()`).
    let (row_level, times_of) = match facts.vfull {
        Some((first, last)) if ok => (first, Some(last)),
        _ => (level, None),
    };
    let r = ctx
        .cat(move |c| {
            c.update_job_end(&CatJobEnd {
                job_id,
                status,
                job_type: JobType::Backup,
                level: row_level,
                end_time: end,
                real_end_time: end,
                job_files: fd.job_files,
                job_bytes: fd.job_bytes,
                read_bytes: fd.read_bytes,
                job_errors: fd.errors,
                vol_session_id: sd_id,
                vol_session_time: sd_time,
                prior_job_id: 0,
            })?;
            if let Some(last) = times_of {
                c.adopt_job_times(job_id, last)?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = r {
        log::warn!("JobId {}: cannot close the Job row: {e}", ctx.job_id);
    }
    if matches!(status, JobStatus::Terminated | JobStatus::Warnings) {
        super::prune::autoprune(ctx, &engine.config(), &plan.client.name, facts.client_id).await;
    }
    // Write Bootstrap.
    if matches!(status, JobStatus::Terminated | JobStatus::Warnings) {
        if let Some(path) = &plan.job.write_bootstrap {
            let path = path
                .replace("%n", &plan.job.name)
                .replace("%i", &ctx.job_id.to_string())
                .replace("%j", &ctx.job)
                .replace("%c", &plan.client.name);
            let comment =
                crate::catalog::backup_bootstrap_comment(end, &ctx.job, level_name(level));
            let r = ctx
                .cat(move |c| c.backup_bootstrap(job_id)?.backup_text(&comment))
                .await;
            match r {
                Ok(text) => {
                    let res = if let Some(cmd) = path.strip_prefix('|') {
                        Err(std::io::Error::other(format!(
                            "piping the bootstrap to \"{cmd}\" is not supported"
                        )))
                    } else {
                        std::fs::write(&path, text)
                    };
                    if let Err(e) = res {
                        ctx.msg_typed(
                            MessageType::Error,
                            &format!("Could not open WriteBootstrap file {path}: ERR={e}"),
                        )
                        .await;
                    }
                }
                Err(e) => {
                    ctx.msg_typed(MessageType::Error, &format!("Bootstrap: {e}"))
                        .await
                }
            }
        }
    }
    let sd_end = facts.sd_end.unwrap_or_default();
    let termination = match status {
        JobStatus::Terminated => "Backup OK".to_owned(),
        JobStatus::Warnings => "Backup OK -- with warnings".to_owned(),
        JobStatus::Canceled => "Backup Canceled".to_owned(),
        _ => "*** Backup Error ***".to_owned(),
    };
    let report = BackupReport {
        director: plan.director.name.clone(),
        version: engine.inner.opts.version.clone(),
        os: engine.inner.opts.os.clone(),
        job_id: ctx.job_id,
        job: ctx.job.clone(),
        level: match facts.since {
            Some(t) if level != JobLevel::Full => {
                format!("{}, since={}", level_name(level), super::time::sql_time(t))
            }
            _ => level_name(level).to_owned(),
        },
        client: plan.client.name.clone(),
        client_info: facts.client_info.clone(),
        fileset: plan
            .fileset
            .as_ref()
            .map(|f| f.name.clone())
            .unwrap_or_default(),
        fileset_time: facts.fileset_time,
        pool: plan
            .pool
            .as_ref()
            .map(|p| p.name.clone())
            .unwrap_or_default(),
        catalog: plan.catalog.clone(),
        storage: plan
            .storage
            .as_ref()
            .map(|s| s.name.clone())
            .unwrap_or_default(),
        sched_time: ctx.sched_time,
        start_time: if facts.start_time > 0 {
            facts.start_time
        } else {
            end
        },
        end_time: end,
        priority: plan.job.priority,
        fd_files: fd.job_files,
        sd_files: sd_end.files,
        fd_read_bytes: fd.read_bytes,
        fd_bytes: fd.job_bytes,
        sd_bytes: sd_end.bytes,
        accurate: facts.accurate,
        volumes: facts.sd.volumes.clone(),
        vol_session_id: facts.sd_id,
        vol_session_time: facts.sd_time,
        last_volume_bytes: facts.sd.last_volume_bytes,
        fd_errors: fd.errors,
        sd_errors: sd_end.errors,
        fd_status: facts.fd_end.map(|e| e.term_code.to_u8()).unwrap_or(b'E'),
        sd_status: if sd_end.status != 0 {
            sd_end.status
        } else if facts.sd.sd_status != 0 {
            facts.sd.sd_status
        } else {
            b'E'
        },
        triggered_by: overrides
            .triggered_by
            .clone()
            .unwrap_or_else(|| "User".into()),
        termination,
    }
    .render();
    let t = if matches!(status, JobStatus::Terminated | JobStatus::Warnings) {
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
        files: fd.job_files,
        bytes: fd.job_bytes,
        error: err.map(|e| e.to_string()),
        report: Some(report),
    }
}

/// `cancel Job=…` on fresh connections to the FD and the SD (vectors/clear-cancel conns 6
/// and 7: hello, `cancel Job=«job»⏎`, the reply, EOD, then the Director's TERMINATE).
/// Bareos cancels on the SD twice (conn 8); once is enough here.
pub(crate) async fn cancel_on_daemons(
    engine: &JobEngine,
    job: &str,
    job_name: &str,
    client: &str,
) -> Result<Vec<String>, JobError> {
    let cfg = engine.config();
    let mut replies = Vec::new();
    if let Some(c) = cfg.dir_clients().into_iter().find(|c| c.name == client) {
        match engine
            .connect_fd_within(&c, std::time::Duration::from_secs(15))
            .await
        {
            Ok((mut fd, _)) => {
                fd.send(&DirCommand::Cancel {
                    job: job.as_bytes(),
                })
                .await?;
                if let Ok(Ok(b)) = fd.conn.recv().await.map(|f| match f {
                    fd_core::wire::bnet::Frame::Data(d) => Ok(d.to_vec()),
                    _ => Err(()),
                }) {
                    replies.push(String::from_utf8_lossy(&b).into_owned());
                }
                let _ = fd.conn.recv().await;
                let _ = fd.signal(Signal::Terminate).await;
            }
            Err(e) => replies.push(format!("cannot reach client {client}: {e}")),
        }
    }
    // The SD of the job: every Storage the job's Job resource names.
    let storages: Vec<_> = cfg
        .dir_jobs()
        .into_iter()
        .find(|j| j.name == job_name)
        .map(|j| j.storage)
        .unwrap_or_default();
    for s in cfg
        .dir_storages()
        .into_iter()
        .filter(|s| storages.contains(&s.name))
    {
        match engine.connect_sd(&s).await {
            Ok(mut sd) => {
                sd.send(&DirToSd::Cancel(job.as_bytes())).await?;
                if let Ok(fd_core::wire::bnet::Frame::Data(d)) = sd.conn.recv().await {
                    replies.push(String::from_utf8_lossy(d).into_owned());
                }
                let _ = sd.conn.recv().await;
                let _ = sd.signal(Signal::Terminate).await;
            }
            Err(e) => replies.push(format!("cannot reach storage {}: {e}", s.name)),
        }
    }
    Ok(replies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passive_ssl_follows_the_probed_mode() {
        let psk = TlsSettings::default();
        let optional = TlsSettings {
            require: false,
            ..TlsSettings::default()
        };
        // Reached TLS-first: the SD opens TLS-PSK to the FD.
        assert_eq!(passive_ssl(&psk, true), 4);
        // Probing fell back to cleartext: the Client's policy, never 4.
        assert_eq!(passive_ssl(&optional, false), 1);
        assert_eq!(passive_ssl(&psk, false), 2);
        assert_eq!(passive_ssl(&TlsSettings::disabled(), false), 0);
    }
}
