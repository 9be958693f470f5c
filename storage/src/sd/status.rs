//! `status «device»` and `.status «what»` on the Director channel (jobs.md §2.7,
//! `core/src/stored/status.cc`).
//!
//! The reply is a sequence of [`StatusFrame`]s: `status` starts with a 1-byte `⏎` message,
//! every other message is text ending in a counted NUL, EOD ends it
//! (`vectors/clear-status-client-storage` conn 3 msgs 10–45). `.status header⏎` sends the
//! three header lines without the leading `⏎` (`vectors/clear-dot-status` conn 4 msgs 10–13).
//! The lines are built here as Bareos formats them (`"%6d  %-6s %8s %10s  %-7s  %-8s %s\n"`
//! for terminated jobs, sizes with Bareos' `1.062 K` suffix style); values that only a tape
//! or Bareos build has (`Sizes:`, capabilities) are given for a File device.

use std::sync::atomic::Ordering;

use barque_common::conn::AuthenticatedConnection;
use fd_core::wire::bnet::Signal;
use fd_core::wire::status::StatusFrame;

use super::{lock, DeviceRes, Finished, RunningInfo, Shared};
use crate::bls::{civil, with_commas};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `22-Nov-26 15:46` (Bareos' short date; UTC here).
pub fn short_date(unix: i64) -> String {
    let (y, mo, d, h, mi, _) = civil(unix);
    let m = MONTHS
        .get((mo as usize).saturating_sub(1))
        .copied()
        .unwrap_or("???");
    format!("{d:02}-{m}-{:02} {h:02}:{mi:02}", y.rem_euclid(100))
}

/// Bareos' `edit_uint64_with_suffix`: `441 `, `1.062 K`, `3.413 M`.
pub fn size_suffix(v: u64) -> String {
    const SUFFIX: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];
    let mut f = v as f64;
    let mut i = 0;
    while f >= 1000.0 && i + 1 < SUFFIX.len() {
        f /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{v} ")
    } else {
        format!("{f:.3} {}", SUFFIX.get(i).copied().unwrap_or(""))
    }
}

fn level_name(l: u8) -> &'static str {
    match l {
        b'F' => "Full",
        b'I' => "Incr",
        b'D' => "Diff",
        b'B' => "Base",
        b'C' => "Catalog",
        b'V' => "InitCatalog",
        b'O' => "VolumeToCatalog",
        b'd' => "DiskToCatalog",
        b'A' => "Data",
        _ => "",
    }
}

fn status_name(s: u8) -> &'static str {
    match s {
        b'T' => "OK",
        b'W' => "Warning",
        b'E' | b'f' => "Error",
        b'A' => "Cancel",
        b'R' => "Running",
        _ => "Other",
    }
}

/// One terminated-jobs line.
pub fn terminated_line(f: &Finished) -> String {
    format!(
        "{:>6}  {:<6} {:>8} {:>10}  {:<7}  {} {}\n",
        f.job_id,
        level_name(f.level),
        f.files,
        size_suffix(f.bytes),
        status_name(f.status),
        short_date(f.finished),
        f.name
    )
}

/// The three header lines (`status` and `.status header`).
pub fn header_lines(sh: &Shared) -> Vec<String> {
    let running = lock(&sh.jobs).len();
    vec![
        format!(
            "{} Version: {} (barque) {} {} \n",
            sh.cfg.name,
            super::VERSION,
            std::env::consts::OS,
            std::env::consts::ARCH
        ),
        format!(
            "Daemon started {}. Jobs: run={}, running={running}, barque binary\n",
            short_date(i64::from(sh.sd_time)),
            sh.jobs_run
                .load(Ordering::SeqCst)
                .saturating_sub(running as u32)
        ),
        " Sizes: boffset_t=8 size_t=8 int32_t=4 int64_t=8 bwlimit=0kB/s\n".to_string(),
    ]
}

fn level_long(l: u8) -> &'static str {
    match l {
        b'F' => "Full",
        b'I' => "Incremental",
        b'D' => "Differential",
        b'B' => "Base",
        b'S' => "Since",
        b' ' => " ",
        _ => "Unknown Job Level",
    }
}

fn type_long(t: u8) -> &'static str {
    match t {
        b'B' => "Backup",
        b'R' => "Restore",
        b'V' => "Verify",
        b'C' => "Copy",
        b'g' => "Migration",
        _ => "Unknown Type",
    }
}

