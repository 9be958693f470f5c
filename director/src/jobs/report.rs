//! The end-of-job report (`core/src/dird/backup.cc` `GenerateBackupSummary()`,
//! `core/src/dird/restore.cc` `GenerateRestoreSummary()`), field by field as captured in
//! vectors/clear-backup-full conn 1 msgs 45–81 and vectors/clear-restore conn 1.
//!
//! Numbers use Bareos' editors (`core/src/lib/edit.cc`): thousands separators
//! ([`with_commas`]), the suffix form that turns the first comma into a decimal point and
//! drops the rest ([`with_suffix`]: `1,062` → `1.062 K`), and durations as
//! `1 hour 2 mins 3 secs` ([`utime`]).

use super::time::{report_time, sql_time};

/// `1,234,567`.
pub fn with_commas(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `306 ` / `1.062 K` / `1.234 M` (`edit_uint64_with_suffix`).
pub fn with_suffix(v: u64) -> String {
    const SUFFIX: [&str; 9] = ["", "K", "M", "G", "T", "P", "E", "Z", "Y"];
    let c = with_commas(v);
    let groups: Vec<&str> = c.split(',').collect();
    let n = groups.len() - 1;
    let head = match groups.as_slice() {
        [one] => (*one).to_owned(),
        [a, b, ..] => format!("{a}.{b}"),
        [] => String::new(),
    };
    format!("{head} {}", SUFFIX.get(n).copied().unwrap_or("Y"))
}

/// `1 sec`, `2 mins 5 secs`, `0 secs` (`edit_utime`).
pub fn utime(secs: i64) -> String {
    const MULT: [(i64, &str); 5] = [
        (365 * 86_400, "year"),
        (30 * 86_400, "month"),
        (86_400, "day"),
        (3600, "hour"),
        (60, "min"),
    ];
    let mut v = secs.max(0);
    let mut out = String::new();
    for (m, name) in MULT {
        let n = v / m;
        if n > 0 {
            v -= n * m;
            out.push_str(&format!("{n} {name}{} ", if n > 1 { "s" } else { "" }));
        }
    }
    if v == 0 && out.is_empty() {
        out.push_str("0 secs");
    } else if v != 0 {
        out.push_str(&format!("{v} sec{}", if v > 1 { "s" } else { "" }));
    }
    out
}

/// `OK`, `Error`, `Canceled`… for `FD termination status:` (`JobStatusToAscii`-like).
pub fn term_word(status: u8) -> &'static str {
    match status {
        b'T' => "OK",
        b'W' => "OK -- with warnings",
        b'A' => "Canceled",
        b'E' | b'e' | b'f' => "Error",
        b'C' | 0 => "",
        b'R' => "Running",
        _ => "Error",
    }
}

/// What the backup report prints.
#[derive(Debug, Clone, Default)]
pub struct BackupReport {
    /// Director name.
    pub director: String,
    /// `26.0.0~pre1298.eda204c31 (21Aug26)`.
    pub version: String,
    /// OS information line.
    pub os: String,
    /// JobId.
    pub job_id: u32,
    /// Unique Job name.
    pub job: String,
    /// `Full`, `Incremental`, `Differential`.
    pub level: String,
    /// Client name.
    pub client: String,
    /// The FD's `2000 OK Job` info (version, date, OS, platform).
    pub client_info: String,
    /// FileSet name.
    pub fileset: String,
    /// FileSet CreateTime.
    pub fileset_time: i64,
    /// Pool name and where it came from (`Job resource`).
    pub pool: String,
    /// Catalog name.
    pub catalog: String,
    /// Storage name.
    pub storage: String,
    /// Times.
    pub sched_time: i64,
    /// Start.
    pub start_time: i64,
    /// End.
    pub end_time: i64,
    /// Priority.
    pub priority: u32,
    /// FD files.
    pub fd_files: u32,
    /// SD files.
    pub sd_files: u32,
    /// FD ReadBytes.
    pub fd_read_bytes: u64,
    /// FD JobBytes.
    pub fd_bytes: u64,
    /// SD JobBytes.
    pub sd_bytes: u64,
    /// Accurate.
    pub accurate: bool,
    /// Volume names.
    pub volumes: Vec<String>,
    /// Session.
    pub vol_session_id: u32,
    /// Session time.
    pub vol_session_time: u32,
    /// VolBytes of the last volume.
    pub last_volume_bytes: u64,
    /// FD errors.
    pub fd_errors: u32,
    /// SD errors.
    pub sd_errors: u32,
    /// FD termination (job status letter), 0 if none.
    pub fd_status: u8,
    /// SD termination.
    pub sd_status: u8,
    /// `User`, `Scheduler`.
    pub triggered_by: String,
    /// `Backup OK`, `*** Backup Error ***`, `Backup Canceled`.
    pub termination: String,
}

