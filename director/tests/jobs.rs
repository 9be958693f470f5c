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
    Canceled, EngineOptions, JobEngine, RestoreRequest, RestoreSelect, RunOverrides, VirtualClock,
};
use fd_core::wire::codes::{JobLevel, JobStatus};
use fd_core::wire::psk::ResourceType;

use common::replay::{self, Replay, Script};
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
    dir_config_edit(fd_port, sd_port, tmp, extra, &|t| t)
}

fn dir_config_edit(
    fd_port: u16,
    sd_port: u16,
    tmp: &std::path::Path,
    extra: &str,
    edit: &dyn Fn(String) -> String,
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
    let text = edit(text);
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
        pause_before: None,
        refuse_job: None,
        tls: false,
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
    // The catalog Log table too (Messages Standard has `catalog = all, !skipped, ...`).
    {
        use director::catalog::sql::Conn as _;
        let mut db =
            director::catalog::sqlite::SqliteConn::open(&s.dir.path().join("catalog.db")).unwrap();
        let rows = db
            .query(
                "SELECT LogText FROM Log WHERE JobId = 1 ORDER BY LogId",
                &[],
            )
            .unwrap();
        let texts: Vec<String> = rows.iter().map(|r| r.text(0).unwrap()).collect();
        assert!(texts.len() > 20, "{texts:?}");
        assert!(texts
            .first()
            .unwrap()
            .starts_with("22-Nov 15:46 bareos-dir JobId 1: Version: "));
        assert!(texts
            .last()
            .unwrap()
            .contains("  Termination:            Backup OK\n"));
    }
    assert!(s.engine.status().running.is_empty());
    // Handshake probing: the mode that worked is remembered until a reload.
    assert_eq!(
        s.engine.probe_cache().get("bareos-fd"),
        Some(barque_common::conn::HandshakeMode::Cleartext)
    );
    s.engine.reload(s.engine.config());
    assert_eq!(s.engine.probe_cache().get("bareos-fd"), None);
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

const INCR_JOB: &str = "CapBackup.2026-11-22_15.47.20_03";
const RESTORE_JOB: &str = "CapRestore.2026-11-22_15.47.31_05";

/// Full (clear-backup-full), Incremental (clear-backup-incr: since_utime from the catalog,
/// BTIME answered), then the restore of both (clear-restore: the bootstrap on the wire equals
/// the captured one), each against daemons replaying the captured conversations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_incremental_restore_chain() {
    // Our Full starts at 15:46:54 like the real one, so since_utime is 1795362414; its unique
    // name is predictable (sequence 00) and is mapped to the captured one in prev_job=.
    let our_full = b"CapBackup.2026-11-22_15.46.54_00".to_vec();
    let sd_scripts = vec![
        script("clear-backup-full", 2, "sd", FULL_JOB, vec![]),
        script("clear-backup-incr", 2, "sd", INCR_JOB, vec![]),
        script("clear-restore", 2, "sd", RESTORE_JOB, vec![]),
    ];
    let (sd_port, sd) = replay::spawn_many(sd_scripts).await;
    let port = (b"39203".to_vec(), sd_port.to_string().into_bytes());
    let fd_scripts = vec![
        script("clear-backup-full", 3, "fd", FULL_JOB, vec![port.clone()]),
        script(
            "clear-backup-incr",
            3,
            "fd",
            INCR_JOB,
            vec![
                port.clone(),
                (FULL_JOB.as_bytes().to_vec(), our_full.clone()),
            ],
        ),
        script("clear-restore", 3, "fd", RESTORE_JOB, vec![port.clone()]),
    ];
    let (fd_port, fd) = replay::spawn_many(fd_scripts).await;
    let s = setup_with(fd_port, sd_port, "", fast_opts());
    s.clock.set(unix(2026, 11, 22, 15, 46, 54));
    let wait = |id| {
        let e = s.engine.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(60), e.wait(id))
                .await
                .expect("job ends")
                .expect("job known")
        }
    };
    let id = s
        .engine
        .run("CapBackup", Some(JobLevel::Full), RunOverrides::default())
        .await
        .unwrap();
    let full = wait(id).await;
    assert_eq!(full.status, JobStatus::Terminated, "{:?}", full.error);
    assert_eq!(full.job.as_bytes(), &our_full[..]);

    s.clock.set(unix(2026, 11, 22, 15, 47, 22));
    let id = s
        .engine
        .run(
            "CapBackup",
            Some(JobLevel::Incremental),
            RunOverrides::default(),
        )
        .await
        .unwrap();
    assert_eq!(id, 2);
    let incr = wait(id).await;
    assert_eq!(incr.status, JobStatus::Terminated, "{:?}", incr.error);
    assert_eq!((incr.files, incr.bytes), (3, 52));
    {
        let cat = s.engine.catalog();
        let mut c = cat.lock().unwrap();
        let j = c.job(2).unwrap().unwrap();
        assert_eq!(j.level, JobLevel::Incremental);
        let files = c.select_files(&[2]).unwrap().files;
        let want: Vec<_> = vectors::dump_table("files of jobs")
            .into_iter()
            .filter(|r| r["jobid"] == "2")
            .collect();
        assert_eq!(files.len(), want.len());
        for (f, w) in files.iter().zip(&want) {
            assert_eq!(
                (f.path.as_str(), f.name.as_str()),
                (w["path"].as_str(), w["name"].as_str())
            );
            assert_eq!(f.lstat, w["lstat"]);
            assert_eq!(f.md5, w["md5"]);
        }
    }

    s.clock.set(unix(2026, 11, 22, 15, 47, 33));
    let id = s
        .engine
        .restore(RestoreRequest {
            job: Some("CapRestore".into()),
            client: "bareos-fd".into(),
            select: RestoreSelect::Current,
            fileset: Some("CapSet".into()),
            where_: Some("/srv/bareos-capture/restore/all".into()),
            files: None,
            replace: b'a',
        })
        .await
        .unwrap();
    assert_eq!(id, 3);
    let rest = wait(id).await;
    assert_eq!(rest.status, JobStatus::Terminated, "{:?}", rest.error);
    assert_eq!((rest.files, rest.bytes), (7, 352));
    {
        let cat = s.engine.catalog();
        let mut c = cat.lock().unwrap();
        let r = c.job(3).unwrap().unwrap();
        assert_eq!(r.status, JobStatus::Terminated);
        assert_eq!(r.client_id, c.job(1).unwrap().unwrap().client_id);
        assert_eq!(r.start_time, Some(unix(2026, 11, 22, 15, 47, 33)));
        assert_eq!((r.job_files, r.job_bytes), (7, 352));
    }

    let sd = sd.await.unwrap();
    let fd = fd.await.unwrap();
    for (i, r) in sd.iter().enumerate() {
        assert_replayed(&format!("SD connection {i}"), r);
    }
    for (i, r) in fd.iter().enumerate() {
        assert_replayed(&format!("FD connection {i}"), r);
    }
    // The incremental FD exchange includes ten BTIME answers (msgs 14..32) and the restore SD
    // exchange the 19 bootstrap lines (msgs 19..37): all compared.
    assert_eq!(fd[1].matched, 24);
    assert_eq!(sd[2].matched, 31);
    let text = console_text(&s);
    for line in [
        "  Backup Level:           Incremental, since=2026-11-22 15:46:54\n",
        "bareos-dir JobId 3: Start Restore Job CapRestore.",
        "bareos-dir JobId 3: Using Device \"FileStorage\" to read.\n",
        "  Files Expected:         7\n",
        "  Files Restored:         7\n",
        "  Bytes Restored:         352\n",
        "  Termination:            Restore OK\n\n",
        // vectors/clear-restore conn 1 msgs 58, 66-68, 70.
        "  Restore Client:         \"bareos-fd\" 26.0.0~pre1298.eda204c31 (21Aug26) Debian GNU/Linux 12 (bookworm),debian\n",
        "  FD Errors:              0\n",
        "  FD termination status:  OK\n",
        "  SD termination status:  OK\n",
        "  Job triggered by:       User\n",
    ] {
        assert!(
            text.contains(line),
            "console output lacks {line:?}:\n{text}"
        );
    }
}

