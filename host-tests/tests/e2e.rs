//! The whole system on one machine: barque-dir, barque-sd and barque-fd started as processes on
//! 127.0.0.1 with configurations made by `barque-dir --init`, driven by barque-console (and
//! python-bareos) as a user would.
//!
//! Each scenario: a sample tree (files, a 2 MB file, a symlink, nested and empty directories,
//! a mode 0640 file); a Full backup; then a file changed, one added, one deleted; an
//! Incremental whose `list files jobid=` must be exactly the changed entries; a restore of
//! `current` into a new directory, which must equal the current tree (contents, modes,
//! symlink targets, mtimes of files and directories). Run with TLS-PSK (the generated
//! configuration has no TLS directives, so Bareos' default applies) and in cleartext.
//!
//! # Binaries
//!
//! Cargo only gives a test the binaries of its own package (`CARGO_BIN_EXE_*`); other
//! packages' binaries would need artifact dependencies, which are unstable. These tests use
//! the `barque-dir`, `barque-sd`, `barque-fd` and `barque-console` that `cargo build` put
//! next to the test executable's directory (`target/<profile>/`); scripts/test runs
//! `cargo build --workspace --all-targets` before `cargo test`. A missing binary fails the
//! test with that instruction (set `BARQUE_BIN_DIR` to use other binaries).

#[path = "../../director/tests/common/pg.rs"]
mod pg;

mod support;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use support::*;

fn full_incremental_restore(s: &Setup) {
    let d = &s.data;
    // Full.
    let (full, msgs) = run_and_wait(s, "run job=DemoBackup level=Full yes");
    assert!(msgs.contains("Termination:            Backup OK"), "{msgs}");
    // The job's messages stay in the catalog: `list joblog` prints them raw, each line the
    // time and the message (Bareos' RAW_LIST).
    let log = console(s, &[&format!("list joblog jobid={full}")]);
    assert!(log.contains("Termination:            Backup OK"), "{log}");
    assert!(
        log.lines()
            .any(|l| l.starts_with(" 20") && l.contains(&format!(" JobId {full}: "))),
        "{log}"
    );
    let none = console(s, &["list joblog jobid=999999"]);
    assert!(none.contains("jobid not found in db"), "{none}");
    let got = listed_files(s, full);
    assert_eq!(got, TREE_FULL_FILES, "list files of the Full");

    change_tree(d);

    let (incr, _) = run_and_wait(s, "run job=DemoBackup level=Incremental yes");
    let got = listed_files(s, incr);
    // The changed file, the added file and the two directories whose entries changed.
    assert_eq!(
        got,
        ["hello.txt", "sub/", "sub/added.txt", "sub/deep/"],
        "the Incremental must hold exactly the changed entries"
    );
    let vols = console(s, &["list volumes"]);
    // One volume per job (Maximum Volume Jobs = 1), auto-labelled by the Pool's Label Format.
    assert!(
        vols.contains("| Vol-0001   | Used      |") && vols.contains("| Vol-0002   |"),
        "{vols}"
    );
    let jobs = console(s, &["list jobs"]);
    assert!(
        jobs.contains(&format!("| {incr} | DemoBackup | barque-fd |"))
            || jobs.contains(&format!("|     {incr} | DemoBackup | barque-fd |")),
        "{jobs}"
    );

    // Restore `current` (Full + Incremental, accurate: the deleted file stays deleted).
    let target = s.work.join("restored");
    restore_current(s, &target);
    let rel = d.strip_prefix("/").expect("absolute");
    assert_same_tree(d, &target.join(rel));

    // A Differential after the Incremental holds everything changed since the Full, the
    // Incremental's entries too (its accurate list is the Full's alone), and a restore of
    // `current` is then Full + Differential.
    change_after_incremental(d);
    let (diff, msgs) = run_and_wait(s, "run job=DemoBackup level=Differential yes");
    assert!(
        msgs.contains("Backup Level:           Differential"),
        "{msgs}"
    );
    let got = listed_files(s, diff);
    assert_eq!(
        got,
        [
            "hello.txt",
            "sub/",
            "sub/added.txt",
            "sub/deep/",
            "sub/deep/stay.txt"
        ],
        "the Differential must hold exactly the entries changed since the Full"
    );
    let target = s.work.join("restored-diff");
    restore_current(s, &target);
    assert_same_tree(d, &target.join(rel));
}

