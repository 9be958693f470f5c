//! `status` and `.status` (`core/src/filed/status.cc`, connect.md §8, jobs.md §1.13).
//!
//! `status` answers with a bare `⏎` frame, then one frame per line, each ending in a NUL that
//! is counted in the frame length ([`StatusFrame::Counted`]), then EOD
//! (vectors/clear-status-client-storage conn 2 msgs 10–25):
//!
//! ```text
//! ⏎
//! bareos-fd Version: 26.0.0~pre1298.eda204c31 (21 August 2026) Debian GNU/Linux 12 (bookworm)⏎␀
//! Daemon started 22-Nov-26 15:47. Jobs: run=2 running=0, self-compiled binary⏎␀
//!  Sizeof: boffset_t=8 size_t=8 debug=100 trace=0 bwlimit=0kB/s⏎␀
//! ⏎Running Jobs:⏎␀
//! bareos-dir (director) connected at: 22-Nov-26 15:47⏎␀
//! No Jobs running.⏎␀
//! ====⏎␀
//! ⏎Terminated Jobs:⏎␀
//!  JobId  Level    Files      Bytes   Status   Finished        Name ⏎␀
//! ======================================================================⏎␀
//!      1  Full          6       306   OK       22-Nov-26 15:46 CapBackup⏎␀
//! ====⏎␀
//! EOD
//! ```
//!
//! `boffset_t` and `size_t` are reported as 8 (the values a 64-bit Bareos prints; the
//! Director only displays them).
// Without the `status` feature the reports are refused and this module is unused.
#![cfg_attr(not(feature = "status"), allow(dead_code))]

use embedded_io_async::{Read, Write};

use super::jobs::JobInfo;
use super::platform::{Clock, Connector, DigestProvider, FileSink, FileSource};
use super::session::{write_commas, Session, SessionError};
use super::timefmt;
use crate::wire::bnet::Signal;
use crate::wire::codes::{JobLevel, JobStatus, JobType};
use crate::wire::dir_cmd::{FdReply, OkReply, TextError};
use crate::wire::status::StatusFrame;
use crate::wire::text::Writer;

/// `edit_uint64_with_suffix()`: `306 `, `1.062 K`, `3.412 M`.
pub fn write_suffix(w: &mut Writer<'_>, v: u64) {
    let mut buf = [0u8; 32];
    let mut cw = Writer::new(&mut buf);
    write_commas(&mut cw, v);
    let n = cw.finish().unwrap_or(0);
    let s = buf.get(..n).unwrap_or(&[]);
    const SUFFIX: [&[u8]; 10] = [
        b"", b"K", b"M", b"G", b"T", b"P", b"E", b"Z", b"Y", b"FIX ME",
    ];
    let commas = s
        .iter()
        .filter(|&&c| c == b',')
        .count()
        .min(SUFFIX.len() - 1);
    match s.iter().position(|&c| c == b',') {
        None => w.bytes(s),
        Some(i) => {
            w.bytes(s.get(..i).unwrap_or(&[]));
            w.byte(b'.');
            let rest = s.get(i + 1..).unwrap_or(&[]);
            let end = rest.iter().position(|&c| c == b',').unwrap_or(rest.len());
            w.bytes(rest.get(..end).unwrap_or(&[]));
        }
    }
    w.byte(b' ');
    w.bytes(SUFFIX.get(commas).copied().unwrap_or(b""));
}

fn pad_left(w: &mut Writer<'_>, text: &[u8], width: usize) {
    for _ in text.len()..width {
        w.byte(b' ');
    }
    w.bytes(text);
}

fn pad_right(w: &mut Writer<'_>, text: &[u8], width: usize) {
    w.bytes(text);
    for _ in text.len()..width {
        w.byte(b' ');
    }
}

/// The level column: the level name cut to 4 characters, blank for restores.
fn level_word(j: &JobInfo) -> &'static [u8] {
    if j.job_type == JobType::Restore {
        return b"";
    }
    match j.level {
        JobLevel::Full => b"Full",
        JobLevel::Incremental => b"Incr",
        JobLevel::Differential => b"Diff",
        JobLevel::Base => b"Base",
        _ => b"",
    }
}