/// An Incremental with no prior Full is upgraded (and sends `level = full`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_without_full_becomes_full() {
    let (sd_port, sd) = replay::spawn(script("clear-backup-full", 2, "sd", FULL_JOB, vec![])).await;
    let port = (b"39203".to_vec(), sd_port.to_string().into_bytes());
    let (fd_port, fd) =
        replay::spawn(script("clear-backup-full", 3, "fd", FULL_JOB, vec![port])).await;
    let s = setup_with(fd_port, sd_port, "", fast_opts());
    let id = s
        .engine
        .run(
            "CapBackup",
            Some(JobLevel::Incremental),
            RunOverrides::default(),
        )
        .await
        .unwrap();
    let out = s.engine.wait(id).await.unwrap();
    assert_eq!(out.status, JobStatus::Terminated, "{:?}", out.error);
    assert_replayed("SD", &sd.await.unwrap());
    assert_replayed("FD", &fd.await.unwrap());
    let text = console_text(&s);
    assert!(
        text.contains("No prior or suitable Full backup found in catalog. Doing FULL backup.\n")
    );
    assert!(text.contains("  Backup Level:           Full\n"));
}

/// `estimate job=CapBackup listing` against the FD of vectors/clear-estimate conn 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estimate_replays_capture() {
    let (fd_port, fd) = replay::spawn(script(
        "clear-estimate",
        2,
        "fd",
        "-Console-.2026-11-22_15.47.42_06",
        vec![],
    ))
    .await;
    let s = setup_with(fd_port, 1, "", fast_opts());
    let est = s.engine.estimate("CapBackup", None, true).await.unwrap();
    assert_eq!((est.files, est.bytes), (7, 352));
    assert_eq!(est.listing.len(), 7);
    assert!(est.listing[6].ends_with("/srv/bareos-capture/testdata/tree\n"));
    let fd = fd.await.unwrap();
    assert_replayed("FD (clear-estimate conn 2)", &fd);
    // JobId=0 line, level, fileset (8 frames), estimate, TERMINATE.
    assert_eq!(fd.matched, 12);
}

