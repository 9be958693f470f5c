//! The restore side: [`FileSink`] over the Linux file system, which never writes outside its
//! root and never leaves a partial file under a final name.
//!
//! # Where files go (`core/src/findlib/create_file.cc` `CreateFile()`)
//!
//! The core hands the sink full output paths (`where` + stored name) after refusing `..`
//! components and names that would leave `where` ([`fd_core::fd::restore`]). The sink is the
//! last line of defence, against what the core cannot see: symbolic links in the tree. It
//! never resolves a path as a string. It walks from `/` one component at a time with
//! `openat(…, O_DIRECTORY | O_NOFOLLOW)` and creates the entry relative to the parent's
//! descriptor (`openat`, `mkdirat`, `symlinkat`, `linkat`, `mknodat`, `renameat`), so:
//!
//! - `.`, `..` and empty components are refused outright;
//! - a symbolic link **restored by this sink** is never followed (it is remembered by
//!   `(dev, ino)`), so a backup holding `evil -> /etc` followed by `evil/passwd` cannot write
//!   to `/etc/passwd`;
//! - a symbolic link that was already there (e.g. `/lib -> usr/lib`) is followed only if it
//!   resolves inside the sink's root ([`LinuxSink::with_root`]; `/` by default, which is what
//!   Bareos allows: a restore to the original location may go anywhere). A daemon that
//!   confines restores sets a narrower root.
//!
//! Missing parent directories are created with mode 0700 (their own records, which follow
//! their contents in the stream, then set the real attributes).
//!
//! # Regular files
//!
//! Data goes to a temporary name in the target directory (`.barque-restore.«pid».«n»~`,
//! created with `O_EXCL | O_NOFOLLOW`, mode 0600) with positional writes, so sparse data
//! leaves holes; [`FileSink::commit`] sets the length (a trailing hole), owner, mode, times,
//! and renames it over the final name. [`FileSink::abort`] unlinks it. A failed or truncated
//! restore never leaves a partial file under the final name.
//!
//! # Attributes (`core/src/findlib/attribs.cc` `SetAttributes()`)
//!
//! Owner first (a `chown` clears set-id bits), then mode, then times (atime, mtime).
//! Ownership is only changed when running as root; otherwise the files belong to the daemon's
//! user, as with Bareos (whose `chown` failure is silent for non-root restores). Directories
//! get their attributes last ([`LinuxSink::finish`], deepest first, when the session ends and
//! before the Director connection closes), as Bareos does: a restore of several jobs sends a
//! directory's record (from the older job) before files restored into it (from newer jobs),
//! which would move its mtime, and a read-only directory mode would stop them
//! (vectors/clear-restore conn 4 msgs 27–29, replayed in tests/replay.rs).
//! Links get owner and times with `AT_SYMLINK_NOFOLLOW` (a symlink has no mode on Linux).
//!
//! # Replace policy
//!
//! `a` always, `n` never (existing entries are skipped), `w` if the backed-up copy is newer
//! (mtime), `o` if it is older. An existing directory is always reused.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use fd_core::fd::platform::{CreateKind, Created, FileSink, MetaStream, RegexError};
use fd_core::wire::attr::Stat;
use fd_core::wire::dir_cmd::Replace;
use rustix::fs::{
    self as rfs, AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid, CWD,
};

/// Why a restore entry was refused or failed.
#[derive(Debug)]
pub enum SinkError {
    /// A system call failed.
    Io(io::Error),
    /// The path would leave the restore root (or is malformed).
    Escape(&'static str),
    /// `write_at`/`commit` without a regular file being created.
    NoFile,
}

impl core::fmt::Display for SinkError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SinkError::Io(e) => f.write_str(&crate::source::strerror(e)),
            SinkError::Escape(why) => write!(f, "refused: {why}"),
            SinkError::NoFile => f.write_str("no file is being restored"),
        }
    }
}

impl From<io::Error> for SinkError {
    fn from(e: io::Error) -> Self {
        SinkError::Io(e)
    }
}

impl From<rustix::io::Errno> for SinkError {
    fn from(e: rustix::io::Errno) -> Self {
        SinkError::Io(e.into())
    }
}

#[derive(Debug)]
struct Pending {
    dir: OwnedFd,
    tmp: Vec<u8>,
    name: Vec<u8>,
    file: File,
}

