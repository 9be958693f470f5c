//! The platform traits: what the File Daemon core needs from the machine it runs on.
//!
//! The core ([`super::session`]) is written once and is generic over these traits; fd-linux
//! implements them with tokio and std files, fd-embedded with embassy-net and flash
//! partitions, and the tests with in-memory trees and pipes. Every trait is small and
//! documents its contract; none of them allocates on behalf of the core.
//!
//! | trait | Bareos counterpart |
//! |---|---|
//! | [`FileSource`] | `core/src/findlib/find_one.cc` `FindOneFile()` (the walk) and `bopen()`/`bread()` |
//! | [`FileSink`] | `core/src/findlib/create_file.cc` `CreateFile()`, `core/src/findlib/attribs.cc` `SetAttributes()` |
//! | [`Connector`] | `core/src/filed/dir_cmd.cc` `StorageCmd()` → `BareosSocket::connect()` (+ TLS-PSK) |
//! | [`Clock`] | `time()`, `watchdog_time`, `bmicrosleep()` |
//! | [`DigestProvider`] | `core/src/lib/crypto.cc` `crypto_digest_new()` |
//!
//! # The walk
//!
//! Bareos walks each `File =` root depth first in `readdir` order and sends a directory's own
//! record **after** its contents (FT_DIREND, jobs.md §4.5; vectors/clear-backup-full conn 4:
//! `hello.txt`, `sub/bytes.bin`, `sub/notes.txt`, `sub/`, `link-to-hello`, `tree/`). A walk
//! needs a stack of open directories, which is the platform's business (it knows how deep its
//! file systems go). The core therefore drives a cursor: [`FileSource::start`] with one root,
//! then [`FileSource::next`] until `None`. A directory is reported twice: as
//! [`EntryKind::DirBegin`] before its contents, when the core may answer with
//! [`FileSource::skip_dir`] (excluded by a pattern, or `recurse=no`), and as
//! [`EntryKind::Dir`] after them. The core decides what to send; the source only reports.

use crate::wire::attr::Stat;

/// The kind of one entry found by the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EntryKind {
    /// A regular file.
    Regular,
    /// A directory, before its contents (never sent; the core may call `skip_dir`).
    DirBegin,
    /// A directory, after its contents (sent as FT_DIREND).
    Dir,
    /// A symbolic link; the target is reported in the link buffer.
    Symlink,
    /// A FIFO (sent as FT_SPEC; data is not read).
    Fifo,
    /// A character or block device (FT_SPEC).
    Device,
    /// A socket (skipped, as Bareos does).
    Socket,
    /// The entry exists but could not be examined (lstat failed: FT_NOSTAT).
    NoStat,
    /// A directory that could not be opened (FT_NOOPEN).
    NoOpen,
}

/// One entry of the walk. The name and the link target were written into the caller's
/// buffers given to [`FileSource::next`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Entry {
    /// What it is.
    pub kind: EntryKind,
    /// Length of the full path written into the name buffer (no trailing `/` for
    /// directories; the core adds it).
    pub name_len: usize,
    /// Length of the symlink target written into the link buffer (0 otherwise).
    pub link_len: usize,
    /// `lstat()` of the entry. `data_stream`, `link_fi` and `fields` are filled in by the
    /// core; the source sets the POSIX fields (dev, ino, mode, nlink, uid, gid, rdev, size,
    /// blksize, blocks, atime, mtime, ctime, flags).
    pub stat: Stat,
}

/// Walk options the core passes to [`FileSource::start`] (from the fileset's option
/// letters, jobs.md §1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WalkOptions {
    /// `f` not set: stay on the root's file system (Bareos `onefs`, the default). A source
    /// reports a directory on another file system as `DirBegin` + `Dir` with no contents.
    pub one_fs: bool,
    /// `k`/`K`: keep atime / open with O_NOATIME (a hint).
    pub keep_atime: bool,
}