#[test]
fn full_incremental_restore_tls_psk() {
    let s = start("psk", false, &|t| t);
    let out = console(&s, &["version"]);
    assert!(out.contains("Encryption: TLS"), "console not on TLS: {out}");
    full_incremental_restore(&s);
    let st = console(&s, &["status dir"]);
    assert!(
        st.contains("\nTerminated Jobs:\n")
            && st.contains("  Full     ")
            && st.contains("  Incr     ")
            && st.contains(" DemoBackup\n")
            && st.contains(" DemoRestore\n")
            && st.contains("  Diff     ")
            && st.contains(". Jobs: run=5, running=0 db:sqlite3, "),
        "{st}"
    );
    // The jobs went over TLS-PSK to both daemons.
    let log = std::fs::read_to_string(s.work.join("log/barque.log")).unwrap_or_default();
    assert!(
        log.contains("Connected Client: barque-fd") && log.contains("encryption: TLS"),
        "{log}"
    );
    let _ = std::fs::remove_dir_all(&s.work);
}

#[test]
fn full_incremental_restore_cleartext() {
    let s = start("clear", true, &|t| t);
    let out = console(&s, &["version"]);
    assert!(out.contains("Encryption: None"), "{out}");
    full_incremental_restore(&s);
    // A restore narrowed to a directory and a file (`directory=`, `file=`).
    let target = s.work.join("restored-part");
    let d = &s.data;
    let out = console(
        &s,
        &[&format!(
            "restore client=barque-fd fileset=DemoSet where={} directory={}/sub file={}/hello.txt \
             current yes",
            target.display(),
            d.display(),
            d.display()
        )],
    );
    assert!(
        out.contains("You have selected the following JobIds: ")
            && out.contains(" files selected to be restored."),
        "{out}"
    );
    let id = queued_id(&out);
    let w = console(&s, &[&format!("wait jobid={id}")]);
    assert!(w.contains("JobStatus=OK (T)"), "{w}\n{}", s.daemons.logs());
    let rel = d.strip_prefix("/").expect("absolute");
    assert_same_tree(&d.join("sub"), &target.join(rel).join("sub"));
    assert_eq!(
        std::fs::read(target.join(rel).join("hello.txt")).expect("hello restored"),
        std::fs::read(d.join("hello.txt")).expect("hello")
    );
    let top: Vec<String> = std::fs::read_dir(target.join(rel))
        .expect("restored dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    let mut top = top;
    top.sort();
    assert_eq!(top, ["hello.txt", "sub"], "only the selection is restored");
    let _ = std::fs::remove_dir_all(&s.work);
}

#[test]
fn estimate_status_and_cancel_unknown_job() {
    let s = start("estimate", true, &|t| t);
    let out = console(&s, &["estimate job=DemoBackup level=Full listing"]);
    assert!(out.contains("2000 OK estimate files=11 bytes="), "{out}");
    assert!(out.contains("big.bin"), "{out}");
    assert!(
        out.contains("Using Catalog \"MyCatalog\"\nConnecting to Client barque-fd at 127.0.0.1:"),
        "{out}"
    );
    let out = console(&s, &["cancel jobid=99"]);
    assert!(out.contains("JobId 99 is not running."), "{out}");
    // Status of the File and Storage daemons, forwarded through the Director.
    let out = console(&s, &["status client=barque-fd", "status storage=File"]);
    assert!(
        out.contains("Connecting to Client barque-fd at 127.0.0.1:")
            && out.contains("Connecting to Storage daemon File at 127.0.0.1:"),
        "{out}"
    );
    assert!(
        out.contains("barque-fd Version:"),
        "no FD status text: {out}"
    );
    assert!(out.contains("Device status:"), "no SD status text: {out}");
    let _ = std::fs::remove_dir_all(&s.work);
}

/// Certificate TLS (CA-signed certificates, `TLS Verify Peer = yes` everywhere, the PSK still
/// configured) on every connection: console, Director → FD, Director → SD and the FD's data
/// connection to the SD, where barque-sd asks the FD for its certificate (barque-fd presents
/// its Client resource's, as Bareos' FD does). A Full and a restore of it.
#[test]
fn certificate_tls_on_every_connection() {
    certificate_tls_backup_and_restore(start_with_certificates("certs", &|t| t));
}

/// The same with a passive client: barque-sd dials barque-fd and presents the certificate of
/// its own Storage resource (bareos-sd's `PassiveCmd()` hands its own resource to the TLS
/// handshake), which barque-fd verifies.
#[test]
fn certificate_tls_passive_client() {
    let s = start_with_certificates("certs-passive", &|t| {
        let client = "  Catalog = MyCatalog\n}";
        assert!(t.contains(client), "generated Client changed:\n{t}");
        t.replacen(client, "  Catalog = MyCatalog\n  Passive = yes\n}", 1)
    });
    certificate_tls_backup_and_restore(s);
}

fn certificate_tls_backup_and_restore(s: Setup) {
    let out = console(&s, &["version"]);
    assert!(
        out.contains("Encryption: TLS_AES_256_GCM_SHA384 TLSv1.3"),
        "console not on certificate TLS: {out}"
    );
    let (_, msgs) = run_and_wait(&s, "run job=DemoBackup level=Full yes");
    for want in [
        "Termination:            Backup OK",
        "Connected Storage daemon at 127.0.0.1:",
        "Connected Client: barque-fd at 127.0.0.1:",
        " Encryption: TLS_AES_256_GCM_SHA384 TLSv1.3",
    ] {
        assert!(msgs.contains(want), "missing {want:?}:\n{msgs}");
    }
    assert!(
        !msgs.contains("CHACHA20"),
        "a connection fell back to TLS-PSK:\n{msgs}"
    );
    let target = s.work.join("restored");
    restore_current(&s, &target);
    let d = &s.data;
    assert_same_tree(d, &target.join(d.strip_prefix("/").expect("absolute")));
    let _ = std::fs::remove_dir_all(&s.work);
}

#[test]
fn cancel_a_running_backup() {
    let s = start("cancel", true, &|t| t);
    // A 4 GB sparse file keeps the job busy for a while.
    let f = std::fs::File::create(s.data.join("sparse.img")).expect("create");
    f.set_len(4 << 30).expect("truncate");
    drop(f);
    let out = console(&s, &["run job=DemoBackup level=Full yes"]);
    let id = queued_id(&out);
    std::thread::sleep(Duration::from_millis(1500));
    let out = console(&s, &[&format!("cancel jobid={id}")]);
    assert_cancel_replies(&out, id, &|| s.daemons.logs());
    let out = console(&s, &[&format!("wait jobid={id}"), "list jobs"]);
    assert!(
        out.contains(&format!("JobId={id}\nJobStatus=Canceled (A)")),
        "{out}\n{}",
        s.daemons.logs()
    );
    // The daemons are still usable afterwards.
    std::fs::remove_file(s.data.join("sparse.img")).expect("rm");
    run_and_wait(&s, "run job=DemoBackup level=Full yes");
    let _ = std::fs::remove_dir_all(&s.work);
}

#[test]
fn full_incremental_restore_postgresql() {
    let server = pg::PgServer::start().unwrap_or_else(|e| panic!("PostgreSQL: {e}"));
    server.create_db("barque_e2e").expect("create database");
    let p = server.params("barque_e2e");
    let sqlite =
        "Catalog {\n  Name = MyCatalog\n  DB Name = \"barque\"\n  DB User = \"barque\"\n  \
                  DB Password = \"\"\n}\n";
    let pg = format!(
        "Catalog {{\n  Name = MyCatalog\n  DB Name = \"{}\"\n  DB User = \"{}\"\n  \
         DB Password = \"{}\"\n  DB Address = \"{}\"\n  DB Port = {}\n}}\n",
        p.dbname, p.user, p.password, p.host, p.port
    );
    let s = start("pg", false, &|t: String| {
        assert!(
            t.contains(sqlite),
            "generated Catalog resource changed:\n{t}"
        );
        t.replace(sqlite, &pg)
    });
    full_incremental_restore(&s);
    // The rows are in PostgreSQL, not in an SQLite file.
    assert!(!s.work.join("state/dir/barque.db").exists());
    let mut c = postgres::Config::new()
        .host(&p.host)
        .port(p.port)
        .user(&p.user)
        .password(&p.password)
        .dbname(&p.dbname)
        .connect(postgres::NoTls)
        .expect("connect");
    let n: i64 = c
        .query_one("SELECT count(*) FROM Job WHERE JobStatus = 'T'", &[])
        .expect("count")
        .get(0);
    assert_eq!(n, 5, "Full, Incremental, Restore, Differential, Restore");
    drop(s);
    drop(server);
}

#[test]
fn python_bareos_json_list_jobs() {
    let s = start("python", false, &|t| t);
    let (id, _) = run_and_wait(&s, "run job=DemoBackup level=Full yes");
    let conf = std::fs::read_to_string(s.work.join("etc/bconsole.conf")).expect("bconsole");
    let password = conf
        .lines()
        .find_map(|l| l.trim().strip_prefix("Password = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("password");
    let script = r#"
import json, sys, warnings
warnings.simplefilter("error", UserWarning)
from bareos.bsock import DirectorConsoleJson
from bareos.util.password import Password
c = DirectorConsoleJson(address="127.0.0.1", port=int(sys.argv[1]), password=Password(sys.argv[2]),
                        tls_psk_enable=True, tls_psk_require=True)
run = c.call("run job=DemoBackup level=Full yes")
jobid = run["run"]["jobid"]
c.call("wait jobid=" + jobid)
print(json.dumps({"run": run, "list": c.call("list jobs"), "log": c.call("list joblog jobid=" + jobid)}))
"#;
    let out = Command::new(python())
        .args(["-c", script, &s.port.to_string(), password])
        .output()
        .expect("python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python-bareos failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // {"jobs": [{"jobid": "1", "name": "DemoBackup", ..., "jobstatus": "T"}]}
    let want = format!("\"jobid\": \"{id}\", \"name\": \"DemoBackup\", \"client\": \"barque-fd\"");
    assert!(stdout.contains(&want), "{stdout}");
    assert!(stdout.contains("\"jobstatus\": \"T\""), "{stdout}");
    // The job started through python-bareos: {"run": {"jobid": "2"}}, listed as well.
    // {"log": {"joblog": [{"time": "…", "logtext": "… Termination: … Backup OK …"}, …]}}
    assert!(
        stdout.contains("\"log\": {\"joblog\": [{\"time\": \""),
        "{stdout}"
    );
    assert!(stdout.contains("Backup OK"), "{stdout}");
    let second = format!("\"run\": {{\"run\": {{\"jobid\": \"{}\"}}}}", id + 1);
    assert!(stdout.contains(&second), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "\"jobid\": \"{}\", \"name\": \"DemoBackup\"",
            id + 1
        )),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&s.work);
}

/// bconsole's `label`, `mount`, `unmount` and `release` through barque-dir to barque-sd: the
/// SD's replies reach the console, the label creates the catalog record, and the next
/// backup writes to the volume labelled by hand.
#[test]
fn label_mount_unmount_release_from_the_console() {
    let s = start("label", true, &|t| t);
    let vol = s.work.join("volumes/Manual-0001");
    let out = console(&s, &["label storage=File volume=Manual-0001 pool=Full"]);
    assert!(
        out.contains("Sending label command for Volume \"Manual-0001\" Slot 0 ...")
            && out.contains("3000 OK label. VolFiles=0 VolBytes=")
            && out.contains(
                "Catalog record for Volume \"Manual-0001\", Slot 0 successfully created."
            )
            && out.contains("Requesting to mount FileStorage ...")
            && out.contains("3906 File device \"FileStorage\" ("),
        "{out}\n{}",
        s.daemons.logs()
    );
    let size = std::fs::metadata(&vol)
        .unwrap_or_else(|e| panic!("{}: {e}\n{out}", vol.display()))
        .len();
    assert!(
        out.contains(&format!("VolBytes={size} Volume=\"Manual-0001\"")),
        "{out}"
    );
    let vols = console(&s, &["list volumes"]);
    assert!(vols.contains("| Manual-0001 | Append    |"), "{vols}");
    // Labelling it again is refused by the Director.
    let again = console(&s, &["label storage=File volume=Manual-0001 pool=Full"]);
    assert!(
        again.contains("Media record for new Volume \"Manual-0001\" already exists."),
        "{again}"
    );
    for (cmd, want) in [
        ("mount storage=File", "3906 File device \"FileStorage\" ("),
        ("unmount storage=File", "3901 Device \"\"FileStorage\" ("),
        ("release storage=File", "3921 Device \"\"FileStorage\" ("),
    ] {
        let out = console(&s, &[cmd]);
        assert!(out.contains(want), "{cmd}: {out}");
    }
    // The next backup appends to the volume labelled from the console.
    let (_, msgs) = run_and_wait(&s, "run job=DemoBackup level=Full yes");
    assert!(msgs.contains("Termination:            Backup OK"), "{msgs}");
    assert!(!msgs.contains("Labeled new Volume"), "{msgs}");
    assert!(std::fs::metadata(&vol).expect("volume").len() > 2_000_000);
    let vols = console(&s, &["list volumes"]);
    assert!(vols.contains("| Manual-0001 |"), "{vols}");
    assert!(!vols.contains("Vol-0001"), "{vols}");
}

/// Regular files under `root`, relative, sorted.
fn regular_files(root: &Path) -> Vec<String> {
    snapshot(root)
        .into_iter()
        .filter(|(_, e)| matches!(e, Entry::File { .. }))
        .map(|(k, _)| k)
        .collect()
}

#[test]
fn interactive_restore_selects_two_files() {
    // `restore` without `select all done`: the JobId menu (5: the most recent backup), the
    // file selection mode (`cd`, `mark`, `lsmark`, `done`) and `OK to run?`, all answered
    // through barque-console's stdin; exactly the two marked files come back.
    let s = start("itree", true, &|t| t);
    let d = &s.data;
    let (full, _) = run_and_wait(&s, "run job=DemoBackup level=Full yes");
    let target = s.work.join("restored-marked");
    let restore = format!(
        "restore client=barque-fd fileset=DemoSet where={}",
        target.display()
    );
    let cd_data = format!("cd {}", d.display());
    let out = console(
        &s,
        &[
            &restore,
            "5",
            &cd_data,
            "ls",
            "mark hello.txt",
            "cd sub",
            "mark notes.txt",
            "cd ..",
            "lsmark",
            "count",
            "bogus",
            "done",
            "yes",
        ],
    );
    for want in [
        "To select the JobIds, you have the following choices:\n 1: List last 20 Jobs run\n",
        " 5: Select the most recent backup for a client\n",
        "13: Cancel\nSelect item:  (1-13): 5\n",
        "You have selected the following JobId",
        "You are now entering file selection mode",
        "cwd is: /\n$ ",
        "1 file newly marked.\n",
        "Invalid command \"bogus\". Enter \"done\" to exit.\n",
        "*hello.txt\n",
        "  *notes.txt\n",
        "\n2 files selected to be restored.\n",
        "Run Restore job\nJobName:         DemoRestore\n",
        "OK to run? (yes/mod/no): yes\n",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(
        out.contains(&format!("cwd is: {}/\n", d.display())),
        "{out}"
    );
    let id = queued_id(&out);
    let w = console(&s, &[&format!("wait jobid={id}")]);
    assert!(w.contains("JobStatus=OK (T)"), "{w}\n{}", s.daemons.logs());
    let rel = d.strip_prefix("/").expect("absolute");
    let got = target.join(rel);
    assert_eq!(regular_files(&got), ["hello.txt", "sub/notes.txt"], "{out}");
    for f in ["hello.txt", "sub/notes.txt"] {
        assert_eq!(
            std::fs::read(got.join(f)).expect("restored"),
            std::fs::read(d.join(f)).expect("original"),
            "{f}"
        );
    }

    // The non-interactive forms: `jobid=` (the client is the job's) with `fileregex=`.
    let t2 = s.work.join("restored-regex");
    let out = console(
        &s,
        &[&format!(
            "restore jobid={full} fileregex=notes|stay where={} yes",
            t2.display()
        )],
    );
    let id = queued_id(&out);
    let w = console(&s, &[&format!("wait jobid={id}")]);
    assert!(w.contains("JobStatus=OK (T)"), "{w}\n{}", s.daemons.logs());
    assert_eq!(
        regular_files(&t2.join(rel)),
        ["sub/deep/stay.txt", "sub/notes.txt"],
        "{out}"
    );

    // quit leaves without a restore; a lone `.` aborts the menu; the Director keeps serving.
    let out = console(&s, &[&restore, "5", "quit", "status dir"]);
    assert!(out.contains("Restore not done.\n"), "{out}");
    assert!(!out.contains("Job queued"), "{out}");
    assert!(out.contains("Terminated Jobs:"), "{out}");
    let out = console(&s, &[&restore, ".", "version"]);
    assert!(out.contains("Selection aborted, nothing done.\n"), "{out}");
    assert!(out.contains("Version: 26.0.0~barque"), "{out}");
    let _ = std::fs::remove_dir_all(&s.work);
}

#[test]
fn third_backup_recycles_the_oldest_volume() {
    // Pool: Maximum Volume Jobs = 1, Maximum Volumes = 2, Volume Retention = 20 s,
    // Recycle and AutoPrune on. Two Fulls fill Vol-0001 and Vol-0002; once Vol-0001's
    // retention has passed, the third Full finds no volume, prunes Vol-0001 (its job leaves
    // the catalog), recycles it and the SD relabels it with the same name.
    let retention = 20u64;
    let s = start("recycle", true, &|t| {
        t.replace(
            "Recycle = no\n  AutoPrune = no\n  Volume Retention = 365 days",
            &format!("Recycle = yes\n  AutoPrune = yes\n  Volume Retention = {retention} seconds"),
        )
        .replace("Maximum Volumes = 1000", "Maximum Volumes = 2")
    });
    let (j1, m1) = run_and_wait(&s, "run job=DemoBackup level=Full yes");
    let t1 = Instant::now();
    assert!(m1.contains("Created new Volume \"Vol-0001\""), "{m1}");
    let (j2, m2) = run_and_wait(&s, "run job=DemoBackup level=Full yes");
    assert!(
        m2.contains("Created new Volume \"Vol-0002\""),
        "the second Full must get a new volume (it ran {:?} after the first): {m2}",
        t1.elapsed()
    );
    // Console: prune respects the retention; update volstatus; purge asks and can be
    // declined.
    let out = console(&s, &["prune volume=Vol-0002 yes"]);
    assert!(
        out.contains("Volume \"Vol-0002\" still contains jobs after pruning."),
        "{out}"
    );
    let out = console(
        &s,
        &[
            "update volume=Vol-0002 volstatus=Full",
            "purge volume=Vol-0002",
            "no",
        ],
    );
    assert!(out.contains("New Volume status is: Full\n"), "{out}");
    assert!(
        out.contains("Found 1 Jobs for media \"Vol-0002\" in catalog.\n"),
        "{out}"
    );
    assert!(
        out.contains("Purge (yes/no)? no\nPurge canceled.\n"),
        "{out}"
    );
    let out = console(
        &s,
        &["update volume=Vol-0002 volstatus=Bogus", "prune stats"],
    );
    assert!(
        out.contains("Invalid VolStatus specified: Bogus\n"),
        "{out}"
    );
    // Wait out Vol-0001's retention (counted from its last write, before t1).
    let wait = Duration::from_secs(retention + 2);
    if let Some(rest) = wait.checked_sub(t1.elapsed()) {
        std::thread::sleep(rest);
    }
    let (j3, m3) = run_and_wait(&s, "run job=DemoBackup level=Full yes");
    assert!(m3.contains(": Recycled volume \"Vol-0001\"\n"), "{m3}");
    assert!(
        m3.contains("Recycled volume \"Vol-0001\" on device"),
        "the SD relabels it: {m3}"
    );
    let vols = console(&s, &["list volumes"]);
    assert!(
        vols.contains("| Vol-0001   |")
            && vols.contains("| Vol-0002   |")
            && !vols.contains("Vol-0003"),
        "{vols}"
    );
    let jobs = console(&s, &["list jobs"]);
    let ids: Vec<String> = jobs
        .lines()
        .filter_map(|l| l.strip_prefix("|"))
        .filter_map(|l| l.split('|').next())
        .map(|v| v.trim().to_string())
        .collect();
    assert!(
        !ids.contains(&j1.to_string()),
        "job {j1} was pruned: {jobs}"
    );
    // (Job 2 may be pruned too: Vol-0002's retention may have passed as well.)
    assert!(ids.contains(&j3.to_string()), "{jobs}");
    let _ = j2;
    // The recycled volume holds the third backup, and it restores.
    let target = s.work.join("restored-recycled");
    let (_, msgs) = run_and_wait(
        &s,
        &format!("restore jobid={j3} where={} all done yes", target.display()),
    );
    assert!(
        msgs.contains("Termination:            Restore OK"),
        "{msgs}"
    );
    let rel = s.data.strip_prefix("/").expect("absolute");
    assert_same_tree(&s.data, &target.join(rel));
    let _ = std::fs::remove_dir_all(&s.work);
}

#[test]
fn scheduled_backup_is_listed_and_runs() {
    // A Schedule `Run = Full hourly at 0:MM` for the next minute (at least 10 s away):
    // `status dir` lists it under Scheduled Jobs, the scheduler starts it, it lands in the
    // catalog. The daemons run in this machine's time zone; whole-hour zones share the
    // minute with UTC.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let mm = ((now + 70) / 60) % 60;
    let s = start("sched", true, &move |t| {
        t.replace("Accurate = yes\n", "Accurate = yes\n  Schedule = Soon\n")
            + &format!("\nSchedule {{\n  Name = Soon\n  Run = Full hourly at 0:{mm:02}\n}}\n")
    });
    let out = console(&s, &["status dir", "status dir days=3"]);
    assert!(
        out.contains(
            "\nScheduled Jobs:\nLevel          Type     Pri  Scheduled          Name               Volume\n"
        ),
        "{out}"
    );
    let line = out
        .lines()
        .find(|l| l.starts_with("Full           Backup    10  "))
        .unwrap_or_else(|| panic!("no scheduled line in:\n{out}"));
    assert!(line.contains(&format!(":{mm:02}    DemoBackup ")), "{line}");
    assert!(line.ends_with(" *unknown*"), "no volume yet: {line}");
    // Wait for the scheduler (it looks every 10 s): the job appears in the catalog.
    let deadline = Instant::now() + Duration::from_secs(240);
    let id = loop {
        let jobs = console(&s, &["list jobs"]);
        if let Some(id) = jobs
            .lines()
            .filter(|l| l.contains("| DemoBackup |"))
            .filter_map(|l| l.strip_prefix('|'))
            .filter_map(|l| l.split('|').next())
            .find_map(|v| v.trim().parse::<u32>().ok())
        {
            break id;
        }
        assert!(
            Instant::now() < deadline,
            "the scheduled job did not start:\n{jobs}\n{}",
            s.daemons.logs()
        );
        std::thread::sleep(Duration::from_secs(2));
    };
    let w = console(&s, &[&format!("wait jobid={id}"), "messages"]);
    assert!(w.contains("JobStatus=OK (T)"), "{w}\n{}", s.daemons.logs());
    assert!(w.contains("Job triggered by:       Scheduler"), "{w}");
    let out = console(&s, &["status dir"]);
    assert!(out.contains("\nTerminated Jobs:\n"), "{out}");
    assert!(out.contains(" DemoBackup\n"), "{out}");
    let _ = std::fs::remove_dir_all(&s.work);
}

#[test]
fn wait_on_a_terminal_shows_progress() {
    // A backup slowed to 400 kB/s (2 MB of data: about 5 s); barque-console on a pty
    // (python3's pty module) runs `wait jobid=N` and draws the File daemon's counters.
    let s = start("progress", true, &|t| {
        t.replace(
            "Accurate = yes\n",
            "Accurate = yes\n  Maximum Bandwidth = 400 kb/s\n",
        )
    });
    let out = console(&s, &["run job=DemoBackup level=Full yes"]);
    let id = queued_id(&out);
    let script = r#"
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], ["barque-console", "-c", sys.argv[2]])
out = b""
def rd(t, until=None):
    global out
    end = time.time() + t
    while time.time() < end:
        if until is not None and until in out:
            return
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                out += os.read(fd, 4096)
            except OSError:
                return
rd(10, b"cancel a command.")
os.write(fd, ("wait jobid=%s\r" % sys.argv[3]).encode()); rd(120, b"JobStatus=")
rd(1)
os.write(fd, b"quit\r"); rd(5)
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
"#;
    let home = s.work.join("home");
    std::fs::create_dir_all(&home).expect("home");
    let o = Command::new("python3")
        .args(["-c", script])
        .arg(bin("barque-console"))
        .arg(s.work.join("etc/bconsole.conf"))
        .arg(id.to_string())
        .env("HOME", &home)
        .output()
        .expect("python3 (for a pty)");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("JobStatus=OK (T)"),
        "{text}\n{}",
        s.daemons.logs()
    );
    assert!(
        text.contains(&format!("JobId {id} [")) && text.contains(" files, ") && text.contains("/s"),
        "no progress line in:\n{text}"
    );
    let _ = std::fs::remove_dir_all(&s.work);
}

