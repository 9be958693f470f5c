//! Copy and Migrate jobs (`Type = Copy|Migrate`; `core/src/dird/migrate.cc`, jobs.md).
//!
//! When the read and the write Storage name the same SD (same Address, port and Password,
//! bareos-dir's `IsSameStorageDaemon()`), the copy runs within that SD on one connection
//! (storage/tests/sd_copy_local.rs shows the SD's side):
//!
//! ```text
//! D→S  JobId=«control» job=«control job» … type=99|103 …   S→D 3000 OK Job SDid=…
//! D→S  bootstrap «the source job's JobMedia», EOD           S→D 3000 OK bootstrap
//! D→S  getSecureEraseCmd, use storage=«read storage» append=0 …, use storage=«write
//!      storage» pool_name=«Next Pool» append=1 …, run
//! S→D  CatReq GetVolInfo/FindMedia/CreateJobMedia …, UpdCat …, 3099 Job … end
//! ```
//!
//! The SD's JobMedia and File rows are booked to the new job and its new volumes to the
//! write Storage ([`super::sd::Within`]). Otherwise the copy goes SD → SD
//! (storage/tests/sd_replicate.rs shows both SDs' command sequences):
//!
//! ```text
//! D→W  JobId=«new» job=«new job» … type=66 …   W→D 3000 OK Job SDid=… Authorization=«key»
//! D→W  getSecureEraseCmd, use storage=«write storage» pool_name=«Next Pool» append=1 …
//! D→W  listen                                    (the writing SD waits: JobStatus S)
//! D→R  JobId=«control» job=«control job» … type=99|103 …, getSecureEraseCmd,
//! D→R  use storage=«read storage» append=0 …, bootstrap «the source job's JobMedia», EOD
//! D→R  replicate JobId=«new» Job=«new job» address=… port=… ssl=… Authorization=«key»
//! R→D  3000 OK replicate                         (R connected to W: Hello Start Storage Job)
//! D→R  run
//! R→D  CatReq GetVolInfo/UpdateMedia …, 3099 Job … end
//! W→D  CatReq FindMedia/CreateJobMedia …, UpdCat attributes for the new JobId, 3099 … end
//! ```
//!
//! The control job (Type `c`/`g`) reads; the new job, created as a Backup under the source
//! job's resource name, is what the writing SD fills: its JobMedia and File rows are made
//! from the writing SD's catalog requests exactly as a backup's. At the end the catalog
//! records the copy or migration ([`crate::catalog::CopyDone`]): the new job becomes Type `C`
//! for a copy; for a migration the source becomes Type `M` and loses its File rows.
//!
//! Selection: `run job=… jobid=N[,M…]` names the source backups; without it the Job's
//! `Selection Type = PoolUncopiedJobs` (uncopied backups of the Job's Pool) is used. The
//! other selection types are refused with a message. Each selected job is copied in turn by
//! the one control job (Bareos starts one control job per selected JobId).
//!
//! Destination: the Job's `Next Pool`, else the Job Pool's `Next Pool`; the write storage is
//! that pool's `Storage`, else the Job's. The read storage is the Storage recorded with the
//! source's volume, else the Job's.

use barque_common::config::typed::DirStorage;
use barque_common::config::value::Value;
use barque_common::config::Config;
use fd_core::wire::bnet::Signal;
use fd_core::wire::codes::{JobLevel, JobStatus, JobType, MessageType};
use fd_core::wire::sd_ctl::{DirToSd, JobCmd, SdToDir};
use fd_core::wire::sd_dev::{Replicate, REPLICATE_OK};

use super::fd::encode;
use super::report::{term_word, utime, with_commas, with_suffix};
use super::sd::{
    bash, connected_lines, flush_rows, sd_failed, sd_job_cmd, SdChannel, SdEnd, SdJobState, Within,
};
use super::time::report_time;
use super::{
    job_directive, level_name, pool_spec, JobCtx, JobEngine, JobError, JobOutcome, Plan,
    RunOverrides,
};
use crate::catalog::{CopyDone, JobEnd as CatJobEnd, JobStart as CatJobStart};

/// Register a Copy/Migrate control job and run it in its own task; returns its JobId.
pub(super) async fn start(
    engine: &JobEngine,
    plan: Plan,
    overrides: RunOverrides,
) -> Result<u32, JobError> {
    let (job_id, running, ctx) = engine
        .register(
            &plan.job.name,
            plan.job_type,
            plan.level,
            &plan.client.name,
            &plan,
        )
        .await?;
    let e = engine.clone();
    tokio::spawn(async move {
        let outcome = {
            let _permits = e.acquire_slots(&plan).await;
            run_copy(&e, &ctx, &plan, &overrides).await
        };
        e.finish(job_id, &running, outcome);
    });
    Ok(job_id)
}