fn line(out: &mut String, label: &str, value: &str) {
    out.push_str(&format!("  {:<24}{}\n", format!("{label}:"), value));
}

impl BackupReport {
    /// The report text after the `«time» «director» JobId N: ` prefix, ending with the
    /// blank line Bareos appends.
    pub fn render(&self) -> String {
        let mut o = format!("Bareos {} {}:\n", self.director, self.version);
        line(&mut o, "OS Information", &self.os);
        line(&mut o, "JobId", &self.job_id.to_string());
        line(&mut o, "Job", &self.job);
        line(&mut o, "Backup Level", &self.level);
        line(
            &mut o,
            "Client",
            &format!("\"{}\" {}", self.client, self.client_info),
        );
        line(
            &mut o,
            "FileSet",
            &format!("\"{}\" {}", self.fileset, sql_time(self.fileset_time)),
        );
        line(
            &mut o,
            "Pool",
            &format!("\"{}\" (From Job resource)", self.pool),
        );
        line(
            &mut o,
            "Catalog",
            &format!("\"{}\" (From Client resource)", self.catalog),
        );
        line(
            &mut o,
            "Storage",
            &format!("\"{}\" (From Job resource)", self.storage),
        );
        line(&mut o, "Scheduled time", &report_time(self.sched_time));
        line(&mut o, "Start time", &report_time(self.start_time));
        line(&mut o, "End time", &report_time(self.end_time));
        let elapsed = (self.end_time - self.start_time).max(0);
        line(&mut o, "Elapsed time", &utime(elapsed));
        line(&mut o, "Priority", &self.priority.to_string());
        line(&mut o, "Allow Mixed Priority", "no");
        line(
            &mut o,
            "FD Files Written",
            &with_commas(self.fd_files.into()),
        );
        line(
            &mut o,
            "SD Files Written",
            &with_commas(self.sd_files.into()),
        );
        let bytes = |v: u64| format!("{} ({}B)", with_commas(v), with_suffix(v));
        line(&mut o, "FD Bytes Read", &bytes(self.fd_read_bytes));
        line(&mut o, "FD Bytes Written", &bytes(self.fd_bytes));
        line(&mut o, "SD Bytes Written", &bytes(self.sd_bytes));
        let rate = if elapsed > 0 {
            self.fd_bytes as f64 / (1000.0 * elapsed as f64)
        } else {
            0.0
        };
        line(&mut o, "Rate", &format!("{rate:.1} KB/s"));
        line(&mut o, "Software Compression", "None");
        line(&mut o, "VSS", "no");
        line(&mut o, "Encryption", "no");
        line(&mut o, "Accurate", if self.accurate { "yes" } else { "no" });
        line(&mut o, "Volume name(s)", &self.volumes.join("|"));
        line(
            &mut o,
            "Volume Session Id",
            &self.vol_session_id.to_string(),
        );
        line(
            &mut o,
            "Volume Session Time",
            &self.vol_session_time.to_string(),
        );
        line(&mut o, "Last Volume Bytes", &bytes(self.last_volume_bytes));
        line(&mut o, "Non-fatal FD errors", &self.fd_errors.to_string());
        line(&mut o, "SD Errors", &self.sd_errors.to_string());
        line(&mut o, "FD termination status", term_word(self.fd_status));
        line(&mut o, "SD termination status", term_word(self.sd_status));
        line(
            &mut o,
            "Bareos binary info",
            "Barque: not an official Bareos build",
        );
        line(&mut o, "Job triggered by", &self.triggered_by);
        line(&mut o, "Termination", &self.termination);
        o.push('\n');
        o
    }
}