/// `cancel` during a running backup: fresh connections to the FD and SD carry
/// `cancel Job=…` exactly as vectors/clear-cancel conns 6 and 7; the job ends Canceled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_running_backup() {
    let ours = b"CapBackup.2026-11-22_15.46.52_00".to_vec();
    let cancel_job = b"CapSlowBackup.2026-11-22_16.46.10_11".to_vec();
    let mut sd_job = script("clear-backup-full", 2, "sd", FULL_JOB, vec![]);
    sd_job.pause_before = Some(43);
    let mut sd_cancel = script("clear-cancel", 7, "sd", "unused", vec![]);
    sd_cancel.msgs.iter_mut().for_each(|m| {
        if let Some(d) = &mut m.data {
            *d = replay::replace(d, &cancel_job, &ours);
            *d = replay::replace(d, b"JobId=4", b"JobId=1");
        }
    });
    let (sd_port, sd) = replay::spawn_many(vec![sd_job, sd_cancel]).await;
    let port = (b"39203".to_vec(), sd_port.to_string().into_bytes());
    let mut fd_job = script("clear-backup-full", 3, "fd", FULL_JOB, vec![port]);
    fd_job.pause_before = Some(33);
    let mut fd_cancel = script("clear-cancel", 6, "fd", "unused", vec![]);
    fd_cancel.msgs.iter_mut().for_each(|m| {
        if let Some(d) = &mut m.data {
            *d = replay::replace(d, &cancel_job, &ours);
        }
    });
    let (fd_port, fd) = replay::spawn_many(vec![fd_job, fd_cancel]).await;
    let s = setup_with(fd_port, sd_port, "", fast_opts());
    let id = s
        .engine
        .run("CapBackup", None, RunOverrides::default())
        .await
        .unwrap();
    // Wait until the job is where the test daemons pause: the volume is in use (VolJobs=1,
    // conn 2 msg 40) and the SD said JobStatus=82 again (msg 42).
    for _ in 0..500 {
        let used = s
            .engine
            .catalog()
            .lock()
            .unwrap()
            .media("Cap-0001")
            .unwrap()
            .is_some_and(|m| m.vol_jobs == 1);
        let running = s.engine.status().running.first().and_then(|p| p.sd_status);
        if used && running == Some(JobStatus::Running) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let replies = s.engine.cancel(id).await.unwrap();
    assert_eq!(
        replies,
        Canceled::Running(vec![
            "2001 Job CapBackup.2026-11-22_15.46.52_00 marked to be canceled.\n".to_owned(),
            "3000 JobId=1 Job=\"CapBackup.2026-11-22_15.46.52_00\" marked to be canceled.\n"
                .to_owned(),
        ])
    );
    let out = tokio::time::timeout(Duration::from_secs(30), s.engine.wait(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, JobStatus::Canceled);
    let report = out.report.unwrap();
    // As in vectors/clear-cancel conn 5 msgs 72-82: the SD was still running, the FD
    // reported nothing, the volume had its label block (203 bytes).
    for line in [
        "  Volume name(s):         Cap-0001\n",
        "  Last Volume Bytes:      203 (203 B)\n",
        "  FD termination status:  Error\n",
        "  SD termination status:  Running\n",
        "  Termination:            Backup Canceled\n",
    ] {
        assert!(report.contains(line), "report lacks {line:?}:\n{report}");
    }
    let sd = sd.await.unwrap();
    let fd = fd.await.unwrap();
    assert_replayed("SD cancel (clear-cancel conn 7)", &sd[1]);
    assert_replayed("FD cancel (clear-cancel conn 6)", &fd[1]);
    assert_eq!(
        s.engine
            .catalog()
            .lock()
            .unwrap()
            .job(1)
            .unwrap()
            .unwrap()
            .status,
        JobStatus::Canceled
    );
}

/// A Schedule `Run = Level=Full daily at 15:47` starts CapBackup when the virtual clock
/// reaches 15:47; the report says it was triggered by the scheduler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_starts_job_on_virtual_clock() {
    let (sd_port, sd) = replay::spawn(script("clear-backup-full", 2, "sd", FULL_JOB, vec![])).await;
    let port = (b"39203".to_vec(), sd_port.to_string().into_bytes());
    let (fd_port, fd) =
        replay::spawn(script("clear-backup-full", 3, "fd", FULL_JOB, vec![port])).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir_config_edit(
        fd_port,
        sd_port,
        dir.path(),
        "Schedule {\n  Name = Afternoon\n  Run = Level=Full daily at 15:47\n}\n",
        &|t| {
            t.replacen(
                "Priority = 10\n",
                "Priority = 10\n  Schedule = Afternoon\n",
                1,
            )
        },
    );
    let catalog = Catalog::open(&CatalogConfig::Sqlite {
        path: dir.path().join("catalog.db"),
    })
    .unwrap();
    let clock = Arc::new(VirtualClock::new(unix(2026, 11, 22, 15, 46, 0)));
    let engine = JobEngine::new(cfg, catalog, clock.clone(), fast_opts()).unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(director::jobs::scheduler::run_scheduler(
        engine.clone(),
        Duration::from_millis(10),
        stop_rx,
    ));
    // Nothing at 15:46:xx.
    for s in 1..50 {
        clock.set(unix(2026, 11, 22, 15, 46, s));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(engine.wait(1).await.is_none(), "started too early");
    clock.set(unix(2026, 11, 22, 15, 47, 0));
    let mut out = None;
    for _ in 0..500 {
        if let Some(o) = tokio::time::timeout(Duration::from_millis(20), engine.wait(1))
            .await
            .ok()
            .flatten()
        {
            out = Some(o);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let out = out.expect("the scheduler started JobId 1");
    assert_eq!(out.status, JobStatus::Terminated, "{:?}", out.error);
    assert!(out
        .report
        .unwrap()
        .contains("  Job triggered by:       Scheduler\n"));
    // Still 15:47: not started again.
    clock.set(unix(2026, 11, 22, 15, 47, 30));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(engine.wait(2).await.is_none());
    stop_tx.send(true).unwrap();
    task.await.unwrap();
    assert_replayed("SD", &sd.await.unwrap());
    assert_replayed("FD", &fd.await.unwrap());
}

/// `Passive = yes`: the Director tells the SD `passive client address= port= ssl=0` and
/// sends the FD no `storage` command (vectors/clear-backup-passive conns 2 and 3, JobId 4,
/// volume Cap-0003: the catalog is primed with three jobs and two used volumes first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passive_client_backup_replays_capture() {
    const PASSIVE_JOB: &str = "CapBackup.2026-11-22_15.48.07_03";
    let (fd_port, fd) =
        replay::spawn(script("clear-backup-passive", 3, "fd", PASSIVE_JOB, vec![])).await;
    let (sd_port, sd) = replay::spawn(script(
        "clear-backup-passive",
        2,
        "sd",
        PASSIVE_JOB,
        vec![(b"39202".to_vec(), fd_port.to_string().into_bytes())],
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir_config_edit(fd_port, sd_port, dir.path(), "", &|t| {
        t.replacen(
            "Catalog = MyCatalog\n",
            "Catalog = MyCatalog\n  Passive = yes\n",
            1,
        )
    });
    let mut catalog = Catalog::open(&CatalogConfig::Sqlite {
        path: dir.path().join("catalog.db"),
    })
    .unwrap();
    {
        let spec = director::jobs::Plan::resolve(&cfg, "CapBackup", &RunOverrides::default())
            .unwrap()
            .pool
            .unwrap();
        let pool = catalog.get_or_create_pool(&spec).unwrap();
        let sid = catalog.get_or_create_storage("File").unwrap();
        for v in ["Cap-0001", "Cap-0002"] {
            catalog
                .create_media(&director::catalog::NewMedia {
                    volume_name: v,
                    pool_id: pool.pool_id,
                    media_type: "File",
                    storage_id: sid,
                    vol_status: director::catalog::VolStatus::Used,
                    label_date: None,
                })
                .unwrap();
        }
        for j in ["a", "b", "c"] {
            catalog
                .create_job(&director::catalog::NewJob {
                    job: j,
                    name: j,
                    job_type: fd_core::wire::codes::JobType::Admin,
                    level: JobLevel::Full,
                    sched_time: 0,
                })
                .unwrap();
        }
    }
    let clock = Arc::new(VirtualClock::new(unix(2026, 11, 22, 15, 48, 7)));
    let engine = JobEngine::new(cfg, catalog, clock, fast_opts()).unwrap();
    let id = engine
        .run("CapBackup", None, RunOverrides::default())
        .await
        .unwrap();
    assert_eq!(id, 4);
    let out = tokio::time::timeout(Duration::from_secs(60), engine.wait(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, JobStatus::Terminated, "{:?}", out.error);
    assert_eq!((out.files, out.bytes), (7, 352));
    let sd = sd.await.unwrap();
    let fd = fd.await.unwrap();
    assert_replayed("SD (clear-backup-passive conn 2)", &sd);
    assert_replayed("FD (clear-backup-passive conn 3)", &fd);
    assert!(sd
        .received
        .iter()
        .any(|f| f.starts_with(b"passive client address=127.0.0.1 port=39202 ssl=0\n")));
    assert!(!fd.received.iter().any(|f| f.starts_with(b"storage ")));
}

/// Director `Maximum Concurrent Jobs = 1`: a second job waits (status C, not started) while
/// the first runs; canceled while waiting it never contacts a daemon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maximum_concurrent_jobs_queues_the_second_job() {
    second_job_waits(&|t| {
        t.replacen(
            "Maximum Concurrent Jobs = 10",
            "Maximum Concurrent Jobs = 1",
            1,
        )
    })
    .await;
}

/// The Client's `Maximum Concurrent Jobs` (Bareos' default 1) queues the second job of the
/// same client although the Director allows 10.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_maximum_concurrent_jobs_queues_the_second_job() {
    second_job_waits(&|t| t).await;
}

async fn second_job_waits(edit: &dyn Fn(String) -> String) {
    let mut sd_job = script("clear-backup-full", 2, "sd", FULL_JOB, vec![]);
    sd_job.pause_before = Some(43);
    let (sd_port, sd) = replay::spawn(sd_job).await;
    let port = (b"39203".to_vec(), sd_port.to_string().into_bytes());
    let mut fd_job = script("clear-backup-full", 3, "fd", FULL_JOB, vec![port]);
    fd_job.pause_before = Some(33);
    let (fd_port, fd) = replay::spawn(fd_job).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir_config_edit(fd_port, sd_port, dir.path(), "", edit);
    let catalog = Catalog::open(&CatalogConfig::Sqlite {
        path: dir.path().join("catalog.db"),
    })
    .unwrap();
    let clock = Arc::new(VirtualClock::new(unix(2026, 11, 22, 15, 46, 52)));
    let mut opts = fast_opts();
    opts.connect_retries = 0;
    // The test daemons do not answer a second connection while they play the job: the
    // cancel connections give up after this.
    opts.conn.handshake_timeout = Duration::from_millis(300);
    let engine = JobEngine::new(cfg, catalog, clock, opts).unwrap();
    let id1 = engine
        .run("CapBackup", None, RunOverrides::default())
        .await
        .unwrap();
    let id2 = engine
        .run("CapBackup", None, RunOverrides::default())
        .await
        .unwrap();
    for _ in 0..200 {
        if engine
            .catalog()
            .lock()
            .unwrap()
            .media("Cap-0001")
            .unwrap()
            .is_some()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let st = engine.status();
    assert_eq!(st.running.len(), 2);
    // Both tasks start at once: which one gets the slot is up to the runtime's scheduler.
    let (run, wait) = if st.running[0].status == JobStatus::Running {
        (&st.running[0], &st.running[1])
    } else {
        (&st.running[1], &st.running[0])
    };
    assert_eq!(run.status, JobStatus::Running);
    // The test SD pauses before its first UpdCat (conn 2 msg 45): no file seen yet.
    assert_eq!(run.files, 0);
    assert_eq!(wait.status, JobStatus::Created);
    assert_eq!(wait.start_time, 0);
    assert_eq!(
        [run.job_id.min(wait.job_id), run.job_id.max(wait.job_id)],
        [id1, id2]
    );
    // Cancel the waiting job first: it is taken off the queue, no daemon is told (Bareos'
    // `CancelJob()` for a job that has not started).
    assert_eq!(
        engine.cancel(wait.job_id).await.unwrap(),
        Canceled::Queued {
            job: wait.job.clone()
        }
    );
    let _ = engine.cancel(run.job_id).await.unwrap();
    let o1 = tokio::time::timeout(Duration::from_secs(30), engine.wait(id1))
        .await
        .unwrap()
        .unwrap();
    let o2 = tokio::time::timeout(Duration::from_secs(30), engine.wait(id2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o1.status, JobStatus::Canceled);
    assert_eq!(o2.status, JobStatus::Canceled);
    let _ = (sd.await, fd.await);
}

/// The SD is not listening yet when the job starts: the connect is retried and the job
/// succeeds once it is up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_sd_is_retried() {
    let sd_port = replay::free_port();
    let sd = replay::spawn_later(
        sd_port,
        Duration::from_millis(150),
        script("clear-backup-full", 2, "sd", FULL_JOB, vec![]),
    )
    .await;
    let port = (b"39203".to_vec(), sd_port.to_string().into_bytes());
    let (fd_port, fd) =
        replay::spawn(script("clear-backup-full", 3, "fd", FULL_JOB, vec![port])).await;
    let mut opts = fast_opts();
    opts.connect_retries = 10;
    opts.retry_delay = Duration::from_millis(50);
    let s = setup_with(fd_port, sd_port, "", opts);
    let out = full_backup(&s, fd, sd).await;
    assert_eq!(out.status, JobStatus::Terminated, "{:?}", out.error);
}

/// With no SD at all the job fails after the retries, naming the Storage and the address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_sd_fails_after_retries() {
    let sd_port = replay::free_port();
    let mut opts = fast_opts();
    opts.connect_retries = 2;
    opts.retry_delay = Duration::from_millis(10);
    let s = setup_with(1, sd_port, "", opts);
    let id = s
        .engine
        .run("CapBackup", None, RunOverrides::default())
        .await
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(30), s.engine.wait(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, JobStatus::FatalError);
    let e = out.error.unwrap();
    assert!(
        e.contains("Storage daemon \"File\"") && e.contains(&sd_port.to_string()),
        "{e}"
    );
}

/// File rows flushed in small batches during the job equal the ones of one batch at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_attribute_batches_give_the_same_rows() {
    let (sd_port, sd) = replay::spawn(script("clear-backup-full", 2, "sd", FULL_JOB, vec![])).await;
    let port = (b"39203".to_vec(), sd_port.to_string().into_bytes());
    let (fd_port, fd) =
        replay::spawn(script("clear-backup-full", 3, "fd", FULL_JOB, vec![port])).await;
    let mut opts = fast_opts();
    opts.attr_batch = 2;
    let s = setup_with(fd_port, sd_port, "", opts);
    let out = full_backup(&s, fd, sd).await;
    assert_eq!(out.status, JobStatus::Terminated, "{:?}", out.error);
    let files = s
        .engine
        .catalog()
        .lock()
        .unwrap()
        .select_files(&[1])
        .unwrap()
        .files;
    let want: Vec<_> = vectors::dump_table("files of jobs")
        .into_iter()
        .filter(|r| r["jobid"] == "1")
        .collect();
    assert_eq!(files.len(), want.len());
    for (f, w) in files.iter().zip(&want) {
        assert_eq!(f.file_index.to_string(), w["fileindex"]);
        assert_eq!(
            (f.lstat.as_str(), f.md5.as_str()),
            (w["lstat"].as_str(), w["md5"].as_str())
        );
    }
    assert!(console_text(&s).contains("Insert of attributes batch table with 6 entries start\n"));
}

/// `accurate=yes` on an Incremental: `level = accurate_incremental …` and, after
/// `getSecureEraseCmd`, `accurate files=N` + one `path␀lstat␀␀0` frame per file of the
/// current backup set + EOD (the frame format of vectors/clear-diff-accurate conn 7
/// msgs 46–56; the entries are JobId 1's File rows of vectors/catalog-dump.txt). The FD side
/// is clear-backup-incr conn 3 with those frames spliced in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accurate_incremental_sends_the_file_list() {
    let our_full = b"CapBackup.2026-11-22_15.46.54_00".to_vec();
    let (sd_port, sd) = replay::spawn_many(vec![
        script("clear-backup-full", 2, "sd", FULL_JOB, vec![]),
        script("clear-backup-incr", 2, "sd", INCR_JOB, vec![]),
    ])
    .await;
    let port = (b"39203".to_vec(), sd_port.to_string().into_bytes());
    let mut incr = script(
        "clear-backup-incr",
        3,
        "fd",
        INCR_JOB,
        vec![
            port.clone(),
            (FULL_JOB.as_bytes().to_vec(), our_full.clone()),
        ],
    );
    let rows: Vec<_> = vectors::dump_table("files of jobs")
        .into_iter()
        .filter(|r| r["jobid"] == "1")
        .collect();
    let mut spliced = Vec::new();
    for m in incr.msgs.drain(..) {
        let i = m.i;
        let mut m = m;
        if i == 11 {
            m.data = Some(b"level = accurate_incremental  mtime_only=0 \n".to_vec());
        }
        spliced.push(m);
        if i == 45 {
            let dir = |n: u32, d: &[u8]| replay::Msg {
                i: n,
                from: "dir".into(),
                data: Some(d.to_vec()),
                signal: 0,
            };
            spliced.push(dir(
                1000,
                format!("accurate files={}\n", rows.len()).as_bytes(),
            ));
            for (k, r) in rows.iter().enumerate() {
                let mut e = format!("{}{}", r["path"], r["name"]).into_bytes();
                e.push(0);
                e.extend_from_slice(r["lstat"].as_bytes());
                e.extend_from_slice(b"\0\x000");
                spliced.push(dir(1001 + k as u32, &e));
            }
            spliced.push(replay::Msg {
                i: 1100,
                from: "dir".into(),
                data: None,
                signal: -1,
            });
        }
    }
    incr.msgs = spliced;
    let (fd_port, fd) = replay::spawn_many(vec![
        script("clear-backup-full", 3, "fd", FULL_JOB, vec![port.clone()]),
        incr,
    ])
    .await;
    let s = setup_with(fd_port, sd_port, "", fast_opts());
    s.clock.set(unix(2026, 11, 22, 15, 46, 54));
    let id = s
        .engine
        .run("CapBackup", None, RunOverrides::default())
        .await
        .unwrap();
    let full = s.engine.wait(id).await.unwrap();
    assert_eq!(full.status, JobStatus::Terminated, "{:?}", full.error);
    s.clock.set(unix(2026, 11, 22, 15, 47, 22));
    let id = s
        .engine
        .run(
            "CapBackup",
            Some(JobLevel::Incremental),
            RunOverrides {
                accurate: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(60), s.engine.wait(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, JobStatus::Terminated, "{:?}", out.error);
    let fd = fd.await.unwrap();
    let sd = sd.await.unwrap();
    assert_replayed("SD incr", &sd[1]);
    assert_replayed("FD accurate incr", &fd[1]);
    // 24 frames of the plain incremental + `accurate files=6`, 6 entries, EOD.
    assert_eq!(fd[1].matched, 24 + 8);
    let text = console_text(&s);
    for line in [
        "bareos-dir JobId 2: Sending Accurate information (estimated 6 files).\n",
        "bareos-dir JobId 2: Sent Accurate information for 6 files (skipping 0 deleted files) in 00:00:00.\n",
        "  Accurate:               yes\n",
    ] {
        assert!(text.contains(line), "console output lacks {line:?}:\n{text}");
    }
}

/// With Bareos' default `TLS Enable = yes` on the Client and Storage resources the engine
/// reaches both daemons TLS-first (TLS-PSK, the identity `R_DIRECTOR bareos-dir`, the
/// password's MD5 as key), appends ` ssl=4` to the FD's `JobId=` line and sends
/// `storage … ssl=4` (jobs.md MVP notes, vectors/psk-backup-full notes.md); everything else is
/// the cleartext conversation of clear-backup-full inside the tunnel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_psk_backup() {
    let mut sds = script("clear-backup-full", 2, "sd", FULL_JOB, vec![]);
    sds.tls = true;
    let (sd_port, sd) = replay::spawn(sds).await;
    let mut fds = script(
        "clear-backup-full",
        3,
        "fd",
        FULL_JOB,
        vec![
            (b"ILMP\n".to_vec(), b"ILMP ssl=4\n".to_vec()),
            (
                b"39203 ssl=0\n".to_vec(),
                format!("{sd_port} ssl=4\n").into_bytes(),
            ),
        ],
    );
    fds.tls = true;
    let (fd_port, fd) = replay::spawn(fds).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir_config_edit(fd_port, sd_port, dir.path(), "", &|t| {
        t.replace("  TLS Enable = no\n  TLS Require = no\n", "")
    });
    let catalog = Catalog::open(&CatalogConfig::Sqlite {
        path: dir.path().join("catalog.db"),
    })
    .unwrap();
    let clock = Arc::new(VirtualClock::new(unix(2026, 11, 22, 15, 50, 0)));
    let engine = JobEngine::new(cfg, catalog, clock, fast_opts()).unwrap();
    let id = engine
        .run("CapBackup", None, RunOverrides::default())
        .await
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(60), engine.wait(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, JobStatus::Terminated, "{:?}", out.error);
    let (fd, sd) = (fd.await.unwrap(), sd.await.unwrap());
    assert_replayed("SD over TLS", &sd);
    assert_replayed("FD over TLS", &fd);
    assert_eq!(
        engine.probe_cache().get("bareos-fd"),
        Some(barque_common::conn::HandshakeMode::TlsFirst)
    );
    let text = engine.console().take().concat();
    assert!(text.contains("   Handshake: Immediate TLS \n"), "{text}");
    let connected = text
        .lines()
        .find(|l| l.contains("bareos-dir JobId 1: Connected Client: bareos-fd at 127.0.0.1:"))
        .unwrap();
    assert!(connected.contains(", encryption: TLS_"), "{connected}");
}

/// `Reschedule On Error = yes`: the first attempt fails (no SD yet), the same JobId runs
/// again after `Reschedule Interval` and succeeds against the replayed daemons.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reschedule_on_error_reruns_the_same_job() {
    let sd_port = replay::free_port();
    let sd = replay::spawn_later(
        sd_port,
        Duration::from_millis(400),
        script("clear-backup-full", 2, "sd", FULL_JOB, vec![]),
    )
    .await;
    let port = (b"39203".to_vec(), sd_port.to_string().into_bytes());
    let (fd_port, fd) =
        replay::spawn(script("clear-backup-full", 3, "fd", FULL_JOB, vec![port])).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir_config_edit(fd_port, sd_port, dir.path(), "", &|t| {
        t.replacen(
            "Priority = 10\n",
            "Priority = 10\n  Reschedule On Error = yes\n  Reschedule Interval = 1\n  Reschedule Times = 2\n",
            1,
        )
    });
    let plan = director::jobs::Plan::resolve(&cfg, "CapBackup", &RunOverrides::default()).unwrap();
    assert_eq!(
        (
            plan.reschedule.on_error,
            plan.reschedule.interval,
            plan.reschedule.times
        ),
        (true, Duration::from_secs(1), 2)
    );
    let catalog = Catalog::open(&CatalogConfig::Sqlite {
        path: dir.path().join("catalog.db"),
    })
    .unwrap();
    let clock = Arc::new(VirtualClock::new(unix(2026, 11, 22, 15, 46, 52)));
    let mut opts = fast_opts();
    opts.connect_retries = 0;
    let engine = JobEngine::new(cfg, catalog, clock, opts).unwrap();
    let id = engine
        .run("CapBackup", None, RunOverrides::default())
        .await
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(30), engine.wait(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, JobStatus::Terminated, "{:?}", out.error);
    assert_eq!(id, 1);
    assert_replayed("SD", &sd.await.unwrap());
    assert_replayed("FD", &fd.await.unwrap());
    let text = engine.console().take().concat();
    assert!(
        text.contains("bareos-dir JobId 1: Rescheduled Job CapBackup.2026-11-22_15.46.52_00 at 22-Nov-2026 15:46:52 to re-run in 1 seconds (JobId=1).\n"),
        "{text}"
    );
    assert_eq!(
        text.matches("  Termination:            *** Backup Error ***")
            .count(),
        1
    );
    assert!(text.contains("  Termination:            Backup OK\n"));
    assert_eq!(
        engine
            .catalog()
            .lock()
            .unwrap()
            .job(1)
            .unwrap()
            .unwrap()
            .status,
        JobStatus::Terminated
    );
}

/// A Differential after the Full: `level = differential …` + `since_utime` of the Full, the SD
/// told `level=68`; otherwise the conversation of clear-backup-incr (whose Incremental had
/// the same since time: only a Full preceded it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn differential_after_full() {
    let our_full = b"CapBackup.2026-11-22_15.46.54_00".to_vec();
    let mut sd_diff = script("clear-backup-incr", 2, "sd", INCR_JOB, vec![]);
    for m in &mut sd_diff.msgs {
        if m.i == 9 {
            let d = m.data.take().unwrap();
            m.data = Some(replay::replace(&d, b" level=73 ", b" level=68 "));
        }
    }
    let (sd_port, sd) = replay::spawn_many(vec![
        script("clear-backup-full", 2, "sd", FULL_JOB, vec![]),
        sd_diff,
    ])
    .await;
    let port = (b"39203".to_vec(), sd_port.to_string().into_bytes());
    let mut fd_diff = script(
        "clear-backup-incr",
        3,
        "fd",
        INCR_JOB,
        vec![
            port.clone(),
            (FULL_JOB.as_bytes().to_vec(), our_full.clone()),
        ],
    );
    for m in &mut fd_diff.msgs {
        if m.i == 11 {
            m.data = Some(b"level = differential  mtime_only=0 \n".to_vec());
        }
    }
    let (fd_port, fd) = replay::spawn_many(vec![
        script("clear-backup-full", 3, "fd", FULL_JOB, vec![port]),
        fd_diff,
    ])
    .await;
    let s = setup_with(fd_port, sd_port, "", fast_opts());
    s.clock.set(unix(2026, 11, 22, 15, 46, 54));
    let id = s
        .engine
        .run("CapBackup", None, RunOverrides::default())
        .await
        .unwrap();
    assert_eq!(
        s.engine.wait(id).await.unwrap().status,
        JobStatus::Terminated
    );
    s.clock.set(unix(2026, 11, 22, 15, 47, 22));
    let id = s
        .engine
        .run(
            "CapBackup",
            Some(JobLevel::Differential),
            RunOverrides::default(),
        )
        .await
        .unwrap();
    let out = s.engine.wait(id).await.unwrap();
    assert_eq!(out.status, JobStatus::Terminated, "{:?}", out.error);
    let (sd, fd) = (sd.await.unwrap(), fd.await.unwrap());
    assert_replayed("SD diff", &sd[1]);
    assert_replayed("FD diff", &fd[1]);
    assert_eq!(
        s.engine
            .catalog()
            .lock()
            .unwrap()
            .job(2)
            .unwrap()
            .unwrap()
            .level,
        JobLevel::Differential
    );
    assert!(console_text(&s)
        .contains("  Backup Level:           Differential, since=2026-11-22 15:46:54\n"));
}

