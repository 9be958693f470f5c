//! The File Daemon: the Director command loop and the jobs it runs, written once for every
//! platform.
//!
//! # Where this sits
//!
//! ```text
//!   platform shell (fd-linux: tokio + std::fs; fd-embedded: embassy-net + flash)
//!     │ accepts the Director's TCP connection, does TLS(-PSK) if configured
//!     ▼
//!   fd::session::run_director_session  ◀── one per Director connection, async
//!     │ hello + CRAM-MD5 (crate::auth), `2000 OK Hello 54`, command loop
//!     ├── backup.rs   storage → SD hello/auth → append session → stream records
//!     ├── restore.rs  read session → rechdr records → FileSink
//!     ├── estimate.rs walk + count (+ ls lines)
//!     └── status.rs   status / .status text
//!           ▲
//!           │ platform traits (platform.rs): FileSource, FileSink, Connector, Clock,
//!           │ DigestProvider
//! ```
//!
//! Bareos runs each Director connection in its own thread (`core/src/filed/dir_cmd.cc`
//! `process_director_commands()`), with a second heartbeat thread per job
//! (`core/src/filed/heartbeat.cc`) and a global job list behind a mutex for `status` and
//! `cancel`. Here a session is one `async fn` that a platform spawns per connection (an
//! embassy task, a tokio task, or a thread with `block_on`); heartbeats are timer checks
//! inside the backup loop, so only one writer ever touches the Director socket (house style
//! point 9); and the job list is a [`jobs::JobTable`] made of atomics, shared by reference,
//! so a `cancel Job=…` arriving on a second Director connection (vectors/clear-cancel conn 6)
//! stops the job running on the first (conn 3), which then reports `TermCode=65`.
//!
//! # Why async here, when the codecs are sans-IO
//!
//! The codecs in [`crate::wire`] and the authenticator ([`crate::auth`]) stay sans-IO. The
//! job orchestration is a long sequential conversation on two or three sockets plus file
//! reads; written as a poll-driven state machine it would be many hundreds of states. An
//! `async fn` generic over `embedded-io-async` streams and the platform traits is the same
//! code for every platform (house style point 12: one implementation, thin shells), needs no
//! allocator (the futures are fixed-size) and is tested with in-memory pipes and a virtual
//! clock. The core still never reads a clock or touches a socket by itself: it does so only
//! through the traits.
//!
//! # Buffers and bounds
//!
//! Every buffer is the caller's ([`Buffers`]); capacities that need no caller buffer are
//! constants (job names 127 bytes, keys 100, the hard-link table [`backup::HARDLINK_SLOTS`]).
//! A restore record must fit `Buffers::sd_rx` (Bareos records are at most 1,000,000 bytes;
//! the captured ones 262,144); a Director frame must fit `Buffers::dir_rx`.
//!
//! # What is proven against the captures
//!
//! `fd-core/tests/fd_session.rs` drives these sessions over in-memory pipes with a test
//! Director and a test SD built from fd-core codecs and replays real conversations: the
//! Director side sends what the real Director sent, the SD side what the real SD sent, and
//! every frame this FD sends must equal the real FD's (job-message times excepted; CRAM-MD5
//! runs for real, so its random challenges differ). Replayed: vectors/clear-backup-full,
//! clear-backup-incr (since_utime + ten BTIMEs), clear-diff-accurate (Differential, and the
//! Accurate Incremental with its file list and an FT_DELETED record), clear-backup-multiblock
//! (sparse 256 KiB records, FT_REGE, FT_LNKSAVED), clear-restore and clear-restore-multiblock
//! (rechdr records, hard link, sparse file), and clear-dot-status (`status`, `.status
//! header`, `.status running`), clear-backup-passive and clear-client-initiated.
//!
//! One Bareos quirk found that way: with the sparse option the file digest covers only the
//! chunks actually sent, not the file ([`backup`]).
//!
//! # Not implemented (answered, refused or ignored as documented per handler)
//!
//! Compression and encryption streams, ACL/xattr streams other than Linux's (1007, 1008,
//! 1998; those are the platform's, [`platform::FileSource::acl`]),
//! plugins and restore objects (accepted and ignored), `Run`/`RunBeforeNow` scripts
//! (refused with `2905 Failed RunScript`), `verify` levels other than init, catalog and
//! disk_to_catalog ([`verify`]), TLS itself (the platform's), the `.status terminated` API
//! form. Regular expressions (`R` fileset lines, restore `regexwhere`) are the platform's:
//! fd-linux has them, a platform without a regex engine refuses them with
//! `REGEX … compile error` / `Bad where regexp`.
//!
//! # Connection modes
//!
//! - **Active** (default): the Director connects to the FD; the FD connects to the SD
//!   ([`platform::Connector`]). Implemented.
//! - **Client initiated** (vectors/clear-client-initiated): the platform dials the Director
//!   and calls [`session::run_client_initiated`], which sends `Hello Client …`, runs the
//!   outbound CRAM-MD5, checks `1000 OK: …` and then runs [`session::run_command_loop`], the
//!   same loop as in active mode. Replayed against the capture in the tests.
//! - **Passive** (vectors/clear-backup-passive): the Director sends no `storage` command;
//!   the SD dials the FD and sends `Hello Storage calling Start Job …`. The platform accepts
//!   that connection, routes it by the job name it peeks at, and hands it over through
//!   [`platform::Connector::accept_sd`] when the `backup` (or `restore`) command finds no
//!   SD connection; the FD checks the hello and authenticates as the inbound side with the
//!   session key. The data channel after that is the same (jobs.md §3.7). Replayed against
//!   the capture in the tests.