/// What the restore report prints (vectors/clear-restore conn 1).
#[derive(Debug, Clone, Default)]
pub struct RestoreReport {
    /// Director name.
    pub director: String,
    /// Version.
    pub version: String,
    /// OS line.
    pub os: String,
    /// JobId.
    pub job_id: u32,
    /// Unique name.
    pub job: String,
    /// Client.
    pub client: String,
    /// The FD's `2000 OK Job` info.
    pub client_info: String,
    /// Start.
    pub start_time: i64,
    /// End.
    pub end_time: i64,
    /// Files expected (from the bootstrap).
    pub expected_files: u64,
    /// Files restored (FD JobFiles).
    pub restored_files: u32,
    /// Bytes restored (FD JobBytes).
    pub restored_bytes: u64,
    /// FD errors.
    pub fd_errors: u32,
    /// FD status letter.
    pub fd_status: u8,
    /// SD status letter.
    pub sd_status: u8,
    /// `Restore OK`…
    pub termination: String,
}

impl RestoreReport {
    /// The report text (see [`BackupReport::render`]).
    pub fn render(&self) -> String {
        let mut o = format!("Bareos {} {}:\n", self.director, self.version);
        line(&mut o, "OS Information", &self.os);
        line(&mut o, "JobId", &self.job_id.to_string());
        line(&mut o, "Job", &self.job);
        line(
            &mut o,
            "Restore Client",
            &format!("\"{}\" {}", self.client, self.client_info),
        );
        line(&mut o, "Start time", &report_time(self.start_time));
        line(&mut o, "End time", &report_time(self.end_time));
        line(
            &mut o,
            "Elapsed time",
            &utime(self.end_time - self.start_time),
        );
        line(&mut o, "Files Expected", &with_commas(self.expected_files));
        line(
            &mut o,
            "Files Restored",
            &with_commas(self.restored_files.into()),
        );
        line(&mut o, "Bytes Restored", &with_commas(self.restored_bytes));
        let elapsed = (self.end_time - self.start_time).max(0);
        let rate = if elapsed > 0 {
            self.restored_bytes as f64 / (1000.0 * elapsed as f64)
        } else {
            0.0
        };
        line(&mut o, "Rate", &format!("{rate:.1} KB/s"));
        line(&mut o, "FD Errors", &self.fd_errors.to_string());
        line(&mut o, "FD termination status", term_word(self.fd_status));
        line(&mut o, "SD termination status", term_word(self.sd_status));
        line(
            &mut o,
            "Bareos binary info",
            "Barque: not an official Bareos build",
        );
        line(&mut o, "Job triggered by", "User");
        line(&mut o, "Termination", &self.termination);
        o.push('\n');
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn commas_and_suffix_keep_the_digits(v in any::<u64>()) {
            let c = with_commas(v);
            prop_assert_eq!(c.replace(',', ""), v.to_string());
            prop_assert!(c.split(',').skip(1).all(|g| g.len() == 3));
            prop_assert!(!c.starts_with(','));
            let s = with_suffix(v);
            let (num, unit) = s.split_once(' ').unwrap();
            let groups = c.split(',').count();
            prop_assert_eq!(unit, ["", "K", "M", "G", "T", "P", "E"][groups - 1]);
            // The suffix form is the first two groups joined by a decimal point.
            let mut g = c.split(',');
            let want = match (g.next(), g.next()) {
                (Some(a), Some(b)) => format!("{a}.{b}"),
                (Some(a), None) => a.to_owned(),
                _ => unreachable!(),
            };
            prop_assert_eq!(num, want);
        }

        #[test]
        fn utime_adds_up(secs in 0i64..(10 * 365 * 86_400)) {
            let text = utime(secs);
            let mut total = 0i64;
            let words: Vec<&str> = text.split_whitespace().collect();
            for pair in words.chunks(2) {
                let n: i64 = pair[0].parse().unwrap();
                let unit = pair[1].trim_end_matches('s');
                total += n * match unit {
                    "year" => 365 * 86_400,
                    "month" => 30 * 86_400,
                    "day" => 86_400,
                    "hour" => 3600,
                    "min" => 60,
                    "sec" => 1,
                    other => panic!("unit {other}"),
                };
            }
            prop_assert_eq!(total, secs);
        }
    }

