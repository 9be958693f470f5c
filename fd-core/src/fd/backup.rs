//! Backup: the `storage` command (connect and authenticate to the SD), the `backup`
//! command (append session and data streams), and the fileset walk shared with estimate.
//!
//! # Data channel (jobs.md §3.1–3.4, vectors/clear-backup-full conn 4)
//!
//! ```text
//! F→S Hello Start Job «Job» Version="26.0.0"⏎      CRAM-MD5 (outbound, key = session key)
//! F→S append open session⏎           S→F 3000 OK open ticket = «t»⏎
//! F→S append data «t»⏎               S→F 3000 OK data⏎
//! per file: «FI» 1 0 | attribute record | EOD
//!           [«FI» 2 0 (or 6 with sparse) | data… | EOD]     regular files with data
//!           [«FI» 17 0 | digest | EOD]                        with a signature option
//! F→S EOD                            S→F 3000 OK append data⏎
//! F→S append end session «t»⏎        S→F 3000 OK end⏎
//! F→S append close session «t»⏎      S→F 3000 OK close Status = 84⏎, EOD
//! F→S TERMINATE (when the command loop ends)
//! ```
//!
//! The FD compares `3000 OK data⏎`, `3000 OK append data⏎` and `3000 OK end⏎` exactly and
//! requires a close status of 84 or 87 ([`SdDataReply`]).
//!
//! # Per file (`core/src/filed/backup.cc` `SaveFile()`)
//!
//! FileIndex is `++JobFiles` at attribute time. The attribute record carries the stat packet
//! whose last field is the data stream (2, or 6 with the `s` option) even for entries
//! without data. Data messages are at most `network_buffer_size` bytes; with sparse, each
//! starts with the 8-byte offset and all-zero full chunks are skipped except the file's last
//! one (vectors/clear-backup-multiblock notes). Empty regular files get FT_REGE when world
//! readable and still a digest record (of zero bytes). A hard link whose first name was
//! saved in this job (option `H` unset) is FT_LNKSAVED with the first name as link, LinkFI
//! set, and the first name's digest. Counters: ReadBytes = bytes read from files, JobBytes =
//! bytes of data messages sent (offsets included), JobFiles = last FileIndex
//! (vectors/clear-backup-multiblock conn 3 msg 33: ReadBytes=5247002 JobBytes=3412186).
//!
//! **The digest covers the bytes sent, not the file**: with sparse, skipped all-zero chunks
//! are left out of the hash, exactly as Bareos does (checked against the captured SHA-256
//! record of `sparse.bin` in vectors/clear-backup-multiblock). The catalog and any verify
//! job compare against that value, so it must be reproduced, quirk included.
//!
//! # Errors, cancel, heartbeat, bandwidth
//!
//! A file that cannot be opened or read is reported with a job message and counted in
//! `Errors=`, exactly as `SaveFile()`/`send_data()` do (`     Cannot open "…": ERR=….` as
//! M_NOTSAVED; a read error as M_ERROR, counted twice). As in Bareos the job still ends
//! with TermCode 84 when the data phase completed (`core/src/filed/dir_cmd.cc`
//! `BackupCmd()` sets 'T' unless `BlastDataToStorageDaemon()` failed); the Director reports
//! such a job as "OK -- with warnings". A `cancel` from another session is
//! noticed between files and between data chunks: the data phase stops without the final
//! EOD (as in vectors/clear-cancel, where the data channel ends without one) and the job
//! reports TermCode 65. With a Heartbeat Interval the FD sends HEARTBEAT to the Director
//! whenever the interval passed between two messages to the SD. A bandwidth limit
//! (`setbandwidth=` or Maximum Bandwidth Per Job) paces the SD writes by sleeping on the
//! [`Clock`].

use embedded_io_async::{Read, Write};
use heapless::Vec;

use super::conn::{Conn, Msg};
use super::pattern::{basename, wild_match_with, WildFlags};
use super::platform::{
    Clock, Connector, DigestProvider, Entry, EntryKind, FileSink, FileSource, Hasher, PskParams,
    WalkOptions,
};
use super::session::{authenticate, qualified_name, Session, SessionError};
use super::MAX_PATH;
use crate::auth::{self, Role};
use crate::time::{Duration, Instant};
use crate::wire::attr::{AttrRecord, DigestKind, FileType, Stat, MAX_DIGEST_LEN};
use crate::wire::bnet::Signal;
use crate::wire::codes::{JobStatus, MessageType};
use crate::wire::dir_cmd::{AccurateEntry, FdReply, OkReply, Storage, TextError};
use crate::wire::fileset::{FilesetLine, PatternTarget, Signature};
use crate::wire::hello::Hello;
use crate::wire::sd_cmd::{SdDataCommand, SdDataReply};
use crate::wire::stream::{DataHeader, Stream, StreamFlags, StreamType, SPARSE_OFFSET_LEN};
use crate::wire::tls_policy::TlsPolicy;

/// How many hard-linked files (nlink > 1) the FD remembers per job. When the table is full,
/// further links are saved as ordinary files (correct, only larger).
pub const HARDLINK_SLOTS: usize = 16;

/// Options of one Include block, OR-ed over its Options blocks (`core/src/findlib/find.cc`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Flags {
    pub signature: Option<DigestKind>,
    pub sparse: bool,
    pub no_hardlinks: bool,
    pub no_recursion: bool,
    pub multi_fs: bool,
    pub mtime_only: bool,
    pub acl: bool,
    pub xattr: bool,
    pub regex: bool,
    pub keep_atime: bool,
    pub exclude: bool,
    pub ignore_case: bool,
    pub enhanced_wild: bool,
}

fn iter_lines(store: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut pos = 0usize;
    core::iter::from_fn(move || {
        let &[hi, lo] = store.get(pos..pos + 2)? else {
            return None;
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        let line = store.get(pos + 2..pos + 2 + len)?;
        pos += 2 + len;
        Some(line)
    })
}

/// The platform's regular expression matcher as [`FilesetView::accept`] calls it:
/// `(pattern, ignore_case, name) -> matched`.
pub(crate) type RegexFn<'r> = dyn FnMut(&[u8], bool, &[u8]) -> bool + 'r;

/// The fileset store, read back.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FilesetView<'f> {
    pub store: &'f [u8],
}

