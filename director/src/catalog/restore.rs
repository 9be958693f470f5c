//! Restore selection and bootstrap building.
//!
//! # Selection
//!
//! "Restore the most recent backup" (`core/src/dird/ua_restore.cc`, `cats/sql_get.cc`
//! `AccurateGetJobids()`) is two steps:
//!
//! 1. **Which jobs**: the newest Full of the Client and FileSet that started at or before the
//!    chosen time and ended `T`/`W`, the newest Differential after it, and every Incremental
//!    after whichever of those two is newer ([`Catalog::restore_jobids`]).
//! 2. **Which file versions**: of all File rows of those jobs, the newest version of every
//!    (Path, Name) — newest by JobTDate, then JobId, then FileIndex — dropped when that
//!    newest version is a deletion marker (FileIndex 0, an accurate backup's FT_DELETED)
//!    ([`Catalog::select_files`]). One window query (`ROW_NUMBER() OVER (PARTITION BY PathId,
//!    Name …)`) does this in the database on both backends.
//!
//! For the captures' JobIds 1 (Full, 6 files) and 2 (Incremental: `hello.txt` changed,
//! `sub/added.txt` added, so `sub/` itself changed) this keeps FileIndex 2, 3, 5, 6 of JobId 1
//! and 1–3 of JobId 2: the seven files the real Director restored (`Files Expected: 7`,
//! `vectors/clear-restore` conn 1).
//!
//! # Bootstrap
//!
//! [`Catalog::build_bootstrap`] turns a selection into [`BsrEntry`]s, one per JobMedia row
//! that holds a selected file (`core/src/dird/bsr.cc` `WriteBsr()`): volume, media type,
//! storage and slot from `Media`/`Storage`, the job's VolSessionId/VolSessionTime, `VolAddr`
//! = `(StartFile << 32) | StartBlock` – `(EndFile << 32) | EndBlock`, and the selected
//! FileIndexes of that row as ranges, split wherever an index is not selected, with their
//! count. [`Bootstrap::restore_lines`] writes them as the Director sends them to the SD (one
//! line per message, `Storage`, `Volume`, `MediaType`, `Device`, `Slot`, `VolSessionId`,
//! `VolSessionTime`, `VolAddr`, `FileIndex`…, `Count`); [`Bootstrap::backup_text`] writes the
//! shorter file of `Write Bootstrap` (a comment, then no `Storage`, `Device` or `Count`). The
//! lines themselves are emitted by [`fd_core::wire::bsr::BsrLine`], so the Director and the
//! SD side share one codec.

use std::collections::HashMap;

use fd_core::wire::attr::Stat;
use fd_core::wire::bsr::{BsrLine, Range, Value as BsrValue};

use super::ops::group_by_job;
use super::sql::{placeholders, Value};
use super::{Catalog, Error, JobLevel, JobStatus, JobType};

/// One selected file version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedFile {
    /// The job whose backup holds this version.
    pub job_id: i64,
    /// Its FileIndex in that job.
    pub file_index: u32,
    /// `Path.Path` (with trailing `/`).
    pub path: String,
    /// `File.Name` (`''` for a directory).
    pub name: String,
    /// `File.LStat`.
    pub lstat: String,
    /// `File.MD5`.
    pub md5: String,
}

impl SelectedFile {
    /// The full name as the FD will restore it.
    pub fn fname(&self) -> String {
        format!("{}{}", self.path, self.name)
    }

    /// The decoded stat packet (size, mtime, mode…).
    pub fn stat(&self) -> Result<Stat, Error> {
        Stat::parse(self.lstat.as_bytes()).map_err(Error::Wire)
    }
}

/// What a restore will read: the jobs and the file versions chosen from them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RestoreSelection {
    /// The jobs considered, oldest first.
    pub job_ids: Vec<i64>,
    /// The chosen versions, by JobId then FileIndex.
    pub files: Vec<SelectedFile>,
}

/// One bootstrap entry: a JobMedia row with selected files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BsrEntry {
    /// The job.
    pub job_id: i64,
    /// `Storage.Name` of the volume (empty if unknown).
    pub storage: String,
    /// `Media.VolumeName`.
    pub volume: String,
    /// `Media.MediaType`.
    pub media_type: String,
    /// `Media.Slot` (written only when > 0).
    pub slot: u64,
    /// The job's VolSessionId.
    pub vol_session_id: u32,
    /// The job's VolSessionTime.
    pub vol_session_time: u32,
    /// `(StartFile << 32) | StartBlock`.
    pub start_addr: u64,
    /// `(EndFile << 32) | EndBlock`.
    pub end_addr: u64,
    /// Selected FileIndex ranges (inclusive), ascending.
    pub file_indexes: Vec<(u32, u32)>,
}

