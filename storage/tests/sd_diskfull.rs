//! A full file system under the device: the job writing when space runs out fails with a
//! message naming the volume, the device and the fix; no torn block is left on the volume;
//! everything written before stays readable (barque-bls); the daemon keeps serving and the
//! next job, once space was freed, appends to the same volume.
//!
//! The archive directory is an 8 MiB tmpfs (`mount -t tmpfs -o size=8m`, needs root). Where
//! mounting is not permitted the test says so on stderr and limits the daemon's file size
//! instead (`ulimit -f` in bash with SIGXFSZ ignored, so writes past it fail with EFBIG;
//! `BARQUE_TEST_NO_MOUNT=1` forces that fallback).

mod sd_harness;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fd_core::wire::bnet::{Frame, Signal};
use fd_core::wire::sd_ctl::SdToDir;
use sd_harness::*;
use storage::volume::{intact_length, RecordReader};

const BIN: &str = env!("CARGO_BIN_EXE_barque-sd");
const BLS: &str = env!("CARGO_BIN_EXE_barque-bls");
const LIMIT: u64 = 8 * 1024 * 1024;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Unmounts the tmpfs when the test ends (also on panic).
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn mount_small(dir: &Path) -> Option<Mounted> {
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
        .arg(dir)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| Mounted(dir.to_path_buf()))
}

fn spawn(conf: &Path, rlimit: bool) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut cmd = if rlimit {
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg(format!(
                "trap '' XFSZ; ulimit -f {}; exec \"$0\" -f -c \"$1\"",
                LIMIT / 1024
            ))
            .arg(BIN)
            .arg(conf);
        c
    } else {
        let mut c = Command::new(BIN);
        c.arg("-f").arg("-c").arg(conf);
        c
    };
    let mut child = cmd
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    loop {
        let l = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("barque-sd did not start: {seen:?}"));
        let done = l.contains("listening on");
        seen.push(l);
        if done {
            break;
        }
    }
    (child, rx)
}