impl<'f> FilesetView<'f> {
    fn lines(&self) -> impl Iterator<Item = FilesetLine<'f>> {
        iter_lines(self.store).filter_map(|l| FilesetLine::parse(l).ok())
    }

    /// The Include blocks as (index of the `I` line, exclusive end).
    pub fn include_blocks(&self) -> impl Iterator<Item = (usize, usize)> + 'f {
        let lines: core::iter::Enumerate<_> = iter_lines(self.store).enumerate();
        let store = self.store;
        let mut starts =
            lines.filter(|(_, l)| matches!(FilesetLine::parse(l), Ok(FilesetLine::Include)));
        let mut cur = starts.next().map(|(i, _)| i);
        core::iter::from_fn(move || {
            let s = cur?;
            let end = iter_lines(store)
                .enumerate()
                .skip(s + 1)
                .find(|(_, l)| {
                    matches!(
                        FilesetLine::parse(l),
                        Ok(FilesetLine::Include) | Ok(FilesetLine::Exclude)
                    )
                })
                .map(|(i, _)| i)
                .unwrap_or(usize::MAX);
            cur = starts.next().map(|(i, _)| i);
            Some((s, end))
        })
    }

    fn block(&self, (start, end): (usize, usize)) -> impl Iterator<Item = FilesetLine<'f>> {
        self.lines()
            .skip(start + 1)
            .take(end.saturating_sub(start + 1))
    }

    /// Flags of one Options line (`core/src/filed/fileset.cc` `SetOptionsAndFlags()`).
    fn option_flags(o: &crate::wire::fileset::OptionLetters<'_>) -> Flags {
        let s = o.summary();
        Flags {
            signature: s.signature.map(|sig| match sig {
                Signature::Md5 => DigestKind::Md5,
                Signature::Sha1 | Signature::Sha1Explicit => DigestKind::Sha1,
                Signature::Sha256 => DigestKind::Sha256,
                Signature::Sha512 => DigestKind::Sha512,
                Signature::Xxh128 => DigestKind::Xxh128,
            }),
            sparse: s.sparse,
            no_hardlinks: s.no_hardlinks,
            no_recursion: s.no_recursion,
            multi_fs: s.multi_fs,
            mtime_only: s.mtime_only,
            acl: s.acl,
            xattr: s.xattr,
            regex: false,
            keep_atime: s.keep_atime | s.no_atime,
            exclude: s.exclude,
            ignore_case: s.ignore_case,
            enhanced_wild: s.enhanced_wild,
        }
    }

    /// Flags of one Include block before any pattern decided: those of its **last** Options
    /// block, as `FindFiles()` copies each block's flags over the previous ones (Bareos'
    /// `CopyBits` is a `memcpy`). `regex` is set if the block has `R` lines.
    pub fn flags(&self, b: (usize, usize)) -> Flags {
        let mut f = Flags::default();
        let mut regex = false;
        for l in self.block(b) {
            match l {
                FilesetLine::Options(o) => f = Self::option_flags(&o),
                FilesetLine::Regex(..) => regex = true,
                _ => {}
            }
        }
        f.regex = regex;
        f
    }

    /// Flags OR-ed over every Options block of every Include block (for the job's
    /// `ACL support is enabled` / `Extended attribute support is enabled` messages).
    pub fn any_flags(&self) -> Flags {
        let mut a = Flags::default();
        for l in self.lines() {
            match l {
                FilesetLine::Options(o) => {
                    let f = Self::option_flags(&o);
                    a.acl |= f.acl;
                    a.xattr |= f.xattr;
                }
                FilesetLine::Regex(..) => a.regex = true,
                _ => {}
            }
        }
        a
    }

    /// The `F` roots of one block.
    pub fn roots(&self, b: (usize, usize)) -> impl Iterator<Item = &'f [u8]> {
        self.block(b).filter_map(|l| match l {
            FilesetLine::File(p) => Some(p),
            _ => None,
        })
    }

    /// The `Z` markers of one block (`Exclude Dir Containing`): a directory holding a file
    /// of that name is skipped with everything below it, its own entry included
    /// (`core/src/findlib/find_one.cc` `HaveIgnoredir()`).
    pub fn ignore_dirs(&self, b: (usize, usize)) -> impl Iterator<Item = &'f [u8]> {
        self.block(b).filter_map(|l| match l {
            FilesetLine::IgnoreDir(p) => Some(p),
            _ => None,
        })
    }

    /// The Options blocks' regular expressions with their ignore-case flag, for checking
    /// them once when the fileset arrives.
    pub fn regexes(&self) -> impl Iterator<Item = (&'f [u8], bool)> {
        let mut icase = false;
        self.lines().filter_map(move |l| match l {
            FilesetLine::Options(o) => {
                icase = o.summary().ignore_case;
                None
            }
            FilesetLine::Regex(_, p) => Some((p, icase)),
            _ => None,
        })
    }

    /// Bareos' `AcceptFile()` (`core/src/findlib/find.cc`) for a walk entry below a root:
    /// `None` if the entry is rejected (a rejected directory is not descended into),
    /// otherwise the flags it is saved with.
    ///
    /// The Options blocks of Include block `b` are tried in order. In each, a matching
    /// `WD`/`RD` (directories), `WF`/`WB`/`RF` (other entries), `W` or `R` pattern decides:
    /// rejected if the block has `e` (exclude = yes), else accepted with that block's
    /// flags. A block with `e` and no pattern at all rejects everything. When no block
    /// decided, the Exclude blocks' `W` patterns and `F` names are matched (`fnmatch`, so
    /// an excluded directory prunes its subtree), and the entry is accepted with the flags
    /// of the last Options block. `i` folds case, `W` (enhanced wild) makes `*` stop at `/`
    /// and `WB` match the last path component (without `W` it matches the whole path, as in
    /// Bareos). Regular expressions go to `regex(pattern, ignore_case, name)`.
    pub fn accept(
        &self,
        b: (usize, usize),
        path: &[u8],
        is_dir: bool,
        regex: &mut RegexFn<'_>,
    ) -> Option<Flags> {
        let mut cur: Option<Flags> = None;
        let mut patterns = 0usize;
        let decide = |f: &Flags| (!f.exclude).then_some(*f);
        for l in self.block(b) {
            match l {
                FilesetLine::Options(o) => {
                    cur = Some(Self::option_flags(&o));
                    patterns = 0;
                }
                FilesetLine::End => {
                    if let Some(f) = cur.take() {
                        if f.exclude && patterns == 0 {
                            return None;
                        }
                    }
                }
                FilesetLine::Wild(t, pat) => {
                    let Some(f) = cur.as_ref() else { continue };
                    patterns += 1;
                    let wf = WildFlags {
                        casefold: f.ignore_case,
                        pathname: f.enhanced_wild,
                    };
                    let hit = match t {
                        PatternTarget::Any => wild_match_with(pat, path, wf),
                        PatternTarget::Dir => is_dir && wild_match_with(pat, path, wf),
                        PatternTarget::File => !is_dir && wild_match_with(pat, path, wf),
                        PatternTarget::Base => {
                            let name = if f.enhanced_wild {
                                basename(path)
                            } else {
                                path
                            };
                            !is_dir && wild_match_with(pat, name, wf)
                        }
                    };
                    if hit {
                        return decide(f);
                    }
                }
                FilesetLine::Regex(t, pat) => {
                    let Some(f) = cur.as_ref() else { continue };
                    patterns += 1;
                    let applies = match t {
                        PatternTarget::Dir => is_dir,
                        PatternTarget::File => !is_dir,
                        _ => true,
                    };
                    if applies && regex(pat, f.ignore_case, path) {
                        return decide(f);
                    }
                }
                _ => {}
            }
        }
        if let Some(f) = cur {
            // An Options block not closed by `N` (not sent by a Director, but well formed).
            if f.exclude && patterns == 0 {
                return None;
            }
        }
        // The Exclude blocks.
        let mut in_exclude = false;
        let mut icase = false;
        let mut in_opts = false;
        for l in self.lines() {
            match l {
                FilesetLine::Exclude => {
                    in_exclude = true;
                    icase = false;
                }
                FilesetLine::Include => in_exclude = false,
                FilesetLine::Options(o) if in_exclude => {
                    icase = o.summary().ignore_case;
                    in_opts = true;
                }
                FilesetLine::End => in_opts = false,
                FilesetLine::Wild(PatternTarget::Any, pat) if in_exclude && in_opts => {
                    let wf = WildFlags {
                        casefold: icase,
                        pathname: false,
                    };
                    if wild_match_with(pat, path, wf) {
                        return None;
                    }
                }
                FilesetLine::File(p) if in_exclude => {
                    let wf = WildFlags {
                        casefold: icase,
                        pathname: false,
                    };
                    if wild_match_with(p, path, wf) {
                        return None;
                    }
                }
                _ => {}
            }
        }
        Some(self.flags(b))
    }
}

/// One remembered hard link.
#[derive(Debug, Clone)]
pub(crate) struct HardLink {
    dev: i64,
    ino: i64,
    file_index: i32,
    name: Vec<u8, 256>,
    digest: [u8; MAX_DIGEST_LEN],
    digest_len: usize,
}

/// Paces writes to `limit` bytes per second.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Throttle {
    start: Option<Instant>,
    bytes: u64,
}

impl Throttle {
    pub const fn new() -> Self {
        Self {
            start: None,
            bytes: 0,
        }
    }

