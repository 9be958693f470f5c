//! The walk and the reads of a backup: [`FileSource`] over the Linux file system.
//!
//! # Order (`core/src/findlib/find_one.cc` `FindOneFile()`)
//!
//! Bareos walks each `File =` root depth first, in `readdir()` order, and sends a directory's
//! own record after its contents. [`LinuxSource`] keeps a stack of open directories
//! (`std::fs::ReadDir`, i.e. `readdir()` order) and reports each directory twice, as the core
//! expects ([`EntryKind::DirBegin`] before its contents, [`EntryKind::Dir`] after). Names are
//! the raw bytes of the path (`OsStrExt`), so non-UTF-8 names go through unchanged. A
//! directory on another file system than its root is reported without contents when the
//! fileset has `onefs` (the default), as Bareos does.
//!
//! Hard links, sparse detection (zero chunks) and the stream choice are the core's business:
//! the source reports `lstat()` faithfully (dev, ino, nlink, blocks ...) and reads bytes.
//!
//! # Reads
//!
//! The core reads into its data buffer (the network buffer size, 256 KiB by default); a
//! read here fills that buffer with as few `read()` calls as the kernel allows, so a large
//! file costs one system call per 256 KiB record. A file that fills its first buffer gets
//! `posix_fadvise(POSIX_FADV_SEQUENTIAL)` (a larger read-ahead window from disk); smaller
//! files, most of a typical tree, cost no extra system call. A regular file that delivered
//! [`crate::readahead::START_AFTER`] bytes is read on from a helper thread
//! ([`crate::readahead`]). When the core asks for it (`hash_reads`, every non-sparse data
//! stream with a signature), the source hashes what it reads: inline for the first bytes,
//! then on the helper thread, which hashes each block as it reads it. With `keep_atime` the file is opened with
//! `O_NOATIME` where permitted (Bareos `k`/`K` option), falling back to a normal open.
//!
//! # Errors
//!
//! The `Display` of [`SourceError`] is the `strerror()` text Bareos prints after `ERR=`
//! (`Permission denied`, `No such file or directory`), without Rust's ` (os error 13)`.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{File, Metadata, ReadDir};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use fd_core::fd::platform::{
    DigestProvider, Entry, EntryKind, FileSource, Hasher, RegexError, StandardDigests,
    StandardHasher, WalkOptions,
};
use fd_core::wire::attr::{DigestKind, Stat, STAT_FIELDS};

/// An I/O error with Bareos' `ERR=` text.
#[derive(Debug)]
pub struct SourceError(pub io::Error);

impl core::fmt::Display for SourceError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&strerror(&self.0))
    }
}

/// `strerror()` text of an I/O error (Rust's message without ` (os error N)`).
pub fn strerror(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s.get(..i).unwrap_or(&s).to_string(),
        None => s,
    }
}

impl From<io::Error> for SourceError {
    fn from(e: io::Error) -> Self {
        SourceError(e)
    }
}

/// `lstat()` as a Bareos stat packet (the POSIX fields; the core fills the rest).
pub fn stat_of(m: &Metadata) -> Stat {
    let mut s = Stat::zeroed();
    s.dev = m.dev() as i64;
    s.ino = m.ino() as i64;
    s.mode = i64::from(m.mode());
    s.nlink = m.nlink() as i64;
    s.uid = i64::from(m.uid());
    s.gid = i64::from(m.gid());
    s.rdev = m.rdev() as i64;
    s.size = m.size() as i64;
    s.blksize = m.blksize() as i64;
    s.blocks = m.blocks() as i64;
    s.atime = m.atime();
    s.mtime = m.mtime();
    s.ctime = m.ctime();
    s.fields = STAT_FIELDS;
    s
}

fn kind_of(m: &Metadata) -> EntryKind {
    let t = m.file_type();
    if t.is_dir() {
        EntryKind::DirBegin
    } else if t.is_symlink() {
        EntryKind::Symlink
    } else if t.is_fifo() {
        EntryKind::Fifo
    } else if t.is_char_device() || t.is_block_device() {
        EntryKind::Device
    } else if t.is_socket() {
        EntryKind::Socket
    } else {
        EntryKind::Regular
    }
}