fn value_str(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Str(s) if !s.is_empty() => Some(s.clone()),
        Value::List(l) => l.first().cloned(),
        _ => None,
    }
}

/// The Storage to read a bootstrap's volumes with: the one recorded with its first volume,
/// else the Job's.
pub(super) fn read_storage(
    cfg: &Config,
    plan: &Plan,
    bsr: &crate::catalog::Bootstrap,
) -> Result<DirStorage, JobError> {
    let storages = cfg.dir_storages();
    bsr.entries
        .first()
        .and_then(|e| storages.iter().find(|s| s.name == e.storage).cloned())
        .or_else(|| plan.storage.clone())
        .ok_or_else(|| {
            JobError::Config(format!(
                "Job \"{}\" has no Storage to read from",
                plan.job.name
            ))
        })
}

/// The destination of a copy: (Next Pool name, write Storage).
pub fn destination(cfg: &Config, plan: &Plan) -> Result<(String, DirStorage), JobError> {
    let job_next = value_str(job_directive(cfg, &plan.job.name, "NextPool").as_ref());
    let pool_name = plan.pool.as_ref().map(|p| p.name.clone());
    let pool_next = pool_name
        .as_ref()
        .and_then(|p| cfg.resource("Pool", p))
        .and_then(|r| value_str(r.get("NextPool")));
    let next = job_next.or(pool_next).ok_or_else(|| {
        JobError::Config(format!(
            "No Next Pool specification found in Job \"{}\" or its Pool \"{}\": add `Next Pool = …` \
             to the Pool resource",
            plan.job.name,
            pool_name.unwrap_or_default()
        ))
    })?;
    let st_name = cfg
        .resource("Pool", &next)
        .and_then(|r| value_str(r.get("Storage")))
        .or_else(|| plan.storage.as_ref().map(|s| s.name.clone()))
        .ok_or_else(|| {
            JobError::Config(format!(
                "No write Storage for Next Pool \"{next}\": set `Storage` in that Pool or the Job"
            ))
        })?;
    let st = cfg
        .dir_storages()
        .into_iter()
        .find(|s| s.name == st_name)
        .ok_or_else(|| JobError::Config(format!("Storage \"{st_name}\" not found")))?;
    Ok((next, st))
}

/// What one copied job produced.
#[derive(Debug, Default)]
struct One {
    source: i64,
    source_job: String,
    new_id: u32,
    level: Option<JobLevel>,
    read_pool: String,
    read_storage: String,
    write_pool: String,
    write_storage: String,
    fileset: String,
    start: i64,
    read_end: Option<SdEnd>,
    write_end: Option<SdEnd>,
    write: SdJobState,
    w_session: (u32, u32),
}