#[test]
fn verify_disk_to_catalog_against_barque_fd() {
    // A Verify job (Level = DiskToCatalog) right after a Full finds nothing; after a file
    // grows, one is added and one deleted, it reports each and ends "Verify Differences".
    let s = start("verify", true, &|t| {
        t + "\nJob {\n  Name = \"DemoVerify\"\n  Type = Verify\n  Level = DiskToCatalog\n  \
             Client = barque-fd\n  FileSet = \"DemoSet\"\n  Storage = File\n  Pool = Full\n  \
             Messages = Standard\n}\n\nJob {\n  Name = \"VolVerify\"\n  Type = Verify\n  \
             Level = VolumeToCatalog\n  Client = barque-fd\n  FileSet = \"DemoSet\"\n  \
             Storage = File\n  Pool = Full\n  Messages = Standard\n}\n"
    });
    let d = &s.data;
    // A level Barque does not run is refused with a clear message.
    let out = console(&s, &["run job=VolVerify yes"]);
    assert!(
        out.contains("Level \"VolumeToCatalog\" is not supported by Barque"),
        "{out}"
    );
    let (full, _) = run_and_wait(&s, "run job=DemoBackup level=Full yes");
    let (_, msgs) = run_and_wait(&s, "run job=DemoVerify yes");
    assert!(
        msgs.contains(&format!("Verifying against JobId={full} Job=DemoBackup.")),
        "{msgs}"
    );
    assert!(
        msgs.contains("  Verify Level:           DiskToCatalog\n"),
        "{msgs}"
    );
    assert!(msgs.contains("  Files Examined:         11\n"), "{msgs}");
    assert!(
        msgs.contains("  Termination:            Verify OK\n"),
        "{msgs}"
    );
    assert!(!msgs.contains("New file:"), "{msgs}");

    std::thread::sleep(Duration::from_millis(1100));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(d.join("hello.txt"))
        .expect("open");
    f.write_all(b"grown\n").expect("append");
    drop(f);
    write(&d.join("sub/new.txt"), b"new\n");
    std::fs::remove_file(d.join("sub/notes.txt")).expect("rm");
    let out = console(&s, &["run job=DemoVerify yes"]);
    let id = queued_id(&out);
    let w = console(&s, &[&format!("wait jobid={id}"), "messages"]);
    let dd = d.display();
    for want in [
        format!("File: {dd}/hello.txt\n"),
        "      st_size  differ. Cat: 15 File: 21\n".to_string(),
        format!("New file: {dd}/sub/new.txt\n"),
        "The following files are in the Catalog but not on disk:\n".to_string(),
        format!("      {dd}/sub/notes.txt\n"),
        "  Termination:            Verify Differences\n".to_string(),
    ] {
        assert!(w.contains(&want), "missing {want:?} in:\n{w}");
    }
    let _ = std::fs::remove_dir_all(&s.work);
}

