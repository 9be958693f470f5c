//! A `bextract` work-alike: restore the files of a volume into a directory.
//!
//! One file per session is open at a time, so a volume on which concurrent jobs interleaved
//! their blocks is restored correctly (each job's records are in order within the job).
//!
//! Records are consumed in volume order, as `core/src/stored/bextract.cc` and the FD's
//! `core/src/filed/restore.cc` do: an attribute record (stream 1/5) closes the previous file
//! and creates the next entry, the data records that follow fill it, the digest record is
//! remembered, and the next attribute record (or the end) finishes the file.
//!
//! | entry | how it is created |
//! |---|---|
//! | FT_REG / FT_REGE | a temporary file `.«name».barque-partial` next to the target, filled from streams 2 (sequential) and 6 (8-byte offset + bytes, `seek` then write, so holes stay holes), then mode, mtime/atime, owner (best effort), and `rename` onto the final name |
//! | FT_DIREND | `mkdir` (if missing); mode and times are applied at the very end, deepest first, so that creating entries inside does not disturb the restored mtime |
//! | FT_LNK | a symlink created under a temporary name and renamed |
//! | FT_LNKSAVED | a hard link to the already restored first name (the record's link field), under a temporary name, renamed |
//! | FT_DELETED, FT_SPEC, others | skipped with a warning (device nodes need `mknod`, which this safe-Rust tool does not call) |
//!
//! A stored SHA-256 or SHA-512 digest is checked against the data bytes of the file's records,
//! which `bextract` does not do. The digest covers exactly the bytes the FD *sent*: for a
//! sparse file that is the concatenation of the data chunks without their offsets and without
//! the skipped zero chunks, not the file contents (`vectors/volume-multiblock` `sparse.bin`:
//! the file's SHA-256 is `686c51a0…`, the stored digest `xfu3wm5+…` is the SHA-256 of its two
//! sent chunks; checked in `tests/volumes.rs`).
//!
//! # Staying inside the target
//!
//! - Names are made relative (leading `/` dropped) and every `..` component is rejected; `.`
//!   and empty components are dropped.
//! - Every parent directory is created by us or checked with `symlink_metadata`: a symlink or
//!   a non-directory on the way is an error, so nothing is written through a link planted by an
//!   earlier record.
//! - Final names are replaced by `rename`, which replaces a symlink rather than following it.
//! - Symlinks whose target is absolute, or whose relative target climbs out of the target
//!   directory, are refused.
//!
//! Not supported (reported as errors): compressed (4, 7, 29–33) and encrypted (20–25) data,
//! Windows data streams, ACL/xattr streams (ignored with a warning). Symlink timestamps are not
//! restored (std has no `lutimes`).

