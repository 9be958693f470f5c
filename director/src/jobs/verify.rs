//! Verify jobs, Level `DiskToCatalog` (jobs.md §7.2, `core/src/dird/verify.cc`; facts only).
//!
//! The Director finds the backups a restore of the client's FileSet would use now (the
//! last Full and the Differential/Incrementals after it) and says `Verifying against
//! JobId=N Job=…` (the newest). It opens a File daemon session with the real JobId and
//! `Authorization=dummy` (no SD), sends the FileSet and `verify level=disk_to_catalog⏎`; the
//! FD walks the FileSet and sends one `FileIndex 1 V… name\0stat\0link\0` line per entry,
//! then EOD, its `2800 End Job` line and TERMINATE.
//!
//! Each entry is compared with the catalog's newest version of that name: a name the
//! catalog does not have is a `New file: …`; for the others the stat fields of the default
//! options `pinsugm` (mode, inode, nlink, size, uid, gid, mtime; Barque's FD sends no
//! option letters) are compared and each difference is reported under `File: …` with
//! Bareos' wording (`      st_size  differ. Cat: 14 File: 22`). Names in the catalog that
//! the FD did not send are listed under `The following files are in the Catalog but not on
//! disk:`. Any difference ends the job with status `D` (`Verify Differences`), else `T`
//! (`Verify OK`). Digests (`Verify = …5`) are not compared yet, and Levels `Catalog`,
//! `InitCatalog` and `VolumeToCatalog` are refused at start.

use std::collections::{BTreeMap, BTreeSet};

use fd_core::wire::attr::Stat;
use fd_core::wire::bnet::{Frame, Signal};
use fd_core::wire::codes::{JobLevel, JobStatus, JobType, MessageType};
use fd_core::wire::dir_cmd::{DirCommand, FdReply, JobStart, OkReply};

use super::fd::{fd_err, FdChannel};
use super::{JobCtx, JobEngine, JobError, JobOutcome, Plan};
use crate::catalog::{fileset_md5, JobEnd as CatJobEnd, JobStart as CatJobStart, NewClient};

/// The Verify level of a job's `Level =` (None for levels Barque does not run).
pub fn verify_level(name: &str) -> Option<JobLevel> {
    match name.to_ascii_lowercase().as_str() {
        "disktocatalog" | "disk_to_catalog" => Some(JobLevel::VerifyDiskToCatalog),
        _ => None,
    }
}

struct Found {
    examined: u32,
    differences: bool,
    prev_id: i64,
    prev_job: String,
}

/// Run a Verify job to the end and report it.
pub async fn run_verify(engine: &JobEngine, ctx: &JobCtx, plan: &Plan) -> JobOutcome {
    let start = ctx.now();
    let res = verify_inner(engine, ctx, plan, start).await;
    let canceled = ctx.is_canceled();
    let (status, error) = match (&res, canceled) {
        (_, true) => (JobStatus::Canceled, None),
        (Err(e), false) => {
            ctx.msg_typed(MessageType::Fatal, &format!("Fatal error: {e}"))
                .await;
            (JobStatus::FatalError, Some(e.to_string()))
        }
        (Ok(f), false) if f.differences => (JobStatus::Differences, None),
        (Ok(_), false) => (JobStatus::Terminated, None),
    };
    let (examined, prev_id, prev_job) = match &res {
        Ok(f) => (f.examined, f.prev_id, f.prev_job.clone()),
        Err(_) => (0, 0, String::new()),
    };
    let end = ctx.now();
    let job_id = i64::from(ctx.job_id);
    let r = ctx
        .cat(move |c| {
            c.update_job_end(&CatJobEnd {
                job_id,
                status,
                job_type: JobType::Verify,
                level: JobLevel::VerifyDiskToCatalog,
                end_time: end,
                real_end_time: end,
                job_files: examined,
                job_bytes: 0,
                read_bytes: 0,
                job_errors: 0,
                vol_session_id: 0,
                vol_session_time: 0,
                prior_job_id: prev_id,
            })
        })
        .await;
    if let Err(e) = r {
        log::warn!("JobId {}: cannot close the Job row: {e}", ctx.job_id);
    }
    let term = match status {
        JobStatus::Terminated => "Verify OK",
        JobStatus::Differences => "Verify Differences",
        JobStatus::Canceled => "Verify Canceled",
        _ => "*** Verify Error ***",
    };
    let fd_term = match status {
        JobStatus::Terminated | JobStatus::Differences => "OK",
        JobStatus::Canceled => "Canceled",
        _ => "Error",
    };
    let mut report = format!(
        "{} {} ({}):\n",
        engine.inner.local.name, engine.inner.opts.version, engine.inner.opts.os
    );
    let mut line = |k: &str, v: &str| {
        report.push_str(&format!("  {:<24}{v}\n", format!("{k}:")));
    };
    line("JobId", &ctx.job_id.to_string());
    line("Job", &ctx.job);
    line(
        "FileSet",
        plan.fileset.as_ref().map_or("", |f| f.name.as_str()),
    );
    line("Verify Level", "DiskToCatalog");
    line("Client", &plan.client.name);
    line("Verify JobId", &prev_id.to_string());
    line("Verify Job", &prev_job);
    line("Start time", &super::time::report_time(start));
    line("End time", &super::time::report_time(end));
    line(
        "Files Examined",
        &super::report::with_commas(u64::from(examined)),
    );
    line("Non-fatal FD errors", "0");
    line("FD termination status", fd_term);
    line("Bareos binary info", "Barque: not an official Bareos build");
    line("Job triggered by", "User");
    line("Termination", term);
    report.push('\n');
    let mt = match status {
        JobStatus::Terminated => MessageType::Term,
        JobStatus::Differences => MessageType::Warning,
        _ => MessageType::Error,
    };
    ctx.msg_typed(mt, &report).await;
    JobOutcome {
        job_id: ctx.job_id,
        job: ctx.job.clone(),
        status,
        files: examined,
        bytes: 0,
        error,
        report: Some(report),
    }
}