pub mod backup;
pub mod conn;
pub mod estimate;
pub mod jobs;
pub mod pattern;
pub mod platform;
pub mod restore;
pub mod session;
pub mod status;
pub mod timefmt;
#[cfg(feature = "verify")]
pub mod verify;

use crate::time::Duration;
use crate::wire::hello::Version;
use crate::wire::tls_policy::TlsPolicy;

/// One Director allowed to connect.
#[derive(Clone, Copy)]
pub struct DirectorAuth<'a> {
    /// The Director's resource name (`bareos-dir`).
    pub name: &'a [u8],
    /// The CRAM-MD5 key: the 32 hex digits of the MD5 of the password (the config parser's
    /// form, connect.md §2).
    pub key: &'a [u8],
    /// `Monitor = yes`: only `status` and `.status` are allowed.
    pub monitor: bool,
    /// This Director's `Maximum Bandwidth Per Job` in bytes/s; 0 = not set (the Client
    /// resource's [`FdConfig::max_bandwidth`] applies).
    pub max_bandwidth: u64,
}

impl core::fmt::Debug for DirectorAuth<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DirectorAuth")
            .field("name", &self.name)
            .field("key", &"..")
            .field("monitor", &self.monitor)
            .field("max_bandwidth", &self.max_bandwidth)
            .finish()
    }
}

/// Static configuration of the File Daemon.
#[derive(Debug, Clone, Copy)]
pub struct FdConfig<'a> {
    /// The Client resource name (`bareos-fd`).
    pub name: &'a [u8],
    /// Directors allowed to connect.
    pub directors: &'a [DirectorAuth<'a>],
    /// `Version="a.b.c"` of `Hello Start Job` (26.0.0).
    pub version: Version,
    /// Text after `2000 OK Job ` (no newline):
    /// `26.0.0~pre1298.eda204c31 (21Aug26) Debian GNU/Linux 12 (bookworm),debian`.
    pub job_version: &'a [u8],
    /// Text after `Version: ` in status and in the backup's `Version:` job message:
    /// `26.0.0~pre1298.eda204c31 (21 August 2026) Debian GNU/Linux 12 (bookworm)`.
    pub version_text: &'a [u8],
    /// `self-compiled` in `Daemon started … , self-compiled binary`.
    pub binary_info: &'a [u8],
    /// Secure erase command reported by `getSecureEraseCmd` (`*None*` when unset).
    pub secure_erase: Option<&'a [u8]>,
    /// Heartbeat Interval; zero = off (the default).
    pub heartbeat_interval: Duration,
    /// Maximum Bandwidth Per Job in bytes/s; 0 = unlimited.
    pub max_bandwidth: u64,
    /// This daemon's TLS policy for the Director connection (`ssl=` of its challenge).
    pub tls_policy: TlsPolicy,
    /// Whether the platform already runs TLS on the Director connection (TLS-PSK first).
    pub tls_active: bool,
    /// Largest data message sent to the SD (Maximum Network Buffer Size, 262,144 by default).
    pub network_buffer_size: usize,
    /// Unix time the daemon started (status header).
    pub started: i64,
    /// Offset of local time from UTC in seconds, for the times printed in listings and
    /// status (the captures ran in UTC).
    pub utc_offset: i32,
    /// Debug level reported by `status` and set by `setdebug`.
    pub debug_level: i32,
}

/// The platform services a session uses.
#[derive(Debug)]
pub struct Services<S, K, C, T, D> {
    /// Files to back up.
    pub source: S,
    /// Where restores go.
    pub sink: K,
    /// Opens SD connections.
    pub connector: C,
    /// Time.
    pub clock: T,
    /// Digest algorithms.
    pub digests: D,
}

/// The caller's buffers for one session.
#[derive(Debug)]
pub struct Buffers<'b> {
    /// Frames from the Director (commands, fileset lines, accurate entries).
    pub dir_rx: &'b mut [u8],
    /// Frames to the Director and attribute records to the SD (≥ 4,200 bytes).
    pub tx: &'b mut [u8],
    /// Frames from the SD: replies and, on restore, whole records.
    pub sd_rx: &'b mut [u8],
    /// File data: `network_buffer_size` (+ 8 for the sparse offset) is used.
    pub data: &'b mut [u8],
    /// The fileset lines of the job (bounded store).
    pub fileset: &'b mut [u8],
    /// The accurate file list of the job (bounded store; may be empty when accurate mode is
    /// not used).
    pub accurate: &'b mut [u8],
}

/// Longest path handled (name, symlink target, output path).
pub const MAX_PATH: usize = 1024;

/// Either of two futures' outputs.
pub(crate) enum Either<A, B> {
    Left(A),
    Right(B),
}

/// Poll two futures; the first to finish wins, the other is dropped.
pub(crate) async fn select<A, B>(a: A, b: B) -> Either<A::Output, B::Output>
where
    A: core::future::Future,
    B: core::future::Future,
{
    use core::task::Poll;
    let mut a = core::pin::pin!(a);
    let mut b = core::pin::pin!(b);
    core::future::poll_fn(|cx| {
        if let Poll::Ready(x) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(x));
        }
        if let Poll::Ready(y) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(y));
        }
        Poll::Pending
    })
    .await
}
