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

use super::{lock, DeviceRes, Finished, Shared};
use crate::bls::civil;

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

fn running_lines(sh: &Shared) -> Vec<String> {
    let jobs = lock(&sh.jobs);
    let mut v = Vec::new();
    for s in jobs.values() {
        let i = lock(&s.info).clone();
        if i.writing {
            v.push(format!(
                "Writing: {} {} job {} JobId={} Volume=\"{}\"\n    device=\"{}\"\n    Files={} Bytes={}\n",
                level_name(i.level),
                if i.job_type == b'B' { "Backup" } else { "Restore" },
                i.job,
                i.job_id,
                i.volume,
                i.device,
                i.files,
                i.bytes
            ));
        } else {
            v.push(format!("JobId={} Job={} is waiting.\n", i.job_id, i.job));
        }
    }
    v
}

fn device_lines(sh: &Shared, d: &DeviceRes) -> Vec<String> {
    let yes = |b: bool, s: &str| if b { s.to_string() } else { format!("!{s}") };
    let busy = lock(&sh.jobs)
        .values()
        .any(|s| lock(&s.info).device == d.name && lock(&s.info).writing);
    let open = if busy {
        format!(
            "\nDevice \"{}\" ({}) is open for writing.\n",
            d.name,
            d.archive.display()
        )
    } else {
        format!(
            "\nDevice \"{}\" ({}) is not open.\n",
            d.name,
            d.archive.display()
        )
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
        format!("  num_writers={} reserves=0 block=0\n", u32::from(busy)),
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
    if running.is_empty() {
        v.push("No Jobs running.\n".into());
    } else {
        v.extend(running);
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