/// Restores into the Linux file system; see the module docs.
#[derive(Debug)]
pub struct LinuxSink {
    root: PathBuf,
    /// Directories whose attributes are applied by [`LinuxSink::finish`].
    dirs: Vec<(Vec<u8>, Stat)>,
    own_links: HashSet<(u64, u64)>,
    pending: Option<Pending>,
    as_root: bool,
    counter: u64,
    /// The restore's `regexwhere` list, if any.
    regexwhere: Option<Vec<crate::bregexp::Subst>>,
}

impl Default for LinuxSink {
    fn default() -> Self {
        Self::new()
    }
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

fn ts(secs: i64) -> Timespec {
    Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    }
}

fn times(stat: &Stat) -> Timestamps {
    Timestamps {
        last_access: ts(stat.atime),
        last_modification: ts(stat.mtime),
    }
}

fn perm(stat: &Stat) -> Mode {
    Mode::from_raw_mode((stat.mode & 0o7777) as u32)
}

fn ids(stat: &Stat) -> (Option<Uid>, Option<Gid>) {
    (
        u32::try_from(stat.uid).ok().map(Uid::from_raw),
        u32::try_from(stat.gid).ok().map(Gid::from_raw),
    )
}

impl LinuxSink {
    /// A sink that may write anywhere (restore root `/`), as Bareos.
    pub fn new() -> Self {
        Self::with_root(PathBuf::from("/"))
    }

    /// A sink confined to `root`: pre-existing symbolic links are only followed when they
    /// resolve inside it.
    pub fn with_root(root: PathBuf) -> Self {
        let root = std::fs::canonicalize(&root).unwrap_or(root);
        Self {
            root,
            dirs: Vec::new(),
            own_links: HashSet::new(),
            pending: None,
            as_root: running_as_root(),
            counter: 0,
            regexwhere: None,
        }
    }

    /// Open the parent directory of `path` without following symbolic links this sink made
    /// (creating missing directories); returns it and the last component.
    fn parent_of(&self, path: &[u8]) -> Result<(OwnedFd, Vec<u8>), SinkError> {
        let Some(rest) = path.strip_prefix(b"/") else {
            return Err(SinkError::Escape("not an absolute path"));
        };
        let rest = rest.strip_suffix(b"/").unwrap_or(rest);
        let comps: Vec<&[u8]> = rest.split(|&b| b == b'/').collect();
        let Some((last, parents)) = comps.split_last() else {
            return Err(SinkError::Escape("empty path"));
        };
        for c in &comps {
            if c.is_empty() || *c == b"." || *c == b".." {
                return Err(SinkError::Escape("empty, . or .. path component"));
            }
        }
        let dflags = OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC;
        let mut dir = rfs::openat(CWD, "/", dflags, Mode::empty())?;
        let mut built = PathBuf::from("/");
        for c in parents {
            built.push(OsStr::from_bytes(c));
            let next = match rfs::statat(&dir, *c, AtFlags::SYMLINK_NOFOLLOW) {
                Err(rustix::io::Errno::NOENT) => {
                    match rfs::mkdirat(&dir, *c, Mode::from_raw_mode(0o700)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                    rfs::openat(&dir, *c, dflags | OFlags::NOFOLLOW, Mode::empty())?
                }
                Err(e) => return Err(e.into()),
                Ok(st) => match FileType::from_raw_mode(st.st_mode) {
                    FileType::Directory => {
                        rfs::openat(&dir, *c, dflags | OFlags::NOFOLLOW, Mode::empty())?
                    }
                    FileType::Symlink => {
                        if self.own_links.contains(&(st.st_dev, st.st_ino)) {
                            return Err(SinkError::Escape(
                                "path goes through a symbolic link restored by this job",
                            ));
                        }
                        let real = std::fs::canonicalize(&built)?;
                        if !real.starts_with(&self.root) {
                            return Err(SinkError::Escape(
                                "path goes through a symbolic link leading outside the restore root",
                            ));
                        }
                        rfs::openat(&dir, *c, dflags, Mode::empty())?
                    }
                    _ => return Err(SinkError::Io(io::Error::from_raw_os_error(20))),
                },
            };
            dir = next;
        }
        Ok((dir, last.to_vec()))
    }

    fn set_owner_fd(&self, fd: impl AsFd, stat: &Stat) {
        if self.as_root {
            let (u, g) = ids(stat);
            if let Err(e) = rfs::fchown(fd, u, g) {
                log::warn!("chown failed: {e}");
            }
        }
    }

    /// Remove an existing non-directory entry (replace policy already applied).
    fn remove_existing(dir: &OwnedFd, name: &[u8]) -> Result<(), SinkError> {
        match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(e.into()),
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                Err(SinkError::Io(io::Error::from_raw_os_error(21)))
            }
            Ok(_) => Ok(rfs::unlinkat(dir, name, AtFlags::empty())?),
        }
    }

    fn special_attrs(&self, dir: &OwnedFd, name: &[u8], stat: &Stat, chmod: bool) {
        if self.as_root {
            let (u, g) = ids(stat);
            let _ = rfs::chownat(dir, name, u, g, AtFlags::SYMLINK_NOFOLLOW);
        }
        if chmod {
            let _ = rfs::chmodat(dir, name, perm(stat), AtFlags::empty());
        }
        let _ = rfs::utimensat(dir, name, &times(stat), AtFlags::SYMLINK_NOFOLLOW);
    }
}