/// Reads the files to back up. See the module docs for the walk protocol.
///
/// Contract:
/// - `next` reports every entry under the root (the root included) exactly once, directories
///   twice (`DirBegin` first, `Dir` after their contents), children before `Dir`;
/// - names are absolute paths as they will be stored, without a trailing `/`;
/// - `open`/`read`/`close` handle one file at a time; `read` returns 0 at the end of the file;
/// - errors are reported, never panicked on; the core counts them (`Errors=` in the job
///   report) and carries on with the next entry.
#[allow(async_fn_in_trait)]
pub trait FileSource {
    /// The platform's error; its `Display` text is the `ERR=` part of the job messages
    /// (`Cannot open "…": ERR=Permission denied.`).
    type Error: core::fmt::Debug + core::fmt::Display;

    /// Begin walking `root` (the text of an `F` line).
    async fn start(&mut self, root: &[u8], options: &WalkOptions) -> Result<(), Self::Error>;

    /// The next entry, or `None` when the root is done. `name` receives the path, `link`
    /// the symlink target; a path longer than `name` is an error for that entry
    /// (report [`EntryKind::NoStat`] with a truncated name rather than failing the walk).
    async fn next(
        &mut self,
        name: &mut [u8],
        link: &mut [u8],
    ) -> Result<Option<Entry>, Self::Error>;

    /// Do not descend into the directory just reported as [`EntryKind::DirBegin`]; its
    /// `Dir` entry still follows (Bareos sends FT_NORECURSE/FT_NOFSCHG as FT_DIREND).
    fn skip_dir(&mut self);

    /// Open a regular file for reading.
    async fn open(&mut self, path: &[u8]) -> Result<(), Self::Error>;

    /// Read the next bytes of the open file; 0 = end of file.
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error>;

    /// Offer to compute the open file's `kind` digest where its bytes are read. The core
    /// asks right after a successful [`open`](Self::open), before the first `read`, when the
    /// fileset wants a digest and every byte read is sent (not for sparse streams, whose
    /// all-zero chunks Bareos leaves out of the digest). Answering `true` promises that
    /// every byte `read` returns from then on is hashed, in order, and that
    /// [`read_digest`](Self::read_digest) gives the result; the core then does not hash the
    /// data itself. A platform that reads ahead on another thread hashes there, which saves
    /// handing every byte to a hashing thread. The default declines: the core hashes.
    /// Only a build with fd-core's `source-digest` feature asks.
    fn hash_reads(&mut self, kind: crate::wire::attr::DigestKind) -> bool {
        let _ = kind;
        false
    }

    /// The digest of every byte `read` returned since [`hash_reads`](Self::hash_reads)
    /// answered `true`, written into `out` (at least [`crate::wire::attr::MAX_DIGEST_LEN`]
    /// bytes). The core calls it once, after the last `read` and before `close`. Returns its
    /// length; 0 when it was lost (the core then sends no digest record).
    async fn read_digest(&mut self, out: &mut [u8]) -> usize {
        let _ = out;
        0
    }

    /// Close the open file.
    async fn close(&mut self);

    /// Whether `dir` (a directory just reported as [`EntryKind::DirBegin`]) holds an entry
    /// named `name`: the fileset's `Exclude Dir Containing = name` (`Z` line), checked with
    /// `stat("dir/name")` as Bareos does. The default (a platform that cannot tell) answers
    /// `false`, so nothing is excluded that way.
    async fn dir_contains(&mut self, dir: &[u8], name: &[u8]) -> bool {
        let _ = (dir, name);
        false
    }