#[test]
fn test_disk_full_fails_cleanly_and_next_job_appends() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("storage");
    std::fs::create_dir(&archive).unwrap();
    // BARQUE_TEST_NO_MOUNT=1 exercises the fallback where root could mount.
    let mounted = if std::env::var_os("BARQUE_TEST_NO_MOUNT").is_some() {
        None
    } else {
        mount_small(&archive)
    };
    let rlimit = mounted.is_none();
    if rlimit {
        eprintln!(
            "*** sd_diskfull: cannot mount a tmpfs on {} (not root?); falling back to a file \
             size limit (RLIMIT_FSIZE, EFBIG) instead of a full file system (ENOSPC) ***",
            archive.display()
        );
    }
    let port = free_port();
    let text = sd_config_text(&archive, false)
        .replace("port = 39203", &format!("port = {port}"))
        .replace(
            "  Always Open = no\n",
            "  Always Open = no\n  Maximum Block Size = 65536\n",
        );
    let conf = dir.path().join("bareos-sd.conf");
    std::fs::write(&conf, text).unwrap();
    let vol = archive.join("Cap-0001");
    let filler = archive.join("filler");
    let (mut child, _log) = spawn(&conf, rlimit);
    let mut cat = Catalog::new("Cap-0001");
    rt.block_on(async {
        let (seen, _, _) =
            backup_on(port, false, &mut cat, 1, "CapBackup.2026-11-22_15.46.52_03").await;
        assert!(show(seen.last().unwrap()).contains("end JobStatus=84 "));
    });
    let after_job1 = std::fs::metadata(&vol).unwrap().len();
    // Take 2 MiB of the file system, to be freed later.
    if !rlimit {
        std::fs::write(&filler, vec![7u8; 2 << 20]).unwrap();
    }

    // Job 2 sends 12 MB: more than fits.
    let seen = rt.block_on(async {
        let mut d = connect_dir(port, false).await;
        let job = "CapBackup.2026-11-22_16.00.00_04";
        let line = show(&cap_msg("clear-backup-full", 2, 9))
            .replace("JobId=1 ", "JobId=2 ")
            .replace("CapBackup.2026-11-22_15.46.52_03", job);
        let (id, _, key, _) = define_job(&mut d, line.as_bytes(), true).await;
        let mut fd = connect_fd(port, job, &key, false).await.unwrap();
        d.send(b"run").await.unwrap();
        let fd_task = tokio::spawn(async move {
            fd.send(b"append open session\n").await.unwrap();
            recv_data(&mut fd).await;
            fd.send(format!("append data {id}\n").as_bytes())
                .await
                .unwrap();
            assert_eq!(recv_data(&mut fd).await, b"3000 OK data\n");
            let _ = fd.send(b"1 1 0").await;
            let _ = fd.send(&cap_msg("clear-backup-full", 4, 13)).await;
            let _ = fd.signal(Signal::Eod).await;
            let _ = fd.send(b"1 2 0").await;
            for k in 0..240u32 {
                if fd.send(&vec![(k % 251) as u8; 50_000]).await.is_err() {
                    break;
                }
            }
            let _ = fd.signal(Signal::Eod).await;
            let _ = fd.signal(Signal::Eod).await;
            // The SD answers the failed append; read until it closes.
            let mut replies = Vec::new();
            while let Ok(Ok(Frame::Data(m))) =
                tokio::time::timeout(Duration::from_secs(60), fd.recv()).await
            {
                replies.push(show(m));
            }
            replies
        });
        let seen = finish_job(&mut d, &mut cat).await;
        let replies = fd_task.await.unwrap();
        assert!(
            replies.iter().any(|r| r.contains("3999 Failed append")),
            "{replies:?}"
        );
        seen
    });
    let texts: Vec<String> = seen
        .iter()
        .filter_map(|m| match SdToDir::parse(m) {
            Ok(SdToDir::Jmsg(j)) => Some(show(j.text)),
            _ => None,
        })
        .collect();
    let fatal = texts
        .iter()
        .find(|t| t.contains("Fatal error:"))
        .unwrap_or_else(|| panic!("no fatal message: {texts:#?}"));
    assert!(fatal.contains("Volume \"Cap-0001\""), "{fatal}");
    assert!(fatal.contains("device \"FileStorage\""), "{fatal}");
    assert!(
        fatal.contains(&format!("Free space in {}", archive.display())),
        "{fatal}"
    );
    let expect = if rlimit {
        "File too large"
    } else {
        "No space left"
    };
    assert!(fatal.contains(expect), "{fatal}");
    eprintln!("the job's fatal message: {fatal}");
    assert!(
        show(seen.last().unwrap()).contains("end JobStatus=102 "),
        "{}",
        show(seen.last().unwrap())
    );
    // No torn block: the file ends after a whole block.
    let len = std::fs::metadata(&vol).unwrap().len();
    let (good, err) = intact_length(std::fs::File::open(&vol).unwrap());
    assert_eq!(good, len, "torn block left: {err:?}");
    assert!(len > after_job1 + 4 * 65536, "job 2 wrote only {len} bytes");
    // Everything before is readable: job 1 whole, job 2's blocks.
    let bytes = std::fs::read(&vol).unwrap();
    let recs: Vec<_> = RecordReader::new(bytes.as_slice())
        .filter_map(Result::ok)
        .collect();
    assert!(recs.iter().filter(|r| r.vol_session_id == 1).count() >= 8);
    let bls = Command::new(BLS).arg("-j").arg(&vol).output().unwrap();
    let listing = show(&bls.stdout);
    assert!(listing.contains("Begin Job Session"), "{listing}");
    assert!(listing.contains("End Job Session"), "{listing}");

    // The daemon still serves; with space freed, job 3 appends to the same volume.
    if rlimit {
        // The limit cannot be lifted in the running daemon: restart it without one.
        child.kill().unwrap();
        child.wait().unwrap();
        let (c, _l) = spawn(&conf, false);
        child = c;
    } else {
        std::fs::remove_file(&filler).unwrap();
    }
    let job3 = rt.block_on(async {
        let (seen, id, time) =
            backup_on(port, false, &mut cat, 3, "CapBackup.2026-11-22_17.00.00_05").await;
        assert!(
            show(seen.last().unwrap()).contains("end JobStatus=84 JobFiles=6 JobBytes=1062"),
            "{}",
            show(seen.last().unwrap())
        );
        (id, time)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let bytes = std::fs::read(&vol).unwrap();
    let (good, _) = intact_length(bytes.as_slice());
    assert_eq!(good, bytes.len() as u64);
    let sessions: std::collections::BTreeSet<(u32, u32)> = RecordReader::new(bytes.as_slice())
        .filter_map(Result::ok)
        .map(|r| (r.vol_session_id, r.vol_session_time))
        .collect();
    assert!(sessions.contains(&job3), "{sessions:?}");
    drop(mounted);
}