fn status_long(s: u8) -> &'static str {
    match s {
        b'C' => "Created",
        b'R' => "Running",
        b'T' => "OK",
        b'f' => "Fatal Error",
        b'A' => "Canceled",
        b'F' => "Waiting on FD",
        b'S' => "Wait on SD",
        _ => "Unknown term code",
    }
}

/// The running jobs, one frame per Bareos `sp->send()` (`core/src/stored/status.cc`
/// `ListRunningJobs()`): the job line, `Writing:`/`Reading:` with pool and device, the
/// spooling line, the counters, the FD socket line.
fn running_lines(sh: &Shared) -> Vec<String> {
    let jobs = lock(&sh.jobs);
    let mut infos: Vec<RunningInfo> = jobs.values().map(|s| lock(&s.info).clone()).collect();
    drop(jobs);
    infos.sort_by_key(|i| i.job_id);
    let mut v = Vec::new();
    for i in infos {
        if i.status == b'F' {
            v.push(format!(
                "{} Job {} waiting for Client connection.\n",
                type_long(i.job_type),
                i.job
            ));
        }
        if !(i.writing || i.reading) {
            continue;
        }
        // The Job resource name: the unique name without its three `.`-separated parts.
        let mut name = i.job.as_str();
        for _ in 0..3 {
            if let Some((head, _)) = name.rsplit_once('.') {
                name = head;
            }
        }
        v.push(format!(
            "JobId={} Level={} Type={} Name={name} Status={}\n",
            i.job_id,
            level_long(i.level),
            type_long(i.job_type),
            status_long(i.status)
        ));
        let what = if i.writing { "Writing" } else { "Reading" };
        v.push(format!(
            "{what}: Volume=\"{}\"\n    pool=\"{}\" device={}\n",
            i.volume, i.pool, i.device_desc
        ));
        if i.writing {
            v.push("    spooling=0 despooling=0 despool_wait=0\n".into());
        }
        let secs = u64::try_from((super::now_unix() - i.started).max(1)).unwrap_or(1);
        let rate = i.bytes / secs;
        v.push(format!(
            "    Files={} Bytes={} AveBytes/sec={} LastBytes/sec={}\n",
            with_commas(u64::from(i.files)),
            with_commas(i.bytes),
            with_commas(rate),
            with_commas(rate)
        ));
        v.push(format!(
            "    FDReadSeqNo={} in_msg={} out_msg=0 fd=0\n\n",
            with_commas(i.fd_messages),
            i.fd_messages
        ));
    }
    v
}

fn device_lines(sh: &Shared, d: &DeviceRes) -> Vec<String> {
    let yes = |b: bool, s: &str| if b { s.to_string() } else { format!("!{s}") };
    let user = lock(&sh.jobs)
        .values()
        .map(|s| lock(&s.info).clone())
        .find(|i| i.device == d.name && (i.writing || i.reading));
    let busy = user.as_ref().is_some_and(|i| i.writing);
    // `core/src/stored/status.cc` `StatusDevices()`.
    let open = match &user {
        Some(i) => format!(
            "\nDevice \"{}\" ({}) is mounted with:\n    Volume:      {}\n    Pool:        {}\n    Media type:  {}\n",
            d.name,
            d.archive.display(),
            i.volume,
            if i.pool.is_empty() { "*unknown*" } else { &i.pool },
            d.media_type
        ),
        None => format!(
            "\nDevice \"{}\" ({}) is not open.\n",
            d.name,
            d.archive.display()
        ),
    };
    vec![
        open,
        "Configured device capabilities:\n".into(),
        format!(
            "  EOF BSR BSF FSR FSF EOM {} {} {} {} !ANONVOLS {}\n",
            yes(d.removable_media, "REM"),
            yes(d.random_access, "RACCESS"),
            yes(d.automatic_mount, "AUTOMOUNT"),
            yes(d.label_media, "LABEL"),
            yes(d.always_open, "ALWAYSOPEN")
        ),
        "Device state:\n".into(),
        format!(
            "  {} !LABEL !MALLOC {} !READ !EOT !WEOT !EOF !NEXTVOL !SHORT !MOUNTED\n",
            yes(busy, "OPENED"),
            yes(busy, "APPEND")
        ),
        {
            let (writers, reserved) = sh.device_counts(&d.name);
            format!("  num_writers={writers} reserves={reserved} block=0\n")
        },
        "Attached Jobs: ".into(),
        "\n".into(),
        "Device parameters:\n".into(),
        format!(
            "  Archive name: {}\nDevice name: {}\nDevice Type: file\n",
            d.archive.display(),
            d.name
        ),
        "  File=0 block=0\n".into(),
        format!("  Min block=0 Max block={}\n", d.block_size),
        format!(
            "  Auto Select={}\n",
            if d.auto_select { "yes" } else { "no" }
        ),
        "==\n".into(),
    ]
}