/// One row of the terminated-jobs table: `%6u  %-6s %8s %10s  %-7s  %-8s %s⏎`.
pub fn write_terminated_row(w: &mut Writer<'_>, j: &JobInfo, utc_offset: i32) {
    let mut b = [0u8; 16];
    let mut bw = Writer::new(&mut b);
    bw.u64(u64::from(j.job_id));
    let n = bw.finish().unwrap_or(0);
    pad_left(w, b.get(..n).unwrap_or(&[]), 6);
    w.bytes(b"  ");
    pad_right(w, level_word(j), 6);
    w.byte(b' ');
    let mut f = [0u8; 32];
    let mut fw = Writer::new(&mut f);
    write_commas(&mut fw, u64::from(j.files));
    let n = fw.finish().unwrap_or(0);
    pad_left(w, f.get(..n).unwrap_or(&[]), 8);
    w.byte(b' ');
    let mut by = [0u8; 40];
    let mut byw = Writer::new(&mut by);
    write_suffix(&mut byw, j.bytes);
    let n = byw.finish().unwrap_or(0);
    pad_left(w, by.get(..n).unwrap_or(&[]), 10);
    w.bytes(b"  ");
    let status: &[u8] = match j.status {
        JobStatus::Terminated => b"OK",
        JobStatus::Warnings => b"OK -- with warnings",
        JobStatus::ErrorTerminated | JobStatus::FatalError | JobStatus::Error => b"Error",
        JobStatus::Differences => b"Diffs",
        JobStatus::Canceled => b"Cancel",
        JobStatus::Created => b"Created",
        _ => b"Other",
    };
    pad_right(w, status, 7);
    w.bytes(b"  ");
    let mut d = [0u8; 20];
    let mut dw = Writer::new(&mut d);
    timefmt::write_short(&mut dw, i64::from(j.time), utc_offset);
    let n = dw.finish().unwrap_or(0);
    pad_right(w, d.get(..n).unwrap_or(&[]), 8);
    w.byte(b' ');
    w.bytes(job_base_name(j.name()));
    w.byte(b'\n');
}

/// The Job name without its `.YYYY-MM-DD_HH.MM.SS_NN` suffix (the third `.` from the end).
pub fn job_base_name(name: &[u8]) -> &[u8] {
    let mut dots = 0;
    for (i, &c) in name.iter().enumerate().rev() {
        if c == b'.' {
            dots += 1;
            if dots == 3 {
                return name.get(..i).unwrap_or(name);
            }
        }
    }
    name
}