#[derive(Debug)]
struct Frame {
    path: Vec<u8>,
    stat: Stat,
    /// `None` before the first `next` after its DirBegin (so `skip_dir` can avoid opening
    /// it) and after it was skipped or exhausted.
    iter: Option<ReadDir>,
    opened: bool,
    skip: bool,
}

/// The Linux file system as a backup source.
#[derive(Debug, Default)]
pub struct LinuxSource {
    root_pending: Option<Vec<u8>>,
    root_dev: u64,
    opts: WalkOptions,
    stack: Vec<Frame>,
    file: Option<File>,
    /// The open file was advised sequential (after its first full buffer).
    advised: bool,
    /// Bytes read from the open file by plain reads.
    plain_read: u64,
    /// The open file's reads on a helper thread (large regular files).
    ahead: Option<crate::readahead::ReadAhead>,
    /// The digest of the open file's bytes, fed by `read` (until the reads move to the helper
    /// thread, which takes it along), when the core asked for it ([`FileSource::hash_reads`]).
    hasher: Option<StandardHasher>,
    names: HashMap<(bool, i64), Vec<u8>>,
    /// Compiled fileset regular expressions by (pattern, ignore case); `None` = invalid.
    regexes: HashMap<(Vec<u8>, bool), Option<regex::bytes::Regex>>,
}

/// Compile a fileset regular expression as `regcomp(REG_EXTENDED [| REG_ICASE])` would:
/// byte-oriented (paths need not be UTF-8), unanchored.
pub fn compile_regex(pattern: &[u8], ignore_case: bool) -> Option<regex::bytes::Regex> {
    let text = std::str::from_utf8(pattern).ok()?;
    regex::bytes::RegexBuilder::new(text)
        .unicode(false)
        .case_insensitive(ignore_case)
        .size_limit(1 << 20)
        .build()
        .ok()
}

fn to_path(b: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(b))
}

fn put(dst: &mut [u8], src: &[u8]) -> Option<usize> {
    let d = dst.get_mut(..src.len())?;
    d.copy_from_slice(src);
    Some(src.len())
}

impl LinuxSource {
    /// A source with no walk in progress.
    pub fn new() -> Self {
        Self::default()
    }

    /// Report `path` with metadata `m`; pushes a frame for directories.
    fn report(
        &mut self,
        path: Vec<u8>,
        m: &Metadata,
        name: &mut [u8],
        link: &mut [u8],
    ) -> Option<Entry> {
        let stat = stat_of(m);
        let mut kind = kind_of(m);
        let mut link_len = 0;
        if kind == EntryKind::Symlink {
            match std::fs::read_link(to_path(&path)) {
                Ok(t) => match put(link, t.as_os_str().as_bytes()) {
                    Some(n) => link_len = n,
                    None => kind = EntryKind::NoStat,
                },
                Err(_) => kind = EntryKind::NoStat,
            }
        }
        let Some(name_len) = put(name, &path) else {
            let n = name.len();
            let _ = put(name, path.get(..n).unwrap_or(&[]));
            return Some(Entry {
                kind: EntryKind::NoStat,
                name_len: n,
                link_len: 0,
                stat,
            });
        };
        if kind == EntryKind::DirBegin {
            let other_fs = self.opts.one_fs && m.dev() != self.root_dev;
            self.stack.push(Frame {
                path,
                stat,
                iter: None,
                opened: false,
                skip: other_fs,
            });
        }
        Some(Entry {
            kind,
            name_len,
            link_len,
            stat,
        })
    }

    fn name_of(&self, group: bool, id: i64) -> Option<Vec<u8>> {
        if let Some(n) = self.names.get(&(group, id)) {
            return Some(n.clone());
        }
        let file = if group { "/etc/group" } else { "/etc/passwd" };
        let text = std::fs::read(file).ok()?;
        for line in text.split(|&b| b == b'\n') {
            let mut f = line.split(|&b| b == b':');
            let (Some(name), Some(_), Some(num)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            if std::str::from_utf8(num)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                == Some(id)
            {
                return Some(name.to_vec());
            }
        }
        None
    }
}

impl FileSource for LinuxSource {
    type Error = SourceError;

    async fn start(&mut self, root: &[u8], options: &WalkOptions) -> Result<(), SourceError> {
        self.stack.clear();
        self.file = None;
        self.ahead = None;
        self.hasher = None;
        self.opts = *options;
        let mut r = root.to_vec();
        while r.len() > 1 && r.last() == Some(&b'/') {
            r.pop();
        }
        let m = std::fs::symlink_metadata(to_path(&r))?;
        self.root_dev = m.dev();
        self.root_pending = Some(r);
        Ok(())
    }