/// `list joblog` shows a job only to a console whose ACLs allow the job's Job and Client
/// (Bareos' `GetJobidFromCmdline()`): a named console limited to another Job gets Bareos'
/// refusal and none of the job's messages; the default console gets them.
#[test]
fn list_joblog_respects_the_console_acls() {
    let s = start("joblog-acl", true, &|t| {
        format!(
            "{t}\nProfile {{\n  Name = auditor-profile\n  CommandACL = list, llist\n  \
             JobACL = SomeOtherJob\n  ClientACL = *all*\n}}\n\
             Console {{\n  Name = auditor\n  Password = \"auditor-pw\"\n  Profile = auditor-profile\n  \
             TLS Enable = no\n  TLS Require = no\n}}\n"
        )
    });
    let (id, _) = run_and_wait(&s, "run job=DemoBackup level=Full yes");
    let own = console(&s, &[&format!("list joblog jobid={id}")]);
    assert!(own.contains("Backup OK"), "{own}");
    let base = std::fs::read_to_string(s.work.join("etc/bconsole.conf")).expect("bconsole.conf");
    let director = base
        .lines()
        .find_map(|l| l.trim().strip_prefix("Name = "))
        .expect("the Director's name")
        .to_string();
    let conf = s.work.join("etc/auditor.conf");
    std::fs::write(
        &conf,
        format!(
            "{base}\nConsole {{\n  Name = auditor\n  Password = \"auditor-pw\"\n  \
             Director = {director}\n  TLS Enable = no\n  TLS Require = no\n}}\n"
        ),
    )
    .expect("write auditor.conf");
    let out = run_console(
        &bin("barque-console"),
        &conf,
        &["whoami", &format!("list joblog jobid={id}")],
        &|| s.daemons.logs(),
    );
    assert!(
        out.contains("auditor"),
        "logged in as the named console: {out}"
    );
    assert!(
        out.contains("jobid not found in db, access to job or client denied by ACL"),
        "{out}"
    );
    assert!(!out.contains("Backup OK"), "{out}");
    let _ = std::fs::remove_dir_all(&s.work);
}
