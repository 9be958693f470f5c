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
    let (copy_ctl, msgs) = run_and_wait(s, "run job=CopyJob yes");
    assert!(
        msgs.contains("Termination:            Copying OK"),
        "{msgs}\n{}",
        s.daemons.logs()
    );
    assert_eq!(value_after(&msgs, "Prev Backup JobId:"), full.to_string());
    let copy = value_after(&msgs, "New Backup JobId:").to_string();
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
    let _ = std::fs::remove_dir_all(&s.work);
}