impl<'s, IO, S, K, C, T, D, const N: usize> Session<'s, IO, S, K, C, T, D, N>
where
    IO: Read + Write,
    S: FileSource,
    K: FileSink,
    C: Connector,
    T: Clock,
    D: DigestProvider,
{
    /// Send one counted status line built by `f`.
    async fn status_line(&mut self, f: impl FnOnce(&mut Writer<'_>)) -> Result<(), SessionError> {
        let mut line = [0u8; 512];
        let mut w = Writer::new(&mut line);
        f(&mut w);
        let n = w.finish().map_err(|_| SessionError::BufferTooSmall)?;
        let frame = StatusFrame::Counted(line.get(..n).unwrap_or(&[]));
        let n = frame
            .emit(self.tx)
            .map_err(|_| SessionError::BufferTooSmall)?;
        let payload = self.tx.get(..n).ok_or(SessionError::BufferTooSmall)?;
        self.dir.send(payload).await?;
        Ok(())
    }

    /// `status`.
    pub(crate) async fn status(&mut self) -> Result<(), SessionError> {
        self.dir.send(b"\n").await?;
        self.status_header().await?;
        self.status_body().await
    }

    /// The three header lines (and the secure-erase line), shared by `status` and
    /// `.status header` (vectors/clear-dot-status conn 2 msgs 10–12).
    async fn status_header(&mut self) -> Result<(), SessionError> {
        let cfg = self.cfg;
        let off = cfg.utc_offset;
        self.status_line(|w| {
            w.bytes(cfg.name);
            w.bytes(b" Version: ");
            w.bytes(cfg.version_text);
            w.byte(b'\n');
        })
        .await?;
        let run = self.jobs.jobs_run();
        let running = self.jobs.running();
        self.status_line(|w| {
            w.bytes(b"Daemon started ");
            timefmt::write_short(w, cfg.started, off);
            w.bytes(b". Jobs: run=");
            w.u64(u64::from(run));
            w.bytes(b" running=");
            w.u64(running as u64);
            w.bytes(b", ");
            w.bytes(cfg.binary_info);
            w.bytes(b" binary\n");
        })
        .await?;
        let (debug, trace, bw) = (self.debug_level, self.trace, self.global_bwlimit);
        self.status_line(|w| {
            w.bytes(b" Sizeof: boffset_t=8 size_t=8 debug=");
            w.i64(i64::from(debug));
            w.bytes(b" trace=");
            w.i64(i64::from(trace));
            w.bytes(b" bwlimit=");
            w.u64(bw / 1024);
            w.bytes(b"kB/s\n");
        })
        .await?;
        if let Some(cmd) = cfg.secure_erase {
            self.status_line(|w| {
                w.bytes(b" secure erase command='");
                w.bytes(cmd);
                w.bytes(b"'\n");
            })
            .await?;
        }
        Ok(())
    }

    async fn status_body(&mut self) -> Result<(), SessionError> {
        let cfg = self.cfg;
        let off = cfg.utc_offset;
        self.status_line(|w| w.bytes(b"\nRunning Jobs:\n")).await?;
        let director = self.director.clone();
        let at = self.connected_at;
        self.status_line(|w| {
            w.bytes(&director);
            w.bytes(b" (director) connected at: ");
            timefmt::write_short(w, at, off);
            w.byte(b'\n');
        })
        .await?;
        let now = self.svc.clock.unix_time();
        let mut i = 0;
        while let Some(j) = self.jobs.running_job(i) {
            i += 1;
            self.status_line(|w| {
                w.bytes(b"JobId ");
                w.u64(u64::from(j.job_id));
                w.bytes(b" Job ");
                w.bytes(j.name());
                w.bytes(b" is running.\n");
            })
            .await?;
            self.status_line(|w| {
                w.bytes(b"    ");
                w.bytes(match j.level {
                    JobLevel::Full => b"Full" as &[u8],
                    JobLevel::Incremental => b"Incremental",
                    JobLevel::Differential => b"Differential",
                    _ => b"",
                });
                w.bytes(match j.job_type {
                    JobType::Restore => b" Restore" as &[u8],
                    _ => b" Backup",
                });
                w.bytes(b" Job started: ");
                timefmt::write_short(w, i64::from(j.time), off);
                w.byte(b'\n');
            })
            .await?;
            let secs = u64::try_from(now.saturating_sub(i64::from(j.time)))
                .unwrap_or(0)
                .max(1);
            self.status_line(|w| {
                w.bytes(b"    Files=");
                write_commas(w, u64::from(j.files));
                w.bytes(b" Bytes=");
                write_commas(w, j.bytes);
                w.bytes(b" Bytes/sec=");
                write_commas(w, j.bytes / secs);
                w.bytes(b" Errors=");
                w.u64(u64::from(j.errors));
                w.bytes(b"\n    Bwlimit=");
                write_commas(w, u64::from(j.bwlimit));
                w.byte(b'\n');
            })
            .await?;
        }
        if i == 0 {
            self.status_line(|w| w.bytes(b"No Jobs running.\n")).await?;
        }
        self.status_line(|w| w.bytes(b"====\n")).await?;
        self.status_line(|w| w.bytes(b"\nTerminated Jobs:\n"))
            .await?;
        self.status_line(|w| {
            w.bytes(b" JobId  Level    Files      Bytes   Status   Finished        Name \n")
        })
        .await?;
        self.status_line(|w| {
            for _ in 0..70 {
                w.byte(b'=');
            }
            w.byte(b'\n');
        })
        .await?;
        let mut i = 0;
        while let Some(j) = self.jobs.terminated_job(i) {
            i += 1;
            self.status_line(|w| write_terminated_row(w, &j, off))
                .await?;
        }
        self.status_line(|w| w.bytes(b"====\n")).await?;
        self.dir.signal(Signal::Eod).await?;
        Ok(())
    }

    /// `.status current|last|…`.
    pub(crate) async fn dot_status(&mut self, arg: &[u8]) -> Result<bool, SessionError> {
        let mut line = [0u8; 64];
        match arg {
            b"current" | b"last" => {
                self.reply(&FdReply::Ok(OkReply::DotStatus)).await?;
                let pick = if arg == b"current" {
                    let mut v = heapless::Vec::<JobInfo, 8>::new();
                    let mut i = 0;
                    while let Some(j) = self.jobs.running_job(i) {
                        let _ = v.push(j);
                        i += 1;
                    }
                    v
                } else {
                    let mut v = heapless::Vec::<JobInfo, 8>::new();
                    let mut last = None;
                    let mut i = 0;
                    while let Some(j) = self.jobs.terminated_job(i) {
                        last = Some(j);
                        i += 1;
                    }
                    if let Some(j) = last {
                        let _ = v.push(j);
                    }
                    v
                };
                for j in pick {
                    let mut w = Writer::new(&mut line);
                    w.bytes(b"JobId=");
                    w.u64(u64::from(j.job_id));
                    w.bytes(b" JobStatus=");
                    w.byte(j.status.to_u8());
                    w.bytes(b" JobErrors=");
                    w.u64(u64::from(j.errors));
                    w.byte(b'\n');
                    let n = w.finish().map_err(|_| SessionError::BufferTooSmall)?;
                    self.dir.send(line.get(..n).unwrap_or(&[])).await?;
                }
                self.dir.signal(Signal::Eod).await?;
                Ok(true)
            }
            b"header" => {
                self.status_header().await?;
                self.dir.signal(Signal::Eod).await?;
                Ok(true)
            }
            b"running" => {
                // API form (`core/src/filed/status.cc` `ListRunningJobsApi()`): the
                // Director connection, then one key=value block per running job
                // (vectors/clear-dot-status conn 3 msg 10 shows the no-job case; the
                // per-job block follows jobs.md §1.13 and was not captured).
                let at = self.connected_at;
                let off = self.cfg.utc_offset;
                self.status_line(|w| {
                    w.bytes(b"DirectorConnected=");
                    super::timefmt::write_iso(w, at, off);
                    w.byte(b'\n');
                })
                .await?;
                let mut i = 0;
                while let Some(j) = self.jobs.running_job(i) {
                    i += 1;
                    self.status_line(|w| {
                        w.bytes(b"JobId=");
                        w.u64(u64::from(j.job_id));
                        w.bytes(b"\n Job=");
                        w.bytes(j.name());
                        w.bytes(b"\n VSS=0\n Level=");
                        w.byte(j.level.to_u8());
                        w.bytes(b"\n JobType=");
                        w.byte(j.job_type.to_u8());
                        w.bytes(b"\n JobStarted=");
                        super::timefmt::write_iso(w, i64::from(j.time), off);
                        w.bytes(b"\n Files=");
                        w.u64(u64::from(j.files));
                        w.bytes(b"\n Bytes=");
                        w.u64(j.bytes);
                        w.bytes(b"\n Errors=");
                        w.u64(u64::from(j.errors));
                        w.byte(b'\n');
                    })
                    .await?;
                }
                self.dir.signal(Signal::Eod).await?;
                Ok(true)
            }
            _ => {
                self.reply(&FdReply::ErrorText(
                    TextError::BadDotStatus,
                    b"wrong argument.",
                ))
                .await?;
                self.dir.signal(Signal::Eod).await?;
                Ok(false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(j: &JobInfo) -> std::vec::Vec<u8> {
        let mut b = [0u8; 200];
        let mut w = Writer::new(&mut b);
        write_terminated_row(&mut w, j, 0);
        let n = w.finish().unwrap();
        b[..n].to_vec()
    }

    fn info(
        id: u32,
        name: &[u8],
        level: JobLevel,
        t: JobType,
        files: u32,
        bytes: u64,
        time: u32,
    ) -> JobInfo {
        let mut n = [0u8; super::super::jobs::MAX_NAME];
        n[..name.len()].copy_from_slice(name);
        JobInfo {
            job_id: id,
            name: n,
            name_len: name.len(),
            status: JobStatus::Terminated,
            level,
            job_type: t,
            time,
            files,
            bytes,
            errors: 0,
            bwlimit: 0,
        }
    }

    #[test]
    fn terminated_rows_match_the_capture() {
        // vectors/clear-status-client-storage conn 2 msgs 21 and 23 (NUL not included).
        let j = info(
            1,
            b"CapBackup.2026-11-22_15.46.52_03",
            JobLevel::Full,
            JobType::Backup,
            6,
            306,
            1_795_362_415,
        );
        assert_eq!(
            row(&j),
            b"     1  Full          6       306   OK       22-Nov-26 15:46 CapBackup\n"
        );
        let j = info(
            3,
            b"CapRestore.2026-11-22_15.47.31_05",
            JobLevel::None,
            JobType::Restore,
            7,
            352,
            1_795_362_455,
        );
        assert_eq!(
            row(&j),
            b"     3                7       352   OK       22-Nov-26 15:47 CapRestore\n"
        );
    }

    proptest::proptest! {
        /// Thousands separators as `edit_uint64_with_commas()`: removing them gives the
        /// number back, and groups after the first have three digits.
        #[test]
        fn commas_round_trip(v in proptest::prelude::any::<u64>()) {
            let mut b = [0u8; 40];
            let mut w = Writer::new(&mut b);
            write_commas(&mut w, v);
            let n = w.finish().unwrap();
            let s = std::str::from_utf8(&b[..n]).unwrap();
            proptest::prop_assert_eq!(s.replace(',', "").parse::<u64>().unwrap(), v);
            let groups: std::vec::Vec<&str> = s.split(',').collect();
            proptest::prop_assert!(groups[0].len() <= 3 && !groups[0].is_empty());
            proptest::prop_assert!(groups[1..].iter().all(|g| g.len() == 3));
        }
    }

    #[test]
    fn suffixes_and_names() {
        let s = |v| {
            let mut b = [0u8; 40];
            let mut w = Writer::new(&mut b);
            write_suffix(&mut w, v);
            let n = w.finish().unwrap();
            b[..n].to_vec()
        };
        assert_eq!(s(306), b"306 ");
        assert_eq!(s(1062), b"1.062 K");
        assert_eq!(s(3_412_186), b"3.412 M");
        assert_eq!(
            job_base_name(b"CapBackup.2026-11-22_15.46.52_03"),
            b"CapBackup"
        );
        assert_eq!(job_base_name(b"plain"), b"plain");
    }
}