    /// Match the fileset regular expression `pattern` (`R`, `RD`, `RF` lines: POSIX extended
    /// syntax, unanchored, `ignore_case` from the `i` option, as `regcomp()`/`regexec()` in
    /// `core/src/filed/fileset.cc`) against `name`. The core calls it once per pattern with
    /// an empty name when the fileset arrives, to refuse a fileset whose patterns cannot be
    /// used (`REGEX «pattern» compile error. ERR=«error»`). A platform without a regex engine
    /// keeps the default, which refuses every pattern.
    fn regex_match(
        &mut self,
        pattern: &[u8],
        ignore_case: bool,
        name: &[u8],
    ) -> Result<bool, RegexError> {
        let _ = (pattern, ignore_case, name);
        Err(RegexError::Unsupported)
    }

    /// The POSIX ACL of `path` as Bareos' ACL text (`acl_to_text()` long form, no NUL;
    /// [`crate::wire::xattr::AclText`] converts from the kernel's binary form): the access
    /// ACL, or with `default` the default ACL of a directory. Returns its length; 0 when
    /// there is none or the access ACL is trivial (only mirrors the mode), so no stream is
    /// sent. Only called when [`FileSource::acl_support`] is true.
    async fn acl(
        &mut self,
        path: &[u8],
        default: bool,
        out: &mut [u8],
    ) -> Result<usize, Self::Error> {
        let _ = (path, default, out);
        Ok(0)
    }

    /// The extended attributes of `path` (not following a final symlink) as Bareos' xattr
    /// stream ([`crate::wire::xattr::XattrPair::emit`] one after the other), leaving out
    /// the `system.posix_acl_*` attributes when `skip_acl` (the ACL streams carry them).
    /// Returns the stream's length; 0 = no attributes, no stream. Only called when
    /// [`FileSource::xattr_support`] is true.
    async fn xattrs(
        &mut self,
        path: &[u8],
        skip_acl: bool,
        out: &mut [u8],
    ) -> Result<usize, Self::Error> {
        let _ = (path, skip_acl, out);
        Ok(0)
    }

    /// Whether the platform backs up ACLs (Bareos then logs `ACL support is enabled` when the
    /// fileset has the `A` option). A platform without ACLs, or whose files only have the
    /// trivial ACL implied by the mode, sends no ACL stream either way.
    fn acl_support(&self) -> bool {
        false
    }

    /// Whether the platform backs up extended attributes (`X` option), as
    /// [`FileSource::acl_support`].
    fn xattr_support(&self) -> bool {
        false
    }

    /// The user name of `uid` for listings (`estimate listing`), written into `out`;
    /// returns its length. The default prints the number.
    fn user_name(&self, uid: i64, out: &mut [u8]) -> usize {
        decimal(uid, out)
    }

    /// The group name of `gid`, as [`FileSource::user_name`].
    fn group_name(&self, gid: i64, out: &mut [u8]) -> usize {
        decimal(gid, out)
    }
}

/// The metadata streams a [`FileSink`] may apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum MetaStream {
    /// 1008 `STREAM_ACL_LINUX_ACCESS_ACL`: ACL text + NUL.
    AccessAcl,
    /// 1007 `STREAM_ACL_LINUX_DEFAULT_ACL`: ACL text + NUL (directories).
    DefaultAcl,
    /// 1998 `STREAM_XATTR_LINUX`: [`crate::wire::xattr`] pairs.
    Xattr,
}

impl MetaStream {
    /// Stream numbers on Linux.
    pub const ACCESS_ACL: u16 = 1008;
    /// See [`MetaStream::ACCESS_ACL`].
    pub const DEFAULT_ACL: u16 = 1007;
    /// See [`MetaStream::ACCESS_ACL`].
    pub const XATTR: u16 = 1998;

    /// The stream of a type, if it is one of these.
    pub fn from_stream(t: crate::wire::stream::StreamType) -> Option<Self> {
        use crate::wire::stream::StreamType;
        match t {
            StreamType::Acl(Self::ACCESS_ACL) => Some(MetaStream::AccessAcl),
            StreamType::Acl(Self::DEFAULT_ACL) => Some(MetaStream::DefaultAcl),
            StreamType::Xattr(Self::XATTR) => Some(MetaStream::Xattr),
            _ => None,
        }
    }