use std::fs::{self, File, FileTimes, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fd_core::wire::attr::{AttrRecord, DigestKind, FileType, Stat};
use fd_core::wire::bsr;
use fd_core::wire::stream::{SparseChunk, StreamType};
use sha2::{Digest as _, Sha256, Sha512};

use crate::volume::reader::RecordReader;
use crate::volume::record::Record;

/// What an extraction did.
#[derive(Debug, Default)]
pub struct Report {
    /// Entries created (files, directories, links).
    pub restored: u32,
    /// File bytes written.
    pub bytes: u64,
    /// Digests that matched.
    pub verified: u32,
    /// Problems that made an entry fail or be skipped.
    pub errors: Vec<String>,
    /// Notes about things ignored.
    pub warnings: Vec<String>,
}

struct OpenFile {
    tmp: PathBuf,
    dest: PathBuf,
    file: File,
    stat: Stat,
    digest: Option<(DigestKind, Vec<u8>)>,
    sha256: Sha256,
    sha512: Sha512,
    failed: bool,
}

struct PendingDir {
    path: PathBuf,
    stat: Stat,
}

/// Turn a stored path into a relative path with no `..`; `None` if it cannot be made safe.
pub fn safe_relative(name: &[u8]) -> Option<PathBuf> {
    let s = std::str::from_utf8(name).ok()?;
    let mut out = PathBuf::new();
    for c in Path::new(s).components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    if out.as_os_str().is_empty() {
        None
    } else {
        Some(out)
    }
}

/// True if a symlink at `link_rel` (relative to the target) pointing to `target` stays inside.
pub fn symlink_stays_inside(link_rel: &Path, target: &[u8]) -> bool {
    let Ok(t) = std::str::from_utf8(target) else {
        return false;
    };
    let t = Path::new(t);
    if t.is_absolute() || t.as_os_str().is_empty() {
        return false;
    }
    let mut depth: i64 = link_rel.components().count() as i64 - 1;
    for c in t.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// Restores records into a directory.
pub struct Extractor<'a> {
    root: PathBuf,
    bsr: Option<Vec<bsr::Entry<'a>>>,
    /// The file being restored, per session (concurrent jobs interleave their blocks).
    open: Vec<((u32, u32), OpenFile)>,
    /// Session of the record being handled.
    session: (u32, u32),
    dirs: Vec<PendingDir>,
    report: Report,
    /// When set, entries are printed as they are restored.
    pub listing: Option<Box<dyn Write + 'a>>,
}

fn systime(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

fn is_dir_type(t: FileType) -> bool {
    matches!(
        t,
        FileType::DirEnd | FileType::DirBegin | FileType::DirNoChg
    )
}

impl<'a> Extractor<'a> {
    /// Restore under `root` (created if missing), keeping only what `bsr` selects.
    pub fn new(root: &Path, bsr_text: Option<&'a [u8]>) -> io::Result<Self> {
        fs::create_dir_all(root)?;
        let bsr = match bsr_text {
            Some(t) => Some(
                bsr::entries(t)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("bsr: {e}")))?,
            ),
            None => None,
        };
        Ok(Self {
            root: root.to_path_buf(),
            bsr,
            open: Vec::new(),
            session: (0, 0),
            dirs: Vec::new(),
            report: Report::default(),
            listing: None,
        })
    }

    fn selected(&self, rec: &Record) -> bool {
        match &self.bsr {
            None => true,
            Some(entries) => entries.iter().any(|e| {
                e.selects(
                    rec.vol_session_id,
                    rec.vol_session_time,
                    rec.file_index as u64,
                )
            }),
        }
    }

    fn error(&mut self, msg: String) {
        self.report.errors.push(msg);
    }

    /// Make sure every directory between the root and `rel`'s parent exists and is a real
    /// directory; returns the absolute parent.
    fn parents(&mut self, rel: &Path) -> Result<PathBuf, String> {
        let mut dir = self.root.clone();
        let comps: Vec<_> = rel.components().collect();
        let n = comps.len().saturating_sub(1);
        for c in comps.iter().take(n) {
            dir.push(c);
            match fs::symlink_metadata(&dir) {
                Ok(m) if m.file_type().is_dir() => {}
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(format!(
                        "refusing to write through symlink {}",
                        dir.display()
                    ))
                }
                Ok(_) => return Err(format!("{} exists and is not a directory", dir.display())),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
                }
                Err(e) => return Err(format!("{}: {e}", dir.display())),
            }
        }
        Ok(dir)
    }

    fn tmp_name(parent: &Path, rel: &Path) -> PathBuf {
        let base = rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        parent.join(format!(".{base}.barque-partial"))
    }

    fn remove_stale(p: &Path) {
        if fs::symlink_metadata(p).is_ok() {
            let _ = fs::remove_file(p);
        }
    }

    /// Feed one record.
    pub fn push(&mut self, rec: &Record) {
        if rec.file_index <= 0 || !self.selected(rec) {
            return;
        }
        self.session = (rec.vol_session_id, rec.vol_session_time);
        let kind = rec.stream.kind();
        match kind {
            StreamType::UnixAttributes | StreamType::UnixAttributesEx => {
                self.finish_current();
                self.start_entry(rec);
            }
            StreamType::FileData | StreamType::SparseData => self.write_data(rec, kind),
            k if DigestKind::from_stream(k).is_some() => {
                if let (Some(cur), Some(dk)) = (self.cur_mut(), DigestKind::from_stream(k)) {
                    if cur.stat.size >= 0 {
                        cur.digest = Some((dk, rec.data.clone()));
                    }
                }
            }
            StreamType::Acl(_)
            | StreamType::Xattr(_)
            | StreamType::UnixAccessAcl
            | StreamType::UnixDefaultAcl => self.report.warnings.push(format!(
                "FileIndex={}: ACL/xattr stream {} ignored",
                rec.file_index, rec.stream.0
            )),
            StreamType::ProgramNames | StreamType::ProgramData | StreamType::SignedDigest => {}
            _ => {
                let msg = format!(
                    "FileIndex={}: stream {} ({}) is not supported",
                    rec.file_index,
                    rec.stream.0,
                    crate::bls::stream_to_ascii(rec.stream.0, rec.file_index)
                );
                if let Some(cur) = self.cur_mut() {
                    cur.failed = true;
                }
                self.error(msg);
            }
        }
    }

    fn start_entry(&mut self, rec: &Record) {
        let a = match AttrRecord::parse(&rec.data) {
            Ok(a) => a,
            Err(e) => {
                self.error(format!("FileIndex={}: bad attributes: {e}", rec.file_index));
                return;
            }
        };
        let Some(rel) = safe_relative(a.fname) else {
            self.error(format!(
                "FileIndex={}: unsafe name {:?} refused",
                rec.file_index,
                String::from_utf8_lossy(a.fname)
            ));
            return;
        };
        if let Err(e) = self.create(&a, &rel) {
            self.error(format!("{}: {e}", String::from_utf8_lossy(a.fname)));
        }
    }

    fn list_entry(&mut self, a: &AttrRecord<'_>) {
        if let Some(w) = self.listing.as_mut() {
            let _ = writeln!(
                w,
                "{}  {}",
                crate::bls::attr_stat_str(a, &crate::bls::NumericNames),
                crate::bls::attr_file_str(a)
            );
        }
    }

    fn create(&mut self, a: &AttrRecord<'_>, rel: &Path) -> Result<(), String> {
        let parent = self.parents(rel)?;
        let dest = self.root.join(rel);
        match a.file_type {
            FileType::Reg | FileType::RegE => {
                if fs::symlink_metadata(&dest).is_ok_and(|m| m.is_dir()) {
                    return Err("a directory is in the way".into());
                }
                let tmp = Self::tmp_name(&parent, rel);
                Self::remove_stale(&tmp);
                let file = OpenOptions::new()
                    .write(true)
                    .read(true)
                    .create_new(true)
                    .open(&tmp)
                    .map_err(|e| format!("create {}: {e}", tmp.display()))?;
                self.list_entry(a);
                let session = self.session;
                self.open.push((
                    session,
                    OpenFile {
                        tmp,
                        dest,
                        file,
                        stat: a.stat,
                        digest: None,
                        sha256: Sha256::new(),
                        sha512: Sha512::new(),
                        failed: false,
                    },
                ));
            }
            t if is_dir_type(t) => {
                match fs::symlink_metadata(&dest) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => return Err("exists and is not a directory".into()),
                    Err(_) => {
                        fs::create_dir(&dest).map_err(|e| format!("mkdir: {e}"))?;
                    }
                }
                self.list_entry(a);
                self.dirs.push(PendingDir {
                    path: dest,
                    stat: a.stat,
                });
                self.report.restored += 1;
            }
            FileType::Lnk => {
                if !symlink_stays_inside(rel, a.link) {
                    return Err(format!(
                        "symlink target {:?} leaves the restore directory; refused",
                        String::from_utf8_lossy(a.link)
                    ));
                }
                let target = std::str::from_utf8(a.link).map_err(|_| "target not UTF-8")?;
                let tmp = Self::tmp_name(&parent, rel);
                Self::remove_stale(&tmp);
                std::os::unix::fs::symlink(target, &tmp).map_err(|e| format!("symlink: {e}"))?;
                self.replace(&tmp, &dest)?;
                self.list_entry(a);
                self.report.restored += 1;
            }
            FileType::LnkSaved => {
                let src_rel = safe_relative(a.link).ok_or("unsafe hard-link target")?;
                let src = self.root.join(&src_rel);
                self.parents(&src_rel)?;
                match fs::symlink_metadata(&src) {
                    Ok(m) if m.is_file() => {}
                    _ => {
                        return Err(format!(
                            "hard-link target {} was not restored",
                            src.display()
                        ))
                    }
                }
                let tmp = Self::tmp_name(&parent, rel);
                Self::remove_stale(&tmp);
                fs::hard_link(&src, &tmp).map_err(|e| format!("link: {e}"))?;
                self.replace(&tmp, &dest)?;
                self.list_entry(a);
                self.report.restored += 1;
            }
            FileType::Deleted => {}
            other => {
                self.report.warnings.push(format!(
                    "{}: file type {} skipped",
                    String::from_utf8_lossy(a.fname),
                    other.to_u32()
                ));
            }
        }
        Ok(())
    }

    fn replace(&self, tmp: &Path, dest: &Path) -> Result<(), String> {
        if fs::symlink_metadata(dest).is_ok_and(|m| m.is_dir()) {
            let _ = fs::remove_file(tmp);
            return Err("a directory is in the way".into());
        }
        fs::rename(tmp, dest).map_err(|e| {
            let _ = fs::remove_file(tmp);
            format!("rename: {e}")
        })
    }

    fn write_data(&mut self, rec: &Record, kind: StreamType) {
        let Some(cur) = self
            .open
            .iter_mut()
            .find(|(s, _)| *s == self.session)
            .map(|(_, f)| f)
        else {
            self.report.warnings.push(format!(
                "FileIndex={}: data without an open file ignored",
                rec.file_index
            ));
            return;
        };
        if cur.failed {
            return;
        }
        let res = match kind {
            StreamType::SparseData => match SparseChunk::parse(&rec.data) {
                Ok(c) => {
                    cur.sha256.update(c.data);
                    cur.sha512.update(c.data);
                    cur.file
                        .seek(SeekFrom::Start(c.offset))
                        .and_then(|_| cur.file.write_all(c.data))
                        .map(|_| c.data.len())
                }
                Err(e) => Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
            },
            _ => {
                cur.sha256.update(&rec.data);
                cur.sha512.update(&rec.data);
                cur.file.write_all(&rec.data).map(|_| rec.data.len())
            }
        };
        match res {
            Ok(n) => self.report.bytes += n as u64,
            Err(e) => {
                cur.failed = true;
                let msg = format!("{}: write: {e}", cur.dest.display());
                self.error(msg);
            }
        }
    }

    fn cur_mut(&mut self) -> Option<&mut OpenFile> {
        let session = self.session;
        self.open
            .iter_mut()
            .find(|(s, _)| *s == session)
            .map(|(_, f)| f)
    }

    fn finish_current(&mut self) {
        let session = self.session;
        if let Some(i) = self.open.iter().position(|(s, _)| *s == session) {
            let (_, cur) = self.open.swap_remove(i);
            self.finish_file(cur);
        }
    }

    fn finish_file(&mut self, mut cur: OpenFile) {
        if cur.failed {
            let _ = fs::remove_file(&cur.tmp);
            return;
        }
        let st = cur.stat;
        let mut problems = Vec::new();
        if let Ok(m) = cur.file.metadata() {
            if st.size >= 0 && m.len() < st.size as u64 {
                // A sparse file whose tail is a hole: Bareos always sends the last chunk, but be
                // safe with older or foreign writers.
                if let Err(e) = cur.file.set_len(st.size as u64) {
                    problems.push(format!("set size: {e}"));
                }
            }
            if st.size >= 0 && m.len() > st.size as u64 {
                problems.push(format!(
                    "size {} differs from the recorded {}",
                    m.len(),
                    st.size
                ));
            }
        }
        if let Some((kind, want)) = cur.digest.take() {
            let got = match kind {
                DigestKind::Sha256 => Some(cur.sha256.finalize().to_vec()),
                DigestKind::Sha512 => Some(cur.sha512.finalize().to_vec()),
                _ => None,
            };
            match got {
                Some(g) if g == want => self.report.verified += 1,
                Some(_) => problems.push(format!("{kind:?} digest mismatch")),
                None => {}
            }
        }
        let _ = std::os::unix::fs::fchown(&cur.file, Some(st.uid as u32), Some(st.gid as u32));
        if let Err(e) = cur
            .file
            .set_permissions(fs::Permissions::from_mode(st.mode as u32 & 0o7777))
        {
            problems.push(format!("chmod: {e}"));
        }
        let times = FileTimes::new()
            .set_accessed(systime(st.atime))
            .set_modified(systime(st.mtime));
        if let Err(e) = cur.file.set_times(times) {
            problems.push(format!("utimes: {e}"));
        }
        drop(cur.file);
        if let Err(e) = self.replace(&cur.tmp, &cur.dest) {
            problems.push(e);
        } else {
            self.report.restored += 1;
        }
        for p in problems {
            self.error(format!("{}: {p}", cur.dest.display()));
        }
    }

    /// Drop the files being restored (their temporary files are removed).
    pub fn abort_current(&mut self) {
        for (_, cur) in std::mem::take(&mut self.open) {
            let _ = fs::remove_file(&cur.tmp);
            self.report
                .errors
                .push(format!("{}: incomplete, not restored", cur.dest.display()));
        }
    }

    /// Finish the last file and apply directory attributes; returns the report.
    pub fn finish(mut self) -> Report {
        for (_, cur) in std::mem::take(&mut self.open) {
            self.finish_file(cur);
        }
        // Deepest first, so a parent's mtime is set after its children were touched.
        self.dirs
            .sort_by_key(|d| std::cmp::Reverse(d.path.components().count()));
        for d in std::mem::take(&mut self.dirs) {
            let st = d.stat;
            let _ = std::os::unix::fs::chown(&d.path, Some(st.uid as u32), Some(st.gid as u32));
            if let Err(e) =
                fs::set_permissions(&d.path, fs::Permissions::from_mode(st.mode as u32 & 0o7777))
            {
                self.error(format!("{}: chmod: {e}", d.path.display()));
            }
            let times = FileTimes::new()
                .set_accessed(systime(st.atime))
                .set_modified(systime(st.mtime));
            if let Err(e) = File::open(&d.path).and_then(|f| f.set_times(times)) {
                self.error(format!("{}: utimes: {e}", d.path.display()));
            }
        }
        self.report
    }
}