    /// The instant until which the sender must wait after `n` more bytes, if any.
    pub fn account(&mut self, now: Instant, n: usize, limit: u64) -> Option<Instant> {
        if limit == 0 {
            self.start = None;
            self.bytes = 0;
            return None;
        }
        let start = *self.start.get_or_insert(now);
        self.bytes = self.bytes.saturating_add(n as u64);
        let due = start + Duration::from_micros(self.bytes.saturating_mul(1_000_000) / limit);
        (due - now > Duration::from_micros(100)).then_some(due)
    }
}

/// The bandwidth limit of a job in bytes/s (0 = unlimited), chosen as bareos-fd does
/// (`core/src/filed/dir_cmd.cc` `StorageCmd()` and `SetbandwidthCmd()`): a
/// `setbandwidth=… Job=«this job»` value wins; otherwise the authenticated Director
/// resource's `Maximum Bandwidth Per Job`; otherwise the Client resource's, which a
/// `setbandwidth` without a job overwrites. (The first non-zero one, not the lowest: a
/// per-job `setbandwidth` may raise the limit, as in Bareos.)
pub(crate) fn effective_bwlimit(job: u64, director: u64, client: u64) -> u64 {
    if job > 0 {
        job
    } else if director > 0 {
        director
    } else {
        client
    }
}

/// The outcome of a change test for Incremental/Differential (`CheckChanges()`, jobs.md §9.2).
pub(crate) fn unchanged(stat: &Stat, since: i64, mtime_only: bool) -> bool {
    stat.mtime < since && (mtime_only || stat.ctime < since)
}

/// One stored accurate entry at `pos`: (length, seen flag, the frame). The store holds
/// `len(u16 BE) seen(u8) frame` records, written by the session's `accurate` handler.
pub(crate) fn accurate_entry(store: &[u8], pos: usize) -> Option<(usize, bool, &[u8])> {
    let &[hi, lo, seen] = store.get(pos..pos + 3)? else {
        return None;
    };
    let len = usize::from(u16::from_be_bytes([hi, lo]));
    let body = store.get(pos + 3..pos + 3 + len)?;
    Some((len, seen != 0, body))
}

/// Look `path` up in the accurate store (linear scan: bounded by the store size, which the
/// caller chose), mark it seen and return its stat.
pub(crate) fn accurate_seen(store: &mut [u8], path: &[u8]) -> Option<Stat> {
    let mut pos = 0usize;
    while let Some((len, _, body)) = accurate_entry(store, pos) {
        if let Ok(e) = AccurateEntry::parse(body) {
            if e.path == path {
                let st = Stat::parse(e.lstat).ok();
                if let Some(flag) = store.get_mut(pos + 2) {
                    *flag = 1;
                }
                return st;
            }
        }
        pos += 3 + len;
    }
    None
}

/// The default accurate comparison `mcs` (`core/src/filed/accurate.cc`): mtime, ctime or
/// size differ.
pub(crate) fn accurate_changed(now: &Stat, old: &Stat) -> bool {
    now.mtime != old.mtime || now.ctime != old.ctime || now.size != old.size
}