/// Run the control job to its end.
pub async fn run_copy(
    engine: &JobEngine,
    ctx: &JobCtx,
    plan: &Plan,
    o: &RunOverrides,
) -> JobOutcome {
    let migrate = plan.job_type == JobType::Migrate;
    let (op, noun) = if migrate {
        ("Migration", "migrated")
    } else {
        ("Copying", "copied")
    };
    let start = ctx.now();
    let job_id = i64::from(ctx.job_id);
    let level = plan.level;
    let r = ctx
        .cat(move |c| {
            c.update_job_start(&CatJobStart {
                job_id,
                status: JobStatus::Running,
                level,
                start_time: start,
                client_id: 0,
                pool_id: 0,
                fileset_id: 0,
            })
        })
        .await;
    if let Err(e) = r {
        log::warn!("JobId {}: cannot start the Job row: {e}", ctx.job_id);
    }
    ctx.set_started(start);
    ctx.msg(&engine.inner.opts.version_line).await;

    let mut results: Vec<(One, Result<(), JobError>)> = Vec::new();
    let selected = select(&engine.config(), ctx, plan, o).await;
    let res = match selected {
        Err(e) => Err(e),
        Ok(ids) if ids.is_empty() => {
            ctx.msg(&format!(
                "No JobIds found to {}.",
                if migrate { "migrate" } else { "copy" }
            ))
            .await;
            Ok(())
        }
        Ok(ids) => {
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            ctx.msg(&format!(
                "The following {} JobId{} chosen to be {noun}: {}",
                ids.len(),
                if ids.len() == 1 { " was" } else { "s were" },
                list.join(",")
            ))
            .await;
            for id in ids {
                if ctx.is_canceled() {
                    break;
                }
                let mut one = One {
                    source: id,
                    ..Default::default()
                };
                let r = copy_one(engine, ctx, plan, migrate, &mut one).await;
                if let Err(e) = &r {
                    ctx.msg_typed(MessageType::Fatal, &format!("Fatal error: {e}"))
                        .await;
                }
                results.push((one, r));
            }
            Ok(())
        }
    };
    let canceled = ctx.is_canceled();
    let all_ok = results.iter().all(|(one, r)| {
        r.is_ok()
            && one.read_end.is_some_and(|e| !sd_failed(e.status))
            && one.write_end.is_some_and(|e| !sd_failed(e.status))
    });
    let status = if canceled {
        JobStatus::Canceled
    } else if res.is_err() {
        JobStatus::FatalError
    } else if all_ok {
        JobStatus::Terminated
    } else {
        JobStatus::ErrorTerminated
    };
    if let Err(e) = &res {
        ctx.msg_typed(MessageType::Fatal, &format!("Fatal error: {e}"))
            .await;
    }
    let end = ctx.now();
    let files: u32 = results
        .iter()
        .filter_map(|(o, _)| o.write_end.map(|e| e.files))
        .sum();
    let bytes: u64 = results
        .iter()
        .filter_map(|(o, _)| o.write_end.map(|e| e.bytes))
        .sum();
    let prior = results
        .last()
        .map(|(o, _)| i64::from(o.new_id))
        .unwrap_or(0);
    let (jt, lv) = (plan.job_type, plan.level);
    let r = ctx
        .cat(move |c| {
            c.update_job_end(&CatJobEnd {
                job_id,
                status,
                job_type: jt,
                level: lv,
                end_time: end,
                real_end_time: end,
                job_files: files,
                job_bytes: bytes,
                read_bytes: bytes,
                job_errors: 0,
                vol_session_id: 0,
                vol_session_time: 0,
                prior_job_id: prior,
            })
        })
        .await;
    if let Err(e) = r {
        log::warn!("JobId {}: cannot close the Job row: {e}", ctx.job_id);
    }
    let termination = match status {
        JobStatus::Terminated => format!("{op} OK"),
        JobStatus::Canceled => format!("{op} Canceled"),
        _ => format!("*** {op} Error ***"),
    };
    let mut reports = Vec::new();
    if results.is_empty() {
        reports.push(selection_report(
            engine,
            ctx,
            plan,
            start,
            end,
            &termination,
        ));
    }
    for (one, r) in &results {
        let st = if r.is_ok()
            && one.read_end.is_some_and(|e| !sd_failed(e.status))
            && one.write_end.is_some_and(|e| !sd_failed(e.status))
        {
            termination.clone()
        } else if canceled {
            format!("{op} Canceled")
        } else {
            format!("*** {op} Error ***")
        };
        reports.push(worker_report(engine, ctx, plan, one, end, &st));
    }
    let t = if status == JobStatus::Terminated {
        MessageType::Term
    } else {
        MessageType::ErrorTerm
    };
    for rep in &reports {
        ctx.msg_typed(t, rep).await;
    }
    ctx.set_status(status);
    JobOutcome {
        job_id: ctx.job_id,
        job: ctx.job.clone(),
        status,
        files,
        bytes,
        error: res
            .err()
            .or_else(|| results.into_iter().find_map(|(_, r)| r.err()))
            .map(|e| e.to_string()),
        report: Some(reports.concat()),
    }
}

/// The source JobIds: `jobid=` or the Job's `Selection Type`.
async fn select(
    cfg: &Config,
    ctx: &JobCtx,
    plan: &Plan,
    o: &RunOverrides,
) -> Result<Vec<i64>, JobError> {
    if !o.job_ids.is_empty() {
        return Ok(o.job_ids.clone());
    }
    let kind =
        value_str(job_directive(cfg, &plan.job.name, "SelectionType").as_ref()).unwrap_or_default();
    match kind.to_ascii_lowercase().as_str() {
        "pooluncopiedjobs" => {
            let pool = plan.pool.as_ref().map(|p| p.name.clone()).ok_or_else(|| {
                JobError::Config(format!(
                    "Job \"{}\": Selection Type = PoolUncopiedJobs needs a Pool",
                    plan.job.name
                ))
            })?;
            ctx.cat(move |c| c.pool_uncopied_jobs(&pool)).await
        }
        "" => Err(JobError::Config(format!(
            "Job \"{}\" has no Selection Type: give jobid=N on the run command or set \
             `Selection Type = PoolUncopiedJobs`",
            plan.job.name
        ))),
        other => Err(JobError::Config(format!(
            "Job \"{}\": Selection Type = {other} is not supported by Barque (use \
             PoolUncopiedJobs or run … jobid=N)",
            plan.job.name
        ))),
    }
}