/// The whole `status` text, one string per message (without the NULs and the lead).
pub fn status_lines(sh: &Shared) -> Vec<String> {
    let mut v = header_lines(sh);
    v.push("\nJob inventory:\n\n".into());
    let running = running_lines(sh);
    let found = running.iter().any(|l| l.starts_with("JobId="));
    v.extend(running);
    if !found {
        v.push("No Jobs running.\n".into());
    }
    v.push("====\n".into());
    v.push("\nJobs waiting to reserve a drive:\n".into());
    v.push("====\n".into());
    v.push("\nTerminated Jobs:\n".into());
    let done = lock(&sh.finished).clone();
    if !done.is_empty() {
        v.push(" JobId  Level    Files      Bytes   Status   Finished        Name \n".into());
        v.push("===================================================================\n".into());
        for f in &done {
            v.push(terminated_line(f));
        }
    }
    v.push("====\n".into());
    v.push("\nDevice status:\n".into());
    for d in &sh.cfg.devices {
        v.extend(device_lines(sh, d));
    }
    v.push("====\n\n".into());
    v.push("Used Volume status:\n".into());
    v.push("====\n\n".into());
    v.push("====\n\n".into());
    v
}

async fn send_frames(d: &mut AuthenticatedConnection, lead: bool, lines: &[String]) {
    if lead {
        let _ = d.send(b"\n").await;
    }
    for l in lines {
        let f = StatusFrame::Counted(l.as_bytes());
        let mut buf = vec![0u8; f.buffer_len()];
        if let Ok(n) = f.emit(&mut buf) {
            buf.truncate(n);
            if d.send(&buf).await.is_err() {
                return;
            }
        }
    }
    let _ = d.signal(Signal::Eod).await;
}

/// Answer `status «device»`.
pub(crate) async fn send_status(sh: &Shared, d: &mut AuthenticatedConnection, _dev: &[u8]) {
    let lines = status_lines(sh);
    send_frames(d, true, &lines).await;
}

/// Answer `.status «what»` (`header`, `running`, `terminated`, `devices`).
pub(crate) async fn send_dot_status(sh: &Shared, d: &mut AuthenticatedConnection, what: &[u8]) {
    let lines = match what {
        b"header" => header_lines(sh),
        b"running" => running_lines(sh),
        b"terminated" => lock(&sh.finished).iter().map(terminated_line).collect(),
        b"devices" => sh
            .cfg
            .devices
            .iter()
            .flat_map(|dv| device_lines(sh, dv))
            .collect(),
        other => vec![format!(
            "3900 Unknown .status keyword \"{}\" (known: header, running, terminated, devices)\n",
            String::from_utf8_lossy(other)
        )],
    };
    send_frames(d, false, &lines).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_terminated_lines_match_capture() {
        // vectors/clear-status-client-storage conn 3 msgs 22-24 (NUL stripped).
        let t = 1_795_362_400 - 1_795_362_400 % 60; // 22-Nov-26 15:46 UTC
        let f = |job_id, level, files, bytes, name: &str, finished| Finished {
            job_id,
            level,
            job_type: b'B',
            files,
            bytes,
            status: b'T',
            finished,
            name: name.into(),
        };
        assert_eq!(short_date(t), "22-Nov-26 15:46");
        assert_eq!(
            terminated_line(&f(1, b'F', 6, 1062, "CapBackup", t)),
            "     1  Full          6    1.062 K  OK       22-Nov-26 15:46 CapBackup\n"
        );
        assert_eq!(
            terminated_line(&f(2, b'I', 3, 441, "CapBackup", t + 60)),
            "     2  Incr          3       441   OK       22-Nov-26 15:47 CapBackup\n"
        );
        assert_eq!(
            terminated_line(&f(3, b' ', 0, 0, "CapRestore", t + 60)),
            "     3                0         0   OK       22-Nov-26 15:47 CapRestore\n"
        );
    }

    #[test]
    fn test_size_suffix() {
        assert_eq!(size_suffix(0), "0 ");
        assert_eq!(size_suffix(999), "999 ");
        assert_eq!(size_suffix(1062), "1.062 K");
        assert_eq!(size_suffix(3_413_318), "3.413 M");
    }
}
