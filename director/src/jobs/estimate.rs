//! `estimate job=… [listing]` (jobs.md §1.12, vectors/clear-estimate conn 2): a console
//! session with the FD only — `JobId=0 Job=-Console-.«time»_«seq» SDid=0 SDtime=0
//! Authorization=dummy⏎`, the level, the fileset, `estimate listing=N⏎`; the FD answers with
//! one bare `ls -l`-like line per file when listing (no Jmsg prefix, JobId 0), then
//! `2000 OK estimate files=N bytes=N⏎` and EOD; the Director ends with TERMINATE.

use fd_core::wire::bnet::Signal;
use fd_core::wire::codes::JobLevel;
use fd_core::wire::dir_cmd::{DirCommand, FdReply, JobStart, OkReply};

use super::{JobEngine, JobError, Plan};

/// What an estimate found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Estimate {
    /// Files the backup would save.
    pub files: u64,
    /// Bytes of regular files.
    pub bytes: u64,
    /// The FD's listing lines (with their newlines), when asked for.
    pub listing: Vec<String>,
}

/// Run an estimate against the Job's client.
pub async fn run_estimate(
    engine: &JobEngine,
    plan: &Plan,
    level: JobLevel,
    listing: bool,
) -> Result<Estimate, JobError> {
    let fileset = plan
        .fileset
        .clone()
        .ok_or_else(|| JobError::Config(format!("Job \"{}\" has no FileSet", plan.job.name)))?;
    let (mut fd, _) = engine.connect_fd(&plan.client).await?;
    let now = engine.inner.clock.now();
    let seq = engine
        .inner
        .seq
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        % 100;
    let job = format!("-Console-.{}_{seq:02}", super::time::job_name_time(now));
    fd.send(&DirCommand::JobStart(JobStart {
        job_id: 0,
        job: job.as_bytes(),
        sd_id: 0,
        sd_time: 0,
        authorization: b"dummy",
        // Not captured over TLS: the value of a TLS-first estimate is a guess (the
        // FD↔SD policy is meaningless without an SD).
        ssl: fd.conn.is_tls().then_some(4),
    }))
    .await?;
    let r = reply(&mut fd).await?;
    if !matches!(FdReply::parse(&r), Ok(FdReply::JobOk { .. })) {
        return Err(JobError::Refused(format!(
            "Client \"{}\" refused the estimate: {}",
            plan.client.name,
            String::from_utf8_lossy(&r).trim_end()
        )));
    }
    // The level, with the since time from the catalog for Incremental/Differential (as
    // the backup would send it; no prior Full makes it a Full).
    let since = since_for(engine, plan, &fileset, level).await?;
    let level = if since.is_none() {
        JobLevel::Full
    } else {
        level
    };
    let ctx = engine.console_ctx(&job);
    super::backup::send_level(&ctx, &mut fd, level, false, since.as_ref(), engine).await?;
    fd.send_fileset(&fileset).await?;
    expect(&mut fd, OkReply::Include).await?;
    fd.send(&DirCommand::Estimate {
        listing: i32::from(listing),
    })
    .await?;
    let mut out = Estimate::default();
    loop {
        let b = reply(&mut fd).await?;
        match FdReply::parse(&b) {
            Ok(FdReply::Estimate { files, bytes }) => {
                out.files = files;
                out.bytes = bytes;
                break;
            }
            Ok(FdReply::Error(_)) | Ok(FdReply::ErrorText(..)) => {
                return Err(JobError::Refused(format!(
                    "Client \"{}\": {}",
                    plan.client.name,
                    String::from_utf8_lossy(&b).trim_end()
                )))
            }
            _ => out.listing.push(String::from_utf8_lossy(&b).into_owned()),
        }
    }
    // EOD, then our TERMINATE.
    let _ = fd.conn.recv().await;
    let _ = fd.signal(Signal::Terminate).await;
    Ok(out)
}

/// The since time (start, Job name) of an Incremental/Differential estimate, `None` for a
/// Full or when there is no prior Full.
async fn since_for(
    engine: &JobEngine,
    plan: &Plan,
    fileset: &barque_common::config::typed::DirFileSet,
    level: JobLevel,
) -> Result<Option<(i64, String)>, JobError> {
    if !matches!(level, JobLevel::Incremental | JobLevel::Differential) {
        return Ok(None);
    }
    let md5 = crate::catalog::fileset_md5(
        fileset
            .includes
            .iter()
            .chain(fileset.excludes.iter())
            .flat_map(|b| b.files.iter().chain(b.plugins.iter()))
            .map(String::as_str),
    );
    let (client, fs, job) = (
        plan.client.name.clone(),
        fileset.name.clone(),
        plan.job.name.clone(),
    );
    let r = super::cat(&engine.inner.catalog, move |c| {
        let Some(cl) = c.client(&client)? else {
            return Ok(None);
        };
        let f = c.get_or_create_fileset(&fs, &md5, "", 0)?;
        match c.since_time(&job, cl.client_id, f.fileset_id, level)? {
            crate::catalog::SinceTime::Since {
                start_time, job, ..
            } => Ok(Some((start_time, job))),
            _ => Ok(None),
        }
    })
    .await?;
    Ok(r)
}

async fn reply(fd: &mut super::fd::FdChannel) -> Result<Vec<u8>, JobError> {
    fd.next_data("estimate").await
}

async fn expect(fd: &mut super::fd::FdChannel, ok: OkReply) -> Result<(), JobError> {
    fd.expect_data_ok(ok, "estimate").await
}