/// Send `JobId=`, `getSecureEraseCmd`, `use storage`/`use device`; returns (SDid, SDtime, key).
async fn define_sd_job(
    ctx: &JobCtx,
    sd: &mut SdChannel,
    cmd: JobCmd<'_>,
    storage: &DirStorage,
    pool: &str,
    append: bool,
) -> Result<(u32, u32, Vec<u8>), JobError> {
    sd.send(&DirToSd::Job(cmd)).await?;
    let (id, time, key) = sd.job_reply(ctx, storage).await?;
    sd.secure_erase(ctx).await?;
    sd.reserve_device(ctx, storage, pool, "Backup", append)
        .await?;
    Ok((id, time, key))
}

/// Copy one source job (see the module docs).
async fn copy_one(
    engine: &JobEngine,
    ctx: &JobCtx,
    plan: &Plan,
    migrate: bool,
    one: &mut One,
) -> Result<(), JobError> {
    let cfg = engine.config();
    let source = one.source;
    let (job, client, fileset, read_pool, bsr) = ctx
        .cat(move |c| {
            let job = c
                .job(source)?
                .ok_or(crate::catalog::Error::NotFound("job"))?;
            let client = c
                .list_clients()?
                .into_iter()
                .find(|cl| cl.client_id == job.client_id);
            let fileset = c.fileset_by_id(job.fileset_id)?;
            let pool = c.pool_by_id(job.pool_id)?.map(|p| p.spec.name);
            let bsr = c.backup_bootstrap(source)?;
            Ok((job, client, fileset, pool, bsr))
        })
        .await
        .map_err(|e| match e {
            JobError::Catalog(m) if m.contains("not found") => JobError::Config(format!(
                "JobId {source} is not in the catalog (nothing to copy)"
            )),
            e => e,
        })?;
    if job.job_type != JobType::Backup
        || !matches!(job.status, JobStatus::Terminated | JobStatus::Warnings)
    {
        return Err(JobError::Config(format!(
            "JobId {source} ({}) is not a successful Backup job (Type {}, status {}): only those \
             can be copied or migrated",
            job.job,
            char::from(job.job_type.to_u8()),
            char::from(job.status.to_u8())
        )));
    }
    if bsr.entries.is_empty() {
        return Err(JobError::Config(format!(
            "JobId {source} ({}) has no JobMedia rows: its data is on no volume",
            job.job
        )));
    }
    one.source_job = job.job.clone();
    one.level = Some(job.level);
    let client_name = client
        .as_ref()
        .map(|c| c.name.clone())
        .unwrap_or_else(|| plan.client.name.clone());
    let (fs_name, fs_md5) = fileset
        .map(|f| (f.fileset, f.md5))
        .unwrap_or_else(|| ("**None**".into(), "**Dummy**".into()));
    one.fileset = fs_name.clone();
    one.read_pool = read_pool
        .or_else(|| plan.pool.as_ref().map(|p| p.name.clone()))
        .unwrap_or_default();
    let read_storage = read_storage(&cfg, plan, &bsr)?;
    let (next_pool, write_storage) = destination(&cfg, plan)?;
    one.read_storage = read_storage.name.clone();
    one.write_pool = next_pool.clone();
    one.write_storage = write_storage.name.clone();
    let rdev = read_storage.devices.first().cloned();
    let rname = read_storage.name.clone();
    let lines = bsr
        .restore_lines(|st| if st == rname { rdev.clone() } else { None })
        .map_err(|e| JobError::Catalog(format!("bootstrap of JobId {source}: {e}")))?;
    let spec = pool_spec(&cfg, &next_pool)
        .ok_or_else(|| JobError::Config(format!("Pool \"{next_pool}\" not found")))?;
    let next_pool_id = ctx
        .cat(move |c| c.get_or_create_pool(&spec).map(|p| p.pool_id))
        .await?;

    ctx.msg(&format!(
        "{} using JobId={source} Job={}",
        if migrate { "Migration" } else { "Copying" },
        job.job
    ))
    .await;
    // The new job, under the source's Job resource name.
    let (new_id, new_running, nctx) = engine
        .register(&job.name, JobType::Backup, job.level, &client_name, plan)
        .await?;
    one.new_id = new_id;
    let start = ctx.now();
    one.start = start;
    let (nid, lvl, cid, fsid) = (i64::from(new_id), job.level, job.client_id, job.fileset_id);
    nctx.cat(move |c| {
        c.update_job_start(&CatJobStart {
            job_id: nid,
            status: JobStatus::Running,
            level: lvl,
            start_time: start,
            client_id: cid,
            pool_id: next_pool_id,
            fileset_id: fsid,
        })
    })
    .await?;
    nctx.set_started(start);
    ctx.msg(&format!(
        "Start {} JobId {}, Job={}",
        if migrate { "Migration" } else { "Copying" },
        ctx.job_id,
        ctx.job
    ))
    .await;

    let res = drive(
        engine,
        ctx,
        &nctx,
        &job,
        &client_name,
        (&fs_name, &fs_md5),
        (&read_storage, &write_storage),
        &lines,
        migrate,
        one,
    )
    .await;

    // Close the new job.
    let ok = res.is_ok()
        && one.read_end.is_some_and(|e| !sd_failed(e.status))
        && one.write_end.is_some_and(|e| !sd_failed(e.status));
    let status = if ok {
        JobStatus::Terminated
    } else if ctx.is_canceled() {
        JobStatus::Canceled
    } else {
        JobStatus::ErrorTerminated
    };
    if !one.write.rows.is_empty() {
        if let Err(e) = flush_rows(&nctx, &mut one.write).await {
            nctx.msg_typed(MessageType::Error, &format!("Attribute insert failed: {e}"))
                .await;
        }
    }
    let end = ctx.now();
    let w = one.write_end.unwrap_or_default();
    let (sid, stime) = one.w_session;
    let control = i64::from(ctx.job_id);
    let purge_job = migrate
        && job_directive(&cfg, &plan.job.name, "PurgeMigrationJob")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
    let r = nctx
        .cat(move |c| {
            c.update_job_end(&CatJobEnd {
                job_id: nid,
                status,
                job_type: JobType::Backup,
                level: lvl,
                end_time: end,
                real_end_time: end,
                job_files: w.files,
                job_bytes: w.bytes,
                read_bytes: w.bytes,
                job_errors: w.errors,
                vol_session_id: sid,
                vol_session_time: stime,
                prior_job_id: source,
            })?;
            if ok {
                c.finish_copy(&CopyDone {
                    control,
                    source,
                    new: nid,
                    migrate,
                    purge_job,
                })?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = &r {
        ctx.msg_typed(
            MessageType::Error,
            &format!("Cannot record the new JobId {new_id} in the catalog: {e}"),
        )
        .await;
    }
    engine.finish(
        new_id,
        &new_running,
        JobOutcome {
            job_id: new_id,
            job: nctx.job.clone(),
            status,
            files: w.files,
            bytes: w.bytes,
            error: res.as_ref().err().map(ToString::to_string),
            report: None,
        },
    );
    res
}

/// True if two Storage resources name one SD: bareos-dir's test for a copy within the SD
/// (`core/src/dird/storage.cc` `IsSameStorageDaemon()`: port, address and password).
pub(super) fn same_sd(a: &DirStorage, b: &DirStorage) -> bool {
    a.port == b.port && a.address.eq_ignore_ascii_case(&b.address) && a.password == b.password
}

/// Send the bootstrap and check the SD took it.
pub(super) async fn bootstrap(
    ctx: &JobCtx,
    sd: &mut SdChannel,
    storage: &DirStorage,
    lines: &[Vec<u8>],
) -> Result<(), JobError> {
    sd.send(&DirToSd::Bootstrap).await?;
    for l in lines {
        sd.send_raw(l).await?;
    }
    sd.signal(Signal::Eod).await?;
    let rep = sd.reply(ctx, "bootstrap").await?;
    if !matches!(SdToDir::parse(&rep), Ok(SdToDir::BootstrapOk)) {
        return Err(JobError::Refused(format!(
            "Storage daemon \"{}\" refused the bootstrap: {}",
            storage.name,
            String::from_utf8_lossy(&rep).trim_end()
        )));
    }
    Ok(())
}

/// One SD job that reads and writes within one SD — a copy, a migrate or a Virtual Full, as
/// bareos-dir drives them when both Storages name the same daemon (`migrate.cc`, local
/// replicate; `vbackup.cc`): one connection for `cmd`, the bootstrap, a read and a write
/// reservation (`pools`: read, write), `run`, then the job's messages up to its end, with
/// JobMedia, File rows and new volumes booked as `st.within` says. `session` gets the SD's
/// session as soon as the job is defined.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run_within(
    engine: &JobEngine,
    ctx: &JobCtx,
    cmd: JobCmd<'_>,
    (rst, wst): (&DirStorage, &DirStorage),
    (read_pool, write_pool): (&str, &str),
    lines: &[Vec<u8>],
    session: &mut (u32, u32),
    st: &mut SdJobState,
) -> Result<SdEnd, JobError> {
    let mut c = engine.connect_sd(rst).await?;
    for l in connected_lines(rst, &c.conn) {
        ctx.msg(&l).await;
    }
    c.send(&DirToSd::Job(cmd)).await?;
    let (id, time, _key) = c.job_reply(ctx, rst).await?;
    *session = (id, time);
    bootstrap(ctx, &mut c, rst, lines).await?;
    c.secure_erase(ctx).await?;
    c.reserve_device(ctx, rst, read_pool, "Backup", false)
        .await?;
    c.reserve_device(ctx, wst, write_pool, "Backup", true)
        .await?;
    c.send(&DirToSd::Run).await?;
    let times = engine.inner.media_times.clone();
    let mut cancel = ctx.cancel_rx();
    tokio::select! {
        e = c.job_loop(ctx, &times, st) => e,
        _ = cancel.wait_for(|c| *c) => Err(JobError::Canceled),
    }
}

/// A copy within one SD ([`run_within`]): the SD's JobMedia and File rows go to the new job.
async fn drive_within(
    engine: &JobEngine,
    ctx: &JobCtx,
    nctx: &JobCtx,
    cmd: JobCmd<'_>,
    (rst, wst): (&DirStorage, &DirStorage),
    lines: &[Vec<u8>],
    one: &mut One,
) -> Result<(), JobError> {
    let mut st = SdJobState::default();
    st.within = Some(Within {
        job_id: nctx.job_id,
        storage: wst.name.clone(),
    });
    let pools = (one.read_pool.clone(), one.write_pool.clone());
    let end = run_within(
        engine,
        ctx,
        cmd,
        (rst, wst),
        (&pools.0, &pools.1),
        lines,
        &mut one.w_session,
        &mut st,
    )
    .await;
    if matches!(end, Err(JobError::Canceled)) {
        return end.map(|_| ());
    }
    if let Ok(e) = &end {
        one.read_end = Some(*e);
        one.write_end = Some(*e);
    }
    one.write = st;
    end.map(|_| ())
}

/// Both SD sessions of one copy, up to both `3099 Job … end`.
#[allow(clippy::too_many_arguments)]
async fn drive(
    engine: &JobEngine,
    ctx: &JobCtx,
    nctx: &JobCtx,
    job: &crate::catalog::JobRecord,
    client: &str,
    (fs_name, fs_md5): (&str, &str),
    (rst, wst): (&DirStorage, &DirStorage),
    lines: &[Vec<u8>],
    migrate: bool,
    one: &mut One,
) -> Result<(), JobError> {
    let (jn, cn, fsn) = (bash(&job.name), bash(client), bash(fs_name));
    let control_type = if migrate {
        JobType::Migrate
    } else {
        JobType::Copy
    };
    // The control job reads (and, within one SD, writes too).
    let cjob = ctx.job.clone();
    let control = sd_job_cmd(
        ctx.job_id,
        &cjob,
        &jn,
        &cn,
        control_type,
        job.level,
        &fsn,
        fs_md5,
    );
    if same_sd(rst, wst) {
        return drive_within(engine, ctx, nctx, control, (rst, wst), lines, one).await;
    }
    // Writing side: the new job, in the Next Pool, waiting for the reading SD.
    let mut w = engine.connect_sd(wst).await?;
    for l in connected_lines(wst, &w.conn) {
        nctx.msg(&l).await;
    }
    let cmd = sd_job_cmd(
        nctx.job_id,
        &nctx.job,
        &jn,
        &cn,
        JobType::Backup,
        job.level,
        &fsn,
        fs_md5,
    );
    let (wid, wtime, wkey) = define_sd_job(nctx, &mut w, cmd, wst, &one.write_pool, true).await?;
    one.w_session = (wid, wtime);
    w.send(&DirToSd::Listen).await?;

    // Reading side: the control job with the source's bootstrap.
    let mut r = engine.connect_sd(rst).await?;
    for l in connected_lines(rst, &r.conn) {
        ctx.msg(&l).await;
    }
    let _ = define_sd_job(ctx, &mut r, control, rst, &one.read_pool, false).await?;
    bootstrap(ctx, &mut r, rst, lines).await?;
    let ssl = if wst.tls.enable { 4 } else { 0 };
    let repl = encode!(Replicate {
        job_id: nctx.job_id,
        job: nctx.job.as_bytes(),
        address: wst.address.as_bytes(),
        port: u32::from(wst.port),
        ssl,
        authorization: &wkey,
    })?;
    r.send_raw(&repl).await?;
    let rep = r.reply(ctx, "replicate").await?;
    if rep != REPLICATE_OK {
        return Err(JobError::Refused(format!(
            "Storage daemon \"{}\" could not reach the writing Storage daemon \"{}\" at {}:{}: {}",
            rst.name,
            wst.name,
            wst.address,
            wst.port,
            String::from_utf8_lossy(&rep).trim_end()
        )));
    }
    r.send(&DirToSd::Run).await?;

    let times = engine.inner.media_times.clone();
    let mut cancel = ctx.cancel_rx();
    let mut rst_state = SdJobState::default();
    let mut wst_state = SdJobState::default();
    let read_fut = r.job_loop(ctx, &times, &mut rst_state);
    let write_fut = w.job_loop(nctx, &times, &mut wst_state);
    let (rr, wr) = tokio::select! {
        x = async { tokio::join!(read_fut, write_fut) } => x,
        _ = cancel.wait_for(|c| *c) => return Err(JobError::Canceled),
    };
    if let Ok(e) = &rr {
        one.read_end = Some(*e);
    }
    if let Ok(e) = &wr {
        one.write_end = Some(*e);
    }
    one.write = wst_state;
    rr?;
    wr?;
    Ok(())
}

fn line(out: &mut String, label: &str, value: &str) {
    out.push_str(&format!("  {:<24}{}\n", format!("{label}:"), value));
}

/// The report of a copy/migrate worker job (`MigrationCleanup()` in migrate.cc: the key
/// fields in Bareos' order).
fn worker_report(
    engine: &JobEngine,
    ctx: &JobCtx,
    plan: &Plan,
    one: &One,
    end: i64,
    termination: &str,
) -> String {
    let o = &engine.inner.opts;
    let mut s = format!("Bareos {} {}:\n", plan.director.name, o.version);
    line(&mut s, "OS Information", &o.os);
    line(&mut s, "Prev Backup JobId", &one.source.to_string());
    line(&mut s, "Prev Backup Job", &one.source_job);
    line(
        &mut s,
        "New Backup JobId",
        &if one.new_id > 0 {
            one.new_id.to_string()
        } else {
            "*None*".into()
        },
    );
    line(&mut s, "Current JobId", &ctx.job_id.to_string());
    line(&mut s, "Current Job", &ctx.job);
    line(
        &mut s,
        "Backup Level",
        level_name(one.level.unwrap_or(plan.level)),
    );
    line(&mut s, "Client", &plan.client.name);
    line(&mut s, "FileSet", &format!("\"{}\"", one.fileset));
    line(
        &mut s,
        "Read Pool",
        &format!("\"{}\" (From Job resource)", one.read_pool),
    );
    line(
        &mut s,
        "Read Storage",
        &format!("\"{}\" (From Job resource)", one.read_storage),
    );
    line(
        &mut s,
        "Write Pool",
        &format!("\"{}\" (From Job Pool's NextPool resource)", one.write_pool),
    );
    line(
        &mut s,
        "Write Storage",
        &format!(
            "\"{}\" (From Storage from Pool's NextPool resource)",
            one.write_storage
        ),
    );
    line(
        &mut s,
        "Next Pool",
        &format!("\"{}\" (From Job Pool's NextPool resource)", one.write_pool),
    );
    line(
        &mut s,
        "Catalog",
        &format!("\"{}\" (From Client resource)", plan.catalog),
    );
    let start = if one.start > 0 { one.start } else { end };
    line(&mut s, "Start time", &report_time(start));
    line(&mut s, "End time", &report_time(end));
    let elapsed = (end - start).max(0);
    line(&mut s, "Elapsed time", &utime(elapsed));
    line(&mut s, "Priority", &plan.job.priority.to_string());
    let w = one.write_end.unwrap_or_default();
    line(&mut s, "SD Files Written", &with_commas(w.files.into()));
    line(
        &mut s,
        "SD Bytes Written",
        &format!("{} ({}B)", with_commas(w.bytes), with_suffix(w.bytes)),
    );
    let rate = if elapsed > 0 {
        w.bytes as f64 / (1000.0 * elapsed as f64)
    } else {
        0.0
    };
    line(&mut s, "Rate", &format!("{rate:.1} KB/s"));
    line(&mut s, "Volume name(s)", &one.write.volumes.join("|"));
    line(&mut s, "Volume Session Id", &one.w_session.0.to_string());
    line(&mut s, "Volume Session Time", &one.w_session.1.to_string());
    let lvb = one.write.last_volume_bytes;
    line(
        &mut s,
        "Last Volume Bytes",
        &format!("{} ({}B)", with_commas(lvb), with_suffix(lvb)),
    );
    line(&mut s, "SD Errors", &w.errors.to_string());
    let sd_status = match (one.read_end, one.write_end) {
        (Some(r), Some(w)) if sd_failed(r.status) => {
            let _ = w;
            r.status
        }
        (_, Some(w)) => w.status,
        _ => b'E',
    };
    line(&mut s, "SD termination status", term_word(sd_status));
    line(
        &mut s,
        "Bareos binary info",
        "Barque: not an official Bareos build",
    );
    line(&mut s, "Job triggered by", "User");
    line(&mut s, "Termination", termination);
    s.push('\n');
    s
}

/// The report of a control job that selected nothing.
fn selection_report(
    engine: &JobEngine,
    ctx: &JobCtx,
    plan: &Plan,
    start: i64,
    end: i64,
    termination: &str,
) -> String {
    let o = &engine.inner.opts;
    let mut s = format!("Bareos {} {}:\n", plan.director.name, o.version);
    line(&mut s, "OS Information", &o.os);
    line(&mut s, "Current JobId", &ctx.job_id.to_string());
    line(&mut s, "Current Job", &ctx.job);
    line(
        &mut s,
        "Catalog",
        &format!("\"{}\" (From Client resource)", plan.catalog),
    );
    line(&mut s, "Start time", &report_time(start));
    line(&mut s, "End time", &report_time(end));
    line(&mut s, "Elapsed time", &utime((end - start).max(0)));
    line(&mut s, "Priority", &plan.job.priority.to_string());
    line(
        &mut s,
        "Bareos binary info",
        "Barque: not an official Bareos build",
    );
    line(&mut s, "Job triggered by", "User");
    line(&mut s, "Termination", termination);
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use barque_common::config::{check_str, Daemon};

    fn cfg(job_extra: &str, pool_extra: &str) -> Config {
        let text = format!(
            "Director {{ Name = d; Password = p }}\n\
             Client {{ Name = c; Address = fd; Password = p }}\n\
             Storage {{ Name = s; Address = sd; Password = p; Device = d; Media Type = f }}\n\
             Storage {{ Name = s2; Address = sd2; Password = p; Device = d2; Media Type = f2 }}\n\
             Pool {{ Name = p; Pool Type = Backup; {pool_extra} }}\n\
             Pool {{ Name = copies; Pool Type = Backup; Storage = s2 }}\n\
             Pool {{ Name = other; Pool Type = Backup }}\n\
             FileSet {{ Name = fs; Include {{ File = /x }} }}\n\
             Messages {{ Name = m; console = all }}\n\
             Catalog {{ Name = cat; DbName = x; DbUser = u }}\n\
             Job {{ Name = C; Type = Copy; Client = c; FileSet = fs; Storage = s; Pool = p; \
             Messages = m; {job_extra} }}\n"
        );
        let r = check_str("t.conf", text.as_bytes(), Daemon::Director);
        assert!(r.is_ok(), "{r}");
        r.config
    }

    #[test]
    fn destination_is_the_next_pool_and_its_storage() {
        let c = cfg("", "Next Pool = copies");
        let plan = Plan::resolve(&c, "C", &RunOverrides::default()).unwrap();
        assert_eq!(plan.job_type, JobType::Copy);
        let (pool, st) = destination(&c, &plan).unwrap();
        assert_eq!((pool.as_str(), st.name.as_str()), ("copies", "s2"));
        // The Job's Next Pool wins; a pool without Storage writes to the Job's Storage.
        let c = cfg("Next Pool = other", "Next Pool = copies");
        let plan = Plan::resolve(&c, "C", &RunOverrides::default()).unwrap();
        let (pool, st) = destination(&c, &plan).unwrap();
        assert_eq!((pool.as_str(), st.name.as_str()), ("other", "s"));
        // No Next Pool anywhere: a configuration error that says where to add it.
        let c = cfg("", "");
        let plan = Plan::resolve(&c, "C", &RunOverrides::default()).unwrap();
        match destination(&c, &plan) {
            Err(JobError::Config(m)) => assert!(m.contains("Next Pool"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
