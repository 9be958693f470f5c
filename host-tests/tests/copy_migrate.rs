//! Copy and Migrate jobs end to end: barque-dir, one barque-sd with two Devices (two Storage
//! resources on the Director) and barque-fd as processes, driven by barque-console. As
//! bareos-dir does, barque-dir copies within the SD when both Storages name it by the same
//! address, port and password (one connection, read and write reservations: the cleartext
//! run), and SD → SD over `replicate`/`listen` otherwise (the TLS-PSK run names the second
//! Storage `localhost`, so the SD connects to itself).
//!
//! A Full backup into the default Pool, whose `Next Pool` is `Copies` (on the second
//! Storage); a Copy job with `Selection Type = PoolUncopiedJobs` copies it: the new job is
//! listed with Type C, lists the same files, and `restore jobid=«copy»` gives the tree back
//! byte for byte from the copy's volume. A second Copy run finds nothing left to copy. Then a
//! second Full is migrated (`run job=MigrateJob jobid=…`): the source becomes Type M and
//! loses its File rows, the new job lists the files and restores byte for byte.
//! A copy whose source volume is missing fails clearly and leaves the source to be copied
//! by the next run.

mod support;

use support::*;

fn value_after<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label:?} in:\n{out}"))
}

fn files_of(s: &Setup, job_id: &str) -> Vec<String> {
    let mut f = file_lines(&console(s, &[&format!("list files jobid={job_id}")]));
    f.sort();
    f
}

/// The `list jobs` row of a JobId.
fn job_row(s: &Setup, job_id: &str) -> String {
    let out = console(s, &["list jobs"]);
    out.lines()
        .find(|l| l.split('|').nth(1).is_some_and(|c| c.trim() == job_id))
        .unwrap_or_else(|| panic!("JobId {job_id} not in:\n{out}"))
        .to_string()
}

fn setup(tag: &str, cleartext: bool) -> Setup {
    let dir: &dyn Fn(String) -> String = if cleartext {
        &copy_dir_conf
    } else {
        &copy_dir_conf_sd_to_sd
    };
    start_with_sd(tag, cleartext, dir, &copy_sd_conf)
}

#[test]
fn copy_then_restore_from_the_copy_and_migrate_cleartext() {
    scenario(&setup("copymig-clear", true), true);
}

/// The generated configuration has no TLS directives: every connection, the SD → SD one
/// included (`replicate … ssl=4`), uses TLS-PSK.
#[test]
fn copy_then_restore_from_the_copy_and_migrate_tls_psk() {
    scenario(&setup("copymig-psk", false), false);
}

/// A Virtual Full whose read Storage (the Full's, `127.0.0.1`) and write Storage (the Next
/// Pool's, `localhost`) name different daemons is refused before any SD work, naming both.
#[test]
fn virtual_full_across_two_storage_daemons_is_refused() {
    let s = setup("vfull-two-sds", false);
    run_and_wait(&s, "run job=DemoBackup level=Full yes");
    let (_, msgs) = run_to_end(&s, "run job=DemoBackup level=VirtualFull yes");
    assert!(
        msgs.contains("a Virtual Full reads and writes on one Storage daemon")
            && msgs.contains("Storage \"File\" (the backups' volumes) and Storage \"File2\"")
            && msgs.contains("*** Backup Error ***"),
        "{msgs}"
    );
    let _ = std::fs::remove_dir_all(&s.work);
}

/// Run the Copy job, which must copy the backup `full`: (the control JobId, its
/// messages, the new JobId).
fn copy_of(s: &Setup, full: u32) -> (u32, String, String) {
    let (ctl, msgs) = run_and_wait(s, "run job=CopyJob yes");
    assert!(
        msgs.contains("Termination:            Copying OK"),
        "{msgs}\n{}",
        s.daemons.logs()
    );
    assert_eq!(value_after(&msgs, "Prev Backup JobId:"), full.to_string());
    let copy = value_after(&msgs, "New Backup JobId:").to_string();
    (ctl, msgs, copy)
}

/// The file named `name` somewhere under `dir`.
fn find_file(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == name) {
                return p;
            }
        }
    }
    panic!("no file {name} under {}", dir.display())
}