/// Restore every selected file of the volume read from `src` into `root`. Read errors are
/// reported and, when the reader can continue (a bad block), skipped.
pub fn extract<R: Read>(
    src: R,
    root: &Path,
    bsr_text: Option<&[u8]>,
    listing: Option<Box<dyn Write + '_>>,
) -> io::Result<Report> {
    extract_volumes(vec![src], root, bsr_text, listing)
}

/// [`extract`] from several volumes read in order (bextract's `-V "Vol1|Vol2"`): a file, or a
/// record, that a job continued from one volume into the next is restored whole.
pub fn extract_volumes<R: Read>(
    srcs: Vec<R>,
    root: &Path,
    bsr_text: Option<&[u8]>,
    listing: Option<Box<dyn Write + '_>>,
) -> io::Result<Report> {
    let mut x = Extractor::new(root, bsr_text)?;
    x.listing = listing;
    let count = srcs.len();
    let mut reader: Option<RecordReader<R>> = None;
    for (i, src) in srcs.into_iter().enumerate() {
        let mut r = match reader.take() {
            Some(prev) => prev.next_volume(src),
            None => RecordReader::new(src),
        }
        .continued(i + 1 < count);
        loop {
            match r.next_record() {
                Ok(Some(rec)) => x.push(&rec),
                Ok(None) => break,
                Err(e) => {
                    let recoverable = e.is_recoverable();
                    // Records of the open file may be lost: never present it as complete.
                    x.abort_current();
                    x.error(format!("volume: {e}"));
                    if !recoverable {
                        break;
                    }
                }
            }
        }
        reader = Some(r);
    }
    Ok(x.finish())
}