    /// The stream type to send.
    pub fn stream(self) -> crate::wire::stream::StreamType {
        use crate::wire::stream::StreamType;
        match self {
            MetaStream::AccessAcl => StreamType::Acl(Self::ACCESS_ACL),
            MetaStream::DefaultAcl => StreamType::Acl(Self::DEFAULT_ACL),
            MetaStream::Xattr => StreamType::Xattr(Self::XATTR),
        }
    }
}

/// Why a fileset regular expression cannot be used ([`FileSource::regex_match`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum RegexError {
    /// This File Daemon build has no regular expression engine (firmware).
    Unsupported,
    /// The pattern does not compile.
    Invalid,
}

impl core::fmt::Display for RegexError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            RegexError::Unsupported => {
                "regular expressions are not supported by this File Daemon build; use wildcards (wild, wilddir, wildfile)"
            }
            RegexError::Invalid => "invalid regular expression",
        })
    }
}

impl core::error::Error for RegexError {}

fn decimal(v: i64, out: &mut [u8]) -> usize {
    let mut w = crate::wire::text::Writer::new(out);
    w.i64(v);
    w.finish().unwrap_or(0)
}

/// What to create on restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CreateKind<'a> {
    /// A regular file; data follows through [`FileSink::write_at`].
    Regular,
    /// A directory (attributes may be applied at once).
    Dir,
    /// A symbolic link to `target` (not re-rooted unless the core did so).
    Symlink {
        /// The link target.
        target: &'a [u8],
    },
    /// A hard link to the already restored file `target` (a path under `where`).
    HardLink {
        /// The full output path of the first name.
        target: &'a [u8],
    },
    /// A FIFO.
    Fifo,
    /// A device node.
    Device {
        /// `st_rdev`.
        rdev: i64,
    },
}

/// Outcome of [`FileSink::create`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Created {
    /// Created; for [`CreateKind::Regular`] the data goes to a temporary name until
    /// [`FileSink::commit`].
    Created,
    /// Skipped by the replace policy (the file exists); its data records are discarded.
    Skipped,
}

/// Recreates files on restore.
///
/// Contract:
/// - the sink never writes outside its restore root, whatever path it is given (the core
///   also refuses `..` components and rejects paths that would escape `where`, but the sink
///   is the last line of defence, e.g. against symlinks planted in the tree);
/// - a regular file is written under a temporary name and only appears under its final name
///   on [`FileSink::commit`]; [`FileSink::abort`] removes the temporary file, so a failed or
///   truncated restore never leaves a partial file under the final name;
/// - `write_at` may leave holes (sparse data);
/// - attributes (mode, owner, times) are applied by `commit` (and by `create` for
///   directories, links and special files, which have no data).
#[allow(async_fn_in_trait)]
pub trait FileSink {
    /// The platform's error.
    type Error: core::fmt::Debug;

    /// Create `path` (the full output path, `where` already applied) as `kind`, with the
    /// replace policy `replace` (`a`, `w`, `o`, `n`). Creates missing parent directories.
    async fn create(
        &mut self,
        path: &[u8],
        kind: CreateKind<'_>,
        stat: &Stat,
        replace: crate::wire::dir_cmd::Replace,
    ) -> Result<Created, Self::Error>;