/// A copy that fails (the source job's volume is gone from the disk) says so and names the
/// volume; the source keeps its Type B and its files, no copy counts as made, and once the
/// volume is back the next Copy run selects and copies the job.
#[test]
fn a_failed_copy_leaves_the_source_to_copy_again() {
    let s = setup("copy-fail", true);
    let (full, msgs) = run_and_wait(&s, "run job=DemoBackup level=Full yes");
    let want = files_of(&s, &full.to_string());
    let vol = value_after(&msgs, "Volume name(s):").to_string();
    let path = find_file(&s.work, &vol);
    let aside = path.with_extension("aside");
    std::fs::rename(&path, &aside).expect("move the volume aside");

    let (_, msgs) = run_to_end(&s, "run job=CopyJob yes");
    assert!(!msgs.contains("Copying OK"), "{msgs}");
    assert!(msgs.contains("*** Copying Error ***"), "{msgs}");
    assert!(
        msgs.contains(&format!(
            "Fatal error: Volume \"{vol}\" from the bootstrap is not on device"
        )),
        "the failure names the volume:\n{msgs}"
    );
    let row = job_row(&s, &full.to_string());
    assert!(row.contains("| B "), "{row}");
    assert_eq!(files_of(&s, &full.to_string()), want);
    let jobs = console(&s, &["list jobs"]);
    assert!(
        !jobs
            .lines()
            .any(|l| l.contains("| C ") && l.trim_end().ends_with("| T |")),
        "no copy may count as made:\n{jobs}"
    );

    std::fs::rename(&aside, &path).expect("put the volume back");
    let (_, _, copy) = copy_of(&s, full);
    assert_eq!(files_of(&s, &copy), want);
    let _ = std::fs::remove_dir_all(&s.work);
}

/// `within`: the copy runs within the SD (one SD job reserves both devices) rather than
/// SD → SD (the new job reserves the write device on a connection of its own).
fn scenario(s: &Setup, within: bool) {
    let d = s.data.clone();
    let rel = d.strip_prefix("/").expect("absolute").to_path_buf();

    // The source backup.
    let (full, _) = run_and_wait(s, "run job=DemoBackup level=Full yes");
    let want = files_of(s, &full.to_string());
    assert!(want.len() > 5, "{want:?}");

    // Copy: PoolUncopiedJobs selects the Full.
    let (copy_ctl, msgs, copy) = copy_of(s, full);
    let writer = if within {
        copy_ctl.to_string()
    } else {
        copy.clone()
    };
    assert!(
        msgs.contains(&format!(
            "barque-sd JobId {writer}: Using Device \"FileStorage2\" ("
        )),
        "{msgs}"
    );
    assert_ne!(copy, full.to_string());
    assert!(
        msgs.contains(&format!("Current JobId:          {copy_ctl}")),
        "{msgs}"
    );
    assert!(
        value_after(&msgs, "Volume name(s):").starts_with("Copy-"),
        "{msgs}"
    );
    // Catalog: the copy is Type C and has the Full's files; the Full is still a Backup.
    let row = job_row(s, &copy);
    assert!(row.contains("| C "), "{row}");
    let row = job_row(s, &full.to_string());
    assert!(row.contains("| B "), "{row}");
    assert_eq!(files_of(s, &copy), want, "list files of the copy");

    // Restore from the copy's volume (Storage File2).
    let target = s.work.join("restored-copy");
    let (_, msgs) = run_and_wait(
        s,
        &format!(
            "restore client=barque-fd jobid={copy} where={} all done yes",
            target.display()
        ),
    );
    assert!(msgs.contains("Restore OK"), "{msgs}");
    assert!(
        msgs.contains("Using Device \"FileStorage2\" to read."),
        "the restore must read the copy's volume:\n{msgs}"
    );
    assert_same_tree(&d, &target.join(&rel));

    // Nothing left to copy.
    let (_, msgs) = run_and_wait(s, "run job=CopyJob yes");
    assert!(msgs.contains("No JobIds found to copy."), "{msgs}");

    // Migrate a second Full.
    let (full2, _) = run_and_wait(s, "run job=DemoBackup level=Full yes");
    let want2 = files_of(s, &full2.to_string());
    let (_, msgs) = run_and_wait(s, &format!("run job=MigrateJob jobid={full2} yes"));
    assert!(
        msgs.contains("Termination:            Migration OK"),
        "{msgs}\n{}",
        s.daemons.logs()
    );
    let migrated = value_after(&msgs, "New Backup JobId:").to_string();
    let row = job_row(s, &full2.to_string());
    assert!(row.contains("| M "), "the source becomes Type M: {row}");
    assert!(
        files_of(s, &full2.to_string()).is_empty(),
        "the migrated source's File rows are purged"
    );
    let row = job_row(s, &migrated);
    assert!(row.contains("| B "), "the new job is the backup now: {row}");
    assert_eq!(files_of(s, &migrated), want2);
    let target = s.work.join("restored-migrated");
    let (_, msgs) = run_and_wait(
        s,
        &format!(
            "restore client=barque-fd jobid={migrated} where={} all done yes",
            target.display()
        ),
    );
    assert!(msgs.contains("Restore OK"), "{msgs}");
    assert_same_tree(&d, &target.join(&rel));

    virtual_full(s);
    let _ = std::fs::remove_dir_all(&s.work);
}