impl FileSink for LinuxSink {
    type Error = SinkError;

    fn set_regexwhere(&mut self, spec: &[u8]) -> Result<(), RegexError> {
        match crate::bregexp::parse(spec) {
            Ok(l) => {
                self.regexwhere = Some(l);
                Ok(())
            }
            Err(e) => {
                log::warn!(
                    "restore: regexwhere {:?} refused: {e}",
                    String::from_utf8_lossy(spec)
                );
                self.regexwhere = None;
                Err(RegexError::Invalid)
            }
        }
    }

    async fn set_meta(
        &mut self,
        path: &[u8],
        open: bool,
        kind: MetaStream,
        data: &[u8],
    ) -> Result<bool, SinkError> {
        use rustix::fs::XattrFlags;
        let mut attrs: Vec<(std::ffi::OsString, Vec<u8>)> = Vec::new();
        match kind {
            MetaStream::Xattr => crate::xattr::apply_stream(data, |n, v| {
                attrs.push((n.to_os_string(), v.to_vec()));
                Ok(())
            })?,
            MetaStream::AccessAcl | MetaStream::DefaultAcl => {
                let name = if kind == MetaStream::AccessAcl {
                    crate::xattr::ACL_ACCESS
                } else {
                    crate::xattr::ACL_DEFAULT
                };
                attrs.push((name.into(), crate::xattr::acl_binary(data)?));
            }
        }
        let errno =
            |e: rustix::io::Errno| SinkError::Io(io::Error::from_raw_os_error(e.raw_os_error()));
        if open {
            let p = self.pending.as_ref().ok_or(SinkError::NoFile)?;
            for (n, v) in &attrs {
                rfs::fsetxattr(&p.file, n.as_os_str(), v, XattrFlags::empty()).map_err(errno)?;
            }
            return Ok(true);
        }
        // Checks the path as `create` does (no escape through symbolic links).
        let (dir, last) = self.parent_of(path)?;
        let st = rfs::statat(&dir, last.as_slice(), AtFlags::SYMLINK_NOFOLLOW)?;
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            let d = rfs::openat(
                &dir,
                last.as_slice(),
                OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                Mode::empty(),
            )?;
            for (n, v) in &attrs {
                rfs::fsetxattr(&d, n.as_os_str(), v, XattrFlags::empty()).map_err(errno)?;
            }
        } else {
            let full = Path::new(OsStr::from_bytes(path));
            for (n, v) in &attrs {
                rfs::lsetxattr(full, n.as_os_str(), v, XattrFlags::empty()).map_err(errno)?;
            }
        }
        Ok(true)
    }

    fn apply_regexwhere(&mut self, name: &[u8], out: &mut [u8]) -> Option<usize> {
        let l = self.regexwhere.as_ref()?;
        let r = crate::bregexp::apply(l, name);
        let d = out.get_mut(..r.len())?;
        d.copy_from_slice(&r);
        Some(r.len())
    }

    async fn create(
        &mut self,
        path: &[u8],
        kind: CreateKind<'_>,
        stat: &Stat,
        replace: Replace,
    ) -> Result<Created, SinkError> {
        self.abort().await;
        let (dir, name) = self.parent_of(path)?;
        let existing = rfs::statat(&dir, name.as_slice(), AtFlags::SYMLINK_NOFOLLOW).ok();
        if let Some(ex) = &existing {
            let is_dir = FileType::from_raw_mode(ex.st_mode) == FileType::Directory;
            let skip = match replace {
                _ if is_dir && kind == CreateKind::Dir => false,
                Replace::Never => true,
                Replace::IfNewer => ex.st_mtime >= stat.mtime,
                Replace::IfOlder => ex.st_mtime <= stat.mtime,
                Replace::Always | Replace::Unknown(_) => false,
            };
            if skip {
                return Ok(Created::Skipped);
            }
        }
        match kind {
            CreateKind::Regular => {
                self.counter += 1;
                let tmp = format!(".barque-restore.{}.{}~", std::process::id(), self.counter)
                    .into_bytes();
                let fd = rfs::openat(
                    &dir,
                    tmp.as_slice(),
                    OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::WRONLY
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o600),
                )?;
                self.pending = Some(Pending {
                    dir,
                    tmp,
                    name,
                    file: File::from(fd),
                });
            }
            CreateKind::Dir => {
                match rfs::mkdirat(&dir, name.as_slice(), Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                // Attributes at the end (finish), as Bareos: entries restored into it
                // later (other jobs' records, hard links) would move its mtime, and a
                // read-only mode would stop them.
                let _ = rfs::openat(
                    &dir,
                    name.as_slice(),
                    OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                self.dirs.push((path.to_vec(), *stat));
            }
            CreateKind::Symlink { target } => {
                Self::remove_existing(&dir, &name)?;
                rfs::symlinkat(target, &dir, name.as_slice())?;
                if let Ok(st) = rfs::statat(&dir, name.as_slice(), AtFlags::SYMLINK_NOFOLLOW) {
                    self.own_links.insert((st.st_dev, st.st_ino));
                }
                self.special_attrs(&dir, &name, stat, false);
            }
            CreateKind::HardLink { target } => {
                let (tdir, tname) = self.parent_of(target)?;
                Self::remove_existing(&dir, &name)?;
                rfs::linkat(
                    &tdir,
                    tname.as_slice(),
                    &dir,
                    name.as_slice(),
                    AtFlags::empty(),
                )?;
            }
            CreateKind::Fifo => {
                Self::remove_existing(&dir, &name)?;
                rfs::mknodat(&dir, name.as_slice(), FileType::Fifo, perm(stat), 0)?;
                self.special_attrs(&dir, &name, stat, true);
            }
            CreateKind::Device { rdev } => {
                Self::remove_existing(&dir, &name)?;
                let ft = if stat.mode & 0o170000 == 0o060000 {
                    FileType::BlockDevice
                } else {
                    FileType::CharacterDevice
                };
                rfs::mknodat(&dir, name.as_slice(), ft, perm(stat), rdev as u64)?;
                self.special_attrs(&dir, &name, stat, true);
            }
        }
        Ok(Created::Created)
    }

    async fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), SinkError> {
        let p = self.pending.as_ref().ok_or(SinkError::NoFile)?;
        p.file.write_all_at(data, offset)?;
        Ok(())
    }

    async fn commit(&mut self, stat: &Stat) -> Result<(), SinkError> {
        let p = self.pending.take().ok_or(SinkError::NoFile)?;
        let r = (|| -> Result<(), SinkError> {
            let size = u64::try_from(stat.size).unwrap_or(0);
            if p.file.metadata()?.len() != size {
                p.file.set_len(size)?;
            }
            self.set_owner_fd(&p.file, stat);
            rfs::fchmod(&p.file, perm(stat))?;
            rfs::futimens(&p.file, &times(stat))?;
            rfs::renameat(&p.dir, p.tmp.as_slice(), &p.dir, p.name.as_slice())?;
            Ok(())
        })();
        if r.is_err() {
            let _ = rfs::unlinkat(&p.dir, p.tmp.as_slice(), AtFlags::empty());
        }
        r
    }

    async fn abort(&mut self) {
        if let Some(p) = self.pending.take() {
            let _ = rfs::unlinkat(&p.dir, p.tmp.as_slice(), AtFlags::empty());
        }
    }

    async fn end_restore(&mut self) {
        self.finish();
    }
}

