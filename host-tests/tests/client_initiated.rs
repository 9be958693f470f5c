//! Client-initiated connections (`Connection From Client To Director`) and robustness, with
//! barque-dir, barque-sd and barque-fd as processes on 127.0.0.1 (configurations from
//! `barque-dir --init`, edited):
//!
//! - the Director's Client has `Connection From Director To Client = no`, so every job must
//!   use a connection the FD opened; `status dir` lists the waiting connection; a backup and a
//!   restore run over it; the FD opens a spare connection when one is taken;
//! - `cancel` of a running job reaches the FD over its spare connection;
//! - with the FD gone, the waiting connection leaves the list and a job fails after `FD
//!   Connect Timeout` with a message that says why; the FD comes back and the next job runs;
//! - a job whose dial to the client fails waits for the client to dial in;
//! - `kill -9` of the Director, the FD and the SD in turn during a running backup: the job
//!   fails (or is lost with the Director), the daemon restarts, the FD reconnects, the next
//!   job succeeds and the volumes read back with barque-bls.
//!
//! See e2e.rs for how the binaries are found.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::*;

/// Director: the Client only dials in (heartbeat 5 s), jobs wait 10 s for it.
fn dir_conf(t: String) -> String {
    let client = "  Catalog = MyCatalog\n";
    let director = "  Messages = Daemon\n";
    assert!(t.contains(client) && t.contains(director), "{t}");
    t.replacen(
        client,
        "  Catalog = MyCatalog\n  Connection From Client To Director = yes\n  \
         Connection From Director To Client = no\n  Heartbeat Interval = 5\n",
        1,
    )
    .replacen(
        director,
        "  Messages = Daemon\n  FD Connect Timeout = 10 s\n",
        1,
    )
}

/// File daemon: dial the Director at `port`, heartbeat 5 s, a local log file.
fn fd_conf(t: String, work: &Path, port: u16) -> String {
    let director = "Director {\n  Name = barque-dir\n";
    let client = "  Messages = Standard\n";
    let messages = "  Director = barque-dir = all, !skipped, !restored\n";
    assert!(
        t.contains(director) && t.contains(client) && t.contains(messages),
        "{t}"
    );
    t.replacen(
        director,
        &format!(
            "{director}  Connection From Client To Director = yes\n  Address = 127.0.0.1\n  \
             Port = {port}\n"
        ),
        1,
    )
    .replacen(
        client,
        "  Messages = Standard\n  Heartbeat Interval = 5\n",
        1,
    )
    .replacen(
        messages,
        &format!(
            "{messages}  Append = \"{}\" = all, !skipped\n",
            work.join("log/fd-local.log").display()
        ),
        1,
    )
}

fn setup(tag: &str, cleartext: bool) -> Setup {
    setup_edited(tag, cleartext, &|t, _| t)
}

/// [`setup`] with a further edit of the Director's configuration (given the FD's port).
fn setup_edited(tag: &str, cleartext: bool, more: &dyn Fn(String, u16) -> String) -> Setup {
    // The ports are only known inside start_with (from the generated configuration); read
    // them back from there.
    let dir_port = |work: &Path| -> u16 {
        let dir = std::fs::read_to_string(work.join("etc/bareos-dir.conf")).expect("dir conf");
        dir.split("port = ")
            .nth(1)
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse().ok())
            .expect("Director port in the generated configuration")
    };
    let s = start_with(
        tag,
        cleartext,
        &|t| {
            // `DirAddresses = { ip = { addr = 127.0.0.1; port = N } }`: the FD is on N + 1.
            let port: u16 = t
                .split("port = ")
                .nth(1)
                .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|p| p.parse().ok())
                .expect("Director port");
            more(dir_conf(t), port + 1)
        },
        &|t, work| fd_conf(t, work, dir_port(work)),
    );
    wait_for(
        &s,
        "a waiting client-initiated connection",
        Duration::from_secs(60),
        || !waiting_clients(&s).is_empty(),
    );
    s
}

/// Wait for a job and return the output of `wait` and `messages`.
fn wait_job(s: &Setup, id: u32) -> String {
    console(s, &[&format!("wait jobid={id}"), "messages"])
}

fn volumes(s: &Setup) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(s.work.join("volumes"))
        .expect("volumes")
        .map(|e| e.expect("entry").path())
        .collect();
    v.sort();
    v
}