async fn verify_inner(
    engine: &JobEngine,
    ctx: &JobCtx,
    plan: &Plan,
    start: i64,
) -> Result<Found, JobError> {
    let fileset = plan
        .fileset
        .clone()
        .ok_or_else(|| JobError::Config(format!("Job \"{}\" has no FileSet", plan.job.name)))?;
    let md5 = fileset_md5(
        fileset
            .includes
            .iter()
            .chain(fileset.excludes.iter())
            .flat_map(|b| b.files.iter().chain(b.plugins.iter()))
            .map(String::as_str),
    );
    let (cname, fsname) = (plan.client.name.clone(), fileset.name.clone());
    let job_id = i64::from(ctx.job_id);
    // The backups to compare with, and their newest version of every name.
    let (prev, catalog) = ctx
        .cat(move |c| {
            let cl = c.get_or_create_client(&NewClient {
                name: &cname,
                uname: "",
                auto_prune: false,
                file_retention: 60 * 86_400,
                job_retention: 180 * 86_400,
            })?;
            let fs = c.get_or_create_fileset(&fsname, &md5, "", start)?;
            c.update_job_start(&CatJobStart {
                job_id,
                status: JobStatus::Running,
                level: JobLevel::VerifyDiskToCatalog,
                start_time: start,
                client_id: cl.client_id,
                pool_id: 0,
                fileset_id: fs.fileset_id,
            })?;
            let ids = c.restore_jobids(cl.client_id, fs.fileset_id, start)?;
            let Some(last) = ids.last().copied() else {
                return Ok((None, BTreeMap::<String, String>::new()));
            };
            let job = c
                .list_jobs(Some(last))?
                .into_iter()
                .next()
                .map(|j| j.name)
                .unwrap_or_default();
            let unique = c.job(last)?.map(|j| j.job).unwrap_or(job);
            let files: BTreeMap<String, String> = c
                .select_files(&ids)?
                .files
                .into_iter()
                .map(|f| (f.fname(), f.lstat))
                .collect();
            Ok((Some((last, unique)), files))
        })
        .await?;
    ctx.set_started(start);
    ctx.set_status(JobStatus::Running);
    ctx.msg(&format!(
        "Start Verify JobId={} Level=DiskToCatalog Job={}",
        ctx.job_id, ctx.job
    ))
    .await;
    let Some((prev_id, prev_job)) = prev else {
        return Err(JobError::Config(
            "Unable to find JobId of previous Job for this client.".into(),
        ));
    };
    ctx.msg(&format!("Verifying against JobId={prev_id} Job={prev_job}"))
        .await;

    let (mut fd, _) = engine.connect_fd(&plan.client).await?;
    fd.send(&DirCommand::JobStart(JobStart {
        job_id: ctx.job_id,
        job: ctx.job.as_bytes(),
        sd_id: 0,
        sd_time: 0,
        authorization: b"dummy",
        ssl: fd.conn.is_tls().then_some(0xFE),
    }))
    .await?;
    let r = data(&mut fd).await?;
    if !matches!(FdReply::parse(&r), Ok(FdReply::JobOk { .. })) {
        return Err(JobError::Refused(format!(
            "Client \"{}\" refused the verify job: {}",
            plan.client.name,
            String::from_utf8_lossy(&r).trim_end()
        )));
    }
    fd.send_fileset(&fileset).await?;
    expect(&mut fd, OkReply::Include).await?;
    fd.send(&DirCommand::Verify {
        level: b"disk_to_catalog",
    })
    .await?;
    expect(&mut fd, OkReply::Verify).await?;

    let mut seen = BTreeSet::new();
    let mut examined = 0u32;
    let mut differences = false;
    loop {
        let frame = fd.conn.recv().await.map_err(|e| fd_err(&fd.client, e))?;
        let d = match frame {
            Frame::Data(d) => d.to_vec(),
            Frame::Signal(Signal::Eod) => break,
            Frame::Signal(Signal::Heartbeat) | Frame::Chunk(_) => continue,
            Frame::Signal(s) => {
                return Err(JobError::Protocol(format!(
                    "Client \"{}\" sent {} during the verify",
                    fd.client,
                    s.name()
                )))
            }
        };
        if d.starts_with(b"Jmsg ") {
            continue;
        }
        let (name, lstat) = parse_line(&d).ok_or_else(|| {
            JobError::Protocol(format!(
                "Client \"{}\" sent a malformed verify record: {:?}",
                fd.client,
                String::from_utf8_lossy(d.get(..d.len().min(80)).unwrap_or(&[]))
            ))
        })?;
        examined += 1;
        match catalog.get(&name) {
            None => {
                ctx.msg(&format!("New file: {name}")).await;
                differences = true;
            }
            Some(cat) => {
                let diffs = compare(cat, &lstat);
                if !diffs.is_empty() {
                    differences = true;
                    ctx.msg(&format!("File: {name}")).await;
                    for l in diffs {
                        ctx.msg(&l).await;
                    }
                }
            }
        }
        seen.insert(name);
    }
    // The FD's End Job line and TERMINATE.
    let _ = fd.conn.recv().await;
    let _ = fd.signal(Signal::Terminate).await;
    let missing: Vec<&String> = catalog.keys().filter(|k| !seen.contains(*k)).collect();
    if !missing.is_empty() {
        differences = true;
        ctx.msg_typed(
            MessageType::Warning,
            "The following files are in the Catalog but not on disk:",
        )
        .await;
        for m in missing {
            ctx.msg(&format!("      {m}")).await;
        }
    }
    Ok(Found {
        examined,
        differences,
        prev_id,
        prev_job,
    })
}