    /// Write `data` at `offset` of the regular file being created.
    async fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), Self::Error>;

    /// Finish the regular file being created: set its attributes from `stat` and rename it
    /// to its final name.
    async fn commit(&mut self, stat: &Stat) -> Result<(), Self::Error>;

    /// Drop the regular file being created (remove the temporary name).
    async fn abort(&mut self);

    /// The restore's last record has been handled: apply what waits for the end (Bareos
    /// sets directory attributes after the last file). Called before the job's `2800 End
    /// Job` reply. The default does nothing.
    async fn end_restore(&mut self) {}

    /// Apply an ACL or xattr stream to the entry just created at `path` (before
    /// [`FileSink::commit`] when `open` is true: the regular file still under its temporary
    /// name). `Ok(false)`: this platform cannot apply it (the default; the core then reports
    /// the stream as unsupported).
    async fn set_meta(
        &mut self,
        path: &[u8],
        open: bool,
        kind: MetaStream,
        data: &[u8],
    ) -> Result<bool, Self::Error> {
        let _ = (path, open, kind, data);
        Ok(false)
    }

    /// `restore … regexwhere=«spec»`: keep Bareos' list of `/from/to/[i]` substitutions
    /// (`core/src/lib/breg.cc`; any of `!:;|,&%=~/#` as separator, several separated by
    /// `,`) for [`FileSink::apply_regexwhere`]. `Err` if the list is malformed or the
    /// platform has no regex engine (the default); the restore then fails with
    /// `Bad where regexp`.
    fn set_regexwhere(&mut self, spec: &[u8]) -> Result<(), RegexError> {
        let _ = spec;
        Err(RegexError::Unsupported)
    }

    /// Apply the `regexwhere` list to `name`, writing the new name into `out`; its length,
    /// or `None` if it does not fit (the core then keeps the name as it is). The core checks
    /// the result like any output name (absolute, no `..`).
    fn apply_regexwhere(&mut self, name: &[u8], out: &mut [u8]) -> Option<usize> {
        let _ = (name, out);
        None
    }
}

/// TLS-PSK parameters for the FD → SD connection (`ssl=4` in the `storage` command,
/// connect.md §3): identity `R_JOB` 0x1E «Job», key = the session key.
#[derive(Clone, Copy)]
pub struct PskParams<'a> {
    /// The PSK identity bytes (`R_JOB\x1e«Job»`).
    pub identity: &'a [u8],
    /// The session key (the ASCII string from `Authorization=`).
    pub key: &'a [u8],
}

impl core::fmt::Debug for PskParams<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PskParams")
            .field("identity", &self.identity)
            .field("key", &"..")
            .finish()
    }
}

/// Opens the data connection to the Storage daemon.
///
/// Contract: the returned stream is connected and, when `psk` is `Some`, the TLS-PSK
/// handshake is done (the platform owns TLS). Bareos retries every 10 s up to the
/// SDConnectTimeout; retrying is the connector's choice.
#[allow(async_fn_in_trait)]
pub trait Connector {
    /// The stream.
    type Stream: embedded_io_async::Read + embedded_io_async::Write;
    /// The platform's error.
    type Error: core::fmt::Debug;

    /// Connect to `address:port` (the `storage` command's fields).
    async fn connect(
        &mut self,
        address: &[u8],
        port: u16,
        psk: Option<PskParams<'_>>,
    ) -> Result<Self::Stream, Self::Error>;

    /// The TLS cipher of a connection this connector returned, as Bareos names it in
    /// ` Encryption: «cipher»` and `Connected Storage daemon at …, encryption: «cipher»`:
    /// OpenSSL's cipher name, a space and the protocol version
    /// (`TLS_CHACHA20_POLY1305_SHA256 TLSv1.3`, vectors/psk-backup-full). Written into `out`;
    /// returns its length, 0 for a cleartext connection (the default), which the core prints
    /// as `None`.
    fn cipher(&self, stream: &Self::Stream, out: &mut [u8]) -> usize {
        let _ = (stream, out);
        0
    }