    #[test]
    fn editors() {
        // vectors/clear-backup-full conn 1 msgs 63-66, 74.
        assert_eq!(with_commas(1062), "1,062");
        assert_eq!(with_commas(306), "306");
        assert_eq!(with_commas(1_234_567), "1,234,567");
        assert_eq!(format!("{}B", with_suffix(306)), "306 B");
        assert_eq!(format!("{}B", with_suffix(1062)), "1.062 KB");
        assert_eq!(with_suffix(1_234_567), "1.234 M");
        assert_eq!(utime(1), "1 sec");
        assert_eq!(utime(0), "0 secs");
        assert_eq!(utime(3725), "1 hour 2 mins 5 secs");
        assert_eq!(utime(120), "2 mins ");
    }

    #[test]
    fn backup_report_lines_match_capture() {
        let r = BackupReport {
            director: "bareos-dir".into(),
            version: "26.0.0~pre1298.eda204c31 (21Aug26)".into(),
            os: "Debian GNU/Linux 12 (bookworm)".into(),
            job_id: 1,
            job: "CapBackup.2026-11-22_15.46.52_03".into(),
            level: "Full".into(),
            client: "bareos-fd".into(),
            client_info: "26.0.0~pre1298.eda204c31 (21Aug26) Debian GNU/Linux 12 (bookworm),debian"
                .into(),
            fileset: "CapSet".into(),
            fileset_time: 1_795_362_412,
            pool: "Cap".into(),
            catalog: "MyCatalog".into(),
            storage: "File".into(),
            sched_time: 1_795_362_412,
            start_time: 1_795_362_414,
            end_time: 1_795_362_415,
            priority: 10,
            fd_files: 6,
            sd_files: 6,
            fd_read_bytes: 306,
            fd_bytes: 306,
            sd_bytes: 1062,
            accurate: false,
            volumes: vec!["Cap-0001".into()],
            vol_session_id: 1,
            vol_session_time: 1_795_362_407,
            last_volume_bytes: 1787,
            fd_errors: 0,
            sd_errors: 0,
            fd_status: b'T',
            sd_status: b'T',
            triggered_by: "User".into(),
            termination: "Backup OK".into(),
        };
        let text = r.render();
        let capture = std::fs::read_to_string(
            barque_testkit::vectors().join("clear-backup-full/bconsole-output.txt"),
        )
        .expect("../shared/vectors must be next to the checkout");
        // Every line of our report except the binary-info line appears verbatim in the
        // captured console output (conn 1 msgs 45-81).
        let mut checked = 0;
        for l in text.lines().skip(1) {
            if l.contains("Bareos binary info") || l.is_empty() {
                continue;
            }
            assert!(capture.contains(l), "line not in capture: {l:?}");
            checked += 1;
        }
        assert_eq!(checked, 35);
        assert!(text.contains("  SD Bytes Written:       1,062 (1.062 KB)\n"));
        assert!(text.contains("  Rate:                   0.3 KB/s\n"));
        assert!(text.ends_with("  Termination:            Backup OK\n\n"));
    }
}