/// `FileIndex stream opts name\0stat\0link\0` → (name, stat text).
fn parse_line(d: &[u8]) -> Option<(String, String)> {
    let mut it = d.splitn(4, |&b| b == b' ');
    it.next()?;
    it.next()?;
    let opts = it.next()?;
    if !opts.starts_with(b"V") {
        return None;
    }
    let rest = it.next()?;
    let mut parts = rest.split(|&b| b == 0);
    let name = String::from_utf8_lossy(parts.next()?).into_owned();
    let lstat = String::from_utf8_lossy(parts.next()?).into_owned();
    Some((name, lstat))
}

/// The differences of the default options `pinsugm`, in Bareos' wording.
fn compare(cat: &str, file: &str) -> Vec<String> {
    let (Ok(c), Ok(f)) = (Stat::parse(cat.as_bytes()), Stat::parse(file.as_bytes())) else {
        return vec!["      stat packet unreadable".into()];
    };
    let mut out = Vec::new();
    if c.mode != f.mode {
        out.push(format!(
            "      st_mode  differ. Cat: {:x} File: {:x}",
            c.mode, f.mode
        ));
    }
    if c.ino != f.ino {
        out.push(format!(
            "      st_ino   differ. Cat: {} File: {}",
            c.ino, f.ino
        ));
    }
    if c.nlink != f.nlink {
        out.push(format!(
            "      st_nlink differ. Cat: {} File: {}",
            c.nlink, f.nlink
        ));
    }
    if c.uid != f.uid {
        out.push(format!(
            "      st_uid   differ. Cat: {} File: {}",
            c.uid, f.uid
        ));
    }
    if c.gid != f.gid {
        out.push(format!(
            "      st_gid   differ. Cat: {} File: {}",
            c.gid, f.gid
        ));
    }
    if c.size != f.size {
        out.push(format!(
            "      st_size  differ. Cat: {} File: {}",
            c.size, f.size
        ));
    }
    if c.mtime != f.mtime {
        out.push("      st_mtime differs".into());
    }
    out
}

async fn data(fd: &mut FdChannel) -> Result<Vec<u8>, JobError> {
    fd.next_data("verify").await
}

async fn expect(fd: &mut FdChannel, ok: OkReply) -> Result<(), JobError> {
    fd.expect_data_ok(ok, "verify").await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_differences() {
        let lstat = "P4A DwZD IGk B A A A G BAA I BrAw5j BpVzWl BrAw5j A A C";
        let line = format!("3 1 V /d/a\0{lstat}\0\0");
        assert_eq!(
            parse_line(line.as_bytes()),
            Some(("/d/a".to_string(), lstat.to_string()))
        );
        assert_eq!(parse_line(b"3 1 X /d/a\0x\0\0"), None);
        assert_eq!(parse_line(b"garbage"), None);
        assert!(compare(lstat, lstat).is_empty());
        // Size 6 (G) → 22 (W), and another mtime.
        let changed = "P4A DwZD IGk B A A A W BAA I BrAw5j BpVzWm BrAw5j A A C";
        assert_eq!(
            compare(lstat, changed),
            vec![
                "      st_size  differ. Cat: 6 File: 22".to_string(),
                "      st_mtime differs".to_string()
            ]
        );
    }
}