impl LinuxSink {
    /// Apply the attributes of the directories restored so far, deepest first (Bareos sets
    /// directory attributes after the last file). Called at the end of each restore, before
    /// `2800 End Job` ([`FileSink::end_restore`]), and again when the session ends (a no-op
    /// then unless a restore was cut short).
    pub fn finish(&mut self) {
        let mut dirs = std::mem::take(&mut self.dirs);
        dirs.sort_by_key(|(p, _)| std::cmp::Reverse(p.iter().filter(|&&b| b == b'/').count()));
        for (path, stat) in dirs {
            let r = (|| -> Result<(), SinkError> {
                let (dir, name) = self.parent_of(&path)?;
                let d = rfs::openat(
                    &dir,
                    name.as_slice(),
                    OFlags::DIRECTORY | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                self.set_owner_fd(&d, &stat);
                rfs::fchmod(&d, perm(&stat))?;
                rfs::futimens(&d, &times(&stat))?;
                Ok(())
            })();
            if let Err(e) = r {
                log::warn!(
                    "cannot set the attributes of {}: {e}",
                    String::from_utf8_lossy(&path)
                );
            }
        }
    }
}

impl Drop for LinuxSink {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The restore root of a sink (for messages).
impl LinuxSink {
    /// The root this sink is confined to.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn block<F: core::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    fn file_stat(mode: i64, size: i64, mtime: i64) -> Stat {
        let mut s = Stat::zeroed();
        s.mode = 0o100000 | mode;
        s.size = size;
        s.mtime = mtime;
        s.atime = mtime - 1;
        s.uid = 0;
        s.gid = 0;
        s
    }

