//! Virtual Full backups (`run job=… level=VirtualFull`; `core/src/dird/vbackup.cc`): the SD
//! joins the newest version of every file of the jobs a restore of "the most recent backup"
//! would read (the newest Full, Differential and the Incrementals since) into one new Full
//! on the Job's Next Pool, without the File daemon.
//!
//! The Director sends the SD, on one connection (storage/tests/sd_copy_local.rs shows the
//! SD's side):
//!
//! ```text
//! D→S  JobId=«this job» … type=66 level=102 …   S→D 3000 OK Job SDid=…
//! D→S  bootstrap «the newest version of every file», EOD          S→D 3000 OK bootstrap
//! D→S  getSecureEraseCmd, use storage=«read storage» append=0 …,
//!      use storage=«Next Pool's storage» pool_name=«Next Pool» append=1 …, run
//! S→D  CatReq GetVolInfo/FindMedia/CreateJobMedia …, UpdCat …, 3099 Job … end
//! ```
//!
//! The read and the write Storage must name the same SD (bareos-dir does not consolidate
//! across SDs either). When it ends OK the job takes the level of the first job joined
//! ("Joblevel was set to joblevel of first consolidated job") and the start and end times
//! and JobTDate of the last one, so that the next Incremental is taken since that job and a
//! restore of the most recent backup starts from the Virtual Full.

use fd_core::wire::codes::{JobLevel, JobStatus, JobType, MessageType};
use fd_core::wire::dir_cmd::EndJob;

use super::copy::{destination, read_storage, run_within, same_sd};
use super::sd::{bash, sd_job_cmd, SdJobState, Within};
use super::{level_name, pool_spec, JobCtx, JobEngine, JobError, Plan};
use crate::catalog::JobStart as CatJobStart;

/// What the caller records for the job (see [`super::backup`]'s `Facts`).
pub(super) struct VfullEnd {
    /// The SD's end, as an FD end (a Virtual Full's report shows the SD's counts there, as
    /// bareos-dir's does).
    pub fd_end: EndJob,
    /// The SD's end.
    pub sd_end: super::sd::SdEnd,
    /// The SD's catalog state (volumes, File rows).
    pub sd: SdJobState,
    /// The SD session.
    pub session: (u32, u32),
    /// The Next Pool's catalog id.
    pub pool_id: i64,
    /// The level of the first job joined (the Job row's level after success).
    pub first_level: JobLevel,
    /// The last job joined: the Job row takes its times after success.
    pub last_job: i64,
}