/// An FD that reports non-fatal errors (`2800 End Job TermCode=84 … Errors=1`) ends the job
/// `W`, "Backup OK -- with warnings".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fd_errors_give_warnings() {
    let (sd_port, sd) = replay::spawn(script("clear-backup-full", 2, "sd", FULL_JOB, vec![])).await;
    let port = (b"39203".to_vec(), sd_port.to_string().into_bytes());
    let mut fds = script("clear-backup-full", 3, "fd", FULL_JOB, vec![port]);
    for m in &mut fds.msgs {
        if m.i == 33 {
            let d = m.data.take().unwrap();
            m.data = Some(replay::replace(&d, b"Errors=0", b"Errors=1"));
        }
    }
    let (fd_port, fd) = replay::spawn(fds).await;
    let s = setup_with(fd_port, sd_port, "", fast_opts());
    let out = full_backup(&s, fd, sd).await;
    assert_eq!(out.status, JobStatus::Warnings);
    let report = out.report.unwrap();
    assert!(report.contains("  Non-fatal FD errors:    1\n"), "{report}");
    assert!(report.contains("  Termination:            Backup OK -- with warnings\n"));
    let c = s.engine.catalog();
    assert_eq!(
        c.lock().unwrap().job(1).unwrap().unwrap().status,
        JobStatus::Warnings
    );
    // A job that ended with warnings is a valid base for restores and Incrementals.
    assert!(c.lock().unwrap().job_is_restorable(1).unwrap());
}