    fn b(p: &Path) -> Vec<u8> {
        p.as_os_str().as_bytes().to_vec()
    }

    #[test]
    fn regular_file_appears_only_on_commit_with_its_attributes() {
        let d = tempfile::tempdir().unwrap();
        let mut s = LinuxSink::new();
        let p = d.path().join("a/b/file");
        let st = file_stat(0o640, 10, 1_700_000_000);
        block(async {
            let c = s
                .create(&b(&p), CreateKind::Regular, &st, Replace::Always)
                .await;
            assert_eq!(c.unwrap(), Created::Created);
            s.write_at(0, b"hello").await.unwrap();
            assert!(!p.exists(), "final name visible before commit");
            s.commit(&st).await.unwrap();
        });
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!(m.len(), 10, "trailing hole from the stat size");
        assert_eq!(m.permissions().mode() & 0o7777, 0o640);
        assert_eq!(m.mtime(), 1_700_000_000);
        assert_eq!(std::fs::read(&p).unwrap(), b"hello\0\0\0\0\0");
        // Missing parents were created 0700.
        let pm = std::fs::metadata(d.path().join("a")).unwrap();
        assert_eq!(pm.permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn abort_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let mut s = LinuxSink::new();
        let p = d.path().join("partial");
        let st = file_stat(0o644, 100, 1);
        block(async {
            s.create(&b(&p), CreateKind::Regular, &st, Replace::Always)
                .await
                .unwrap();
            s.write_at(0, b"half").await.unwrap();
            s.abort().await;
        });
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }

    #[test]
    fn restored_symlink_is_never_followed() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let mut s = LinuxSink::new();
        let link = d.path().join("evil");
        let mut lst = Stat::zeroed();
        lst.mode = 0o120777;
        block(async {
            s.create(
                &b(&link),
                CreateKind::Symlink {
                    target: outside.path().as_os_str().as_bytes(),
                },
                &lst,
                Replace::Always,
            )
            .await
            .unwrap();
            let st = file_stat(0o644, 3, 1);
            for kind in [CreateKind::Regular, CreateKind::Dir, CreateKind::Fifo] {
                let r = s
                    .create(&b(&link.join("pwned")), kind, &st, Replace::Always)
                    .await;
                assert!(matches!(r, Err(SinkError::Escape(_))), "{kind:?}: {r:?}");
            }
            // Deeper too.
            let r = s
                .create(
                    &b(&link.join("x/y")),
                    CreateKind::Regular,
                    &st,
                    Replace::Always,
                )
                .await;
            assert!(matches!(r, Err(SinkError::Escape(_))), "{r:?}");
        });
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn preexisting_symlink_out_of_the_root_is_refused_inside_is_followed() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("real")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("out")).unwrap();
        std::os::unix::fs::symlink("real", root.path().join("in")).unwrap();
        let mut s = LinuxSink::with_root(root.path().to_path_buf());
        let st = file_stat(0o644, 0, 1);
        block(async {
            let r = s
                .create(
                    &b(&root.path().join("out/f")),
                    CreateKind::Regular,
                    &st,
                    Replace::Always,
                )
                .await;
            assert!(matches!(r, Err(SinkError::Escape(_))), "{r:?}");
            s.create(
                &b(&root.path().join("in/f")),
                CreateKind::Regular,
                &st,
                Replace::Always,
            )
            .await
            .unwrap();
            s.commit(&st).await.unwrap();
        });
        assert!(root.path().join("real/f").exists());
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn dot_dot_relative_and_empty_components_are_refused() {
        let mut s = LinuxSink::new();
        let st = file_stat(0o644, 0, 1);
        block(async {
            for p in [
                &b"/tmp/../etc/x"[..],
                b"/tmp/./x",
                b"relative/x",
                b"/tmp//x",
                b"/",
                b"",
            ] {
                let r = s.create(p, CreateKind::Regular, &st, Replace::Always).await;
                assert!(matches!(r, Err(SinkError::Escape(_))), "{p:?}: {r:?}");
            }
        });
    }