    /// Passive mode: the connection the SD opened to the FD for job `job`. The platform
    /// accepts connections on the FD port, recognises an SD by peeking at its hello
    /// (`Hello Storage calling Start Job «Job»`, see
    /// [`crate::wire::hello::HelloInfo::identify`]) and hands the stream over **with the
    /// hello unread** to the session whose job it names (TLS-PSK, if any, already done). A
    /// platform without passive support returns an error at once; the FD then answers
    /// `2902 Bad backup`/`2902 Bad restore` as Bareos does without an SD connection.
    ///
    /// When [`Connector::accepted_sd_authenticated`] is false, the session calls this as soon
    /// as a job has its session key, *while* it waits for the Director's next command, and
    /// authenticates the SD at once (the SD answers the Director's `passive client` only
    /// after that, and `backup`/`restore` come only after the answer). If the Director's
    /// command comes first, the future is dropped and the call repeated later: it must then
    /// be cancel-safe (dropping it loses no connection and no resources).
    async fn accept_sd(&mut self, job: &[u8]) -> Result<Self::Stream, Self::Error>;

    /// Passive mode: the session of job `job` got its session key from the Director
    /// (`JobId=… Authorization=`). A platform that authenticates passive SD connections
    /// itself, as soon as they arrive, needs it: the SD waits for the FD's CRAM-MD5 before it
    /// answers the Director's `passive client` command, and the session only asks for the
    /// connection at `backup`/`restore`, after that answer (Bareos authenticates in the
    /// accepting thread, `core/src/filed/socket_server.cc`). The key is a secret: never log
    /// it. The default ignores it.
    fn expect_sd(&mut self, _job: &[u8], _key: &[u8]) {}

    /// [`Connector::expect_sd`] from `JobId=`, with its `ssl=` (`None`: a Director before
    /// 18.2 that sends none, which Bareos treats as 0). Bareos' FD lets a passive SD start
    /// in cleartext only when that value is 0 (`try_tls_handshake_as_a_server.cc`, `R_JOB`
    /// and `JcrGetTlsPolicy`); a platform that authenticates passive SDs itself enforces it.
    /// `setauthorization` keeps the value (it calls [`Connector::expect_sd`]). The default
    /// forgets `ssl`.
    fn expect_sd_tls(&mut self, job: &[u8], key: &[u8], ssl: Option<u32>) {
        let _ = ssl;
        self.expect_sd(job, key);
    }

    /// True if [`Connector::accept_sd`] returns connections whose hello was read and whose
    /// CRAM-MD5 (inbound, with the key of [`Connector::expect_sd`]) is done; the session then
    /// uses them as they are. False (the default): the session reads the hello and
    /// authenticates.
    fn accepted_sd_authenticated(&self) -> bool {
        false
    }
}

/// Time. The core reads the clock only through this trait, so tests run on a virtual clock.
#[allow(async_fn_in_trait)]
pub trait Clock {
    /// Unix time in seconds (Jmsg times, status, `level=` of job messages).
    fn unix_time(&self) -> i64;
    /// Unix time in microseconds (the `btime` answer and clock-skew computation).
    fn unix_micros(&self) -> i64 {
        self.unix_time().saturating_mul(1_000_000)
    }
    /// A monotonic instant (heartbeat and bandwidth timers).
    fn now(&self) -> crate::time::Instant;
    /// Sleep until `deadline` (bandwidth limiting, authentication failure pauses).
    async fn sleep_until(&self, deadline: crate::time::Instant);
}

/// A running digest computation.
pub trait Hasher {
    /// Feed bytes.
    fn update(&mut self, data: &[u8]);
    /// Write the digest into `out` (at least [`crate::wire::attr::MAX_DIGEST_LEN`] bytes);
    /// returns its length.
    fn finish(self, out: &mut [u8]) -> usize;
}

/// Makes hashers for the signature options of a fileset (`M`, `S`, `S2`, `S3`). SHA-256 is
/// always available ([`Sha256Only`]); firmware that needs MD5, SHA-1 or SHA-512 supplies a
/// provider that links them, so it links only what it uses.
pub trait DigestProvider {
    /// The hasher type.
    type Hasher: Hasher;
    /// A hasher for `kind`, or `None` if this build does not have it (the core then sends
    /// no digest and logs a warning, as Bareos does for an unavailable algorithm).
    fn hasher(&self, kind: crate::wire::attr::DigestKind) -> Option<Self::Hasher>;
}