/// `Maximum Bandwidth = 256 k/s` on the Job: `setbandwidth=262144 Job=…⏎` after
/// `getSecureEraseCmd`, answered `2000 OK Bandwidth⏎` (vectors/clear-cancel conn 3
/// msgs 24-25, spliced into clear-backup-full conn 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandwidth_limit_is_sent() {
    let (sd_port, sd) = replay::spawn(script("clear-backup-full", 2, "sd", FULL_JOB, vec![])).await;
    let port = (b"39203".to_vec(), sd_port.to_string().into_bytes());
    let mut fds = script("clear-backup-full", 3, "fd", FULL_JOB, vec![port]);
    let cancel_msgs = replay::messages("clear-cancel", 3);
    let bw: Vec<_> = cancel_msgs
        .into_iter()
        .filter(|m| m.i == 24 || m.i == 25)
        .map(|mut m| {
            let d = m.data.take().unwrap();
            m.data = Some(replay::replace(
                &d,
                b"CapSlowBackup.2026-11-22_16.46.10_11",
                FULL_JOB.as_bytes(),
            ));
            m.i += 1000;
            m
        })
        .collect();
    assert_eq!(bw.len(), 2);
    let pos = fds.msgs.iter().position(|m| m.i == 23).unwrap() + 1;
    fds.msgs.splice(pos..pos, bw);
    let (fd_port, fd) = replay::spawn(fds).await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir_config_edit(fd_port, sd_port, dir.path(), "", &|t| {
        t.replacen(
            "Priority = 10\n",
            "Priority = 10\n  Maximum Bandwidth = 256 k/s\n",
            1,
        )
    });
    let catalog = Catalog::open(&CatalogConfig::Sqlite {
        path: dir.path().join("catalog.db"),
    })
    .unwrap();
    let clock = Arc::new(VirtualClock::new(unix(2026, 11, 22, 15, 46, 52)));
    let engine = JobEngine::new(cfg, catalog, clock, fast_opts()).unwrap();
    let id = engine
        .run("CapBackup", None, RunOverrides::default())
        .await
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(60), engine.wait(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, JobStatus::Terminated, "{:?}", out.error);
    let fd = fd.await.unwrap();
    assert_replayed("FD with setbandwidth", &fd);
    assert_eq!(fd.matched, 14);
    assert_replayed("SD", &sd.await.unwrap());
}