    async fn next(
        &mut self,
        name: &mut [u8],
        link: &mut [u8],
    ) -> Result<Option<Entry>, SourceError> {
        if let Some(r) = self.root_pending.take() {
            return match std::fs::symlink_metadata(to_path(&r)) {
                Ok(m) => Ok(self.report(r, &m, name, link)),
                Err(e) => Err(e.into()),
            };
        }
        let Some(top) = self.stack.last_mut() else {
            return Ok(None);
        };
        if !top.opened && !top.skip {
            top.opened = true;
            match std::fs::read_dir(to_path(&top.path)) {
                Ok(it) => top.iter = Some(it),
                Err(_) => {
                    // FT_NOOPEN: reported instead of the directory's own record.
                    let Some(f) = self.stack.pop() else {
                        return Ok(None);
                    };
                    let n = put(name, &f.path).unwrap_or(0);
                    return Ok(Some(Entry {
                        kind: EntryKind::NoOpen,
                        name_len: n,
                        link_len: 0,
                        stat: f.stat,
                    }));
                }
            }
        }
        let next = match (&mut top.iter, top.skip) {
            (Some(it), false) => it.next(),
            _ => None,
        };
        match next {
            Some(Ok(de)) => {
                let mut p = top.path.clone();
                if p.last() != Some(&b'/') {
                    p.push(b'/');
                }
                p.extend_from_slice(de.file_name().as_bytes());
                match std::fs::symlink_metadata(to_path(&p)) {
                    Ok(m) => Ok(self.report(p, &m, name, link)),
                    Err(_) => {
                        let n = put(name, &p).unwrap_or(0);
                        Ok(Some(Entry {
                            kind: EntryKind::NoStat,
                            name_len: n,
                            link_len: 0,
                            stat: Stat::zeroed(),
                        }))
                    }
                }
            }
            Some(Err(_)) | None => {
                let Some(f) = self.stack.pop() else {
                    return Ok(None);
                };
                let n = put(name, &f.path).unwrap_or(0);
                Ok(Some(Entry {
                    kind: EntryKind::Dir,
                    name_len: n,
                    link_len: 0,
                    stat: f.stat,
                }))
            }
        }
    }

    async fn dir_contains(&mut self, dir: &[u8], name: &[u8]) -> bool {
        let mut p = dir.to_vec();
        if p.last() != Some(&b'/') {
            p.push(b'/');
        }
        p.extend_from_slice(name);
        // `stat()`, as `HaveIgnoredir()`: a symlink marker counts if its target exists.
        std::fs::metadata(to_path(&p)).is_ok()
    }

    fn regex_match(
        &mut self,
        pattern: &[u8],
        ignore_case: bool,
        name: &[u8],
    ) -> Result<bool, RegexError> {
        let re = self
            .regexes
            .entry((pattern.to_vec(), ignore_case))
            .or_insert_with(|| compile_regex(pattern, ignore_case));
        match re {
            Some(re) => Ok(re.is_match(name)),
            None => Err(RegexError::Invalid),
        }
    }

    async fn acl(
        &mut self,
        path: &[u8],
        default: bool,
        out: &mut [u8],
    ) -> Result<usize, SourceError> {
        Ok(crate::xattr::acl_text(to_path(path), default, out)?)
    }

    async fn xattrs(
        &mut self,
        path: &[u8],
        skip_acl: bool,
        out: &mut [u8],
    ) -> Result<usize, SourceError> {
        Ok(crate::xattr::stream(to_path(path), skip_acl, out)?)
    }

    fn acl_support(&self) -> bool {
        true
    }

    fn xattr_support(&self) -> bool {
        true
    }

    fn skip_dir(&mut self) {
        if let Some(top) = self.stack.last_mut() {
            top.skip = true;
            top.iter = None;
        }
    }

    async fn open(&mut self, path: &[u8]) -> Result<(), SourceError> {
        let p = to_path(path);
        let f = if self.opts.keep_atime {
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(rustix::fs::OFlags::NOATIME.bits() as i32)
                .open(p)
                .or_else(|_| File::open(p))?
        } else {
            File::open(p)?
        };
        self.file = Some(f);
        self.advised = false;
        self.plain_read = 0;
        self.ahead = None;
        self.hasher = None;
        Ok(())
    }