/// SHA-256 through the `sha2` crate.
#[derive(Clone, Default)]
pub struct Sha256Hasher(sha2::Sha256);

impl Hasher for Sha256Hasher {
    fn update(&mut self, data: &[u8]) {
        sha2::Digest::update(&mut self.0, data);
    }
    fn finish(self, out: &mut [u8]) -> usize {
        let d = sha2::Digest::finalize(self.0);
        let n = d.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), d.get(..n)) {
            dst.copy_from_slice(src);
        }
        n
    }
}

/// A provider with SHA-256 only.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sha256Only;

impl DigestProvider for Sha256Only {
    type Hasher = Sha256Hasher;
    fn hasher(&self, kind: crate::wire::attr::DigestKind) -> Option<Sha256Hasher> {
        match kind {
            crate::wire::attr::DigestKind::Sha256 => Some(Sha256Hasher::default()),
            _ => None,
        }
    }
}

/// MD5, SHA-1, SHA-256 and SHA-512 (MD5 and SHA-2 are linked for CRAM-MD5 and PSK anyway;
/// SHA-1 is small).
#[derive(Debug, Clone, Copy, Default)]
pub struct StandardDigests;

/// The hasher of [`StandardDigests`].
#[derive(Clone)]
pub enum StandardHasher {
    /// MD5.
    Md5(md5::Md5),
    /// SHA-1 (`signature = SHA1`, stream 10).
    Sha1(sha1::Sha1),
    /// SHA-256.
    Sha256(sha2::Sha256),
    /// SHA-512.
    Sha512(sha2::Sha512),
}

impl core::fmt::Debug for StandardHasher {
    /// The algorithm only, not the state.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            StandardHasher::Md5(_) => "StandardHasher::Md5",
            StandardHasher::Sha1(_) => "StandardHasher::Sha1",
            StandardHasher::Sha256(_) => "StandardHasher::Sha256",
            StandardHasher::Sha512(_) => "StandardHasher::Sha512",
        })
    }
}

impl Hasher for StandardHasher {
    fn update(&mut self, data: &[u8]) {
        match self {
            StandardHasher::Md5(h) => md5::Digest::update(h, data),
            StandardHasher::Sha1(h) => sha1::Digest::update(h, data),
            StandardHasher::Sha256(h) => sha2::Digest::update(h, data),
            StandardHasher::Sha512(h) => sha2::Digest::update(h, data),
        }
    }
    fn finish(self, out: &mut [u8]) -> usize {
        fn put(d: &[u8], out: &mut [u8]) -> usize {
            let n = d.len().min(out.len());
            if let (Some(dst), Some(src)) = (out.get_mut(..n), d.get(..n)) {
                dst.copy_from_slice(src);
            }
            n
        }
        match self {
            StandardHasher::Md5(h) => put(&md5::Digest::finalize(h), out),
            StandardHasher::Sha1(h) => put(&sha1::Digest::finalize(h), out),
            StandardHasher::Sha256(h) => put(&sha2::Digest::finalize(h), out),
            StandardHasher::Sha512(h) => put(&sha2::Digest::finalize(h), out),
        }
    }
}

impl DigestProvider for StandardDigests {
    type Hasher = StandardHasher;
    fn hasher(&self, kind: crate::wire::attr::DigestKind) -> Option<StandardHasher> {
        use crate::wire::attr::DigestKind;
        match kind {
            DigestKind::Md5 => Some(StandardHasher::Md5(Default::default())),
            DigestKind::Sha1 => Some(StandardHasher::Sha1(Default::default())),
            DigestKind::Sha256 => Some(StandardHasher::Sha256(Default::default())),
            DigestKind::Sha512 => Some(StandardHasher::Sha512(Default::default())),
            DigestKind::Xxh128 => None,
        }
    }
}