/// A restore whose FD refuses the job fails with the FD's answer in the message and an error
/// report; the Job row is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_refused_by_fd_fails_cleanly() {
    let (sd_port, sd) = replay::spawn_many(vec![
        script("clear-backup-full", 2, "sd", FULL_JOB, vec![]),
        script("clear-restore", 2, "sd", RESTORE_JOB, vec![]),
    ])
    .await;
    let port = (b"39203".to_vec(), sd_port.to_string().into_bytes());
    let mut refuse = script("clear-restore", 3, "fd", RESTORE_JOB, vec![]);
    refuse.refuse_job = Some(b"2901 Bad Job\n".to_vec());
    let (fd_port, fd) = replay::spawn_many(vec![
        script("clear-backup-full", 3, "fd", FULL_JOB, vec![port]),
        refuse,
    ])
    .await;
    let s = setup_with(fd_port, sd_port, "", fast_opts());
    let id = s
        .engine
        .run("CapBackup", None, RunOverrides::default())
        .await
        .unwrap();
    assert_eq!(
        s.engine.wait(id).await.unwrap().status,
        JobStatus::Terminated
    );
    let id = s
        .engine
        .restore(RestoreRequest {
            job: None,
            client: "bareos-fd".into(),
            select: RestoreSelect::JobIds(vec![1]),
            fileset: None,
            where_: None,
            files: Some(vec!["/srv/bareos-capture/testdata/tree/hello.txt".into()]),
            replace: b'a',
        })
        .await
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(30), s.engine.wait(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status, JobStatus::FatalError);
    assert_eq!(
        out.error.as_deref(),
        Some("Client \"bareos-fd\" refused the job: 2901 Bad Job")
    );
    assert!(out
        .report
        .unwrap()
        .contains("  Termination:            *** Restore Error ***\n"));
    let r = s
        .engine
        .catalog()
        .lock()
        .unwrap()
        .job(id.into())
        .unwrap()
        .unwrap();
    assert_eq!(r.status, JobStatus::FatalError);
    assert_eq!(r.job_type, fd_core::wire::codes::JobType::Restore);
    // The selected single file gave a one-file bootstrap (Files Expected: 1).
    let text = console_text(&s);
    assert!(text.contains("  Files Expected:         1\n"), "{text}");
    let _ = (sd.await, fd.await);
}