    fn hash_reads(&mut self, kind: DigestKind) -> bool {
        if self.file.is_none() || self.plain_read > 0 || self.ahead.is_some() {
            return false;
        }
        self.hasher = StandardDigests.hasher(kind);
        self.hasher.is_some()
    }

    async fn read_digest(&mut self, out: &mut [u8]) -> usize {
        let h = match self.ahead.take() {
            Some(ra) => ra.finish_hash(),
            None => self.hasher.take(),
        };
        h.map_or(0, |h| h.finish(out))
    }

    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, SourceError> {
        if let Some(ra) = self.ahead.as_mut() {
            return Ok(ra.read(buf)?);
        }
        if self.plain_read >= crate::readahead::START_AFTER {
            if let Some(f) = self.file.take() {
                if f.metadata().map(|m| m.is_file()).unwrap_or(false) {
                    let h = self.hasher.take();
                    match crate::readahead::ReadAhead::start(f, buf.len(), h) {
                        Ok(ra) => {
                            let ra = self.ahead.insert(ra);
                            return Ok(ra.read(buf)?);
                        }
                        Err(unstarted) => {
                            let (f, h) = *unstarted;
                            self.file = Some(f);
                            self.hasher = h;
                        }
                    }
                } else {
                    self.file = Some(f);
                }
            }
            // Not a regular file (or no thread): plain reads from here on.
            self.plain_read = 0;
        }
        let Some(f) = self.file.as_mut() else {
            return Err(SourceError(io::Error::other("no file open")));
        };
        // Fill the buffer: one record per call, whatever the kernel's read size.
        let mut n = 0;
        while n < buf.len() {
            let Some(rest) = buf.get_mut(n..) else { break };
            match f.read(rest) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if n > 0 {
                        break;
                    }
                    return Err(e.into());
                }
            }
        }
        if n == buf.len() && !self.advised {
            self.advised = true;
            // Advice only: a file system without it reads as before.
            let _ = rustix::fs::fadvise(&*f, 0, None, rustix::fs::Advice::Sequential);
        }
        self.plain_read += n as u64;
        if let (Some(h), Some(read)) = (self.hasher.as_mut(), buf.get(..n)) {
            h.update(read);
        }
        Ok(n)
    }

    async fn close(&mut self) {
        self.file = None;
        self.ahead = None;
        self.hasher = None;
    }

    fn user_name(&self, uid: i64, out: &mut [u8]) -> usize {
        match self.name_of(false, uid) {
            Some(n) => put(out, &n).unwrap_or(0),
            None => put(out, uid.to_string().as_bytes()).unwrap_or(0),
        }
    }

    fn group_name(&self, gid: i64, out: &mut [u8]) -> usize {
        match self.name_of(true, gid) {
            Some(n) => put(out, &n).unwrap_or(0),
            None => put(out, gid.to_string().as_bytes()).unwrap_or(0),
        }
    }
}

/// The user (or with `group` the group) name of `id` from `/etc/passwd` / `/etc/group`.
pub fn name_of_id(group: bool, id: i64) -> Option<Vec<u8>> {
    let file = if group { "/etc/group" } else { "/etc/passwd" };
    let text = std::fs::read(file).ok()?;
    for line in text.split(|&b| b == b'\n') {
        let mut f = line.split(|&b| b == b':');
        let (Some(name), Some(_), Some(num)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if std::str::from_utf8(num)
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            == Some(id)
        {
            return Some(name.to_vec());
        }
    }
    None
}

/// The id of user (or group) `name`, from `/etc/passwd` / `/etc/group`.
pub fn id_of_name(group: bool, name: &[u8]) -> Option<i64> {
    let file = if group { "/etc/group" } else { "/etc/passwd" };
    let text = std::fs::read(file).ok()?;
    for line in text.split(|&b| b == b'\n') {
        let mut f = line.split(|&b| b == b':');
        let (Some(n), Some(_), Some(num)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if n == name {
            return std::str::from_utf8(num).ok()?.parse().ok();
        }
    }
    None
}

/// A path from raw bytes.
pub fn path_of(b: &[u8]) -> PathBuf {
    to_path(b).to_path_buf()
}
