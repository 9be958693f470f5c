//! The job engine against test FD and SD daemons that replay the real daemons' side of the
//! captures (vectors/clear-backup-full conns 2 and 3, clear-backup-incr, clear-restore,
//! clear-estimate, clear-cancel). Every frame the engine sends is compared with what the real
//! Director sent (modulo the unique Job name, ports and the `btime` clock); the catalog rows
//! are compared with vectors/catalog-dump.txt. SQLite in a temp dir.

mod common;

use std::sync::Arc;
use std::time::Duration;

use barque_common::config::{check_str, Daemon};
use director::catalog::{Catalog, CatalogConfig};
use director::jobs::time::unix;
use director::jobs::{
    EngineOptions, JobEngine, RestoreRequest, RestoreSelect, RunOverrides, VirtualClock,
};
use fd_core::wire::codes::{JobLevel, JobStatus};
use fd_core::wire::psk::ResourceType;

use common::replay::{self, Msg, Replay, Script};
use common::vectors;

const FULL_JOB: &str = "CapBackup.2026-11-22_15.46.52_03";

struct Setup {
    engine: JobEngine,
    dir: tempfile::TempDir,
    clock: Arc<VirtualClock>,
}

fn dir_config(
    fd_port: u16,
    sd_port: u16,
    tmp: &std::path::Path,
    extra: &str,
) -> Arc<barque_common::config::Config> {
    let text = vectors::read("clear-backup-full/config/bareos-dir.conf")
        .replace("Port = 39202", &format!("Port = {fd_port}"))
        .replace("Port = 39203", &format!("Port = {sd_port}"))
        .replace(
            "/srv/bareos-capture/state/dir/%n-%i.bsr",
            &format!("{}/%n-%i.bsr", tmp.display()),
        )
        .replace("/srv/bareos-capture/log/", &format!("{}/", tmp.display()))
        + extra;
    let report = check_str("bareos-dir.conf", text.as_bytes(), Daemon::Director);
    assert!(report.is_ok(), "{report}");
    Arc::new(report.config)
}

fn setup_with(fd_port: u16, sd_port: u16, extra: &str, opts: EngineOptions) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir_config(fd_port, sd_port, dir.path(), extra);
    let catalog = Catalog::open(&CatalogConfig::Sqlite {
        path: dir.path().join("catalog.db"),
    })
    .unwrap();
    let clock = Arc::new(VirtualClock::new(unix(2026, 11, 22, 15, 46, 52)));
    let engine = JobEngine::new(cfg, catalog, clock.clone(), opts).unwrap();
    Setup { engine, dir, clock }
}

fn fast_opts() -> EngineOptions {
    EngineOptions {
        retry_delay: Duration::from_millis(50),
        restore_run_delay: Duration::from_millis(10),
        ..Default::default()
    }
}

fn script(
    capture: &str,
    conn: u32,
    role: &str,
    job: &str,
    normalise: Vec<(Vec<u8>, Vec<u8>)>,
) -> Script {
    let (kind, name, password) = if role == "fd" {
        (ResourceType::Client, "bareos-fd", "ref-fd-password")
    } else {
        (ResourceType::Storage, "bareos-sd", "ref-sd-password")
    };
    Script {
        kind,
        name: name.into(),
        password: password.into(),
        msgs: replay::messages(capture, conn),
        role: role.into(),
        captured_job: job.into(),
        normalise,
        stop_before: None,
        refuse_job: None,
    }
}

fn assert_replayed(what: &str, r: &Replay) {
    assert!(
        r.mismatches.is_empty(),
        "{what}: the Director's frames differ from the capture: {:#?}",
        r.mismatches
    );
    assert!(
        r.completed,
        "{what}: replay did not complete: {:?}",
        r.aborted
    );
    assert!(r.matched > 0, "{what}: nothing compared");
}

fn console_text(s: &Setup) -> String {
    s.engine.console().take().concat()
}