/// Inode of a path (for tests and tools checking hard links).
pub fn inode(p: &Path) -> io::Result<u64> {
    Ok(fs::symlink_metadata(p)?.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_safe_relative() {
        assert_eq!(
            safe_relative(b"/srv/tree/a.txt"),
            Some(PathBuf::from("srv/tree/a.txt"))
        );
        assert_eq!(
            safe_relative(b"/srv/tree/"),
            Some(PathBuf::from("srv/tree"))
        );
        assert_eq!(safe_relative(b"./x//y"), Some(PathBuf::from("x/y")));
        assert_eq!(safe_relative(b"/srv/../etc/passwd"), None);
        assert_eq!(safe_relative(b".."), None);
        assert_eq!(safe_relative(b"/"), None);
        assert_eq!(safe_relative(b"\xff"), None);
    }

    #[test]
    fn test_symlink_escape() {
        let l = Path::new("srv/tree/link");
        assert!(symlink_stays_inside(l, b"hello.txt"));
        assert!(symlink_stays_inside(l, b"../../x"));
        assert!(!symlink_stays_inside(l, b"../../../x"));
        assert!(!symlink_stays_inside(l, b"/etc/passwd"));
        assert!(!symlink_stays_inside(l, b""));
        assert!(!symlink_stays_inside(Path::new("link"), b".."));
    }
}