/// barque-bls lists the whole volume without errors.
fn assert_readable(s: &Setup, vol: &Path) {
    let out = Command::new(bin("barque-bls"))
        .arg(vol)
        .output()
        .expect("barque-bls");
    assert!(
        out.status.success(),
        "barque-bls {}: {}\n{}",
        vol.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = s;
}

#[test]
fn backup_restore_status_and_timeout_over_client_initiated_connections() {
    let mut s = setup("ci", false);
    let rows = waiting_clients(&s);
    assert_eq!(rows.len(), 1, "{rows:?}");
    // `22-Nov-26 15:48     54                  1                   barque-fd` (100 columns).
    let r = &rows[0];
    assert_eq!(r.len(), 100, "{r:?}");
    assert_eq!(r.get(20..40).map(str::trim_end), Some("54"), "{r:?}");
    assert_eq!(r.get(40..60).map(str::trim_end), Some("1"), "{r:?}");
    assert_eq!(r.get(60..).map(str::trim_end), Some("barque-fd"), "{r:?}");

    let (_, msgs) = run_and_wait(&s, "run job=DemoBackup level=Full yes");
    // As the captured Director: the probing line once, then the client-initiated line
    // instead of `Connected Client:`.
    let probing =
        msgs.find("Probing client protocol... (result will be saved until config reload)");
    let using = msgs.find("Using Client Initiated Connection (barque-fd).");
    assert!(
        matches!((probing, using), (Some(p), Some(u)) if p < u)
            && !msgs.contains("Connected Client:"),
        "{msgs}"
    );
    assert!(msgs.contains("Termination:            Backup OK"), "{msgs}");
    // The FD opened a spare connection when the first one was taken.
    wait_for(
        &s,
        "a spare waiting connection",
        Duration::from_secs(30),
        || waiting_clients(&s).len() == 1,
    );

    let target = s.work.join("restored");
    let msgs = restore_current(&s, &target);
    assert!(
        msgs.contains("Using Client Initiated Connection (barque-fd).")
            && !msgs.contains("Probing client protocol"),
        "{msgs}"
    );
    let rel = s.data.strip_prefix("/").expect("absolute");
    assert_same_tree(&s.data, &target.join(rel));

    // status client goes over a waiting connection too.
    let out = console(&s, &["status client=barque-fd"]);
    assert!(out.contains("barque-fd Version:"), "{out}");

    // cancel reaches the FD over the spare connection it opened when the job took the first.
    // The job runs past the FD's Heartbeat Interval (5 s) first, so the Director's job
    // channel has skipped the FD's heartbeats when the cancel ends it.
    let id = start_long_backup(&s, false);
    std::thread::sleep(Duration::from_secs(6));
    let out = console(&s, &[&format!("cancel jobid={id}")]);
    assert_cancel_replies(&out, id, &|| s.daemons.logs());
    let out = wait_job(&s, id);
    assert!(
        out.contains(&format!("JobId={id}\nJobStatus=Canceled (A)")),
        "{out}\n{}",
        s.daemons.logs()
    );
    std::fs::remove_file(s.data.join("sparse.img")).expect("rm");
    wait_for(
        &s,
        "a spare waiting connection",
        Duration::from_secs(30),
        || waiting_clients(&s).len() == 1,
    );

    // The FD's own log file (Messages Append) tells what it did.
    let local = std::fs::read_to_string(s.work.join("log/fd-local.log")).unwrap_or_default();
    assert!(
        local.contains(" barque-fd: Director barque-dir: connected, waiting for jobs"),
        "{local}"
    );

    // No FD: the waiting connection leaves the list, a job waits FD Connect Timeout (10 s)
    // and fails saying why.
    s.daemons.kill("fd");
    wait_for(
        &s,
        "the waiting connection dropped",
        Duration::from_secs(30),
        || waiting_clients(&s).is_empty(),
    );
    let id = queued_id(&console(&s, &["run job=DemoBackup level=Full yes"]));
    let out = wait_job(&s, id);
    assert!(
        !out.contains("JobStatus=OK (T)")
            && out.contains("no client-initiated connection arrived within 10 s")
            && out.contains("Connection From Client To Director = yes"),
        "{out}\n{}",
        s.daemons.logs()
    );
    // The FD comes back, dials in, and the next job runs.
    s.daemons.spawn("fd");
    wait_for(
        &s,
        "the FD dialling in again",
        Duration::from_secs(60),
        || waiting_clients(&s).len() == 1,
    );
    run_and_wait(&s, "run job=DemoBackup level=Incremental yes");
    for v in volumes(&s) {
        assert_readable(&s, &v);
    }

    // The Director goes away: the FD says so in its log file and retries, with back-off,
    // until the Director is back.
    s.daemons.kill("dir");
    let local_log = s.work.join("log/fd-local.log");
    wait_for(
        &s,
        "the FD's failed attempt in its log",
        Duration::from_secs(60),
        || {
            std::fs::read_to_string(&local_log)
                .unwrap_or_default()
                .contains(
                    " barque-fd: Error: Failed to connect to Director \"barque-dir\". Retry in",
                )
        },
    );
    s.daemons.spawn("dir");
    wait_port(s.port);
    wait_for(
        &s,
        "the FD back in the waiting list",
        Duration::from_secs(90),
        || waiting_clients(&s).len() == 1,
    );
    if std::env::var_os("BARQUE_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&s.work);
    }
}

#[test]
fn each_daemon_killed_during_a_client_initiated_backup() {
    let mut s = setup("ci-kill", true);
    run_and_wait(&s, "run job=DemoBackup level=Full yes");

    // Director: kill -9 mid-job and restart; the FD reconnects; the next job runs.
    start_long_backup(&s, false);
    s.daemons.kill("dir");
    s.daemons.spawn("dir");
    wait_port(s.port);
    wait_for(
        &s,
        "the FD reconnecting to the new Director",
        Duration::from_secs(90),
        || waiting_clients(&s).len() == 1,
    );
    std::fs::remove_file(s.data.join("sparse.img")).expect("rm");
    // The orphaned job ends on the FD and the SD (the FD's next heartbeat hits the closed
    // Director connection) and its volume is closed.
    wait_for(&s, "the SD idle", Duration::from_secs(180), || {
        console(&s, &["status storage=File"]).contains("No Jobs running.\n")
    });
    run_and_wait(&s, "run job=DemoBackup level=Full yes");

    // File daemon: the job fails cleanly, the FD restarts and dials in, the next job runs.
    let id = start_long_backup(&s, false);
    s.daemons.kill("fd");
    let out = wait_job(&s, id);
    assert!(
        !out.contains("JobStatus=OK (T)") && out.contains(&format!("JobId={id}\nJobStatus=")),
        "{out}\n{}",
        s.daemons.logs()
    );
    std::fs::remove_file(s.data.join("sparse.img")).expect("rm");
    s.daemons.spawn("fd");
    wait_for(
        &s,
        "the FD dialling in again",
        Duration::from_secs(60),
        || waiting_clients(&s).len() == 1,
    );
    run_and_wait(&s, "run job=DemoBackup level=Full yes");
    wait_for(&s, "the SD idle", Duration::from_secs(60), || {
        console(&s, &["status storage=File"]).contains("No Jobs running.\n")
    });
    let before: Vec<PathBuf> = volumes(&s);
    for v in &before {
        assert_readable(&s, v);
    }

    // Storage daemon: the job fails, the SD restarts, the next job runs on a new volume.
    let id = start_long_backup(&s, false);
    s.daemons.kill("sd");
    let out = wait_job(&s, id);
    assert!(
        !out.contains("JobStatus=OK (T)") && out.contains(&format!("JobId={id}\nJobStatus=")),
        "{out}\n{}",
        s.daemons.logs()
    );
    std::fs::remove_file(s.data.join("sparse.img")).expect("rm");
    s.daemons.spawn("sd");
    wait_port(s.port + 2);
    wait_for(
        &s,
        "a waiting FD connection",
        Duration::from_secs(60),
        || waiting_clients(&s).len() == 1,
    );
    run_and_wait(&s, "run job=DemoBackup level=Full yes");
    // The volumes written before the SD died are intact, and so is the newest one.
    for v in &before {
        assert_readable(&s, v);
    }
    let newest = volumes(&s).pop().expect("a volume");
    assert!(!before.contains(&newest));
    assert_readable(&s, &newest);
    if std::env::var_os("BARQUE_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&s.work);
    }
}

#[test]
fn a_job_that_cannot_dial_the_client_waits_for_it_to_dial_in() {
    // The Director may dial the client too, but nothing listens where its Client points: the
    // job dials (and fails), then waits FD Connect Timeout for the FD, which starts late.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut s = setup_edited("ci-fallback", true, &move |t: String, fd_port: u16| {
        let client_port = format!("  Port = {fd_port}\n");
        assert!(t.contains(&client_port), "{t}");
        t.replacen(&client_port, &format!("  Port = {closed}\n"), 1)
            .replacen(
                "Connection From Director To Client = no",
                "Connection From Director To Client = yes",
                1,
            )
            .replacen("FD Connect Timeout = 10 s", "FD Connect Timeout = 120 s", 1)
    });
    s.daemons.kill("fd");
    wait_for(
        &s,
        "the waiting connection dropped",
        Duration::from_secs(30),
        || waiting_clients(&s).is_empty(),
    );
    let id = queued_id(&console(&s, &["run job=DemoBackup level=Full yes"]));
    // Once the dial has failed (after its retries), the FD comes up and dials in.
    wait_for(
        &s,
        "the job waiting for the client",
        Duration::from_secs(120),
        || {
            std::fs::read_to_string(s.work.join("log/dir.out"))
                .unwrap_or_default()
                .contains("waiting up to 120 s for client barque-fd to connect")
        },
    );
    s.daemons.spawn("fd");
    let out = wait_job(&s, id);
    assert!(
        out.contains(&format!("JobId={id}\nJobStatus=OK (T)"))
            && out.contains("Using Client Initiated Connection (barque-fd)."),
        "{out}\n{}",
        s.daemons.logs()
    );
    if std::env::var_os("BARQUE_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&s.work);
    }
}