/// Run the Virtual Full of `plan` for the catalog's `client_id` and `fileset_id`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run(
    engine: &JobEngine,
    ctx: &JobCtx,
    plan: &Plan,
    accurate: bool,
    client_id: i64,
    fileset_id: i64,
    fileset: (&str, &str),
    out: &mut Option<VfullEnd>,
) -> Result<(), JobError> {
    let cfg = engine.config();
    let read_pool = plan
        .pool
        .as_ref()
        .map(|p| p.name.clone())
        .ok_or_else(|| JobError::Config(format!("Job \"{}\" has no Pool", plan.job.name)))?;
    let (next_pool, wst) = destination(&cfg, plan)?;
    let now = ctx.now();
    let (ids, sel, bsr) = ctx
        .cat(move |c| {
            let ids = c.restore_jobids(client_id, fileset_id, now)?;
            let sel = c.select_files(&ids)?;
            let bsr = c.build_bootstrap(&sel)?;
            Ok((ids, sel, bsr))
        })
        .await?;
    let (Some(&first), Some(&last)) = (ids.first(), ids.last()) else {
        return Err(JobError::Config(format!(
            "No previous Jobs found: a Virtual Full of Job \"{}\" needs a Full backup of Client \
             \"{}\" with FileSet \"{}\" in the catalog",
            plan.job.name, plan.client.name, fileset.0
        )));
    };
    if bsr.entries.is_empty() {
        return Err(JobError::Config(format!(
            "JobIds {} have no files on any volume: nothing to consolidate",
            join(&ids)
        )));
    }
    let first_level = ctx
        .cat(move |c| Ok(c.job(first)?.map(|j| j.level)))
        .await?
        .unwrap_or(JobLevel::Full);
    let rst = read_storage(&cfg, plan, &bsr)?;
    if !same_sd(&rst, &wst) {
        return Err(JobError::Config(format!(
            "a Virtual Full reads and writes on one Storage daemon, but Storage \"{}\" (the \
             backups' volumes) and Storage \"{}\" (Next Pool \"{next_pool}\") name different \
             daemons (Address, SDPort and Password must be the same)",
            rst.name, wst.name
        )));
    }
    ctx.msg(&format!(
        "Start Virtual Backup JobId {}, Job={}",
        ctx.job_id, ctx.job
    ))
    .await;
    if !accurate {
        ctx.msg_typed(
            MessageType::Warning,
            "This Job is not an Accurate backup so is not equivalent to a Full backup.",
        )
        .await;
    }
    ctx.msg(&format!(
        "Consolidating JobIds {} containing {} files",
        join(&ids),
        sel.files.len()
    ))
    .await;
    let spec = pool_spec(&cfg, &next_pool)
        .ok_or_else(|| JobError::Config(format!("Pool \"{next_pool}\" not found")))?;
    let pool_id = ctx
        .cat(move |c| c.get_or_create_pool(&spec).map(|p| p.pool_id))
        .await?;
    let start = ctx.now();
    let job_id = i64::from(ctx.job_id);
    ctx.cat(move |c| {
        c.update_job_start(&CatJobStart {
            job_id,
            status: JobStatus::Running,
            level: JobLevel::VirtualFull,
            start_time: start,
            client_id,
            pool_id,
            fileset_id,
        })
    })
    .await?;
    ctx.set_started(start);

    let rdev = rst.devices.first().cloned();
    let rname = rst.name.clone();
    let lines = bsr
        .restore_lines(|st| if st == rname { rdev.clone() } else { None })
        .map_err(|e| JobError::Catalog(format!("bootstrap of JobIds {}: {e}", join(&ids))))?;
    let (jn, cn, fsn) = (
        bash(&plan.job.name),
        bash(&plan.client.name),
        bash(fileset.0),
    );
    let job = ctx.job.clone();
    let cmd = sd_job_cmd(
        ctx.job_id,
        &job,
        &jn,
        &cn,
        JobType::Backup,
        JobLevel::VirtualFull,
        &fsn,
        fileset.1,
    );
    let mut session = (0, 0);
    let mut st = SdJobState::default();
    st.batch = engine.inner.opts.attr_batch;
    st.within = Some(Within {
        job_id: ctx.job_id,
        storage: wst.name.clone(),
    });
    let end = run_within(
        engine,
        ctx,
        cmd,
        (&rst, &wst),
        (&read_pool, &next_pool),
        &lines,
        &mut session,
        &mut st,
    )
    .await;
    let sd_end = end?;
    let ok = !super::sd::sd_failed(sd_end.status);
    ctx.set_bytes(sd_end.bytes);
    *out = Some(VfullEnd {
        fd_end: EndJob {
            term_code: if ok {
                JobStatus::Terminated
            } else {
                JobStatus::ErrorTerminated
            },
            job_files: sd_end.files,
            read_bytes: sd_end.bytes,
            job_bytes: sd_end.bytes,
            errors: 0,
            vss: 0,
            encrypt: 0,
        },
        sd_end,
        sd: st,
        session,
        pool_id,
        first_level,
        last_job: last,
    });
    if ok {
        ctx.msg(&format!(
            "Joblevel was set to joblevel of first consolidated job: {}",
            level_name(first_level)
        ))
        .await;
    }
    Ok(())
}

fn join(ids: &[i64]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}
