//! `kill -9` of each daemon in turn during **passive** backups (`Passive = yes` in the
//! Director's Client resource: the SD dials the FD, over TLS-PSK with the job's identity), with
//! barque-dir, barque-sd and barque-fd as processes on 127.0.0.1 (configurations from
//! `barque-dir --init`, edited). client_initiated.rs does the same for client-initiated jobs.
//!
//! For each daemon: a long passive backup runs, the daemon is killed, the job ends without
//! `T` in the catalog (for the Director: the restarted Director marks the orphaned job `f`
//! and says why in the job log, as Bareos' `CheckCatalog` does), the daemon restarts and
//! serves, the next passive job succeeds. At the end every volume reads back with barque-bls
//! and lists every job that ended `T`.
//!
//! See e2e.rs for how the binaries are found.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::*;

/// Director: the Client is passive; heartbeat 2 s, so the orphaned job of a killed Director
/// ends quickly on the FD.
fn dir_conf(t: String) -> String {
    let client = "  Catalog = MyCatalog\n";
    assert!(t.contains(client), "{t}");
    t.replacen(
        client,
        "  Catalog = MyCatalog\n  Passive = yes\n  Heartbeat Interval = 2\n",
        1,
    )
}

/// File daemon: heartbeat 2 s.
fn fd_conf(t: String) -> String {
    let client = "  Messages = Standard\n";
    assert!(t.contains(client), "{t}");
    t.replacen(
        client,
        "  Messages = Standard\n  Heartbeat Interval = 2\n",
        1,
    )
}

/// A passive backup that must end OK; returns its JobId.
fn passive_backup(s: &Setup) -> u32 {
    let (id, out) = run_and_wait(s, "run job=DemoBackup level=Full yes");
    assert!(
        out.contains("Connected File Daemon at 127.0.0.1:"),
        "not a passive job (the SD did not dial the FD):\n{out}"
    );
    id
}

/// The catalog's JobStatus letter of `id` (`llist jobs`).
fn catalog_status(s: &Setup, id: u32) -> Option<char> {
    let out = console(s, &["llist jobs"]);
    out.split("\n\n")
        .find(|row| {
            row.lines()
                .any(|l| l.trim() == format!("jobid: {id}") || l.trim() == format!("JobId: {id}"))
        })?
        .lines()
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix("jobstatus: ")
                .or_else(|| l.strip_prefix("JobStatus: "))
        })?
        .chars()
        .next()
}

fn assert_failed(s: &Setup, id: u32, who: &str) {
    let out = console(s, &[&format!("wait jobid={id}"), "messages"]);
    assert!(
        !out.contains("JobStatus=OK (T)"),
        "{who} killed: job {id} ended OK?\n{out}\n{}",
        s.daemons.logs()
    );
    let st = catalog_status(s, id);
    assert!(
        st.is_some_and(|c| c != 'T' && c != 'R' && c != 'C'),
        "{who} killed: job {id} has catalog status {st:?}\n{}\n{}",
        console(s, &["llist jobs"]),
        s.daemons.logs()
    );
}

fn volumes(s: &Setup) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(s.work.join("volumes"))
        .expect("volumes")
        .map(|e| e.expect("entry").path())
        .collect();
    v.sort();
    v
}

/// barque-bls `-j` of one volume: (exit status OK, its output).
fn bls_jobs(vol: &Path) -> (bool, String) {
    let out = Command::new(bin("barque-bls"))
        .arg("-j")
        .arg(vol)
        .output()
        .expect("barque-bls");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn rm_sparse(s: &Setup) {
    std::fs::remove_file(s.data.join("sparse.img")).expect("rm");
}

fn sd_idle(s: &Setup) {
    wait_for(s, "the SD idle", Duration::from_secs(180), || {
        console(s, &["status storage=File"]).contains("No Jobs running.\n")
    });
}

#[test]
fn each_daemon_killed_during_a_passive_backup() {
    let mut s = start_with("passive-kill", false, &dir_conf, &|t, _| fd_conf(t));
    let mut ok = vec![passive_backup(&s)];

    // Director: kill -9 mid-job and restart. The new Director marks the orphaned job failed
    // (with a job log line); the FD and SD end it (the FD's heartbeat hits the dead Director
    // connection); the next passive job runs.
    let id = start_long_backup(&s, true);
    s.daemons.kill("dir");
    s.daemons.spawn("dir");
    wait_port(s.port);
    assert_eq!(
        catalog_status(&s, id),
        Some('f'),
        "{}\n{}",
        console(&s, &["llist jobs"]),
        s.daemons.logs()
    );
    rm_sparse(&s);
    sd_idle(&s);
    ok.push(passive_backup(&s));

    // File daemon: the job fails, the FD restarts, the next passive job runs.
    let id = start_long_backup(&s, true);
    s.daemons.kill("fd");
    assert_failed(&s, id, "FD");
    rm_sparse(&s);
    s.daemons.spawn("fd");
    wait_port(s.port + 1);
    sd_idle(&s);
    ok.push(passive_backup(&s));

    // Storage daemon: the job fails, the SD restarts, the next passive job runs.
    let before = volumes(&s);
    let id = start_long_backup(&s, true);
    s.daemons.kill("sd");
    // The volume the SD was writing when it died (it ends inside a record).
    let cut: Vec<PathBuf> = volumes(&s)
        .into_iter()
        .filter(|v| !before.contains(v))
        .collect();
    assert_failed(&s, id, "SD");
    rm_sparse(&s);
    s.daemons.spawn("sd");
    wait_port(s.port + 2);
    ok.push(passive_backup(&s));

    // No job is left running in the catalog, and every volume reads back listing every job
    // that ended OK.
    let list = console(&s, &["llist jobs"]);
    assert!(
        !list.contains("jobstatus: R") && !list.contains("jobstatus: C"),
        "{list}"
    );
    let mut bls = String::new();
    for vol in volumes(&s) {
        let (clean, text) = bls_jobs(&vol);
        if cut.contains(&vol) {
            // Cut off by kill -9: everything up to the cut reads, the cut is reported.
            assert!(
                text.contains(&format!("JobId={id}")) && text.contains("volume ends inside record"),
                "{}: {text}",
                vol.display()
            );
        } else {
            assert!(clean, "barque-bls -j {}: {text}", vol.display());
        }
        bls.push_str(&text);
    }
    for id in &ok {
        assert!(
            bls.lines()
                .any(|l| l.starts_with("Begin Job Session Record:")
                    && l.ends_with(&format!(" JobId={id}"))),
            "job {id} is on no volume:\n{bls}"
        );
    }
    if std::env::var_os("BARQUE_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&s.work);
    }
}