impl BsrEntry {
    /// Number of selected files in this entry (`Count=`).
    pub fn count(&self) -> u64 {
        self.file_indexes
            .iter()
            .map(|(a, b)| u64::from(b - a) + 1)
            .sum()
    }
}

/// A bootstrap: its entries in the order the SD must read them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bootstrap {
    /// Entries, by job (oldest first) then VolIndex/JobMediaId.
    pub entries: Vec<BsrEntry>,
}

/// Collapse sorted, deduplicated indexes into inclusive ranges.
pub fn ranges(sorted: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &i in sorted {
        match out.last_mut() {
            Some((_, b)) if b.checked_add(1) == Some(i) => *b = i,
            _ => out.push((i, i)),
        }
    }
    out
}

fn range(a: u32, b: u32) -> Range {
    if a == b {
        Range::single(a.into())
    } else {
        Range::new(a.into(), b.into())
    }
}

fn push_line(out: &mut Vec<Vec<u8>>, line: BsrLine<'_>) -> Result<(), Error> {
    let mut buf = vec![0u8; line.buffer_len()];
    let n = line.emit(&mut buf).map_err(Error::Wire)?;
    buf.truncate(n);
    out.push(buf);
    Ok(())
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The comment line of a `Write Bootstrap` file (`core/src/dird/backup.cc`
/// `UpdateBootstrapFile()`): `" 22-Nov-2026 15:46:55 - «Job» - «level»"` (without the `#`).
pub fn backup_bootstrap_comment(time: i64, job: &str, level: &str) -> String {
    let t = super::time::format_sql(time); // YYYY-MM-DD HH:MM:SS
    let (y, rest) = t.split_at(4);
    let mon: usize = rest.get(1..3).and_then(|m| m.parse().ok()).unwrap_or(1);
    let day = rest.get(4..6).unwrap_or("01");
    let clock = rest.get(7..).unwrap_or("00:00:00");
    let m = MONTHS.get(mon.saturating_sub(1)).copied().unwrap_or("Jan");
    format!(" {day}-{m}-{y} {clock} - {job} - {level}")
}

impl Bootstrap {
    /// Files the restore will read (`Files Expected`): the sum of the entries' counts,
    /// less one for each entry that continues the previous one's last file on the next volume
    /// (`WriteBsr()`).
    pub fn expected_files(&self) -> u64 {
        let mut total = 0u64;
        let mut prev: Option<(i64, u32)> = None;
        for e in &self.entries {
            let c = e.count();
            total += c;
            if let (Some((job, last)), Some((first, _))) = (prev, e.file_indexes.first()) {
                if job == e.job_id && last == *first && c > 0 {
                    total -= 1;
                }
            }
            prev = e.file_indexes.last().map(|(_, b)| (e.job_id, *b));
        }
        total
    }

    /// The lines the Director sends the SD after `bootstrap⏎`, each with its newline (one
    /// message per line). `device_of` maps a Storage name to the first Device of that Storage
    /// resource (`GetStorageDevice()`); `None` omits the `Device=` line.
    pub fn restore_lines(
        &self,
        device_of: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<Vec<u8>>, Error> {
        let mut out = Vec::new();
        for e in &self.entries {
            push_line(
                &mut out,
                BsrLine::Storage(BsrValue::quoted(e.storage.as_bytes())),
            )?;
            push_line(
                &mut out,
                BsrLine::Volume(BsrValue::quoted(e.volume.as_bytes())),
            )?;
            push_line(
                &mut out,
                BsrLine::MediaType(BsrValue::quoted(e.media_type.as_bytes())),
            )?;
            if let Some(dev) = device_of(&e.storage) {
                push_line(&mut out, BsrLine::Device(BsrValue::quoted(dev.as_bytes())))?;
            }
            if e.slot > 0 {
                push_line(&mut out, BsrLine::Slot(e.slot))?;
            }
            self.session_lines(&mut out, e)?;
            push_line(&mut out, BsrLine::Count(e.count()))?;
        }
        Ok(out)
    }

    fn session_lines(&self, out: &mut Vec<Vec<u8>>, e: &BsrEntry) -> Result<(), Error> {
        push_line(
            out,
            BsrLine::VolSessionId(Range::single(e.vol_session_id.into())),
        )?;
        push_line(out, BsrLine::VolSessionTime(e.vol_session_time.into()))?;
        push_line(out, BsrLine::VolAddr(Range::new(e.start_addr, e.end_addr)))?;
        for (a, b) in &e.file_indexes {
            push_line(out, BsrLine::FileIndex(range(*a, *b)))?;
        }
        Ok(())
    }

    /// The whole restore bootstrap as one text (the concatenated [`Bootstrap::restore_lines`]).
    pub fn restore_text(
        &self,
        device_of: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<u8>, Error> {
        Ok(self.restore_lines(device_of)?.concat())
    }

    /// The file `Write Bootstrap` produces after a backup: `#comment`, then per entry
    /// `Volume`, `MediaType`, `VolSessionId`, `VolSessionTime`, `VolAddr`, `FileIndex`…
    /// (`vectors/volume-full/CapBackup-1.bsr`). `comment` is the text after `#`
    /// ([`backup_bootstrap_comment`]).
    pub fn backup_text(&self, comment: &str) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        push_line(&mut out, BsrLine::Comment(comment.as_bytes()))?;
        for e in &self.entries {
            push_line(
                &mut out,
                BsrLine::Volume(BsrValue::quoted(e.volume.as_bytes())),
            )?;
            push_line(
                &mut out,
                BsrLine::MediaType(BsrValue::quoted(e.media_type.as_bytes())),
            )?;
            if e.slot > 0 {
                push_line(&mut out, BsrLine::Slot(e.slot))?;
            }
            self.session_lines(&mut out, e)?;
        }
        Ok(out.concat())
    }
}

fn addr(file: u32, block: u32) -> u64 {
    (u64::from(file) << 32) | u64::from(block)
}

impl Catalog {
    /// The jobs of "restore the most recent backup" of a Client and FileSet as of `until`
    /// (Unix seconds; JobTDate ≤ until): newest Full, newest Differential started after it,
    /// all Incrementals started after the newer of the two, oldest first
    /// (`AccurateGetJobids()`). Empty when there is no Full.
    pub fn restore_jobids(
        &mut self,
        client_id: i64,
        fileset_id: i64,
        until: i64,
    ) -> Result<Vec<i64>, Error> {
        let q = "SELECT JobId, JobTDate FROM Job WHERE ClientId = ? AND FileSetId = ? \
                 AND Type = ? AND JobStatus IN ('T', 'W') AND Level = ? \
                 AND JobTDate <= ? AND JobTDate > ?";
        let newest = format!("{q} ORDER BY JobTDate DESC, JobId DESC LIMIT 1");
        let params = |level: JobLevel, after: i64| -> Vec<Value> {
            vec![
                client_id.into(),
                fileset_id.into(),
                Value::Text(char::from(JobType::Backup.to_u8()).to_string()),
                Value::Text(char::from(level.to_u8()).to_string()),
                until.into(),
                after.into(),
            ]
        };
        let full = self
            .conn()
            .query(&newest, &params(JobLevel::Full, i64::MIN))?;
        let Some(full) = full.first() else {
            return Ok(Vec::new());
        };
        let (full_id, full_t) = (full.int(0)?, full.int_or_zero(1)?);
        let mut ids = vec![full_id];
        let mut base_t = full_t;
        let diff = self
            .conn()
            .query(&newest, &params(JobLevel::Differential, full_t))?;
        if let Some(d) = diff.first() {
            ids.push(d.int(0)?);
            base_t = d.int_or_zero(1)?;
        }
        let incrs = self.conn().query(
            &format!("{q} ORDER BY JobTDate, JobId"),
            &params(JobLevel::Incremental, base_t),
        )?;
        for r in &incrs {
            ids.push(r.int(0)?);
        }
        Ok(ids)
    }

    /// The jobs whose files form the accurate list of a backup at `level` as of `until`
    /// (`AccurateGetJobids()`): for an Incremental the same jobs as
    /// [`restore_jobids`](Self::restore_jobids); for a Differential only the newest Full, as
    /// a Differential is taken against the Full alone (files changed by Incrementals since
    /// then belong in it again). Empty when there is no Full or at another level.
    pub fn accurate_jobids(
        &mut self,
        client_id: i64,
        fileset_id: i64,
        until: i64,
        level: JobLevel,
    ) -> Result<Vec<i64>, Error> {
        let mut ids = match level {
            JobLevel::Incremental | JobLevel::Differential => {
                self.restore_jobids(client_id, fileset_id, until)?
            }
            _ => return Ok(Vec::new()),
        };
        if level == JobLevel::Differential {
            ids.truncate(1);
        }
        Ok(ids)
    }

    /// The newest version of every file in `job_ids`, without files whose newest version is
    /// a deletion marker. Also "the files of these jobids" for `restore jobid=…`.
    pub fn select_files(&mut self, job_ids: &[i64]) -> Result<RestoreSelection, Error> {
        if job_ids.is_empty() {
            return Ok(RestoreSelection::default());
        }
        let sql = format!(
            "SELECT t.JobId, t.FileIndex, Path.Path, t.Name, t.LStat, t.Md5 FROM ( \
               SELECT File.JobId, File.FileIndex, File.PathId, File.Name, File.LStat, File.Md5, \
                 ROW_NUMBER() OVER (PARTITION BY File.PathId, File.Name \
                   ORDER BY Job.JobTDate DESC, File.JobId DESC, File.FileIndex DESC) AS rn \
               FROM File JOIN Job ON Job.JobId = File.JobId \
               WHERE File.JobId IN ({}) ) t \
             JOIN Path ON Path.PathId = t.PathId \
             WHERE t.rn = 1 AND t.FileIndex > 0 ORDER BY t.JobId, t.FileIndex",
            placeholders(job_ids.len())
        );
        let params: Vec<Value> = job_ids.iter().map(|j| (*j).into()).collect();
        let rows = self.conn().query(&sql, &params)?;
        let files = rows
            .iter()
            .map(|r| {
                Ok(SelectedFile {
                    job_id: r.int(0)?,
                    file_index: r.u32(1)?,
                    path: r.text(2)?,
                    name: r.text(3)?,
                    lstat: r.text(4)?,
                    md5: r.text(5)?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(RestoreSelection {
            job_ids: job_ids.to_vec(),
            files,
        })
    }

    /// "Restore the most recent backup" as of `until`: [`Catalog::restore_jobids`] then
    /// [`Catalog::select_files`].
    pub fn restore_current(
        &mut self,
        client_id: i64,
        fileset_id: i64,
        until: i64,
    ) -> Result<RestoreSelection, Error> {
        let ids = self.restore_jobids(client_id, fileset_id, until)?;
        self.select_files(&ids)
    }

    /// The bootstrap entries that read `sel` (`WriteBsr()`).
    pub fn build_bootstrap(&mut self, sel: &RestoreSelection) -> Result<Bootstrap, Error> {
        let by_job = group_by_job(sel.files.iter().map(|f| (f.job_id, f.file_index)));
        let mut order: Vec<i64> = sel
            .job_ids
            .iter()
            .copied()
            .filter(|j| by_job.contains_key(j))
            .collect();
        for j in by_job.keys() {
            if !order.contains(j) {
                order.push(*j);
            }
        }
        self.bootstrap_for(&order, |job, first, last| {
            let all = by_job.get(&job).map(Vec::as_slice).unwrap_or(&[]);
            let lo = all.partition_point(|&i| i < first);
            let hi = all.partition_point(|&i| i <= last);
            ranges(all.get(lo..hi).unwrap_or(&[]))
        })
    }

    /// The bootstrap of everything a backup job wrote (each JobMedia row's
    /// FirstIndex–LastIndex), as `Write Bootstrap` records it.
    pub fn backup_bootstrap(&mut self, job_id: i64) -> Result<Bootstrap, Error> {
        self.bootstrap_for(&[job_id], |_, first, last| vec![(first, last)])
    }

    fn bootstrap_for(
        &mut self,
        jobs: &[i64],
        select: impl Fn(i64, u32, u32) -> Vec<(u32, u32)>,
    ) -> Result<Bootstrap, Error> {
        let mut entries = Vec::new();
        let mut sessions: HashMap<i64, (u32, u32)> = HashMap::new();
        for &job_id in jobs {
            let job = self.job(job_id)?.ok_or(Error::NotFound("job"))?;
            sessions.insert(job_id, (job.vol_session_id, job.vol_session_time));
            let rows = self.conn().query(
                "SELECT Media.VolumeName, Media.MediaType, Media.Slot, Storage.Name, \
                 JobMedia.FirstIndex, JobMedia.LastIndex, JobMedia.StartFile, JobMedia.EndFile, \
                 JobMedia.StartBlock, JobMedia.EndBlock \
                 FROM JobMedia JOIN Media ON Media.MediaId = JobMedia.MediaId \
                 LEFT JOIN Storage ON Storage.StorageId = Media.StorageId \
                 WHERE JobMedia.JobId = ? ORDER BY JobMedia.VolIndex, JobMedia.JobMediaId",
                &[job_id.into()],
            )?;
            for r in &rows {
                let (first, last) = (r.u32(4)?, r.u32(5)?);
                let file_indexes = select(job_id, first, last);
                if file_indexes.is_empty() {
                    continue;
                }
                entries.push(BsrEntry {
                    job_id,
                    storage: r.text(3)?,
                    volume: r.text(0)?,
                    media_type: r.text(1)?,
                    slot: u64::try_from(r.int_or_zero(2)?).unwrap_or(0),
                    vol_session_id: job.vol_session_id,
                    vol_session_time: job.vol_session_time,
                    start_addr: addr(r.u32(6)?, r.u32(8)?),
                    end_addr: addr(r.u32(7)?, r.u32(9)?),
                    file_indexes,
                });
            }
        }
        Ok(Bootstrap { entries })
    }

    /// Whether a job ended well enough to restore from (`T` or `W`).
    pub fn job_is_restorable(&mut self, job_id: i64) -> Result<bool, Error> {
        Ok(self
            .job(job_id)?
            .is_some_and(|j| matches!(j.status, JobStatus::Terminated | JobStatus::Warnings)))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn ranges_split_at_gaps() {
        // vectors/clear-restore conn 2 msgs 26-27: JobId 1 contributes 2-3 and 5-6.
        assert_eq!(ranges(&[2, 3, 5, 6]), vec![(2, 3), (5, 6)]);
        assert_eq!(ranges(&[1]), vec![(1, 1)]);
        assert_eq!(ranges(&[]), Vec::<(u32, u32)>::new());
        assert_eq!(
            ranges(&[u32::MAX - 1, u32::MAX]),
            vec![(u32::MAX - 1, u32::MAX)]
        );
    }

    #[test]
    fn comment_like_write_bootstrap() {
        // vectors/volume-full/CapBackup-1.bsr line 1: EndTime 15:46:55 of JobId 1.
        assert_eq!(
            backup_bootstrap_comment(1_795_362_415, "CapBackup.2026-11-22_15.46.52_03", "Full"),
            " 22-Nov-2026 15:46:55 - CapBackup.2026-11-22_15.46.52_03 - Full"
        );
    }

    #[test]
    fn continuation_counted_once() {
        let e = |first: u32, last: u32| BsrEntry {
            job_id: 1,
            storage: "File".into(),
            volume: "V".into(),
            media_type: "File".into(),
            slot: 0,
            vol_session_id: 1,
            vol_session_time: 1,
            start_addr: 0,
            end_addr: 0,
            file_indexes: vec![(first, last)],
        };
        // File 5 spans two volumes: 1-5 and 5-9 are nine files, not ten.
        let b = Bootstrap {
            entries: vec![e(1, 5), e(5, 9)],
        };
        assert_eq!(b.expected_files(), 9);
    }

    proptest! {
        #[test]
        fn ranges_cover_exactly_the_input(mut v in proptest::collection::vec(0u32..200, 0..60)) {
            v.sort_unstable();
            v.dedup();
            let r = ranges(&v);
            let back: Vec<u32> = r.iter().flat_map(|(a, b)| *a..=*b).collect();
            prop_assert_eq!(&back, &v);
            // Maximal: no two ranges touch.
            for w in r.windows(2) {
                prop_assert!(w[0].1 + 1 < w[1].0);
            }
        }

        #[test]
        fn restore_lines_parse_back(
            sid in 0u32.., stime in 0u32.., start in 0u64..1<<40, len in 0u64..1<<20,
            idx in proptest::collection::btree_set(1u32..500, 1..40),
        ) {
            let idx: Vec<u32> = idx.into_iter().collect();
            let b = Bootstrap { entries: vec![BsrEntry {
                job_id: 1, storage: "File".into(), volume: "Cap-0001".into(),
                media_type: "File".into(), slot: 0, vol_session_id: sid,
                vol_session_time: stime, start_addr: start, end_addr: start + len,
                file_indexes: ranges(&idx),
            }]};
            let text = b.restore_text(|_| Some("FileStorage".into())).unwrap();
            let entries: Vec<_> = fd_core::wire::bsr::entries(&text).collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(entries.len(), 1);
            let e = &entries[0];
            prop_assert_eq!(e.volume, Some(&b"Cap-0001"[..]));
            prop_assert_eq!(e.vol_session_time, Some(u64::from(stime)));
            prop_assert_eq!(e.count, Some(idx.len() as u64));
            for i in 0..510u64 {
                prop_assert_eq!(e.selects(sid, stime, i), idx.contains(&(i as u32)));
            }
        }
    }
}
