//! barque-console's progress line while `wait` blocks on a terminal (a Barque addition;
//! bconsole shows nothing while it waits).
//!
//! The console opens a second connection and, about once a second, asks the Director for
//! the running jobs (`status dir`), the client of the awaited job (`list jobid=N`) and that
//! File daemon's status (`status client=X`), whose running-job block carries `Files=…
//! Bytes=… Bytes/sec=…` (the FD's own counters, `core/src/filed/status.cc` layout). The
//! parsing and drawing here are pure so they are tested on real daemon output.

/// What the File daemon reports for a running job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Files so far.
    pub files: u64,
    /// Bytes so far.
    pub bytes: u64,
    /// Bytes per second since the job started.
    pub rate: u64,
}

fn number(s: &str) -> Option<u64> {
    let digits: String = s.chars().filter(|c| *c != ',').collect();
    digits.parse().ok()
}

/// The JobIds of `status dir`'s Running Jobs table (` JobId Level Name Status` rows).
pub fn running_job_ids(status_dir: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let mut inside = false;
    for l in status_dir.lines() {
        if l.starts_with("Running Jobs:") {
            inside = true;
            continue;
        }
        if inside && l.starts_with("====") && !l.starts_with("=====") {
            break;
        }
        if inside {
            if let Some(id) = l.split_whitespace().next().and_then(|w| w.parse().ok()) {
                if l.contains(" is ") {
                    out.push(id);
                }
            }
        }
    }
    out
}

/// The `client` column of a `list jobid=N` table.
pub fn job_client(list: &str) -> Option<String> {
    let mut col = None;
    for l in list.lines() {
        if !l.starts_with('|') {
            continue;
        }
        let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
        match col {
            None => col = cells.iter().position(|c| c.eq_ignore_ascii_case("client")),
            Some(i) => return cells.get(i).map(|c| c.to_string()),
        }
    }
    None
}

/// The `Files=… Bytes=… Bytes/sec=…` line of job `job_id` in a File daemon's status.
pub fn parse_fd_running(status: &str, job_id: u32) -> Option<Progress> {
    let head = format!("JobId {job_id} Job ");
    let mut lines = status.lines().skip_while(|l| !l.starts_with(&head));
    lines.next()?;
    for l in lines.take(4) {
        let l = l.trim();
        if l.starts_with("JobId ") {
            return None;
        }
        if let Some(rest) = l.strip_prefix("Files=") {
            let mut p = Progress::default();
            let mut words = rest.split_whitespace();
            p.files = number(words.next()?)?;
            for w in words {
                if let Some(v) = w.strip_prefix("Bytes=") {
                    p.bytes = number(v)?;
                } else if let Some(v) = w
                    .strip_prefix("Bytes/sec=")
                    .or_else(|| w.strip_prefix("AveBytes/sec="))
                {
                    p.rate = number(v)?;
                }
            }
            return Some(p);
        }
    }
    None
}

fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS.get(u).copied().unwrap_or("B"))
    }
}

/// One progress line (`\r`-redrawn): an indeterminate bar (the total is not known while a
/// job runs) moved by `tick`, then the counters.
pub fn render(job_id: u32, p: Option<&Progress>, tick: usize) -> String {
    const W: usize = 20;
    let pos = tick % (2 * W - 2);
    let pos = if pos < W { pos } else { 2 * W - 2 - pos };
    let bar: String = (0..W).map(|i| if i == pos { '#' } else { '-' }).collect();
    match p {
        Some(p) => format!(
            "JobId {job_id} [{bar}] {} files, {}, {}/s",
            crate::jobs::report::with_commas(p.files),
            human(p.bytes),
            human(p.rate)
        ),
        None => format!("JobId {job_id} [{bar}] waiting for the File daemon's counters"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_daemons_print() {
        let dir = "barque-dir Version: x\n\nScheduled Jobs:\nNo Scheduled Jobs.\n====\n\n\
                   Running Jobs:\nConsole connected at 22-Nov-26 15:47\n JobId Level   Name                       Status\n\
                   ======================================================================\n\
                        7 Full    DemoBackup.2026-11-22_15.47.00_03 is running\n====\n";
        assert_eq!(running_job_ids(dir), vec![7]);
        let list = "+-------+------------+-----------+\n| jobid | name       | client    |\n\
                    +-------+------------+-----------+\n|     7 | DemoBackup | barque-fd |\n";
        assert_eq!(job_client(list).as_deref(), Some("barque-fd"));
        // The layout fd-core's status writer produces (fd-core/src/fd/status.rs).
        let fd = "Running Jobs:\nbareos-dir (director) connected at: 22-Nov-26 15:47\n\
                  JobId 7 Job DemoBackup.2026-11-22_15.47.00_03 is running.\n    Full Backup Job started: 22-Nov-26 15:47\n\
                      Files=1,234 Bytes=5,678,901 Bytes/sec=2,000,000 Errors=0\n    Bwlimit=0\n====\n";
        assert_eq!(
            parse_fd_running(fd, 7),
            Some(Progress {
                files: 1234,
                bytes: 5_678_901,
                rate: 2_000_000
            })
        );
        assert_eq!(parse_fd_running(fd, 8), None);
        let line = render(7, parse_fd_running(fd, 7).as_ref(), 3);
        assert_eq!(
            line,
            "JobId 7 [---#----------------] 1,234 files, 5.7 MB, 2.0 MB/s"
        );
    }
}