/// File type of a walk entry, as `find_one.cc` classifies it.
pub(crate) fn file_type(e: &Entry) -> Option<FileType> {
    Some(match e.kind {
        EntryKind::Regular => {
            if e.stat.size == 0 && e.stat.mode & 0o444 == 0o444 {
                FileType::RegE
            } else {
                FileType::Reg
            }
        }
        EntryKind::Dir => FileType::DirEnd,
        EntryKind::Symlink => FileType::Lnk,
        EntryKind::Fifo | EntryKind::Device => FileType::Spec,
        EntryKind::DirBegin | EntryKind::Socket | EntryKind::NoStat | EntryKind::NoOpen => {
            return None
        }
    })
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
    /// `storage address=… port=… ssl=…[ Authorization=…]`: connect and authenticate.
    pub(crate) async fn storage_cmd(&mut self, st: Storage<'_>) -> Result<bool, SessionError> {
        if let Some(key) = st.authorization {
            // Restore/verify form; a second key makes the FD a multi-restore session.
            if !key.is_empty() {
                self.job.key.clear();
                let _ = self
                    .job
                    .key
                    .extend_from_slice(key.get(..100).unwrap_or(key));
                self.job.key_sets = self.job.key_sets.saturating_add(1);
            }
        }
        let mut addr: Vec<u8, 256> = Vec::new();
        let port = u16::try_from(st.port).unwrap_or(0);
        if addr.extend_from_slice(st.address).is_err() || port == 0 {
            self.reply(&FdReply::ErrorText(TextError::Bad, b"storage"))
                .await?;
            return Ok(false);
        }
        match self.connect_sd(&addr, port, st.ssl).await {
            Ok(sd) => {
                // ` Encryption: «cipher»` after the connection (and its TLS handshake) and
                // before the reply (`core/src/filed/dir_cmd.cc` `StorageCmd()`,
                // vectors/clear-backup-full conn 3 msg 25; psk-backup-full shows the cipher).
                let cipher = self.job.sd_cipher.clone();
                self.jmsg(
                    MessageType::Info,
                    format_args!(" Encryption: {}\n", cipher_text(&cipher)),
                )
                .await?;
                self.sd_addr = addr;
                self.sd_port = port;
                if let Some(mut old) = self.sd.replace(sd) {
                    let _ = old.terminate().await;
                }
                self.reply(&FdReply::Ok(OkReply::Storage)).await?;
                Ok(true)
            }
            Err(e) => {
                self.jmsg(
                    MessageType::Fatal,
                    format_args!(
                        "Failed to connect to Storage daemon: {}:{} ({})\n",
                        core::str::from_utf8(&addr).unwrap_or("?"),
                        port,
                        e
                    ),
                )
                .await?;
                self.reply(&FdReply::ErrorText(TextError::Bad, b"storage"))
                    .await?;
                self.job.set_status(JobStatus::ErrorTerminated);
                Ok(false)
            }
        }
    }

    async fn connect_sd(
        &mut self,
        addr: &[u8],
        port: u16,
        ssl: u32,
    ) -> Result<Conn<C::Stream>, SessionError> {
        let mut identity: Vec<u8, 140> = Vec::new();
        let _ = identity.extend_from_slice(b"R_JOB\x1e");
        let _ = identity.extend_from_slice(&self.job.name);
        let psk_on = TlsPolicy::from_code(ssl) == TlsPolicy::Auto;
        let psk = psk_on.then_some(PskParams {
            identity: &identity,
            key: &self.job.key,
        });
        let stream = self
            .svc
            .connector
            .connect(addr, port, psk)
            .await
            .map_err(|_| SessionError::Conn(super::conn::ConnError::Closed))?;
        let mut cipher = [0u8; 64];
        let n = self.svc.connector.cipher(&stream, &mut cipher);
        self.job.sd_cipher.clear();
        let _ = self
            .job
            .sd_cipher
            .extend_from_slice(cipher.get(..n).unwrap_or(&[]));
        let mut sd = Conn::new(stream);
        let hello = Hello::StartJob {
            job: &self.job.name,
            version: Some(self.cfg.version),
        };
        sd.send_with(self.tx, |b| hello.emit(b)).await?;
        let own = qualified_name(b"R_CLIENT::", self.cfg.name)?;
        let random = self.next_random();
        let mut acfg = auth::Config::new(
            Role::Outbound,
            &self.job.key,
            &own,
            if psk_on {
                TlsPolicy::Auto
            } else {
                TlsPolicy::None
            },
            random,
            u32::try_from(self.svc.clock.unix_time()).unwrap_or(0),
        );
        acfg.tls_active = psk_on;
        match authenticate(&mut sd, &self.svc.clock, acfg, self.sd_rx).await? {
            auth::Event::Authenticated { .. } => Ok(sd),
            auth::Event::Failed(e) => Err(SessionError::Auth(e)),
        }
    }

    /// Send one SD command and read one reply frame into `sd_rx`; returns the reply.
    pub(crate) async fn sd_command(
        &mut self,
        cmd: SdDataCommand<'_>,
    ) -> Result<Option<SdDataReply<'static>>, SessionError> {
        let Some(sd) = self.sd.as_mut() else {
            return Ok(None);
        };
        sd.send_with(self.tx, |b| cmd.emit(b)).await?;
        sd_reply(sd, &self.svc.clock, self.sd_rx).await
    }

    /// Passive mode (jobs.md §2.6, §3.7; vectors/clear-backup-passive conn 4): no `storage`
    /// command came, so the SD dials the FD. Normally the SD has already been accepted and
    /// authenticated while the session waited for this command ([`Session::next_command`]);
    /// otherwise the platform hands over that connection now ([`Connector::accept_sd`]) with
    /// its hello unread, and the FD checks `Hello Storage calling Start Job «Job»` and
    /// authenticates as the inbound side with the session key.
    pub(crate) async fn passive_sd(&mut self) -> Result<bool, SessionError> {
        #[cfg(feature = "passive")]
        return self.passive_sd_built().await;
        #[cfg(not(feature = "passive"))]
        {
            warn!("no storage command and passive mode is not in this build");
            Ok(false)
        }
    }

    #[cfg(feature = "passive")]
    async fn passive_sd_built(&mut self) -> Result<bool, SessionError> {
        let Ok(stream) = self.svc.connector.accept_sd(&self.job.name).await else {
            return Ok(false);
        };
        let mut sd = Conn::new(stream);
        if self.svc.connector.accepted_sd_authenticated() {
            self.sd = Some(sd);
            self.sd_passive = true;
            return Ok(true);
        }
        let own = qualified_name(b"R_CLIENT::", self.cfg.name)?;
        let random = self.next_random();
        let ok = passive_hello_and_auth(
            &mut sd,
            &self.svc.connector,
            &self.svc.clock,
            &self.job.name,
            &self.job.key,
            &own,
            random,
            self.sd_rx,
        )
        .await?;
        if ok {
            self.sd = Some(sd);
            self.sd_passive = true;
        }
        Ok(ok)
    }

    /// The next frame from the Director. While a job with a session key waits for its
    /// Storage daemon and the platform does not authenticate passive SDs itself
    /// ([`Connector::accepted_sd_authenticated`] false), a passive SD is accepted and
    /// authenticated *while* waiting, as Bareos does in its accepting thread
    /// (`core/src/filed/socket_server.cc`): the SD answers the Director's `passive client`
    /// only after its CRAM-MD5 with the FD, and only then does the Director send `backup` or
    /// `restore`. An SD whose TCP connection was accepted is authenticated to the end before
    /// the Director's frame is returned, so no half-authenticated connection is dropped; an
    /// accept still waiting is dropped (the connector's `accept_sd` is cancel-safe) and
    /// started again for the next command. A failed attempt (wrong hello, wrong key, no
    /// passive support) is not repeated early; `backup`/`restore` then try once more
    /// ([`Self::passive_sd`]).
    #[cfg(feature = "passive")]
    pub(crate) async fn next_command<'b>(
        &mut self,
        dir_rx: &'b mut [u8],
    ) -> Result<Msg<'b>, SessionError> {
        use core::cell::Cell;
        use core::future::Future as _;
        use core::task::Poll;
        let job_open = self.job.id != 0;
        if !job_open
            || self.sd.is_some()
            || self.early_sd_failed
            || self.monitor
            || self.job.key.is_empty()
            || !self.sd_addr.is_empty()
            || self.svc.connector.accepted_sd_authenticated()
        {
            return self.recv_dir(dir_rx).await.map_err(SessionError::Conn);
        }
        let own = qualified_name(b"R_CLIENT::", self.cfg.name)?;
        let random = self.next_random();
        let accepted = Cell::new(false);
        let svc = &mut *self.svc;
        let (connector, clock) = (&mut svc.connector, &svc.clock);
        let (job, key, sd_rx) = (&self.job.name, &self.job.key, &mut *self.sd_rx);
        let early = async {
            let stream = connector.accept_sd(job).await.ok()?;
            accepted.set(true);
            let mut sd = Conn::new(stream);
            let deadline = clock.now() + super::conn::DATA_PHASE_TIMEOUT;
            let auth =
                passive_hello_and_auth(&mut sd, &*connector, clock, job, key, &own, random, sd_rx);
            match super::conn::until(clock, deadline, auth).await {
                Some(Ok(true)) => Some(sd),
                _ => {
                    warn!(
                        "a passive Storage daemon connection was refused (hello, key or timeout)"
                    );
                    None
                }
            }
        };
        let dir = super::session::recv_within(&mut self.dir, clock, job_open, dir_rx);
        let mut early = core::pin::pin!(early);
        let mut dir = core::pin::pin!(dir);
        let mut sd_out = None;
        let mut dir_out = None;
        let r = core::future::poll_fn(|cx| {
            if sd_out.is_none() {
                if let Poll::Ready(s) = early.as_mut().poll(cx) {
                    sd_out = Some(s);
                }
            }
            if dir_out.is_none() {
                if let Poll::Ready(m) = dir.as_mut().poll(cx) {
                    dir_out = Some(m);
                }
            }
            match dir_out.take() {
                Some(m) if sd_out.is_some() || !accepted.get() => Poll::Ready(m),
                m => {
                    dir_out = m;
                    Poll::Pending
                }
            }
        })
        .await;
        match sd_out {
            Some(Some(sd)) => {
                debug!("passive Storage daemon authenticated");
                self.sd = Some(sd);
                self.sd_passive = true;
            }
            Some(None) => self.early_sd_failed = true,
            None => {}
        }
        r.map_err(SessionError::Conn)
    }

    /// The next frame from the Director (a mid-job wait is bounded,
    /// [`super::conn::DIRECTOR_JOB_TIMEOUT`]).
    #[cfg(not(feature = "passive"))]
    pub(crate) async fn next_command<'b>(
        &mut self,
        dir_rx: &'b mut [u8],
    ) -> Result<Msg<'b>, SessionError> {
        self.recv_dir(dir_rx).await.map_err(SessionError::Conn)
    }

    /// `backup FileIndex=…`.
    pub(crate) async fn backup_cmd(&mut self, file_index: u32) -> Result<bool, SessionError> {
        self.job.job_type = crate::wire::codes::JobType::Backup;
        self.set_kind();
        if self.sd.is_none() && !self.passive_sd().await? {
            self.reply(&FdReply::ErrorText(TextError::Bad, b"backup"))
                .await?;
            self.job.set_status(JobStatus::ErrorTerminated);
            return Ok(false);
        }
        if !self.sd_passive {
            self.connected_jmsg().await?;
        }
        let fileset = core::mem::take(&mut self.fileset);
        let accurate = core::mem::take(&mut self.accurate);
        let r = self.backup_with(fileset, accurate, file_index).await;
        self.fileset = fileset;
        self.accurate = accurate;
        r
    }

    async fn backup_with(
        &mut self,
        fileset: &mut [u8],
        accurate: &mut [u8],
        file_index: u32,
    ) -> Result<bool, SessionError> {
        let accurate = accurate.get_mut(..self.job.accurate_len).unwrap_or(&mut []);
        // Accurate mode: the list replaces the since-time test (jobs.md §9.3).
        let use_accurate = self.job.accurate && !accurate.is_empty();
        let view = FilesetView {
            store: fileset.get(..self.job.fileset_len).unwrap_or(&[]),
        };
        let any = view.any_flags();
        if any.xattr && self.svc.source.xattr_support() {
            self.jmsg(
                MessageType::Info,
                format_args!("Extended attribute support is enabled\n"),
            )
            .await?;
        }
        if any.acl && self.svc.source.acl_support() {
            self.jmsg(MessageType::Info, format_args!("ACL support is enabled\n"))
                .await?;
        }
        self.reply(&FdReply::Ok(OkReply::Backup)).await?;
        let version = self.cfg.version_text;
        self.jmsg(
            MessageType::Info,
            format_args!("Version: {}\n", core::str::from_utf8(version).unwrap_or("")),
        )
        .await?;
        // Append session.
        let ticket = match self.sd_command(SdDataCommand::AppendOpen).await? {
            Some(SdDataReply::OpenTicket { ticket }) => ticket,
            _ => return self.sd_failed("append open session").await,
        };
        if !matches!(
            self.sd_command(SdDataCommand::AppendData { ticket })
                .await?,
            Some(SdDataReply::Data)
        ) {
            return self.sd_failed("append data").await;
        }
        self.job.files = file_index;
        self.job.set_status(JobStatus::Running);
        let mut links: Vec<HardLink, HARDLINK_SLOTS> = Vec::new();
        let mut state = RunState {
            next_heartbeat: self.next_heartbeat(),
            throttle: Throttle::new(),
        };
        let mut name = [0u8; MAX_PATH];
        let mut link = [0u8; MAX_PATH];
        'blocks: for b in view.include_blocks() {
            let flags = view.flags(b);
            let opts = WalkOptions {
                one_fs: !flags.multi_fs,
                keep_atime: flags.keep_atime,
            };
            for root in view.roots(b) {
                if let Err(e) = self.svc.source.start(root, &opts).await {
                    self.file_error(
                        MessageType::NotSaved,
                        format_args!("     Could not stat \"{}\": ERR={}\n", show(root), e),
                    )
                    .await?;
                    continue;
                }
                let mut drop_dir = false;
                loop {
                    if self.job.canceled() {
                        break 'blocks;
                    }
                    let entry = match self.svc.source.next(&mut name, &mut link).await {
                        Ok(Some(e)) => e,
                        Ok(None) => break,
                        Err(e) => {
                            self.file_error(
                                MessageType::NotSaved,
                                format_args!(
                                    "     Could not access \"{}\": ERR={}\n",
                                    show(root),
                                    e
                                ),
                            )
                            .await?;
                            break;
                        }
                    };
                    let path = name.get(..entry.name_len).unwrap_or(&[]);
                    match entry.kind {
                        EntryKind::Socket => continue,
                        EntryKind::NoStat => {
                            self.file_error(
                                MessageType::NotSaved,
                                format_args!(
                                    "     Could not stat \"{}\": ERR=stat failed\n",
                                    show(path)
                                ),
                            )
                            .await?;
                            continue;
                        }
                        EntryKind::NoOpen => {
                            self.file_error(
                                MessageType::NotSaved,
                                format_args!(
                                    "     Could not open directory \"{}\": ERR=opendir failed\n",
                                    show(path)
                                ),
                            )
                            .await?;
                            continue;
                        }
                        _ => {}
                    }
                    let Some(flags) = self
                        .filter_entry(&view, b, root, &entry, path, &flags, &mut drop_dir)
                        .await
                    else {
                        continue;
                    };
                    if use_accurate {
                        let mut key: Vec<u8, { MAX_PATH + 1 }> = Vec::new();
                        let _ = key.extend_from_slice(path);
                        if entry.kind == EntryKind::Dir && key.last() != Some(&b'/') {
                            let _ = key.push(b'/');
                        }
                        if let Some(old) = accurate_seen(accurate, &key) {
                            if !accurate_changed(&entry.stat, &old) {
                                continue;
                            }
                        }
                    } else if matches!(
                        self.job.level,
                        crate::wire::codes::JobLevel::Incremental
                            | crate::wire::codes::JobLevel::Differential
                    ) && unchanged(&entry.stat, self.job.since, flags.mtime_only)
                    {
                        continue;
                    }
                    let linkt = link.get(..entry.link_len).unwrap_or(&[]);
                    let cont = self
                        .save_file(&entry, path, linkt, &flags, &mut links, &mut state)
                        .await?;
                    if !cont {
                        break 'blocks;
                    }
                }
            }
        }
        if self.job.canceled() {
            // Bareos stops without the end-of-data EOD; the SD sees the connection close.
            self.job.set_status(JobStatus::Canceled);
            return Ok(false);
        }
        if use_accurate {
            self.send_deleted(accurate, &mut state).await?;
        }
        // End of data.
        let Some(sd) = self.sd.as_mut() else {
            return Ok(false);
        };
        sd.signal(Signal::Eod).await?;
        let r = sd_reply(sd, &self.svc.clock, self.sd_rx).await?;
        if r != Some(SdDataReply::AppendData) {
            return self.sd_failed("append data").await;
        }
        if self.sd_command(SdDataCommand::AppendEnd { ticket }).await? != Some(SdDataReply::End) {
            return self.sd_failed("append end session").await;
        }
        let close = self
            .sd_command(SdDataCommand::AppendClose { ticket })
            .await?;
        let ok = matches!(
            close,
            Some(SdDataReply::Close {
                status: JobStatus::Terminated | JobStatus::Warnings
            })
        );
        // The SD follows the close reply with an EOD.
        if let Some(sd) = self.sd.as_mut() {
            let _ = sd.recv(self.sd_rx).await;
        }
        if !ok {
            return self.sd_failed("append close session").await;
        }
        // Files that could not be read count in `Errors=` but do not fail the job: Bareos'
        // `BackupCmd()` sets 'T' whenever the data phase completed; the Director turns
        // T + errors into "OK -- with warnings".
        self.job.set_status(JobStatus::Terminated);
        self.job.publish();
        // The loop ends after a backup (TERMINATE to the SD, End Job, TERMINATE).
        Ok(false)
    }

    /// After the walk, every accurate-list entry not seen is sent as FT_DELETED: a new
    /// FileIndex, a stat packet that is zero except mtime and ctime, data stream 2, and
    /// nothing but the attribute stream (vectors/clear-diff-accurate conn 8 msgs 24–26:
    /// `3 23 /srv/…/empty.txt␀A A A A A A A A A A A BpVzWl BrAxu7 A A C␀␀␀0␀`).
    async fn send_deleted(
        &mut self,
        accurate: &mut [u8],
        st: &mut RunState,
    ) -> Result<(), SessionError> {
        let mut pos = 0usize;
        while let Some((len, seen, body)) = accurate_entry(accurate, pos) {
            pos += 3 + len;
            if seen {
                continue;
            }
            let Ok(e) = AccurateEntry::parse(body) else {
                continue;
            };
            let Ok(old) = Stat::parse(e.lstat) else {
                continue;
            };
            let mut stat = Stat::zeroed();
            stat.fields = crate::wire::attr::STAT_FIELDS;
            stat.mtime = old.mtime;
            stat.ctime = old.ctime;
            stat.data_stream = i64::from(StreamType::FileData.bits());
            self.job.files += 1;
            let fi = i32::try_from(self.job.files).unwrap_or(i32::MAX);
            let rec = AttrRecord {
                file_index: fi,
                file_type: FileType::Deleted,
                fname: e.path,
                stat,
                link: b"",
                attr_ex: b"",
                delta_seq: 0,
            };
            self.send_header(fi, StreamType::UnixAttributes, st).await?;
            let n = rec
                .emit(self.tx)
                .map_err(|_| SessionError::BufferTooSmall)?;
            {
                let Some(sd) = self.sd.as_mut() else {
                    return Err(SessionError::Conn(super::conn::ConnError::Closed));
                };
                super::conn::send_within(sd, &self.svc.clock, self.tx.get(..n).unwrap_or(&[]))
                    .await?;
            }
            self.pace(n + 4, st).await?;
            self.sd_eod(st).await?;
        }
        Ok(())
    }

    /// The fileset's verdict on one walk entry of Include block `b` under `root`, with the
    /// directory bookkeeping of the walk: `None` = not saved (a `DirBegin`, or rejected),
    /// otherwise the flags to save it with. A rejected directory, or one holding an
    /// `Exclude Dir Containing` marker, is not descended into and its own entry (`Dir`,
    /// which follows at once) is dropped through `drop_dir`. The root itself is always
    /// accepted (Bareos `OurCallback()` does not filter top-level entries) but is still
    /// checked for the marker, as `FindOneFile()` does for every directory.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn filter_entry(
        &mut self,
        view: &FilesetView<'_>,
        b: (usize, usize),
        root: &[u8],
        entry: &Entry,
        path: &[u8],
        block: &Flags,
        drop_dir: &mut bool,
    ) -> Option<Flags> {
        let is_root =
            path == root || (root.ends_with(b"/") && root.get(..root.len() - 1) == Some(path));
        let source = &mut self.svc.source;
        let mut regex =
            |p: &[u8], ic: bool, n: &[u8]| source.regex_match(p, ic, n).unwrap_or(false);
        match entry.kind {
            EntryKind::DirBegin => {
                let verdict = if is_root {
                    Some(*block)
                } else {
                    view.accept(b, path, true, &mut regex)
                };
                let mut marked = false;
                if verdict.is_some() {
                    for marker in view.ignore_dirs(b) {
                        if self.svc.source.dir_contains(path, marker).await {
                            marked = true;
                            break;
                        }
                    }
                }
                match verdict {
                    Some(f) if !marked => {
                        if f.no_recursion && !is_root {
                            self.svc.source.skip_dir();
                        }
                    }
                    _ => {
                        self.svc.source.skip_dir();
                        *drop_dir = true;
                    }
                }
                None
            }
            EntryKind::Dir if *drop_dir => {
                *drop_dir = false;
                None
            }
            _ if is_root => Some(*block),
            kind => view.accept(b, path, kind == EntryKind::Dir, &mut regex),
        }
    }

    async fn sd_failed(&mut self, what: &str) -> Result<bool, SessionError> {
        self.jmsg(
            MessageType::Fatal,
            format_args!("Bad response from Storage daemon to \"{}\".\n", what),
        )
        .await?;
        self.job.set_status(JobStatus::ErrorTerminated);
        Ok(false)
    }

    /// Count an error on a file and tell the Director.
    pub(crate) async fn file_error(
        &mut self,
        msg_type: MessageType,
        text: core::fmt::Arguments<'_>,
    ) -> Result<(), SessionError> {
        self.job.errors += 1;
        self.jmsg(msg_type, text).await
    }

    pub(super) fn next_heartbeat(&self) -> Option<Instant> {
        let iv = self.cfg.heartbeat_interval;
        (iv.total_micros() > 0).then(|| self.svc.clock.now() + iv)
    }

    fn bwlimit(&self) -> u64 {
        // A `setbandwidth … Job=` from another Director connection lands in the job table.
        let job = match &self.job.handle {
            Some(h) if h.bwlimit() > 0 => u64::from(h.bwlimit()),
            _ => self.job.bwlimit,
        };
        effective_bwlimit(job, self.dir_bwlimit, self.global_bwlimit)
    }

    /// Send one frame to the SD with heartbeat and bandwidth bookkeeping.
    async fn sd_send(&mut self, payload: &[u8], st: &mut RunState) -> Result<(), SessionError> {
        let Some(sd) = self.sd.as_mut() else {
            return Err(SessionError::Conn(super::conn::ConnError::Closed));
        };
        super::conn::send_within(sd, &self.svc.clock, payload).await?;
        self.pace(payload.len() + 4, st).await
    }

    async fn sd_eod(&mut self, st: &mut RunState) -> Result<(), SessionError> {
        let Some(sd) = self.sd.as_mut() else {
            return Err(SessionError::Conn(super::conn::ConnError::Closed));
        };
        sd.signal(Signal::Eod).await?;
        self.pace(4, st).await
    }

    async fn pace(&mut self, n: usize, st: &mut RunState) -> Result<(), SessionError> {
        let limit = self.bwlimit();
        if let Some(until) = st.throttle.account(self.svc.clock.now(), n, limit) {
            self.svc.clock.sleep_until(until).await;
        }
        if let Some(hb) = st.next_heartbeat {
            let now = self.svc.clock.now();
            if now >= hb {
                self.dir.signal(Signal::Heartbeat).await?;
                st.next_heartbeat = Some(now + self.cfg.heartbeat_interval);
            }
        }
        Ok(())
    }

    async fn send_header(
        &mut self,
        fi: i32,
        kind: StreamType,
        st: &mut RunState,
    ) -> Result<(), SessionError> {
        let h = DataHeader::new(fi, Stream::new(kind, StreamFlags(0)));
        let mut b = [0u8; 32];
        let n = h.emit(&mut b).map_err(|_| SessionError::BufferTooSmall)?;
        self.sd_send(b.get(..n).unwrap_or(&[]), st).await
    }

    /// Save one entry: attributes, data, digest. False = stop the job (canceled).
    async fn save_file(
        &mut self,
        e: &Entry,
        path: &[u8],
        link: &[u8],
        flags: &Flags,
        links: &mut Vec<HardLink, HARDLINK_SLOTS>,
        st: &mut RunState,
    ) -> Result<bool, SessionError> {
        let Some(mut ft) = file_type(e) else {
            return Ok(true);
        };
        let data_stream = if flags.sparse {
            StreamType::SparseData
        } else {
            StreamType::FileData
        };
        let mut stat = e.stat;
        stat.fields = crate::wire::attr::STAT_FIELDS;
        stat.data_stream = i64::from(data_stream.bits());
        stat.link_fi = 0;
        let mut link_out: &[u8] = link;
        let mut saved_digest: Option<([u8; MAX_DIGEST_LEN], usize)> = None;
        let mut first_of_links = false;
        if (ft == FileType::Reg || ft == FileType::RegE) && !flags.no_hardlinks && e.stat.nlink > 1
        {
            if let Some(h) = links
                .iter()
                .find(|h| h.dev == e.stat.dev && h.ino == e.stat.ino)
            {
                // The link field is set below from the table entry.
                ft = FileType::LnkSaved;
                stat.link_fi = i64::from(h.file_index);
                saved_digest = (h.digest_len > 0).then_some((h.digest, h.digest_len));
            } else {
                first_of_links = true;
            }
        }
        let mut lnk_name: Vec<u8, 256> = Vec::new();
        if ft == FileType::LnkSaved {
            if let Some(h) = links
                .iter()
                .find(|h| h.dev == e.stat.dev && h.ino == e.stat.ino)
            {
                lnk_name = h.name.clone();
            }
            link_out = &lnk_name;
        }
        self.job.files += 1;
        let fi = i32::try_from(self.job.files).unwrap_or(i32::MAX);
        // Directory names end in '/'.
        let mut dname: Vec<u8, { MAX_PATH + 1 }> = Vec::new();
        let fname: &[u8] = if ft == FileType::DirEnd {
            let _ = dname.extend_from_slice(path);
            if dname.last() != Some(&b'/') {
                let _ = dname.push(b'/');
            }
            &dname
        } else {
            path
        };
        let rec = AttrRecord {
            file_index: fi,
            file_type: ft,
            fname,
            stat,
            link: link_out,
            attr_ex: b"",
            delta_seq: 0,
        };
        self.send_header(fi, StreamType::UnixAttributes, st).await?;
        let n = rec
            .emit(self.tx)
            .map_err(|_| SessionError::BufferTooSmall)?;
        {
            let Some(sd) = self.sd.as_mut() else {
                return Err(SessionError::Conn(super::conn::ConnError::Closed));
            };
            super::conn::send_within(sd, &self.svc.clock, self.tx.get(..n).unwrap_or(&[])).await?;
        }
        self.pace(n + 4, st).await?;
        self.sd_eod(st).await?;

        // Data and digest.
        let mut digest: Option<([u8; MAX_DIGEST_LEN], usize)> = None;
        match ft {
            FileType::Reg | FileType::RegE => {
                let mut hasher = flags.signature.and_then(|k| self.svc.digests.hasher(k));
                if ft == FileType::Reg && e.stat.size > 0 {
                    let hashing = flags.signature.zip(hasher.as_mut());
                    match self
                        .send_data(path, data_stream, fi, e.stat.size, hashing, st)
                        .await?
                    {
                        DataOutcome::Sent => {}
                        #[cfg(feature = "source-digest")]
                        DataOutcome::Hashed { digest: d, len } => {
                            hasher = None;
                            if len > 0 {
                                digest = Some((d, len));
                            }
                        }
                        DataOutcome::Failed => hasher = None,
                        DataOutcome::Canceled => return Ok(false),
                    }
                }
                if let Some(h) = hasher {
                    let mut d = [0u8; MAX_DIGEST_LEN];
                    let n = h.finish(&mut d);
                    digest = Some((d, n));
                }
            }
            FileType::LnkSaved => digest = saved_digest,
            _ => {}
        }
        // ACL and xattr streams come after the data and before the digest
        // (`core/src/filed/backup.cc` `SaveFile()`); no ACL for a symbolic link.
        #[cfg(feature = "acl-xattr")]
        if flags.acl && ft != FileType::Lnk && self.svc.source.acl_support() {
            self.send_meta(fi, path, super::platform::MetaStream::AccessAcl, flags, st)
                .await?;
            if ft == FileType::DirEnd {
                self.send_meta(fi, path, super::platform::MetaStream::DefaultAcl, flags, st)
                    .await?;
            }
        }
        #[cfg(feature = "acl-xattr")]
        if flags.xattr && self.svc.source.xattr_support() {
            self.send_meta(fi, path, super::platform::MetaStream::Xattr, flags, st)
                .await?;
        }
        if let (Some(kind), Some((d, n))) = (flags.signature, digest) {
            self.send_header(fi, kind.stream(), st).await?;
            self.sd_send(d.get(..n).unwrap_or(&[]), st).await?;
            self.sd_eod(st).await?;
        }
        if first_of_links && !links.is_full() {
            let mut name: Vec<u8, 256> = Vec::new();
            if name.extend_from_slice(path).is_ok() {
                let (dg, dl) = digest.unwrap_or(([0; MAX_DIGEST_LEN], 0));
                let _ = links.push(HardLink {
                    dev: e.stat.dev,
                    ino: e.stat.ino,
                    file_index: fi,
                    name,
                    digest: dg,
                    digest_len: dl,
                });
            }
        }
        self.job.publish();
        Ok(true)
    }

    #[cfg(feature = "acl-xattr")]
    /// Send one ACL or xattr stream of `path`, if the platform reports one. A read error is
    /// an M_ERROR job message counted in `Errors=` (as `DoBackupAcl()`/`DoBackupXattr()`);
    /// the job goes on.
    async fn send_meta(
        &mut self,
        fi: i32,
        path: &[u8],
        kind: super::platform::MetaStream,
        flags: &Flags,
        st: &mut RunState,
    ) -> Result<(), SessionError> {
        let cap = self
            .data
            .len()
            .min(self.cfg.network_buffer_size)
            .saturating_sub(1);
        let out = self.data.get_mut(..cap).unwrap_or(&mut []);
        let r = match kind {
            super::platform::MetaStream::AccessAcl => self.svc.source.acl(path, false, out).await,
            super::platform::MetaStream::DefaultAcl => self.svc.source.acl(path, true, out).await,
            super::platform::MetaStream::Xattr => {
                self.svc.source.xattrs(path, flags.acl, out).await
            }
        };
        let n = match r {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) => {
                let what = if kind == super::platform::MetaStream::Xattr {
                    "extended attributes"
                } else {
                    "ACL"
                };
                return self
                    .file_error(
                        MessageType::Error,
                        format_args!(
                            "Could not read the {} of \"{}\": ERR={}\n",
                            what,
                            show(path),
                            e
                        ),
                    )
                    .await;
            }
        };
        // The ACL text goes with its terminating NUL (`SendAclStream()`).
        let len = if kind == super::platform::MetaStream::Xattr {
            n
        } else {
            if let Some(z) = self.data.get_mut(n) {
                *z = 0;
            }
            n + 1
        };
        let h = DataHeader::new(fi, Stream::new(kind.stream(), StreamFlags(0)));
        let mut b = [0u8; 32];
        let hn = h.emit(&mut b).map_err(|_| SessionError::BufferTooSmall)?;
        self.sd_send(b.get(..hn).unwrap_or(&[]), st).await?;
        {
            let Some(sd) = self.sd.as_mut() else {
                return Err(SessionError::Conn(super::conn::ConnError::Closed));
            };
            super::conn::send_within(sd, &self.svc.clock, self.data.get(..len).unwrap_or(&[]))
                .await?;
        }
        self.job.job_bytes += len as u64;
        self.pace(len + 4, st).await?;
        self.sd_eod(st).await
    }

    /// Read and send one file's data stream.
    async fn send_data(
        &mut self,
        path: &[u8],
        kind: StreamType,
        fi: i32,
        size: i64,
        mut hashing: Option<(DigestKind, &mut D::Hasher)>,
        st: &mut RunState,
    ) -> Result<DataOutcome, SessionError> {
        if let Err(e) = self.svc.source.open(path).await {
            // `core/src/filed/backup.cc` `SaveFile()`: M_NOTSAVED, no severity prefix.
            self.file_error(
                MessageType::NotSaved,
                format_args!("     Cannot open \"{}\": ERR={}.\n", show(path), e),
            )
            .await?;
            return Ok(DataOutcome::Failed);
        }
        self.send_header(fi, kind, st).await?;
        let sparse = kind == StreamType::SparseData;
        // Every byte read is sent unless the stream is sparse: the source may hash them.
        #[cfg(feature = "source-digest")]
        let source_hashes = !sparse
            && hashing
                .as_ref()
                .is_some_and(|(k, _)| self.svc.source.hash_reads(*k));
        #[cfg(feature = "source-digest")]
        if source_hashes {
            hashing = None;
        }
        let hdr = if sparse { SPARSE_OFFSET_LEN } else { 0 };
        let chunk = self
            .cfg
            .network_buffer_size
            .saturating_sub(hdr)
            .min(self.data.len().saturating_sub(hdr))
            .max(1);
        let mut offset: u64 = 0;
        let size = u64::try_from(size).unwrap_or(0);
        let mut outcome = DataOutcome::Sent;
        loop {
            if self.job.canceled() {
                outcome = DataOutcome::Canceled;
                break;
            }
            // Fill one chunk completely (short reads are allowed by the trait).
            let mut got = 0usize;
            let mut failed = None;
            while got < chunk {
                let Some(dst) = self.data.get_mut(hdr + got..hdr + chunk) else {
                    break;
                };
                match self.svc.source.read(dst).await {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            if let Some(e) = failed {
                self.svc.source.close().await;
                let _ = self.sd_eod(st).await;
                // `send_data()`: an M_ERROR message (which counts one error) and an explicit
                // `JobErrors++`, so Bareos counts a read error twice.
                self.file_error(
                    MessageType::Error,
                    format_args!("Read error on file {}. ERR={}\n", show(path), e),
                )
                .await?;
                self.job.errors += 1;
                return Ok(DataOutcome::Failed);
            }
            if got == 0 {
                break;
            }
            let body = self.data.get(hdr..hdr + got).unwrap_or(&[]);
            self.job.read_bytes += got as u64;
            let last = offset + got as u64 >= size;
            let zero = body.iter().all(|&b| b == 0);
            if !(sparse && zero && got == chunk && !last) {
                // Bareos hashes only the chunks it sends: with sparse, the skipped all-zero
                // chunks are not part of the digest (vectors/clear-backup-multiblock conn 4
                // msg 35: `sparse.bin`'s SHA-256 record is c5fbb7c2…, the hash of its two
                // sent chunks, not 686c51a0…, the hash of the file).
                if let Some((_, h)) = hashing.as_mut() {
                    h.update(body);
                }
                if sparse {
                    if let Some(o) = self.data.get_mut(..SPARSE_OFFSET_LEN) {
                        o.copy_from_slice(&offset.to_be_bytes());
                    }
                }
                let len = hdr + got;
                let Some(sd) = self.sd.as_mut() else {
                    return Err(SessionError::Conn(super::conn::ConnError::Closed));
                };
                super::conn::send_within(sd, &self.svc.clock, self.data.get(..len).unwrap_or(&[]))
                    .await?;
                self.job.job_bytes += len as u64;
                self.pace(len + 4, st).await?;
            }
            offset += got as u64;
            self.job.publish();
            if got < chunk {
                break;
            }
        }
        #[cfg(feature = "source-digest")]
        if source_hashes && outcome == DataOutcome::Sent {
            let mut digest = [0u8; MAX_DIGEST_LEN];
            let len = self.svc.source.read_digest(&mut digest).await;
            outcome = DataOutcome::Hashed { digest, len };
        }
        self.svc.source.close().await;
        if outcome == DataOutcome::Canceled {
            return Ok(outcome);
        }
        self.sd_eod(st).await?;
        Ok(outcome)
    }
}

/// Read one SD reply (skipping heartbeats), without borrowing the buffer in the result.
pub(crate) async fn sd_reply<X: Read + Write, T: Clock>(
    sd: &mut Conn<X>,
    clock: &T,
    rx: &mut [u8],
) -> Result<Option<SdDataReply<'static>>, SessionError> {
    let deadline = clock.now() + super::conn::DATA_PHASE_TIMEOUT;
    loop {
        let m = match super::conn::recv_by(sd, clock, deadline, rx).await {
            // A silent SD: no reply is a bad reply, the caller fails the job.
            Err(super::conn::ConnError::Io(embedded_io_async::ErrorKind::TimedOut)) => {
                warn!("no reply from the Storage daemon within the data-phase timeout");
                return Ok(None);
            }
            m => m?,
        };
        match m {
            Msg::Signal(Signal::Heartbeat) => continue,
            Msg::Signal(_) => return Ok(None),
            Msg::Data(d) => {
                return Ok(SdDataReply::parse(d).ok().map(|r| match r {
                    SdDataReply::OpenTicket { ticket } => SdDataReply::OpenTicket { ticket },
                    SdDataReply::Data => SdDataReply::Data,
                    SdDataReply::AppendData => SdDataReply::AppendData,
                    SdDataReply::End => SdDataReply::End,
                    SdDataReply::Close { status } => SdDataReply::Close { status },
                    SdDataReply::ReadError => SdDataReply::ReadError,
                    SdDataReply::InvalidCommand => SdDataReply::InvalidCommand,
                    SdDataReply::SessionAlreadyOpen => SdDataReply::SessionAlreadyOpen,
                    SdDataReply::SessionNotOpened => SdDataReply::SessionNotOpened,
                    SdDataReply::AppendDataError => SdDataReply::AppendDataError,
                    SdDataReply::FailedAppend => SdDataReply::FailedAppend,
                    SdDataReply::Unknown(_) => SdDataReply::Unknown(b""),
                }))
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataOutcome {
    Sent,
    /// Sent, and the source hashed what it read ([`FileSource::hash_reads`]); `len` 0: the
    /// digest was lost.
    #[cfg(feature = "source-digest")]
    Hashed {
        digest: [u8; MAX_DIGEST_LEN],
        len: usize,
    },
    Failed,
    Canceled,
}

/// Heartbeat and bandwidth state of a running data phase.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunState {
    pub next_heartbeat: Option<Instant>,
    pub throttle: Throttle,
}

/// A cipher name for a job message: `None` for cleartext.
pub(crate) fn cipher_text(c: &[u8]) -> &str {
    if c.is_empty() {
        "None"
    } else {
        core::str::from_utf8(c).unwrap_or("Unknown")
    }
}

/// A path for a log line.
pub(crate) fn show(p: &[u8]) -> &str {
    core::str::from_utf8(p).unwrap_or("<non-UTF-8 path>")
}

/// A passive SD's hello (`Hello Storage calling Start Job «job»`, vectors/clear-backup-passive
/// conn 4 msg 1) and the FD's CRAM-MD5 as the inbound side with the session key (msgs 2-7):
/// true when both passed. Over TLS-PSK (the connector's [`Connector::cipher`] names one once
/// the hello came through it) the `ssl=` comparison is moot, as in Bareos, and the FD's
/// challenge says `ssl=2` (an SD speaking TLS requires it).
#[cfg(feature = "passive")]
#[allow(clippy::too_many_arguments)]
async fn passive_hello_and_auth<C: Connector, T: Clock>(
    sd: &mut Conn<C::Stream>,
    connector: &C,
    clock: &T,
    job: &[u8],
    key: &[u8],
    own: &[u8],
    random: u32,
    rx: &mut [u8],
) -> Result<bool, SessionError> {
    let ok = match sd.recv(rx).await? {
        Msg::Data(h) => matches!(
            Hello::parse_at(crate::wire::hello::Acceptor::FileDaemon, h),
            Ok(Hello::StorageStartJob { job: j, .. }) if j == job
        ),
        Msg::Signal(_) => false,
    };
    if !ok {
        return Ok(false);
    }
    let tls = connector.cipher(sd.get_ref(), &mut [0u8; 64]) > 0;
    let mut acfg = auth::Config::new(
        Role::Inbound,
        key,
        own,
        if tls {
            TlsPolicy::Required
        } else {
            TlsPolicy::None
        },
        random,
        u32::try_from(clock.unix_time()).unwrap_or(0),
    );
    acfg.tls_active = tls;
    Ok(matches!(
        authenticate(sd, clock, acfg, rx).await?,
        auth::Event::Authenticated { .. }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_paces_to_the_limit() {
        let mut t = Throttle::new();
        let t0 = Instant::from_secs(10);
        assert_eq!(t.account(t0, 1000, 0), None);
        // 262,144 bytes at 262,144 B/s: due one second after the start.
        assert_eq!(
            t.account(t0, 262_144, 262_144),
            Some(t0 + Duration::from_secs(1))
        );
        assert_eq!(
            t.account(t0 + Duration::from_secs(1), 131_072, 262_144),
            Some(t0 + Duration::from_millis(1500))
        );
        assert_eq!(t.account(t0 + Duration::from_secs(5), 10, 262_144), None);
    }

    #[test]
    fn bandwidth_limit_precedence() {
        assert_eq!(effective_bwlimit(0, 0, 0), 0);
        assert_eq!(effective_bwlimit(0, 0, 500), 500);
        assert_eq!(effective_bwlimit(0, 200, 500), 200);
        // The Director's value is used even when the Client's is lower.
        assert_eq!(effective_bwlimit(0, 900, 500), 900);
        assert_eq!(effective_bwlimit(1000, 200, 500), 1000);
        assert_eq!(effective_bwlimit(100, 200, 500), 100);
    }

    #[test]
    fn throttle_with_a_virtual_clock_never_exceeds_the_limit() {
        // Feed 256 KiB records at 1 MB/s through the throttle with a clock that only moves
        // when the sender sleeps: after every record, the bytes sent so far never exceed
        // limit × elapsed (+ one record).
        let limit = 1_000_000u64;
        let mut t = Throttle::new();
        let t0 = Instant::from_secs(100);
        let mut now = t0;
        let mut sent = 0u64;
        for _ in 0..40 {
            let n = 262_148usize;
            sent += n as u64;
            if let Some(until) = t.account(now, n, limit) {
                assert!(until > now);
                now = until;
            }
            let elapsed = (now - t0).total_micros();
            assert!(
                sent <= limit * elapsed / 1_000_000 + 262_148,
                "{sent} bytes by {elapsed} µs"
            );
        }
        // And it does not over-throttle: the whole transfer took sent / limit seconds.
        let took = (now - t0).total_micros();
        let ideal = sent * 1_000_000 / limit;
        assert!(
            took <= ideal + 1000 && took + 1000 >= ideal,
            "{took} vs {ideal}"
        );
    }

    #[test]
    fn change_test() {
        let mut s = Stat::zeroed();
        s.mtime = 100;
        s.ctime = 100;
        assert!(unchanged(&s, 101, false));
        assert!(!unchanged(&s, 100, false));
        s.ctime = 200;
        assert!(!unchanged(&s, 150, false));
        assert!(unchanged(&s, 150, true));
    }
}