/// Run the Full backup of vectors/clear-backup-full against the replaying FD and SD.
async fn full_backup(
    s: &Setup,
    fd: tokio::task::JoinHandle<Replay>,
    sd: tokio::task::JoinHandle<Replay>,
) -> director::jobs::JobOutcome {
    let id = s
        .engine
        .run("CapBackup", Some(JobLevel::Full), RunOverrides::default())
        .await
        .unwrap();
    assert_eq!(id, 1);
    let out = tokio::time::timeout(Duration::from_secs(60), s.engine.wait(id))
        .await
        .expect("job ends")
        .expect("job known");
    let (fd, sd) = (fd.await.unwrap(), sd.await.unwrap());
    assert_replayed("SD (clear-backup-full conn 2)", &sd);
    assert_replayed("FD (clear-backup-full conn 3)", &fd);
    // 17 Director frames to the SD (msgs 9, 11, 13-16, 19, 27, 30, 32, 35, 39, 41, 44, 56, 58, 60) and
    // 13 to the FD (msgs 9,11,13-20,22,24,27).
    assert_eq!(sd.matched, 17, "SD frames compared");
    assert_eq!(fd.matched, 13, "FD frames compared");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_full_replays_capture_and_fills_catalog() {
    let port_of = |p: u16| (b"39203".to_vec(), p.to_string().into_bytes());
    let (sd_port, sd) = {
        let s = script("clear-backup-full", 2, "sd", FULL_JOB, vec![]);
        replay::spawn(s).await
    };
    let fd_script = script(
        "clear-backup-full",
        3,
        "fd",
        FULL_JOB,
        vec![port_of(sd_port)],
    );
    let (fd_port, fd) = replay::spawn(fd_script).await;
    let s = setup_with(fd_port, sd_port, "", fast_opts());
    let out = full_backup(&s, fd, sd).await;
    assert_eq!(out.status, JobStatus::Terminated, "{:?}", out.error);
    assert_eq!((out.files, out.bytes), (6, 306));

    // Catalog rows as in vectors/catalog-dump.txt for JobId 1.
    let cat = s.engine.catalog();
    let mut c = cat.lock().unwrap();
    let job = c.job(1).unwrap().unwrap();
    let dump = vectors::dump_table("select jobid");
    let want = &dump[0];
    assert_eq!(job.status, JobStatus::Terminated);
    assert_eq!(job.job_files.to_string(), want["jobfiles"]);
    assert_eq!(job.job_bytes.to_string(), want["jobbytes"]);
    assert_eq!(job.read_bytes.to_string(), want["readbytes"]);
    assert_eq!(job.vol_session_id.to_string(), want["volsessionid"]);
    assert_eq!(job.vol_session_time.to_string(), want["volsessiontime"]);
    assert_eq!(job.level, JobLevel::Full);
    let jm = c.job_media(1).unwrap();
    assert_eq!(jm.len(), 1, "the placeholder JobMedia row is deleted");
    let jmd = &vectors::dump_table("jobmedia")[0];
    let r = &jm[0].row;
    assert_eq!(
        (
            r.first_index,
            r.last_index,
            r.start_block,
            r.end_block,
            r.vol_index
        ),
        (
            jmd["firstindex"].parse().unwrap(),
            jmd["lastindex"].parse().unwrap(),
            jmd["startblock"].parse().unwrap(),
            jmd["endblock"].parse().unwrap(),
            jmd["volindex"].parse().unwrap()
        )
    );
    assert_eq!(jm[0].job_media_id.to_string(), jmd["jobmediaid"]);
    let m = c.media("Cap-0001").unwrap().unwrap();
    let md = &vectors::dump_table("media")[0];
    assert_eq!(m.vol_status.as_str(), md["volstatus"]);
    assert_eq!(m.vol_jobs.to_string(), md["voljobs"]);
    assert_eq!(m.vol_blocks.to_string(), md["volblocks"]);
    assert_eq!(m.vol_bytes.to_string(), md["volbytes"]);
    assert_eq!(m.vol_mounts.to_string(), md["volmounts"]);
    assert_eq!(m.vol_writes.to_string(), md["volwrites"]);
    assert_eq!(m.max_vol_jobs.to_string(), md["maxvoljobs"]);
    let files = c.select_files(&[1]).unwrap().files;
    let fd_rows: Vec<_> = vectors::dump_table("files of jobs")
        .into_iter()
        .filter(|r| r["jobid"] == "1")
        .collect();
    assert_eq!(files.len(), fd_rows.len());
    for (f, w) in files.iter().zip(&fd_rows) {
        assert_eq!(f.file_index.to_string(), w["fileindex"]);
        assert_eq!(f.path, w["path"]);
        assert_eq!(f.name, w["name"]);
        assert_eq!(f.lstat, w["lstat"]);
        assert_eq!(f.md5, w["md5"]);
    }
    drop(c);

    // Write Bootstrap: the captured CapBackup-1.bsr, after the comment line.
    let bsr = std::fs::read_to_string(s.dir.path().join("CapBackup-1.bsr")).unwrap();
    let want = vectors::read("volume-full/CapBackup-1.bsr");
    assert_eq!(
        bsr.lines().skip(1).collect::<Vec<_>>(),
        want.lines().skip(1).collect::<Vec<_>>()
    );
    assert!(bsr.starts_with("# 22-Nov-2026 15:46:52 - CapBackup."));

    // Messages: the Director's own lines, forwarded FD/SD Jmsgs, the report.
    let text = console_text(&s);
    for line in [
        "22-Nov 15:46 bareos-dir JobId 1: Start Backup JobId 1, Job=CapBackup.",
        "22-Nov 15:46 bareos-dir JobId 1: Connected Storage daemon at 127.0.0.1:",
        "22-Nov 15:46 bareos-dir JobId 1: Probing client protocol... (result will be saved until config reload)\n",
        "22-Nov 15:46 bareos-dir JobId 1:    Handshake: Cleartext \n",
        "22-Nov 15:46 bareos-sd JobId 1: Using just in time reservation for job 1\n",
        "22-Nov 15:46 bareos-dir JobId 1: Using Device \"JustInTime Device\" to write.\n",
        "22-Nov 15:46 bareos-fd JobId 1: ACL support is enabled\n",
        "22-Nov 15:46 bareos-dir JobId 1: Created new Volume \"Cap-0001\" in catalog.\n",
        "22-Nov 15:46 bareos-dir JobId 1: Max Volume jobs=1 exceeded. Marking Volume \"Cap-0001\" as Used.\n",
        "22-Nov 15:46 bareos-sd JobId 1: Elapsed time=00:00:01, Transfer rate=1.062 K Bytes/second\n",
        "22-Nov 15:46 bareos-dir JobId 1: Insert of attributes batch table with 6 entries start\n",
        "22-Nov 15:46 bareos-dir JobId 1: Insert of attributes batch table done\n",
        "  Backup Level:           Full\n",
        "  Client:                 \"bareos-fd\" 26.0.0~pre1298.eda204c31 (21Aug26) Debian GNU/Linux 12 (bookworm),debian\n",
        "  FileSet:                \"CapSet\" 2026-11-22 15:46:52\n",
        "  Pool:                   \"Cap\" (From Job resource)\n",
        "  Catalog:                \"MyCatalog\" (From Client resource)\n",
        "  Storage:                \"File\" (From Job resource)\n",
        "  FD Files Written:       6\n",
        "  SD Files Written:       6\n",
        "  FD Bytes Read:          306 (306 B)\n",
        "  FD Bytes Written:       306 (306 B)\n",
        "  SD Bytes Written:       1,062 (1.062 KB)\n",
        "  Volume name(s):         Cap-0001\n",
        "  Volume Session Id:      1\n",
        "  Volume Session Time:    1795362407\n",
        "  Last Volume Bytes:      1,787 (1.787 KB)\n",
        "  FD termination status:  OK\n",
        "  SD termination status:  OK\n",
        "  Termination:            Backup OK\n\n",
    ] {
        assert!(text.contains(line), "console output lacks {line:?}:\n{text}");
    }
    // The log file of the Messages resource got the same lines.
    let log = std::fs::read_to_string(s.dir.path().join("bareos.log")).unwrap();
    assert!(log.contains("Termination:            Backup OK"));
    // The catalog Log table too (Messages Standard has `catalog = all, ...`).
    assert!(s.engine.status().running.is_empty());
    assert_eq!(s.engine.status().terminated.len(), 1);
    let _ = &s.clock;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fd_that_disappears_fails_the_job_and_engine_goes_on() {
    // The FD closes the connection right after `2000 OK backup` (before its End Job).
    let (sd_port, sd) = replay::spawn(script("clear-backup-full", 2, "sd", FULL_JOB, vec![])).await;
    let mut fds = script(
        "clear-backup-full",
        3,
        "fd",
        FULL_JOB,
        vec![(b"39203".to_vec(), sd_port.to_string().into_bytes())],
    );
    fds.stop_before = Some(32);
    let (fd_port, fd) = replay::spawn(fds).await;
    let s = setup_with(fd_port, sd_port, "", fast_opts());
    let id = s
        .engine
        .run("CapBackup", None, RunOverrides::default())
        .await
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(60), s.engine.wait(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, JobStatus::FatalError);
    let err = out.error.clone().unwrap();
    assert!(err.contains("bareos-fd"), "{err}");
    let text = console_text(&s);
    assert!(text.contains("Fatal error:"), "{text}");
    assert!(
        text.contains("Termination:            *** Backup Error ***"),
        "{text}"
    );
    let _ = fd.await;
    sd.abort();
    let c = s.engine.catalog();
    assert_eq!(
        c.lock().unwrap().job(1).unwrap().unwrap().status,
        JobStatus::FatalError
    );
    // The engine keeps running: a second job gets JobId 2 and fails cleanly as well
    // (nobody listens any more).
    let id2 = s
        .engine
        .run("CapBackup", None, RunOverrides::default())
        .await
        .unwrap();
    assert_eq!(id2, 2);
    let out2 = tokio::time::timeout(Duration::from_secs(60), s.engine.wait(id2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out2.status, JobStatus::FatalError);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sd_that_refuses_the_job_fails_it_clearly() {
    let mut sds = script("clear-backup-full", 2, "sd", FULL_JOB, vec![]);
    sds.refuse_job = Some(b"3915 Bad Job command. stat=0 CMD: JobId=1\n".to_vec());
    let (sd_port, sd) = replay::spawn(sds).await;
    // An FD that is never contacted.
    let (fd_port, fd) = replay::spawn(script("clear-backup-full", 3, "fd", FULL_JOB, vec![])).await;
    let s = setup_with(fd_port, sd_port, "", fast_opts());
    let id = s
        .engine
        .run("CapBackup", None, RunOverrides::default())
        .await
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(60), s.engine.wait(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, JobStatus::FatalError);
    let err = out.error.unwrap();
    assert!(
        err.contains("Storage daemon \"File\" refused the job: 3915 Bad Job command."),
        "{err}"
    );
    let text = console_text(&s);
    assert!(
        text.contains("Fatal error: Storage daemon \"File\" refused the job"),
        "{text}"
    );
    let sd = sd.await.unwrap();
    assert_eq!(sd.received.len(), 1);
    fd.abort();
}

#[allow(dead_code)]
fn _unused(_: Msg, _: RestoreRequest, _: RestoreSelect) {}