    #[test]
    fn replace_policies() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        std::fs::write(&p, b"old").unwrap();
        let set = |t: i64| {
            let ts = Timestamps {
                last_access: ts(t),
                last_modification: ts(t),
            };
            rfs::utimensat(CWD, &p, &ts, AtFlags::empty()).unwrap();
        };
        set(1000);
        let mut s = LinuxSink::new();
        block(async {
            let older = file_stat(0o644, 3, 500);
            let newer = file_stat(0o644, 3, 2000);
            let r = |k| k;
            assert_eq!(
                s.create(&b(&p), CreateKind::Regular, &newer, Replace::Never)
                    .await
                    .unwrap(),
                r(Created::Skipped)
            );
            assert_eq!(
                s.create(&b(&p), CreateKind::Regular, &older, Replace::IfNewer)
                    .await
                    .unwrap(),
                Created::Skipped
            );
            assert_eq!(
                s.create(&b(&p), CreateKind::Regular, &newer, Replace::IfOlder)
                    .await
                    .unwrap(),
                Created::Skipped
            );
            assert_eq!(
                s.create(&b(&p), CreateKind::Regular, &newer, Replace::IfNewer)
                    .await
                    .unwrap(),
                Created::Created
            );
            s.write_at(0, b"new").await.unwrap();
            s.commit(&newer).await.unwrap();
        });
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever the path below the restore directory (`..`, `.`, empty components, a
        /// symbolic link restored earlier that points outside), nothing is ever created
        /// outside it: the sink refuses, or the file lands inside.
        #[test]
        fn nothing_escapes_the_restore_directory(
            comps in proptest::collection::vec(
                proptest::sample::select(vec!["a", "b", "..", ".", "", "evil", "x y", "\u{e9}"]),
                1..6,
            )
        ) {
            let d = tempfile::tempdir().unwrap();
            let outside = tempfile::tempdir().unwrap();
            let root = d.path().join("r");
            std::fs::create_dir(&root).unwrap();
            let mut s = LinuxSink::new();
            let mut lst = Stat::zeroed();
            lst.mode = 0o120777;
            let st = file_stat(0o644, 1, 1);
            let mut path = b(&root);
            for c in &comps {
                path.push(b'/');
                path.extend_from_slice(c.as_bytes());
            }
            let created = block(async {
                s.create(
                    &b(&root.join("evil")),
                    CreateKind::Symlink { target: outside.path().as_os_str().as_bytes() },
                    &lst,
                    Replace::Always,
                )
                .await
                .unwrap();
                match s.create(&path, CreateKind::Regular, &st, Replace::Always).await {
                    Ok(_) => s.commit(&st).await.is_ok(),
                    Err(_) => false,
                }
            });
            proptest::prop_assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
            // Outside `r`, only `r` itself exists in the temporary directory.
            let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
            proptest::prop_assert_eq!(names.len(), 1);
            if created {
                let trimmed = path.strip_suffix(b"/").unwrap_or(&path);
                let p = std::path::PathBuf::from(OsStr::from_bytes(trimmed));
                let real = std::fs::canonicalize(&p).unwrap();
                proptest::prop_assert!(real.starts_with(std::fs::canonicalize(&root).unwrap()));
            }
        }
    }
}