/// A Virtual Full after a change and an Incremental: the job joins the newest Full (the
/// migrated one, on the Next Pool's Storage) and the Incremental (on the Job's Storage: the
/// SD changes read device for it, by Media Type) into a Full on a new volume of the Next
/// Pool; it restores to the current tree (the deleted file absent); its Job row has Level
/// F; the next Incremental is taken since the Incremental it joined.
fn virtual_full(s: &Setup) {
    let d = s.data.clone();
    let rel = d.strip_prefix("/").expect("absolute").to_path_buf();
    change_tree(&d);
    let (incr, _) = run_and_wait(s, "run job=DemoBackup level=Incremental yes");
    let (id, msgs) = run_to_end(s, "run job=DemoBackup level=VirtualFull yes");
    assert!(
        msgs.contains(&format!("JobId={id}\nJobStatus=OK (T)"))
            && msgs.contains("Consolidating JobIds ")
            && msgs.contains("Media Type change.  New read device \"FileStorage\" (")
            && msgs.contains("Backup Level:           Virtual Full")
            && msgs.contains("Volume name(s):         Copy-")
            && !msgs.contains("Volume name(s):         Copy-0006|")
            && msgs.contains("Termination:            Backup OK"),
        "{msgs}\n{}",
        s.daemons.logs()
    );
    let row = job_row(s, &id.to_string());
    assert!(
        row.contains("| B ") && row.contains("| F "),
        "a Full now: {row}"
    );
    let mut want = TREE_FULL_FILES
        .iter()
        .filter(|f| **f != "sub/deep/gone.txt")
        .map(|f| format!("{}/{f}", d.display()))
        .chain(std::iter::once(format!("{}/sub/added.txt", d.display())))
        .collect::<Vec<_>>();
    want.sort();
    let got: Vec<String> = files_of(s, &id.to_string())
        .into_iter()
        .map(|f| f.trim_end_matches('/').to_string())
        .collect();
    let want: Vec<String> = want
        .into_iter()
        .map(|f| f.trim_end_matches('/').to_string())
        .collect();
    assert_eq!(
        got, want,
        "the newest version of every file, the deleted one left out"
    );
    let target = s.work.join("restored-vfull");
    let (_, msgs) = run_and_wait(
        s,
        &format!(
            "restore client=barque-fd jobid={id} where={} all done yes",
            target.display()
        ),
    );
    assert!(
        msgs.contains("Using Device \"FileStorage2\" to read."),
        "{msgs}"
    );
    assert_same_tree(&d, &target.join(&rel));
    // The next Incremental is taken since the Incremental the Virtual Full joined.
    let (_, msgs) = run_and_wait(s, "run job=DemoBackup level=Incremental yes");
    let incr_job = job_row(s, &incr.to_string());
    let started = incr_job
        .split('|')
        .nth(4)
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    assert!(
        msgs.contains(&format!("Using since time from previous job: {started}")),
        "since the joined Incremental ({started}):\n{msgs}"
    );
}
